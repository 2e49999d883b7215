"""Polling an unchanged SQLite queue: the stats tables are read again only after a commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.backends.sqlite import SQLiteBackend
from qtui.model import JobState
from qtui.sqlite_queue import SQLiteQueue
from qtui.sqlite_queue.db import Database
from tests.support import ManualClock


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every SQL statement run on the connections opened from now on."""
    seen: list[str] = []
    connect = Database._connect

    def traced(self):  # noqa: ANN001, ANN202 - a method of Database
        conn = connect(self)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(Database, "_connect", traced)
    return seen


def stats_reads(statements: list[str]) -> int:
    return sum(1 for sql in statements if "FROM queue_counts" in sql)


def test_an_unchanged_database_answers_a_poll_without_reading_the_stats(
    queue: SQLiteQueue, db_path: Path, clock: ManualClock, statements: list[str]
) -> None:
    queue.enqueue_many("email", [{"n": 1}, {"n": 2}])
    backend = SQLiteBackend(str(db_path), clock=clock)
    try:
        first = backend.snapshot()
        assert stats_reads(statements) == 1
        for _ in range(5):  # idle polls
            clock.advance(2)
            again = backend.snapshot()
        assert stats_reads(statements) == 1
        assert again.taken_at == first.taken_at + 10
        assert again.queues == first.queues
        # another process's commit, then the console's own: each is seen by the next poll
        queue.enqueue("email", {"n": 3})
        assert backend.snapshot().queues[0].count(JobState.READY) == 3
        backend.enqueue("sms", "{}")
        assert [q.name for q in backend.snapshot().queues] == ["email", "sms"]
        assert stats_reads(statements) == 3
        backend.snapshot()
        assert stats_reads(statements) == 3
    finally:
        backend.close()


def test_time_still_moves_what_depends_on_it_between_commits(
    queue: SQLiteQueue, db_path: Path, clock: ManualClock, statements: list[str]
) -> None:
    queue.enqueue("email", {"n": 1})
    worker = queue.worker(["email"], worker_id="mailer", lease_seconds=30)
    worker.ack(worker.reserve(timeout=0))
    backend = SQLiteBackend(str(db_path), clock=clock)
    try:
        now = backend.snapshot()
        assert now.queues[0].completed_per_min == 1.0 and sum(now.queues[0].history) == 1
        assert [w.alive for w in now.workers] == [True]
        clock.advance(61)  # nothing committed: the completion left the last minute, the worker went quiet
        later = backend.snapshot()
        assert later.queues[0].completed_per_min == 0.0 and sum(later.queues[0].history) == 0
        assert [w.alive for w in later.workers] == [False]
        assert stats_reads(statements) == 1
    finally:
        worker.close()
        backend.close()
