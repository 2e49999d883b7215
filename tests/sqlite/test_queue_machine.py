"""The queue's life cycle against a model: no job lost, none delivered twice, counters exact."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qtui.backends.sqlite import SQLiteBackend
from qtui.model import JobState, NotFound
from qtui.sqlite_queue import LeaseLost, ReservedJob, SQLiteQueue

from tests.support import ManualClock

QUEUES = ("a", "b", "c")
WORKER_QUEUES = {"w1": ["a", "b"], "w2": ["c", "b"]}
LEASE = 10.0
RETRY_BASE = 1.0
RETRY_CAP = 8.0


@attrs.define
class ModelJob:
    queue: str
    priority: int
    max_attempts: int
    state: JobState = JobState.READY
    attempts: int = 0
    deliveries: int = 0
    worker: str | None = None
    lease_until: float | None = None
    run_at: float | None = None


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="qtui-machine-"))
        path = self.dir / "queue.db"
        self.clock = ManualClock()
        self.queue = SQLiteQueue.open(path, create=True, clock=self.clock)
        self.backend = SQLiteBackend(str(path), clock=self.clock)
        self.workers = {
            name: self.queue.worker(
                queues, worker_id=name, lease_seconds=LEASE, retry_base=RETRY_BASE,
                retry_cap=RETRY_CAP,
            )
            for name, queues in WORKER_QUEUES.items()
        }
        self.raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self.jobs: dict[str, ModelJob] = {}
        self.known_queues: set[str] = set()
        self.held: list[tuple[str, ReservedJob]] = []  # reservations workers still think they have

    def teardown(self) -> None:
        self.raw.close()
        self.backend.close()
        self.queue.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's view of time-driven changes ------------------------------

    def release_due(self) -> None:
        now = self.clock.now
        for job in self.jobs.values():
            if job.state is JobState.SCHEDULED and job.run_at <= now:
                job.state, job.run_at = JobState.READY, None
            elif job.state is JobState.PROCESSING and job.lease_until < now:
                job.state = JobState.DEAD if job.attempts >= job.max_attempts else JobState.READY
                job.lease_until = None

    def holds(self, worker: str, reserved: ReservedJob) -> bool:
        job = self.jobs.get(reserved.id)
        return (
            job is not None
            and job.state is JobState.PROCESSING
            and job.worker == worker
            and job.deliveries == reserved.delivery
        )

    # -- rules -----------------------------------------------------------------

    @rule(
        queue=st.sampled_from(QUEUES),
        priority=st.integers(0, 2),
        max_attempts=st.integers(1, 3),
    )
    def enqueue(self, queue: str, priority: int, max_attempts: int) -> None:
        job_id = self.queue.enqueue(
            queue, {"n": len(self.jobs)}, priority=priority, max_attempts=max_attempts
        )
        assert job_id not in self.jobs, "job ids are never reused"
        self.jobs[job_id] = ModelJob(queue, priority, max_attempts)
        self.known_queues.add(queue)

    @rule(worker=st.sampled_from(sorted(WORKER_QUEUES)))
    def reserve(self, worker: str) -> None:
        self.release_due()
        expected = None
        for queue in WORKER_QUEUES[worker]:
            ready = [
                (-job.priority, int(job_id), job_id)
                for job_id, job in self.jobs.items()
                if job.queue == queue and job.state is JobState.READY
            ]
            if ready:
                expected = min(ready)[2]
                break
        reserved = self.workers[worker].reserve(timeout=0)
        assert (reserved.id if reserved else None) == expected
        if reserved is None:
            return
        job = self.jobs[reserved.id]
        assert job.state is JobState.READY, "a job is never delivered while another worker holds it"
        job.state = JobState.PROCESSING
        job.attempts += 1
        job.deliveries += 1
        job.worker = worker
        job.lease_until = self.clock.now + LEASE
        assert (reserved.queue, reserved.attempt, reserved.max_attempts, reserved.delivery) == (
            job.queue, job.attempts, job.max_attempts, job.deliveries,
        )
        self.held.append((worker, reserved))

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        worker, reserved = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
        if self.holds(worker, reserved):
            self.workers[worker].ack(reserved)
            self.jobs[reserved.id].state = JobState.COMPLETED
            self.jobs[reserved.id].lease_until = None
        else:
            with pytest.raises(LeaseLost):
                self.workers[worker].ack(reserved)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def fail(self, data: st.DataObject) -> None:
        worker, reserved = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
        if not self.holds(worker, reserved):
            with pytest.raises(LeaseLost):
                self.workers[worker].fail(reserved, "boom")
            return
        self.workers[worker].fail(reserved, "boom")
        job = self.jobs[reserved.id]
        job.lease_until = None
        if job.attempts < job.max_attempts:
            job.state = JobState.SCHEDULED
            (job.run_at,) = self.raw.execute(
                "SELECT run_at FROM jobs WHERE id = ?", (int(reserved.id),)
            ).fetchone()
            delay = min(RETRY_CAP, RETRY_BASE * 2 ** (job.attempts - 1))
            assert delay <= job.run_at - self.clock.now <= delay * 1.25
        else:
            job.state = JobState.DEAD
            (error,) = self.raw.execute(
                "SELECT last_error FROM jobs WHERE id = ?", (int(reserved.id),)
            ).fetchone()
            assert error == "boom"

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        worker, reserved = self.held[data.draw(st.integers(0, len(self.held) - 1))]
        if self.holds(worker, reserved):
            self.workers[worker].heartbeat(reserved)
            self.jobs[reserved.id].lease_until = self.clock.now + LEASE
        else:
            with pytest.raises(LeaseLost):
                self.workers[worker].heartbeat(reserved)

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0, 7.0, 11.0]))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def maintenance(self) -> None:
        self.queue.maintenance()
        self.release_due()

    @rule(data=st.data(), to_queue=st.none() | st.sampled_from(QUEUES + ("d",)))
    def requeue(self, data: st.DataObject, to_queue: str | None) -> None:
        if self.jobs and data.draw(st.booleans(), label="by ids"):
            ids = data.draw(st.lists(st.sampled_from(sorted(self.jobs)), unique=True), label="ids")
            chosen = [job_id for job_id in ids if self.jobs[job_id].state is JobState.DEAD]
            moved = self.backend.requeue(ids=ids, to_queue=to_queue)
        else:
            queue = data.draw(st.none() | st.sampled_from(QUEUES), label="queue")
            if queue is not None and queue not in self.known_queues:
                with pytest.raises(NotFound):
                    self.backend.requeue(queue=queue, to_queue=to_queue)
                return
            chosen = [
                job_id
                for job_id, job in self.jobs.items()
                if job.state is JobState.DEAD and queue in (None, job.queue)
            ]
            moved = self.backend.requeue(queue=queue, to_queue=to_queue)
        assert moved == len(chosen)
        for job_id in chosen:
            job = self.jobs[job_id]
            job.state, job.attempts = JobState.READY, 0
            job.queue = to_queue or job.queue
        if to_queue is not None:
            self.known_queues.add(to_queue)

    @rule(
        state=st.sampled_from(
            [JobState.READY, JobState.SCHEDULED, JobState.COMPLETED, JobState.DEAD]
        ),
        queue=st.none() | st.sampled_from(QUEUES),
    )
    def purge(self, state: JobState, queue: str | None) -> None:
        if queue is not None and queue not in self.known_queues:
            with pytest.raises(NotFound):
                self.backend.purge(queue, state)
            return
        doomed = [
            job_id
            for job_id, job in self.jobs.items()
            if job.state is state and queue in (None, job.queue)
        ]
        assert self.backend.purge(queue, state) == len(doomed)
        for job_id in doomed:
            del self.jobs[job_id]

    # -- invariants --------------------------------------------------------------

    @invariant()
    def every_job_is_where_the_model_says(self) -> None:
        stored = {
            str(job_id): (queue, JobState(state), attempts)
            for job_id, queue, state, attempts in self.raw.execute(
                "SELECT id, queue, state, attempts FROM jobs"
            )
        }
        expected = {
            job_id: (job.queue, job.state, job.attempts) for job_id, job in self.jobs.items()
        }
        assert stored == expected

    @invariant()
    def counters_equal_a_real_count(self) -> None:
        counted = {
            (queue, JobState(state)): n
            for queue, state, n in self.raw.execute(
                "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"
            )
        }
        reported = {
            (stats.name, state): n
            for stats in self.queue.snapshot().queues
            for state, n in stats.counts.items()
        }
        assert reported == counted

    @invariant()
    def each_processing_job_has_one_holder(self) -> None:
        holders = [
            (reserved.id, worker) for worker, reserved in self.held if self.holds(worker, reserved)
        ]
        assert len({job_id for job_id, _ in holders}) == len(holders)


QueueMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQueueMachine = QueueMachine.TestCase
