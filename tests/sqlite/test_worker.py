"""Producing and consuming: order, retries, leases, stats, retention, the run loop."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from qtui.model import InvalidInput, JobState
from qtui.sqlite_queue import LeaseLost, Retention, SQLiteQueue
from qtui.sqlite_queue.queue import MAX_ERROR_CHARS

from tests.support import ManualClock, wait_until_sync


def test_jobs_come_out_by_priority_then_fifo_and_queues_in_worker_order(queue: SQLiteQueue):
    low = queue.enqueue("email", {"n": 1})
    high = queue.enqueue("email", {"n": 2}, priority=5)
    low_later = queue.enqueue("email", {"n": 3})
    urgent_other = queue.enqueue("billing", {"n": 4}, priority=100)
    worker = queue.worker(["email", "billing"])

    order = [worker.reserve(timeout=0).id for _ in range(4)]

    assert order == [high, low, low_later, urgent_other]
    assert worker.reserve(timeout=0) is None


def test_reserved_job_carries_decoded_payload_and_attempt(queue: SQLiteQueue):
    queue.enqueue("email", '{"to": "ana@example.com", "tags": [1, 2]}', max_attempts=5)
    job = queue.worker(["email"]).reserve(timeout=0)

    assert job.payload == {"to": "ana@example.com", "tags": [1, 2]}
    assert (job.queue, job.attempt, job.max_attempts) == ("email", 1, 5)


def test_failed_job_retries_after_backoff_then_dies_with_its_last_error(
    queue: SQLiteQueue, clock: ManualClock
):
    job_id = queue.enqueue("email", {}, max_attempts=3)
    worker = queue.worker(["email"], retry_base=10, retry_cap=1000)

    first = worker.reserve(timeout=0)
    worker.fail(first, "SMTP 451 try later")
    assert worker.reserve(timeout=0) is None, "not before the backoff is over"
    clock.advance(10 * 1.25 + 0.01)
    second = worker.reserve(timeout=0)
    assert (second.id, second.attempt) == (job_id, 2)
    worker.fail(second, "SMTP 451 still later")
    clock.advance(20 * 1.25 + 0.01)
    third = worker.reserve(timeout=0)
    worker.fail(third, "SMTP 550 no such user")

    stats = queue.snapshot().queues[0]
    assert stats.counts == {JobState.DEAD: 1}
    assert (stats.enqueued_per_min, stats.failed_per_min) == (1, 3)  # all within the minute
    with queue.database.read() as conn:
        assert conn.execute("SELECT last_error, attempts FROM jobs").fetchone() == (
            "SMTP 550 no such user",
            3,
        )


def test_backoff_doubles_with_jitter_and_is_capped(queue: SQLiteQueue):
    worker = queue.worker(["email"], retry_base=2.0, retry_cap=10.0)
    for attempt, base in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        assert base <= worker.backoff(attempt) <= base * 1.25


def test_expired_lease_goes_back_to_ready_and_the_old_holder_loses_it(
    queue: SQLiteQueue, clock: ManualClock
):
    job_id = queue.enqueue("email", {}, max_attempts=2)
    stalled = queue.worker(["email"], worker_id="stalled", lease_seconds=30)
    rescuer = queue.worker(["email"], worker_id="rescuer", lease_seconds=30)
    held = stalled.reserve(timeout=0)

    clock.advance(29)
    assert rescuer.reserve(timeout=0) is None, "the lease still runs"
    clock.advance(2)
    taken = rescuer.reserve(timeout=0)

    assert (taken.id, taken.attempt) == (job_id, 2)
    for operation in (stalled.ack, stalled.heartbeat):
        with pytest.raises(LeaseLost, match=f"job {job_id}"):
            operation(held)
    with pytest.raises(LeaseLost):
        stalled.fail(held, "late")
    rescuer.ack(taken)
    assert queue.snapshot().queues[0].counts == {JobState.COMPLETED: 1}


def test_expired_lease_on_last_attempt_is_dead_with_lease_expired(
    queue: SQLiteQueue, clock: ManualClock
):
    queue.enqueue("email", {}, max_attempts=1)
    worker = queue.worker(["email"], worker_id="w1", lease_seconds=5)
    worker.reserve(timeout=0)
    clock.advance(6)

    queue.maintenance()

    with queue.database.read() as conn:
        state, error = conn.execute("SELECT state, last_error FROM jobs").fetchone()
        current = conn.execute("SELECT current_job FROM workers").fetchone()[0]
    assert state == "dead"
    assert error.startswith("lease expired") and "w1" in error
    assert current is None


def test_stale_holder_stays_fenced_off_after_a_requeue_resets_attempts(
    queue: SQLiteQueue, backend, clock: ManualClock
):
    job_id = queue.enqueue("email", {}, max_attempts=1)
    worker = queue.worker(["email"], lease_seconds=5)
    stale = worker.reserve(timeout=0)
    clock.advance(6)
    queue.maintenance()  # the lease expired on the only attempt: dead
    assert backend.requeue(ids=[job_id]) == 1
    fresh = worker.reserve(timeout=0)

    assert (fresh.id, fresh.attempt) == (stale.id, stale.attempt)
    with pytest.raises(LeaseLost):
        worker.ack(stale)
    worker.ack(fresh)


def test_heartbeat_keeps_the_job(queue: SQLiteQueue, clock: ManualClock):
    queue.enqueue("email", {})
    worker = queue.worker(["email"], lease_seconds=10)
    other = queue.worker(["email"], lease_seconds=10)
    job = worker.reserve(timeout=0)
    for _ in range(5):
        clock.advance(8)
        worker.heartbeat(job)
        assert other.reserve(timeout=0) is None
    worker.ack(job)


def test_delayed_job_is_scheduled_until_its_time(queue: SQLiteQueue, clock: ManualClock):
    queue.enqueue("reports", {}, delay=60)
    worker = queue.worker(["reports"])
    assert queue.snapshot().queues[0].counts == {JobState.SCHEDULED: 1}
    assert worker.reserve(timeout=0) is None
    clock.advance(60)
    assert worker.reserve(timeout=0) is not None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"a": 1,}', "payload is not valid JSON: .* line 1 column 9"),
        ('{"a": NaN}', "NaN is not allowed"),
        ("", "payload is not valid JSON"),
        (object(), "cannot be stored as JSON"),
        ({"x": float("inf")}, "cannot be stored as JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"subject": "\ud800"}', "invalid characters"),
    ],
)
def test_enqueue_refuses_what_is_not_json(queue: SQLiteQueue, payload, message):
    with pytest.raises(InvalidInput, match=message):
        queue.enqueue("email", payload)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue": "bad name"}, "invalid queue name"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"priority": "high"}, "priority"),
        ({"priority": 2**63}, "priority"),
        ({"delay": float("nan")}, "delay"),
        ({"delay": -1}, "delay"),
    ],
)
def test_enqueue_refuses_bad_options(queue: SQLiteQueue, kwargs, message):
    args = {"queue": "email", "payload": {}} | kwargs
    with pytest.raises(InvalidInput, match=message):
        queue.enqueue(args.pop("queue"), args.pop("payload"), **args)


def test_enqueue_many_is_all_or_nothing(queue: SQLiteQueue):
    with pytest.raises(InvalidInput):
        queue.enqueue_many("email", [{"ok": 1}, "{broken"])
    assert queue.snapshot().queues == ()
    ids = queue.enqueue_many("email", [{"n": n} for n in range(3)])
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


def test_any_error_text_is_recorded(queue: SQLiteQueue):
    queue.enqueue("email", {}, max_attempts=1)
    worker = queue.worker(["email"])
    worker.fail(worker.reserve(timeout=0), "bad bytes \udcff from a decoder, \x1b]0;title\x07")
    with queue.database.read() as conn:
        (error,) = conn.execute("SELECT last_error FROM jobs").fetchone()
    assert error == "bad bytes ? from a decoder, \x1b]0;title\x07"


def test_long_errors_are_cut(queue: SQLiteQueue):
    queue.enqueue("email", {}, max_attempts=1)
    worker = queue.worker(["email"])
    worker.fail(worker.reserve(timeout=0), "x" * (MAX_ERROR_CHARS * 3))
    with queue.database.read() as conn:
        (error,) = conn.execute("SELECT last_error FROM jobs").fetchone()
    assert len(error) == MAX_ERROR_CHARS and error.endswith("…")


def test_snapshot_rates_history_and_oldest_ready(queue: SQLiteQueue, clock: ManualClock):
    clock.now = 1_700_000_000.0  # a bucket boundary: bucket = now // 5
    first = clock.now
    for _ in range(3):
        queue.enqueue("email", {})
    worker = queue.worker(["email"])
    worker.ack(worker.reserve(timeout=0))
    clock.advance(30)
    worker.ack(worker.reserve(timeout=0))
    worker.fail(worker.reserve(timeout=0), "boom")

    stats = queue.snapshot().queues[0]

    assert (stats.enqueued_per_min, stats.completed_per_min, stats.failed_per_min) == (3, 2, 1)
    assert len(stats.history) == 12
    assert stats.history[-1] == 1 and stats.history[-7] == 1 and sum(stats.history) == 2
    assert stats.oldest_ready_at is None
    queue.enqueue("email", {})
    assert queue.snapshot().queues[0].oldest_ready_at == clock.now
    clock.advance(61)
    later = queue.snapshot().queues[0]
    assert (later.enqueued_per_min, later.completed_per_min, sum(later.history)) == (0, 0, 0)
    assert first < clock.now


def test_workers_are_listed_alive_then_silent_then_forgotten(queue: SQLiteQueue, clock: ManualClock):
    queue.enqueue("email", {})
    worker = queue.worker(["email", "billing"], worker_id="mailer-1", lease_seconds=30)
    job = worker.reserve(timeout=0)

    (info,) = queue.snapshot().workers
    assert (info.id, info.queues, info.current_job, info.alive) == (
        "mailer-1", ("email", "billing"), job.id, True,
    )
    worker.ack(job)
    assert queue.snapshot().workers[0].processed == 1
    clock.advance(31)
    assert queue.snapshot().workers[0].alive is False
    worker.reserve(timeout=0)  # an idle poll counts as a sign of life
    assert queue.snapshot().workers[0].alive is True
    clock.advance(queue.retention.forget_workers_after + 1)
    queue.maintenance()
    assert queue.snapshot().workers == ()


def test_closed_worker_is_unregistered(queue: SQLiteQueue):
    with queue.worker(["email"]):
        assert len(queue.snapshot().workers) == 1
    assert queue.snapshot().workers == ()


def test_maintenance_keeps_the_newest_completed_per_queue(db_path: Path, clock: ManualClock):
    retention = Retention(keep_completed=3, completed_max_age=3600)
    with SQLiteQueue.open(db_path, create=True, clock=clock, retention=retention) as q:
        ids = q.enqueue_many("email", [{"n": n} for n in range(6)])
        q.enqueue("billing", {})
        worker = q.worker(["email", "billing"])
        for _ in range(7):
            clock.advance(1)
            worker.ack(worker.reserve(timeout=0))

        assert q.maintenance() == 3

        with q.database.read() as conn:
            kept = [str(i) for (i,) in conn.execute("SELECT id FROM jobs WHERE queue = 'email'")]
        assert kept == ids[3:]
        assert q.snapshot().queues[1].counts == {JobState.COMPLETED: 3}
        clock.advance(3601)
        assert q.maintenance() == 4
        assert all(not stats.counts for stats in q.snapshot().queues)


def test_run_loop_acks_fails_and_keeps_long_jobs_leased(queue: SQLiteQueue, clock: ManualClock):
    queue.enqueue("email", {"outcome": "ok"})
    queue.enqueue("email", {"outcome": "raise"}, max_attempts=1)
    slow_id = queue.enqueue("email", {"outcome": "slow"})
    rival = queue.worker(["email"], worker_id="rival")
    stop = threading.Event()
    seen: list[str] = []

    def lease_until() -> float:
        with queue.database.read() as conn:
            return conn.execute("SELECT lease_until FROM jobs WHERE id = ?", (int(slow_id),)).fetchone()[0]

    def handler(job):
        seen.append(job.payload["outcome"])
        if len(seen) == 3:
            stop.set()  # the loop ends after this job, whatever happens in it
        if job.payload["outcome"] == "raise":
            raise ConnectionRefusedError("smtp.example.com:25 refused")
        if job.payload["outcome"] == "slow":
            # Work for 2.5 leases of the queue's time: after each half lease, a heartbeat
            # must have extended it, so a rival worker finds nothing to take over.
            for _ in range(5):
                clock.advance(0.1)
                wait_until_sync(lambda: lease_until() > clock.now + 0.15, "a heartbeat extending the lease")
                assert rival.reserve(timeout=0) is None

    worker = queue.worker(["email"], lease_seconds=0.2)
    worker.run(handler, stop)

    assert seen == ["ok", "raise", "slow"]
    with queue.database.read() as conn:
        rows = conn.execute("SELECT state, attempts, last_error FROM jobs ORDER BY id").fetchall()
    assert rows == [
        ("completed", 1, None),
        ("dead", 1, "ConnectionRefusedError: smtp.example.com:25 refused"),
        ("completed", 1, None),
    ]


def test_reserve_waits_for_a_job_from_another_thread(db_path: Path):
    with SQLiteQueue.open(db_path, create=True) as q:
        worker = q.worker(["email"])
        producer = threading.Timer(0.1, q.enqueue, args=("email", {"late": True}))
        producer.start()
        job = worker.reserve(timeout=10)
        producer.join()
        assert job is not None and job.payload == {"late": True}
        assert worker.reserve(timeout=0.05) is None


def test_database_is_in_wal_mode_and_versioned(queue: SQLiteQueue, db_path: Path):
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()
