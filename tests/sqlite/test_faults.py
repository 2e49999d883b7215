"""What an operator sees when the database file is missing, locked, read-only or damaged."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.backends.sqlite import SQLiteBackend
from qtui.model import BackendUnavailable, JobState, ReadOnlyError
from qtui.sqlite_queue import SQLiteQueue


def make_queue_file(path: Path, jobs: int = 3) -> None:
    """A closed queue database (no -wal or -shm files left) holding `jobs` ready jobs."""
    with SQLiteQueue.open(path, create=True) as q:
        q.enqueue_many("email", [{"n": n} for n in range(jobs)])


def test_missing_file_is_not_created_unless_asked(db_path: Path):
    with pytest.raises(BackendUnavailable, match=f"sqlite:{db_path}: no such database file"):
        open_backend(db_path, clock=time.time)
    assert not db_path.exists()
    with pytest.raises(BackendUnavailable, match="no such database file"):
        open_backend(db_path, read_only=True, create=True, clock=time.time)
    backend = open_backend(db_path, create=True, clock=time.time)
    assert backend.snapshot().queues == ()
    backend.close()


def test_missing_directory_and_directory_as_file(tmp_path: Path):
    target = tmp_path / "nowhere" / "queue.db"
    missing = tmp_path / "nowhere"
    with pytest.raises(BackendUnavailable, match=f"directory {missing} does not exist"):
        SQLiteBackend(str(target), create=True, clock=time.time)
    with pytest.raises(BackendUnavailable, match=f"sqlite:{tmp_path}: is a directory"):
        SQLiteBackend(str(tmp_path), create=True, clock=time.time)


def test_not_a_database(db_path: Path):
    db_path.write_bytes(b"PK\x03\x04 this is a zip file, not SQLite" * 100)
    with pytest.raises(BackendUnavailable, match=f"sqlite:{db_path}: not a SQLite database"):
        SQLiteBackend(str(db_path), create=True, clock=time.time)
    assert db_path.read_bytes().startswith(b"PK"), "the file is left alone"


def test_corrupt_database(db_path: Path):
    make_queue_file(db_path, jobs=200)
    with db_path.open("r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xff" * 4096 * 4)
    with pytest.raises(BackendUnavailable, match=f"sqlite:{db_path}: the database file is corrupt"):
        backend = SQLiteBackend(str(db_path), clock=time.time)
        backend.peek(None, JobState.READY, limit=500)


def test_someone_elses_sqlite_database_is_left_alone(db_path: Path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(BackendUnavailable, match="not a qtui queue database .*invoices"):
        SQLiteBackend(str(db_path), create=True, clock=time.time)
    with pytest.raises(BackendUnavailable, match="not a qtui queue database"):
        SQLiteBackend(str(db_path), clock=time.time)


def test_empty_file_is_initialised_only_with_create(db_path: Path):
    db_path.touch()
    with pytest.raises(BackendUnavailable, match="not a qtui queue database"):
        SQLiteBackend(str(db_path), clock=time.time)
    backend = SQLiteBackend(str(db_path), create=True, clock=time.time)
    assert backend.enqueue("email", "{}").id == "1"
    backend.close()


def test_newer_schema_is_refused(db_path: Path):
    make_queue_file(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(BackendUnavailable, match="schema version 2 is newer .* upgrade qtui"):
        SQLiteBackend(str(db_path), read_only=True, clock=time.time)


def test_write_lock_held_elsewhere_times_out_with_a_clear_message(db_path: Path):
    make_queue_file(db_path)
    backend = SQLiteBackend(str(db_path), busy_timeout=0.1, clock=time.time)
    dead_id = backend.enqueue("email", "{}").id
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailable, match="database is locked by another process"):
            backend.enqueue("email", "{}")
        with pytest.raises(BackendUnavailable, match="locked"):
            backend.purge("email", JobState.READY)
        assert backend.job(dead_id) is not None, "reads still work while another process writes"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert backend.purge("email", JobState.READY) == 4
    backend.close()


def test_exclusive_lock_elsewhere_blocks_opening(db_path: Path):
    make_queue_file(db_path)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(BackendUnavailable, match=f"sqlite:{db_path}: database is locked"):
            SQLiteBackend(str(db_path), busy_timeout=0.1, clock=time.time)
    finally:
        other.close()


def test_read_only_file_allows_reads_and_refuses_writes(db_path: Path, make_read_only):
    make_queue_file(db_path)
    make_read_only(db_path)
    backend = SQLiteBackend(str(db_path), clock=time.time)
    assert backend.snapshot().queues[0].counts == {JobState.READY: 3}
    with pytest.raises(ReadOnlyError, match=f"sqlite:{db_path}: .*the database file is read-only"):
        backend.enqueue("email", "{}")
    with pytest.raises(ReadOnlyError, match="read-only"):
        backend.purge("email", JobState.READY)
    assert len(backend.peek("email", JobState.READY).jobs) == 3
    backend.close()


def test_read_only_directory_allows_reads_and_refuses_writes(tmp_path: Path, make_read_only):
    folder = tmp_path / "ro"
    folder.mkdir()
    db_path = folder / "queue.db"
    make_queue_file(db_path)
    assert sorted(os.listdir(folder)) == ["queue.db"]
    make_read_only(folder)
    backend = SQLiteBackend(str(db_path), clock=time.time)
    assert backend.snapshot().queues[0].counts == {JobState.READY: 3}
    with pytest.raises(ReadOnlyError, match=f"directory {folder} is read-only"):
        backend.requeue()
    backend.close()


def test_queue_opened_read_only_refuses_enqueue(db_path: Path):
    make_queue_file(db_path)
    with SQLiteQueue.open(db_path, read_only=True) as q:
        with pytest.raises(ReadOnlyError, match="opened read-only"):
            q.enqueue("email", {})
        assert q.snapshot().queues[0].counts == {JobState.READY: 3}


def test_closed_backend_says_so(db_path: Path):
    make_queue_file(db_path)
    backend = SQLiteBackend(str(db_path), clock=time.time)
    backend.close()
    with pytest.raises(BackendUnavailable, match="has been closed"):
        backend.snapshot()
