"""A small real SQLite queue for console and command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.sqlite_queue import SQLiteQueue
from tests.support import ManualClock

HOSTILE = "subject \x1b]0;owned\x07 \x1b[31mred\x1b[0m \x9b2J"


@pytest.fixture
def clock() -> ManualClock:
    """The queue's and the console's clock: it moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
def queue_db(tmp_path: Path, clock: ManualClock) -> Path:
    """A database with two queues, ready jobs, a dead job with a hostile error, a worker."""
    path = tmp_path / "queue.db"
    with SQLiteQueue.open(path, create=True, clock=clock) as q:
        for i in range(30):
            q.enqueue("email", {"to": f"user{i}@example.com", "tenant": "acme"})
        q.enqueue("billing", {"invoice": 7, "note": HOSTILE})
        q.enqueue("billing", {"invoice": 8}, max_attempts=1)
        worker = q.worker(["billing"], worker_id="w-1")  # not closed: it stays registered
        worker.ack(worker.reserve())
        worker.fail(worker.reserve(), "card declined " + HOSTILE)
    return path


@pytest.fixture
def backend(queue_db: Path, clock: ManualClock):
    b = open_backend(queue_db, clock=clock)
    yield b
    b.close()
