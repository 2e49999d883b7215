"""Fixtures for the SQLite queue and its admin backend."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qtui.backends.sqlite import SQLiteBackend
from qtui.sqlite_queue import SQLiteQueue
from tests.support import ManualClock

@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"


@pytest.fixture
def queue(db_path: Path, clock: ManualClock) -> Iterator[SQLiteQueue]:
    q = SQLiteQueue.open(db_path, create=True, clock=clock)
    yield q
    q.close()


@pytest.fixture
def backend(queue: SQLiteQueue, db_path: Path, clock: ManualClock) -> Iterator[SQLiteBackend]:
    b = SQLiteBackend(str(db_path), clock=clock)
    yield b
    b.close()


@pytest.fixture
def make_read_only() -> Iterator[Callable[[Path], None]]:
    """Make files or directories unwritable for this process, even as root.

    Root ignores permission bits, so as root the immutable attribute is used
    (chattr +i); the test is skipped where neither works.
    """
    changed: list[tuple[Path, int]] = []
    immutable: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            changed.append((path, path.stat().st_mode))
            path.chmod(0o555 if path.is_dir() else 0o444)
            return
        try:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        except FileNotFoundError:
            pytest.skip("running as root and chattr is not installed")
        if result.returncode != 0:
            pytest.skip(f"running as root, cannot make {path} immutable: {result.stderr.strip()}")
        immutable.append(path)

    yield make
    for path in immutable:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    for path, mode in changed:
        path.chmod(mode)
