"""Journaled requeues and purges on Redis: progress, cancel, listing, resume and abandon."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time

import gowork_sim as sim
import pytest

from qtui.backends import open_backend
from qtui.backends.journal import LEASE_SECONDS, Operation
from qtui.cli.ops import find_with_progress
from qtui.model import InvalidInput, JobState, NotFound, ReadOnlyError
from tests.support import ManualClock


@pytest.fixture
def dead_jobs(rdb, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 100)
    rdb.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", ("low", "high")[i % 2], job_id=f"j{i}", retries=4)
                                 for i in range(1000)])  # fmt: skip
    return rdb


def test_progress_after_every_chunk_and_the_journal_empty_at_the_end(redis_url, dead_jobs):
    backend = open_backend(redis_url, clock=time.time)
    seen: list[Operation] = []
    operation = backend.start_requeue(queue="low")
    assert operation.total == 1000 and [op.id for op in backend.operations()] == [operation.id]
    final = backend.run_operation(operation, progress=seen.append)
    assert final.outcome == "finished" and final.done == 500
    assert [op.examined for op in seen] == [0, *range(100, 1001, 100), 1000]  # the last window finds the end
    assert [op.cursor for op in seen[1:3]] == ["0.50", "0.100"]  # the low half moved, the high half stays
    assert backend.operations() == ()
    assert dead_jobs.keys("jobqueue:qtui:op:*") == []
    backend.close()


def test_cancel_stops_after_the_current_chunk_and_what_moved_stays_moved(redis_url, dead_jobs):
    backend = open_backend(redis_url, clock=time.time)
    cancel = threading.Event()

    def progress(current: Operation) -> None:
        if current.examined >= 300:
            cancel.set()

    final = backend.run_operation(backend.start_requeue(), progress=progress, cancel=cancel)
    assert final.outcome == "cancelled" and final.examined == 300 and final.done == 300
    assert dead_jobs.llen(sim.DEAD_LETTER) == 700 and backend.operations() == ()
    assert sum(q.count(JobState.READY) for q in backend.snapshot().queues) == 300
    backend.close()


def test_an_operation_of_a_dead_process_is_interrupted_and_resumes_from_its_cursor(redis_url, dead_jobs):
    script = f"""
import os, signal, time
import qtui.backends.gowork as gowork
gowork.SCRIPT_CHUNK = 100
from qtui.backends import open_backend
backend = open_backend({redis_url!r}, clock=time.time)
def progress(op):
    if op.examined >= 400:
        os.kill(os.getpid(), signal.SIGKILL)
