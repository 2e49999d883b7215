"""Plugin archives: writing the reproducible ``.tar.gz`` a plugin ships as, and reading one safely.

An archive holds one top folder (``NAME/``) with the bundle's files under it. :func:`pack`
makes the same bytes for the same files every time: entries sorted by path, each folder listed
before its contents, times, owners and modes fixed, no file name or time in the gzip header.

:func:`unpack` treats the archive as hostile. It refuses absolute paths, ``..``, links, device
files and pipes, names listed twice, a file that is also a folder, more than one top folder,
and more files or bytes than a plugin may have; decompression stops at the cap, so a small
archive cannot expand into gigabytes. Nothing is written to disk: the files come back as bytes.
Hidden and editor temporary files are left out, as bundles leave them out.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zlib
from collections.abc import Mapping

import attrs

from qtui.files.tomlfile import show
from qtui.plugins.bundles.manifest import is_ignored_name

#: The most files an archive may hold.
MAX_FILES = 1000
_FILE_MODE, _FOLDER_MODE = 0o644, 0o755
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\\]")
_GZIP_MAGIC = b"\x1f\x8b"


class ArchiveError(ValueError):
    """The archive is damaged, too big, or holds something a plugin must not."""


@attrs.frozen
class Unpacked:
    """An archive's files: relative POSIX path under the top folder -> content."""

    top: str
    files: Mapping[str, bytes]


def pack(top: str, files: Mapping[str, bytes]) -> bytes:
    """The ``.tar.gz`` bytes holding `files` (relative POSIX paths) under the folder `top`."""
    folders = {top}
    for relative in files:
        parts = relative.split("/")
        folders.update("/".join([top, *parts[:end]]) for end in range(1, len(parts)))
    contents = {f"{top}/{relative}": content for relative, content in files.items()}
    buffer = io.BytesIO()
    # filename="" and mtime=0 keep the name and time out of the gzip header.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(folders | contents.keys()):
                info = tarfile.TarInfo(name)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if name in contents:
                    info.mode = _FILE_MODE
                    info.size = len(contents[name])
                    tar.addfile(info, io.BytesIO(contents[name]))
                else:
                    info.type = tarfile.DIRTYPE
                    info.mode = _FOLDER_MODE
                    tar.addfile(info)
    return buffer.getvalue()


def unpack(data: bytes, *, max_bytes: int, max_files: int = MAX_FILES) -> Unpacked:
    """The files of the ``.tar.gz`` `data`, at most `max_bytes` of content in `max_files` files.

    Raises ArchiveError, naming the entry at fault, for anything the module docs list.
    """
    if not data.startswith(_GZIP_MAGIC):
        raise ArchiveError("not a gzip-compressed tar archive (.tar.gz)")
    # Headers and padding take at most a few blocks per file on top of the content.
    limit = max_bytes + (max_files + 2) * 3 * tarfile.BLOCKSIZE
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            raw = gz.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise ArchiveError(f"damaged gzip data: {e}") from None
    if len(raw) > limit:
        raise ArchiveError(f"unpacks to more than {limit} bytes")
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            return _Reader(max_bytes, max_files).read(tar)
    except tarfile.TarError as e:
        raise ArchiveError(f"damaged tar data: {e}") from None


class _Reader:
    """Checks every member of one archive while collecting its files."""

    def __init__(self, max_bytes: int, max_files: int) -> None:
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.top: str | None = None
        self.files: dict[str, bytes] = {}
        self.folders: set[str] = set()
        self.size = 0

    def read(self, tar: tarfile.TarFile) -> Unpacked:
        count = 0
        for member in tar:
            count += 1
            if count > self.max_files:
                raise ArchiveError(f"holds more than {self.max_files} entries")
            self.member(tar, member)
        if self.top is None:
            raise ArchiveError("is empty")
        for relative in self.files:
            parts = relative.split("/")
            for end in range(1, len(parts)):
                parent = "/".join(parts[:end])
                if parent in self.files:
                    raise ArchiveError(f"{show(self.top + '/' + parent)} is both a file and a folder")
        clash = next((f for f in self.folders if f in self.files), None)
        if clash is not None:
            raise ArchiveError(f"{show(self.top + '/' + clash)} is both a file and a folder")
        return Unpacked(self.top, self.files)

    def member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = member.name
        parts = _parts(name)
        if not parts and member.isdir():
            return  # "./", as `tar -C folder .` writes first
        if not parts:
            raise ArchiveError(f"an entry has no name ({show(name)})")
        if self.top is None:
            self.top = parts[0]
        elif parts[0] != self.top:
            raise ArchiveError(
                f"holds more than one top folder ({show(self.top)} and {show(parts[0])}); "
                "a plugin archive holds a single folder with the plugin's files"
            )
        relative = "/".join(parts[1:])
        if member.issym() or member.islnk():
            raise ArchiveError(f"{show(name)} is a link; links are not allowed in a plugin")
        if member.isdir():
            if relative:
                self.folders.add(relative)
            return
        if not member.isreg():
            raise ArchiveError(
                f"{show(name)} is a device file or pipe; only files and folders are allowed"
            )
        if not relative:
            raise ArchiveError(
                f"{show(name)} is not inside a folder; a plugin archive holds a single folder "
                "with the plugin's files"
            )
        if relative in self.files:
            raise ArchiveError(f"{show(name)} is in the archive twice")
        if any(is_ignored_name(p) for p in parts[1:]):
            return
        self.size += member.size
        if self.size > self.max_bytes:
            raise ArchiveError(f"its files add up to more than {self.max_bytes} bytes")
        stream = tar.extractfile(member)
        assert stream is not None  # a regular file always has a stream
        self.files[relative] = stream.read()


def _parts(name: str) -> list[str]:
    """The path components of the member `name`; ArchiveError if it is not a safe relative path."""
    if _UNSAFE_NAME.search(name):
        raise ArchiveError(f"{show(name)} has a control character or backslash in its name")
    if name.startswith("/"):
        raise ArchiveError(f"{show(name)} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{show(name)} leads outside the archive ('..')")
    return parts
