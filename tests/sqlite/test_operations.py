"""The SQLite queue's operation journal: requeues and purges in chunks, each with its journal row."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.backends import open_backend
from qtui.backends.journal import Operation
from qtui.model import InvalidInput, JobState
from qtui.sqlite_queue import SQLiteQueue

JOBS = 12_000  # 3 chunks of 5,000 and a short one


@pytest.fixture
def dead_db(tmp_path: Path) -> Path:
    """JOBS dead jobs on queues a and b (alternating), inserted as a worker would leave them."""
    path = tmp_path / "dead.db"
    SQLiteQueue.open(path, create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO queues (name, created_at) VALUES ('a', 0), ('b', 0)")
        conn.executemany(
            "INSERT INTO jobs (queue, state, payload, attempts, created_at, updated_at, finished_at, last_error)"
            " VALUES (?, 'dead', ?, 3, 0, 0, 0, 'boom')",
            [("ab"[n % 2], json.dumps({"n": n})) for n in range(JOBS)],
        )
    return path


def states(path: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(path) as conn:
        return {(q, s): n for q, s, n in conn.execute("SELECT queue, state, count(*) FROM jobs GROUP BY 1, 2")}


def test_a_requeue_killed_by_sigkill_is_resumed_with_every_job_once(dead_db: Path) -> None:
    script = f"""
import os, signal, time
from qtui.backends import open_backend
backend = open_backend({str(dead_db)!r}, clock=time.time)
def progress(op):
    if op.examined >= 5000:
        os.kill(os.getpid(), signal.SIGKILL)
backend.run_operation(backend.start_requeue(queue="a"), progress=progress)
"""
    child = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert states(dead_db) == {("a", "ready"): 5000, ("a", "dead"): 1000, ("b", "dead"): 6000}
    backend = open_backend(dead_db, clock=time.time)
    (operation,) = backend.operations()
    assert (operation.kind, operation.queue, operation.examined, operation.done) == ("requeue", "a", 5000, 5000)
    assert operation.total == 6000 and not operation.running_elsewhere(time.time())
    final = backend.run_operation(backend.resume(operation.id))
    assert (final.outcome, final.done) == ("finished", 6000)
    assert states(dead_db) == {("a", "ready"): 6000, ("b", "dead"): 6000}
    assert {(q.name, q.count(JobState.READY), q.count(JobState.DEAD)) for q in backend.stats()} == {
        ("a", 6000, 0), ("b", 0, 6000)}
    assert backend.operations() == ()
    backend.close()


def test_abandoning_leaves_the_jobs_where_they_are(dead_db: Path) -> None:
    backend = open_backend(dead_db, clock=time.time)
    cancel = threading.Event()
    operation = backend.start_purge(None, JobState.DEAD)
    backend.run_operation(operation, progress=lambda op: op.examined and cancel.set(), cancel=cancel)
    assert states(dead_db) == {("a", "dead"): 3500, ("b", "dead"): 3500}  # cancelled after one chunk
    interrupted = backend.start_requeue(to_queue="c")
    assert [op.id for op in backend.operations()] == [interrupted.id]
    assert backend.abandon(interrupted.id).outcome == "abandoned"
    assert backend.operations() == ()
    assert states(dead_db) == {("a", "dead"): 3500, ("b", "dead"): 3500}
    backend.close()


def test_progress_counts_chunks_and_the_cursor_is_the_last_job_id(dead_db: Path) -> None:
    backend = open_backend(dead_db, clock=time.time)
    seen: list[Operation] = []
    final = backend.run_operation(backend.start_requeue(text="boom", to_queue="retry"), progress=seen.append)
    assert [op.examined for op in seen] == [0, 5000, 10000, 12000]
    assert [op.cursor for op in seen] == ["", "after:5000", "after:10000", "after:12000"]
    assert final.done == JOBS and states(dead_db) == {("retry", "ready"): JOBS}
    backend.close()


def test_an_operation_gone_from_the_journal_stops_at_its_next_chunk(dead_db: Path) -> None:
    backend = open_backend(dead_db, clock=time.time)
    other = open_backend(dead_db, clock=time.time)
    operation = backend.start_purge("b", JobState.DEAD)
    final = backend.run_operation(operation, progress=lambda op: op.examined and other.abandon(op.id))
    assert (final.outcome, final.done) == ("abandoned", 5000)
    assert states(dead_db)[("b", "dead")] == 1000
    backend.close()
    other.close()


def test_a_database_without_the_journal_table_lists_nothing_and_read_only_stays_so(dead_db: Path) -> None:
    reader = open_backend(dead_db, read_only=True, clock=time.time)
    assert reader.operations() == ()
    with sqlite3.connect(dead_db) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'qtui_operations'").fetchone() == (0,)
    reader.close()


texts = st.text(st.characters(codec="utf-8"), max_size=20)
operations = st.builds(
    Operation,
    id=st.text("abcdef0123456789", min_size=1, max_size=12),
    kind=st.sampled_from(["requeue", "purge"]),
    state=st.sampled_from(list(JobState)),
    queue=st.none() | st.text("abc:-_.", min_size=1, max_size=8),
    text=st.none() | texts.filter(bool),
    to_queue=st.none() | st.text("xyz", min_size=1, max_size=8),
    ids=st.none() | st.lists(texts, max_size=5).map(tuple),
    sources=st.lists(texts, max_size=3).map(tuple),
    cursor=texts,
    examined=st.integers(0, 2**63 - 1),
    done=st.integers(0, 2**63 - 1),
    total=st.none() | st.integers(0, 2**63 - 1),
    started_at=st.floats(0, 2e9),
    updated_at=st.floats(0, 2e9),
    owner=texts,
)


@given(operations)
def test_records_round_trip_through_their_stored_fields(operation: Operation) -> None:
    assert Operation.from_fields(operation.to_fields()) == operation
    encoded = {k.encode(): v.encode() for k, v in operation.to_fields().items()}  # as a Redis hash returns it
    assert Operation.from_fields(encoded) == operation


@given(operations, st.sampled_from(["kind", "state", "examined", "total", "ids", "sources", "started_at"]),
       st.text(max_size=30) | st.sampled_from(["-1", "1e999", "99999999999999999999", "[1]", "{}", "nan?"]))
def test_a_damaged_record_is_invalid_input_naming_the_field(operation: Operation, field: str, junk: str) -> None:
    try:
        parsed = Operation.from_fields(operation.to_fields() | {field: junk})
    except InvalidInput as exc:  # never anything else: the journal is hostile data
        assert field in str(exc) or (field, "unknown") in {("kind", "unknown"), ("state", "unknown")} and \
            "unknown" in str(exc)
    else:
        assert isinstance(parsed, Operation)
