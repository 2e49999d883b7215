"""Build hook: an editable install (`pip install -e .`) installs the data files too.

Everything else is declared in setup.cfg. setuptools' editable wheel installs data files
only when the distribution answers `has_data()`, a method setuptools itself does not define
(its name is `has_data_files()`), so `pip install -e .` left out share/man and `man qtui`
found nothing. The distribution below answers it; the files are copies, refreshed by
installing again.
"""

from setuptools import setup
from setuptools.dist import Distribution


class _Distribution(Distribution):
    def has_data(self) -> bool:
        return self.has_data_files()


setup(distclass=_Distribution)
