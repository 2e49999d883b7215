"""The go-redis-work-queue dead and completed counts come from an index qtui keeps in Redis.

Cold stats read the index (checked against the list's length and ends) instead of
the whole list; when something else changed the list, the index is rebuilt in
bounded steps. Whatever happens to the list, the counts shown are the true ones.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import gowork_sim as sim
import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from qtui.backends import open_backend
from qtui.model import JobState

INDEX = "jobqueue:qtui:index:dead_letter"


def true_counts(rdb: redis.Redis, key: str = sim.DEAD_LETTER) -> Counter[str]:
    counts: Counter[str] = Counter()
    for raw in rdb.lrange(key, 0, -1):
        try:
            counts[json.loads(raw).get("priority", "?")] += 1
        except ValueError:
            counts["?"] += 1
    return counts


def shown(backend, state: JobState = JobState.DEAD) -> Counter[str]:
    return Counter({q.name: q.count(state) for q in backend.snapshot().queues if q.count(state)})


def test_a_fresh_backend_reads_the_index_not_the_list(redis_url, rdb, monkeypatch):
    rdb.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", "low" if i % 3 else "high") for i in range(3000)])
    first = open_backend(redis_url, clock=time.time)
    assert shown(first) == Counter(low=2000, high=1000)
    first.close()
    assert int(rdb.hget(INDEX, "len")) == 3000
    rdb.lpush(sim.DEAD_LETTER, sim.make_job("/late", "high"))  # a worker adds one
    monitor_calls: list[list] = []
    fresh = open_backend(redis_url, clock=time.time)
    original = fresh._catch_up_script  # noqa: SLF001
    monkeypatch.setattr(fresh, "_catch_up_script", lambda **kw: monitor_calls.append(kw) or original(**kw))
    assert shown(fresh) == Counter(low=2000, high=1001)
    assert monitor_calls == []  # the one new item was counted inline; nothing was rescanned
    fresh.close()


def test_a_change_in_the_middle_rebuilds_the_counts_in_steps(redis_url, rdb, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.INDEX_STEP", 100)  # inline 100, then steps of 500
    rdb.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", "low" if i % 2 else "high") for i in range(2000)])
    backend = open_backend(redis_url, clock=time.time)
    assert shown(backend) == Counter(low=1000, high=1000)
    steps: list[int] = []
    original = backend._catch_up_script  # noqa: SLF001
    monkeypatch.setattr(backend, "_catch_up_script",
                        lambda **kw: steps.append(kw["args"][0]) or original(**kw))  # fmt: skip
    victim = rdb.lindex(sim.DEAD_LETTER, 700)
    rdb.lrem(sim.DEAD_LETTER, 1, victim)  # go-redis-work-queue's own DLQ requeue: LREM + LPUSH
    rdb.lpush(sim.QUEUES["low"], victim)
    assert shown(backend) == true_counts(rdb)
    assert steps == [500, 500, 500, 500]  # 1,999 items: 100 inline, then four bounded steps
    backend.close()


def test_qtui_requeues_and_purges_keep_the_index_exact_without_a_rebuild(redis_url, rdb, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 100)
    rdb.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", ("low", "high")[i % 2], job_id=f"j{i}") for i in range(1000)])
    backend = open_backend(redis_url, clock=time.time)
    shown(backend)
    monkeypatch.setattr(backend, "_catch_up_script", lambda **kw: pytest.fail("the index was rebuilt"))
    assert backend.requeue(queue="low") == 500
    assert shown(backend) == Counter(high=500) == true_counts(rdb)
    assert backend.purge(None, JobState.DEAD, ids=[f"j{i}" for i in range(1, 400, 2)]) == 200
    assert shown(backend) == Counter(high=300) == true_counts(rdb)
    backend.close()


class DeadLetterMachine(RuleBasedStateMachine):
    """Workers, go-redis-work-queue's own tools and qtui change the dead letter in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.serial = 0

    @initialize()
    def start(self) -> None:
        self.rdb = redis.Redis(host="127.0.0.1", port=DeadLetterMachine.port)
        self.rdb.flushall()
        self.backend = open_backend(f"redis://127.0.0.1:{DeadLetterMachine.port}/0", clock=time.time)

    def teardown(self) -> None:
        self.backend.close()
        self.rdb.close()

    def job(self, queue: str) -> bytes:
        self.serial += 1
        return sim.make_job(f"/{self.serial}", queue, job_id=f"j{self.serial}", retries=4)

    @rule(queues=st.lists(st.sampled_from(["high", "low"]), min_size=1, max_size=30))
    def workers_push(self, queues: list[str]) -> None:
        self.rdb.lpush(sim.DEAD_LETTER, *[self.job(q) for q in queues])

    @rule(data=st.data())
    def their_dlq_requeue_removes_from_the_middle(self, data: st.DataObject) -> None:
        length = self.rdb.llen(sim.DEAD_LETTER)
        if length:
            self.rdb.lrem(sim.DEAD_LETTER, 1, self.rdb.lindex(sim.DEAD_LETTER, data.draw(st.integers(0, length - 1))))

    @rule()
    def their_purge_dlq(self) -> None:
        self.rdb.delete(sim.DEAD_LETTER)

    @rule(count=st.integers(1, 5))
    def someone_trims_the_oldest(self, count: int) -> None:
        for _ in range(count):
            self.rdb.rpop(sim.DEAD_LETTER)

    @rule()
    def a_foreign_item(self) -> None:
        self.rdb.lpush(sim.DEAD_LETTER, b"not json")

    @rule(queue=st.sampled_from(["high", "low", None]))
    def qtui_requeues(self, queue: str | None) -> None:
        self.backend.requeue(queue=queue)

    @rule(queue=st.sampled_from(["high", "low"]))
    def qtui_purges(self, queue: str) -> None:
        self.backend.purge(queue, JobState.DEAD)

    @rule()
    def qtui_stats(self) -> None:
        self.backend.snapshot()

    @invariant()
    def counts_are_true(self) -> None:
        if hasattr(self, "backend"):
            truth = true_counts(self.rdb)
            truth.pop("?", None)
            assert shown(self.backend) == truth
            fresh = open_backend(f"redis://127.0.0.1:{DeadLetterMachine.port}/0", clock=time.time)
            assert shown(fresh) == truth
            fresh.close()


def test_dead_counts_stay_true_whatever_changes_the_dead_letter(redis_server, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 7)
    monkeypatch.setattr("qtui.backends.gowork.INDEX_STEP", 5)
    DeadLetterMachine.port = redis_server.port
    machine = DeadLetterMachine.TestCase
    machine.settings = settings(max_examples=40, stateful_step_count=15, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    machine().runTest()
