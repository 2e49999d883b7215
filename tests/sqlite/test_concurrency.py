"""Several processes and threads draining one queue file: each job delivered exactly once."""

from __future__ import annotations

import collections
import multiprocessing
import threading
import time
from pathlib import Path

from qtui.model import JobState
from qtui.sqlite_queue import SQLiteQueue

JOBS = 400


def drain(path: str, start: threading.Barrier, results: multiprocessing.Queue) -> None:
    """Worker process: reserve and ack until the queue stays empty; report what it got."""
    got: list[str] = []
    with SQLiteQueue.open(path) as q, q.worker(["bulk", "bulk-high"], lease_seconds=60) as w:
        start.wait()  # all processes compete from the first job
        while (job := w.reserve(timeout=0.5)) is not None:
            got.append(job.id)
            time.sleep(0.002)  # the work: without any, a few processes can hog the write lock
            w.ack(job)
    results.put(got)


def test_worker_processes_get_every_job_exactly_once(db_path: Path):
    with SQLiteQueue.open(db_path, create=True) as q:
        ids = q.enqueue_many("bulk", [{"n": n} for n in range(JOBS // 2)])
        ids += q.enqueue_many("bulk-high", [{"n": n} for n in range(JOBS // 2)], priority=1)

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = context.Barrier(4)
    processes = [
        context.Process(target=drain, args=(str(db_path), start, results)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    per_process = [results.get(timeout=120) for _ in processes]
    delivered = [job_id for got in per_process for job_id in got]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert sorted(delivered) == sorted(ids), "every job once, none twice"
    with SQLiteQueue.open(db_path) as q:
        (stats,) = (s for s in q.snapshot().queues if s.name == "bulk")
        assert stats.counts == {JobState.COMPLETED: JOBS // 2}


def test_worker_threads_running_the_loop_share_the_work(db_path: Path):
    with SQLiteQueue.open(db_path, create=True) as q:
        ids = q.enqueue_many("email", [{"n": n} for n in range(200)])
        delivered: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        stop = threading.Event()

        def handler(job) -> None:
            with lock:
                delivered[job.id] += 1
                if sum(delivered.values()) == len(ids):
                    stop.set()

        workers = [q.worker(["email"]) for _ in range(4)]
        threads = [threading.Thread(target=w.run, args=(handler, stop)) for w in workers]
        for thread in threads:
            thread.start()
        stop.wait(60)
        for thread in threads:
            thread.join(timeout=30)

        assert set(delivered) == set(ids) and set(delivered.values()) == {1}
        assert q.snapshot().queues[0].counts == {JobState.COMPLETED: 200}
        assert sum(w.processed for w in q.snapshot().workers) == 200


def test_closing_the_queue_waits_for_a_thread_still_reading_before_closing_its_connection(db_path: Path):
    q = SQLiteQueue.open(db_path, create=True)
    q.enqueue("email", {"n": 1})
    inside, closed = threading.Event(), threading.Event()
    seen: list[object] = []

    def reader() -> None:
        with q.database.read() as conn:
            inside.set()
            closed.wait(10)
            # A poll that was under way when the console closed the queue finishes its query.
            seen.append(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
        try:
            conn.execute("SELECT 1")
        except Exception as exc:  # given back after close: its last user closed it
            seen.append(type(exc).__name__)

    thread = threading.Thread(target=reader)
    thread.start()
    assert inside.wait(10)
    q.close()
    closed.set()
    thread.join(10)

    assert seen == [1, "ProgrammingError"]