backend.run_operation(backend.start_purge("high", "dead"), progress=progress)
"""
    child = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert child.returncode == -9, child.stderr
    backend = open_backend(redis_url, clock=time.time)
    (operation,) = backend.operations()
    assert not operation.running_elsewhere(time.time())
    assert (operation.examined, operation.done, operation.cursor) == (400, 200, "0.200")
    assert operation.describe() == "purge all dead jobs of high"
    high = [i for i in range(1000) if i % 2]
    ids = [json.loads(raw)["id"] for raw in dead_jobs.lrange(sim.DEAD_LETTER, 0, -1)]
    assert len(ids) == 800 and len(set(ids)) == 800  # 200 deleted, every other job once
    final = backend.run_operation(backend.resume(operation.id))
    assert (final.outcome, final.done, final.examined) == ("finished", 500, 1000)  # each item examined once
    remaining = {json.loads(raw)["id"] for raw in dead_jobs.lrange(sim.DEAD_LETTER, 0, -1)}
    assert remaining == {f"j{i}" for i in range(1000)} - {f"j{i}" for i in high}
    backend.close()


def test_an_operation_another_live_process_runs_cannot_be_resumed_but_can_be_abandoned(redis_url, dead_jobs):
    backend = open_backend(redis_url, clock=time.time)
    operation = backend.start_requeue()
    dead_jobs.hset(f"jobqueue:qtui:op:{operation.id}", "owner", f"{os.uname().nodename}:1")  # init: alive
    other = open_backend(redis_url, clock=time.time)
    assert other.operations()[0].running_elsewhere(time.time())
    with pytest.raises(InvalidInput, match=r"is running in .*:1; wait for it or abandon it"):
        other.resume(operation.id)
    abandoned = other.abandon(operation.id)
    assert abandoned.outcome == "abandoned" and other.operations() == ()
    final = backend.run_operation(operation)  # its runner learns at its next chunk
    assert final.outcome == "abandoned" and final.done == 0 and dead_jobs.llen(sim.DEAD_LETTER) == 1000
    with pytest.raises(NotFound, match="no unfinished operation"):
        other.abandon(operation.id)
    backend.close()
    other.close()


def test_an_operation_owned_on_another_host_is_interrupted_once_it_stops_advancing_for_the_lease(
    redis_url, dead_jobs
):
    clock = ManualClock()
    backend = open_backend(redis_url, clock=clock)
    operation = backend.start_requeue()
    dead_jobs.hset(f"jobqueue:qtui:op:{operation.id}", "owner", "another-host:4242")  # its pid means nothing here
    clock.advance(LEASE_SECONDS - 1)
    with pytest.raises(InvalidInput, match=r"is running in another-host:4242"):
        backend.resume(operation.id)
    clock.advance(1)
    final = backend.run_operation(backend.resume(operation.id))
    assert (final.outcome, final.done) == ("finished", 1000) and backend.operations() == ()
    backend.close()


def test_read_only_lists_operations_but_changes_nothing(redis_url, dead_jobs):
    writer = open_backend(redis_url, clock=time.time)
    operation = writer.start_requeue()
    reader = open_backend(redis_url, read_only=True, clock=time.time)
    assert [op.id for op in reader.operations()] == [operation.id]
    for refused in (lambda: reader.resume(operation.id), lambda: reader.abandon(operation.id),
                    lambda: reader.run_operation(operation)):  # fmt: skip
        with pytest.raises(ReadOnlyError):
            refused()
    writer.close()
    reader.close()


def test_a_broken_journal_record_is_skipped_not_fatal(redis_url, dead_jobs):
    backend = open_backend(redis_url, clock=time.time)
    kept = backend.start_requeue()
    dead_jobs.zadd("jobqueue:qtui:ops", {"bogus": 1, "gone": 2})
    dead_jobs.hset("jobqueue:qtui:op:bogus", mapping={"kind": "explode", "id": "bogus"})
    assert [op.id for op in backend.operations()] == [kept.id]
    assert dead_jobs.zscore("jobqueue:qtui:ops", "gone") is None  # an index entry without a record is dropped
    backend.close()


def test_rq_requeue_by_ids_resumes_from_the_id_it_reached(redis_url, rdb, monkeypatch):
    from qtui.bench.redis import load_rq

    monkeypatch.setattr("qtui.backends.rq.CHUNK", 10)
    ids = load_rq(rdb, 100, 2, 100)
    backend = open_backend("rq+" + redis_url, clock=time.time)
    cancel = threading.Event()
    chosen = ids[:55] + ["not-there", "bad id!"]
    final = backend.run_operation(backend.start_requeue(ids=chosen), cancel=cancel,
                                  progress=lambda op: op.examined >= 30 and cancel.set())  # fmt: skip
    assert (final.outcome, final.done) == ("cancelled", 30)
    operation = backend.start_requeue(ids=chosen)
    assert operation.ids == (*ids[:55], "not-there")  # ids RQ cannot have are dropped when it is planned
    assert backend.run_operation(operation).done == 25
    assert rdb.llen("rq:queue:q00") + rdb.llen("rq:queue:q01") == 55
    backend.close()


class Terminal(io.StringIO):
    """What the progress line writes to, taken for a terminal."""

    def isatty(self) -> bool:
        return True


def test_find_by_id_without_an_index_scans_and_reports_progress(redis_url, rdb, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 25)  # finds look at 100 items per step
    sim.produce(rdb, 450, "low")
    rdb.lpush(sim.DEAD_LETTER, sim.make_job("/x", "high", job_id="target", retries=4))
    backend = open_backend(redis_url, clock=time.time)
    seen: list[tuple[int, int]] = []
    job = backend.job("target", progress=lambda examined, total: seen.append((examined, total)))
    assert job is not None and job.state is JobState.DEAD
    assert seen == [(0, 451), (100, 451), (200, 451), (300, 451), (400, 451), (450, 451), (451, 451)]
    terminal = Terminal()
    monkeypatch.setattr("qtui.cli.ops.REDRAW_EVERY", 0)
    assert find_with_progress(backend, "nothing", stream=terminal) is None
    drawn = terminal.getvalue()
    assert "\r[" in drawn and "searching: 451 of ~451 items" in drawn and drawn.endswith("\r")
    backend.close()
