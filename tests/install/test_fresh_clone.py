"""The README's first command, run on a clean copy of the repository, sets up what the README promises.

It is run as written, in one shell, up to the command that opens the console: then the same
shell must find `qtui` and every manual page in man/ (`man -w`), as an operator would type them.
Slow (a fresh virtual environment and pip install); pip's own cache keeps it short, and pip
reaches only the package index it is configured with.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "man").glob("*.[1-8]"))
CONSOLE = "qtui demo"


def readme_commands() -> list[str]:
    """The commands of the README's Quick start: opening the console, then running the tests."""
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in quick_start.splitlines() if line.startswith("    ")]


def readme_first_command() -> str:
    return readme_commands()[0]


def clean_copy(destination: Path, git: str) -> None:
    """The files of the repository (committed, changed or new, not ignored), without .venv or caches."""
    listed = subprocess.run([git, "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def test_the_readme_opens_the_console_last() -> None:
    steps = readme_first_command().split(" && ")
    assert steps[-1] == CONSOLE and all(CONSOLE not in step for step in steps[:-1])


def test_ci_runs_exactly_the_readme_test_command() -> None:
    first, tests = readme_commands()
    assert tests.endswith("python -m pytest") and first != tests
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [line for line in ci if line and not line.startswith("#")][-1] == tests


@pytest.mark.slow
def test_after_the_readme_first_command_qtui_and_its_man_pages_are_found(tmp_path: Path, system_tool) -> None:
    man = system_tool("man", "man-db")
    git = system_tool("git", "git")
    clone = tmp_path / "qtui"
    clean_copy(clone, git)
    setup = readme_first_command().split(" && ")[:-1]
    pages = [(page.suffix[1:], page.stem) for page in PAGES]
    assert ("1", "qtui") in pages and len(pages) >= 4
    lookups = [f"{shlex.quote(man)} -w {section} {shlex.quote(name)}" for section, name in pages]
    script = " && ".join([*setup, "command -v qtui", "qtui --version", *lookups])
    # A shell as a new operator has it: not inside this test run's virtual environment.
    own_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d != own_bin)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MANPATH", "PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(["bash", "-c", script], cwd=clone, env={**env, "PATH": path},
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found, version, *manuals = result.stdout.splitlines()[-(2 + len(pages)):]
    assert found == str(clone / ".venv" / "bin" / "qtui")
    assert re.fullmatch(r"qtui \d+\.\d+\.\d+", version)
    assert manuals == [str(clone / ".venv" / "share" / "man" / f"man{section}" / f"{name}.{section}")
                       for section, name in pages]
