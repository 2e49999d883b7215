"""The admin operations an operator runs against a SQLite queue database."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.backends.sqlite import SQLiteBackend, open_sqlite
from qtui.model import InvalidInput, JobState, NotFound, ReadOnlyError
from qtui.sqlite_queue import SQLiteQueue

from tests.support import ManualClock


def kill(queue: SQLiteQueue, queue_name: str, payloads: list[object], error: str) -> list[str]:
    """Enqueue jobs with one attempt and fail them all: they land in the dead letter queue.

    They go in at a high priority so the worker takes them before any other ready job.
    """
    ids = queue.enqueue_many(queue_name, payloads, max_attempts=1, priority=1000)
    worker = queue.worker([queue_name])
    for _ in ids:
        worker.fail(worker.reserve(timeout=0), error)
    worker.close()
    return ids


def test_open_by_url_or_path(queue: SQLiteQueue, db_path: Path, monkeypatch):
    for target in (str(db_path), f"sqlite://{db_path}"):
        backend = open_backend(target, clock=time.time)
        assert backend.display_name == f"sqlite:{db_path}"
        backend.close()
    monkeypatch.chdir(db_path.parent)
    backend = open_sqlite("sqlite://queue.db", clock=time.time, read_only=True, create=False)
    assert backend.display_name == f"sqlite:{db_path}"
    backend.close()


def test_peek_pages_oldest_first_with_an_opaque_cursor(queue: SQLiteQueue, backend: SQLiteBackend):
    ids = queue.enqueue_many("email", [{"n": n} for n in range(7)])
    queue.enqueue("billing", {"n": "other"})

    seen: list[str] = []
    cursor = None
    for _ in range(4):
        page = backend.peek("email", JobState.READY, cursor=cursor, limit=3)
        seen += [job.id for job in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == ids
    for bogus in ("bogus", "after:", "after:-1", "after:" + "9" * 30):
        with pytest.raises(InvalidInput, match="invalid page cursor"):
            backend.peek("email", JobState.READY, cursor=bogus)


def test_peek_all_queues_and_unknown_queue(queue: SQLiteQueue, backend: SQLiteBackend):
    a = queue.enqueue("email", {})
    b = queue.enqueue("billing", {})
    assert [job.id for job in backend.peek(None, JobState.READY).jobs] == [a, b]
    assert backend.peek("email", JobState.DEAD).jobs == ()
    with pytest.raises(NotFound, match="no queue named 'nope'"):
        backend.peek("nope", JobState.READY)


def test_filter_matches_payload_or_error_ignoring_case_and_wildcards(
    queue: SQLiteQueue, backend: SQLiteBackend
):
    queue.enqueue("email", {"subject": "Invoice 100% paid"})
    sale = queue.enqueue("email", {"subject": "SALE 100%_OFF"})
    queue.enqueue("email", {"subject": "1000 offers"})
    unicode = queue.enqueue("email", {"subject": "Grüße aus KÖLN"})
    (dead,) = kill(queue, "email", [{"subject": "plain"}], "SMTPRecipientRefused: 550 User Unknown")

    def found(text: str, state: JobState = JobState.READY) -> list[str]:
        return [job.id for job in backend.peek("email", state, text=text).jobs]

    assert found("100%_off") == [sale]
    assert found("0%_") == [sale]
    assert found("köln") == [unicode]
    assert found("user unknown", JobState.DEAD) == [dead]
    assert found("nothing like this") == []


def test_filtered_paging_stops_when_the_page_is_full(queue: SQLiteQueue, backend: SQLiteBackend):
    tenants = ["acme" if n % 3 == 0 else "globex" for n in range(30)]
    ids = queue.enqueue_many("email", [{"tenant": tenant} for tenant in tenants])
    acme = ids[::3]
    page = backend.peek("email", JobState.READY, text="ACME", limit=4)
    assert [job.id for job in page.jobs] == acme[:4]
    rest = backend.peek("email", JobState.READY, text="ACME", cursor=page.next_cursor, limit=100)
    assert [job.id for job in rest.jobs] == acme[4:]
    assert rest.next_cursor is None


def test_find_by_id(queue: SQLiteQueue, backend: SQLiteBackend):
    job_id = queue.enqueue("email", {"to": "ana@example.com"}, priority=3)
    job = backend.job(f" {job_id} ")
    assert (job.id, job.queue, job.state, job.priority, job.payload) == (
        job_id, "email", JobState.READY, 3, '{"to":"ana@example.com"}',
    )
    for unknown in ("999999", "not-a-number", "9" * 19, "9" * 5000, "١٢"):
        assert backend.job(unknown) is None
    with pytest.raises(InvalidInput, match="job id is empty"):
        backend.job("  ")


def test_enqueue_validates_and_returns_the_stored_job(backend: SQLiteBackend):
    job = backend.enqueue("reports", '{"month": "2024-05"}', priority=2)
    assert (job.queue, job.state, job.priority, job.payload) == (
        "reports", JobState.READY, 2, '{"month": "2024-05"}',
    )
    with pytest.raises(InvalidInput, match="line 1 column 2"):
        backend.enqueue("reports", "{month}")
    with pytest.raises(InvalidInput, match="NaN"):
        backend.enqueue("reports", '{"x": NaN}')
    with pytest.raises(InvalidInput, match="invalid queue name"):
        backend.enqueue("bad queue", "{}")
    assert [s.name for s in backend.stats()] == ["reports"]


def test_requeue_selected_ids_resets_attempts_and_keeps_the_error(
    queue: SQLiteQueue, backend: SQLiteBackend, clock: ManualClock
):
    dead = kill(queue, "email", [{"n": n} for n in range(3)], "TimeoutError: smtp")
    ready = queue.enqueue("email", {})

    assert backend.requeue(ids=[dead[0], dead[2], ready, "424242"]) == 2

    job = backend.job(dead[0])
    assert (job.state, job.attempts, job.last_error, job.finished_at, job.origin) == (
        JobState.READY, 0, "TimeoutError: smtp", None, None,
    )
    assert backend.job(dead[1]).state is JobState.DEAD
    with pytest.raises(InvalidInput, match="invalid job id 'x1'"):
        backend.requeue(ids=["x1"])
    with pytest.raises(InvalidInput, match="either job ids or a filter"):
        backend.requeue(ids=[dead[1]], queue="email")


def test_requeue_by_filter_and_to_another_queue(queue: SQLiteQueue, backend: SQLiteBackend):
    stripe = kill(queue, "billing", [{"tenant": "acme"}, {"tenant": "globex"}], "CardError")
    kill(queue, "email", [{"tenant": "acme"}], "SMTP 550")

    moved = backend.requeue(queue="billing", text="ACME", to_queue="billing-retry")

    assert moved == 1
    job = backend.job(stripe[0])
    assert (job.queue, job.origin, job.state) == ("billing-retry", "billing", JobState.READY)
    counts = {s.name: dict(s.counts) for s in backend.stats()}
    assert counts["billing"] == {JobState.DEAD: 1}
    assert counts["billing-retry"] == {JobState.READY: 1}
    assert backend.requeue() == 2, "no filter: every dead job"
    with pytest.raises(NotFound):
        backend.requeue(queue="nope")


def test_purge_each_state_returns_counts(
    queue: SQLiteQueue, backend: SQLiteBackend, clock: ManualClock
):
    queue.enqueue_many("email", [{}] * 4)
    queue.enqueue("email", {}, delay=60)
    kill(queue, "email", [{}] * 2, "boom")
    queue.enqueue("billing", {})
    worker = queue.worker(["email"])
    worker.ack(worker.reserve(timeout=0))
    held = worker.reserve(timeout=0)

    assert backend.purge("email", JobState.DEAD) == 2
    assert backend.purge("email", JobState.COMPLETED) == 1
    assert backend.purge("email", JobState.SCHEDULED) == 1
    ready = [job.id for job in backend.peek("email", JobState.READY).jobs]
    assert backend.purge("email", JobState.READY, ids=[ready[0], held.id]) == 1
    assert backend.purge("email", JobState.READY) == 1
    with pytest.raises(InvalidInput, match="cannot purge processing jobs"):
        backend.purge("email", JobState.PROCESSING)
    assert backend.purge(None, JobState.READY) == 1, "all queues: the billing job"
    counts = {s.name: dict(s.counts) for s in backend.stats()}
    assert counts == {"billing": {}, "email": {JobState.PROCESSING: 1}}
    worker.ack(held)


def test_read_only_backend_refuses_every_change(queue: SQLiteQueue, db_path: Path):
    job_id = queue.enqueue("email", {})
    kill(queue, "email", [{}], "boom")
    backend = SQLiteBackend(str(db_path), read_only=True, clock=time.time)
    wal = db_path.with_name(db_path.name + "-wal")
    before = (db_path.read_bytes(), wal.read_bytes())

    assert backend.job(job_id) is not None
    for attempt in (
        lambda: backend.enqueue("email", "{}"),
        lambda: backend.requeue(),
        lambda: backend.purge("email", JobState.READY),
    ):
        with pytest.raises(ReadOnlyError, match="refused"):
            attempt()
    backend.close()
    assert (db_path.read_bytes(), wal.read_bytes()) == before
    assert [s.counts for s in queue.snapshot().queues] == [{JobState.READY: 1, JobState.DEAD: 1}]


def test_snapshot_shows_queues_and_workers(queue: SQLiteQueue, backend: SQLiteBackend):
    queue.enqueue("email", {})
    worker = queue.worker(["email"], worker_id="mailer")
    job = worker.reserve(timeout=0)
    snapshot = backend.snapshot()
    assert [(s.name, dict(s.counts)) for s in snapshot.queues] == [
        ("email", {JobState.PROCESSING: 1})
    ]
    assert [(w.id, w.current_job) for w in snapshot.workers] == [("mailer", job.id)]


def test_backend_is_safe_to_share_between_threads(backend: SQLiteBackend):
    errors: list[BaseException] = []

    def busy(n: int) -> None:
        try:
            for i in range(25):
                backend.enqueue(f"q{n % 3}", json.dumps({"thread": n, "i": i}))
                backend.snapshot()
                backend.peek(None, JobState.READY, text="thread", limit=10)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=busy, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(s.count(JobState.READY) for s in backend.stats()) == 6 * 25
