"""kill -9 of the client and of redis-server in the middle of requeues and purges, both layouts.

Each case runs 20 trials at random points (qtui.bench.redis_faults) on a server
with an append-only file (appendfsync always), each trial starting from the same
saved data set. To keep the suite fast, a trial in the suite has 3,000 dead jobs
on go-redis-work-queue and 1,000 on RQ, in chunks that make every operation 20
chunks long; `python -m qtui.bench redis_faults` runs 100,000 jobs in the
default chunk sizes, 20 trials per case.
"""

from __future__ import annotations

from collections import Counter

import pytest

from qtui.bench.redis import LocalRedisServer
from qtui.bench.redis_faults import DEAD, DataSet, Found, Trial, allowed_places, run_trial, tally

pytestmark = pytest.mark.slow

JOBS = {"gowork": 3000, "rq": 1000}
TRIALS = 20


@pytest.fixture
def persistent_server(redis_server_binary, tmp_path, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", JOBS["gowork"] // 20)
    monkeypatch.setattr("qtui.backends.rq.CHUNK", JOBS["rq"] // 20)
    server = LocalRedisServer(tmp_path / "aof-redis", executable=redis_server_binary, persistent=True)
    server.start()
    yield server
    server.stop()


def data_set(server, layout, tmp_path):
    return DataSet.build(server, layout, JOBS[layout], tmp_path / f"{layout}-saved")


@pytest.mark.parametrize("fault", ["client", "server"])
@pytest.mark.parametrize("kind", ["requeue", "purge"])
@pytest.mark.parametrize("layout", ["gowork", "rq"])
def test_killed_in_the_middle_then_resumed_every_job_is_once_in_the_right_place(
    persistent_server, tmp_path, layout, kind, fault
):
    data = data_set(persistent_server, layout, tmp_path)
    trials = [Trial(layout, kind, fault, JOBS[layout], seed) for seed in range(TRIALS)]
    outcomes = [run_trial(persistent_server, data, trial) for trial in trials]
    assert all(o.tally.clean and o.tally.checked == 2 * JOBS[layout] for o in outcomes), [o.tally for o in outcomes]
    interrupted = [o for o in outcomes if o.interrupted]
    assert len(interrupted) >= TRIALS * 3 // 4, outcomes  # most kills land while it runs
    assert any(o.done_at_kill > 0 for o in interrupted)  # some after chunks had moved jobs


@pytest.mark.parametrize("fault", ["client", "server"])
@pytest.mark.parametrize("layout", ["gowork", "rq"])
def test_killed_in_the_middle_then_abandoned_every_job_stays_once_where_it_is(
    persistent_server, tmp_path, layout, fault
):
    data = data_set(persistent_server, layout, tmp_path)
    for seed in range(3):
        trial = Trial(layout, "requeue", fault, JOBS[layout], 100 + seed, abandon=True)
        outcome = run_trial(persistent_server, data, trial)
        assert outcome.tally.clean, outcome.tally
        assert outcome.interrupted or outcome.done_at_kill == 0


def test_every_trial_starts_from_the_saved_data_set_whatever_the_last_one_left(persistent_server, tmp_path):
    data = data_set(persistent_server, "gowork", tmp_path)
    client = persistent_server.client()
    client.delete("jobqueue:dead_letter")
    client.lpush("jobqueue:high_priority", b"left over")
    client.close()
    data.restore(persistent_server)
    client = persistent_server.client()
    assert client.llen("jobqueue:dead_letter") == JOBS["gowork"]
    assert client.llen("jobqueue:high_priority") == 0
    client.close()


def test_the_check_counts_jobs_lost_duplicated_and_misplaced():
    ids = {"a": "high", "b": "high", "c": "low", "d": "low", "e": "low"}
    found = Found(
        {DEAD: Counter(["a"]), "high": Counter(["b", "b"]), "low": Counter(["c", "x"])},
        wrong=frozenset({"c"}),
    )  # a: still dead; b: twice; c: requeued but kept its retries; d, e: nowhere; x: nobody loaded it
    after_kill = tally(ids, found, allowed_places(Trial("gowork", "requeue", "client", 5, 0), finished=False))
    assert (after_kill.lost, after_kill.duplicated, after_kill.misplaced) == (2, 2, 1)
    finished = tally(ids, found, allowed_places(Trial("gowork", "requeue", "client", 5, 0), finished=True))
    assert (finished.lost, finished.duplicated, finished.misplaced) == (2, 2, 2)  # a is now misplaced too
    purge = tally(ids, found, allowed_places(Trial("gowork", "purge", "client", 5, 0), finished=True))
    # high is kept dead: a is right, b twice; low is purged: c and x are left, d and e are rightly gone
    assert (purge.lost, purge.duplicated, purge.misplaced) == (0, 2, 1)


def test_a_purged_rq_job_whose_hash_is_left_or_a_listed_one_whose_hash_is_gone_is_counted():
    ids = {"j1": "q00", "j2": "q00", "j3": "q00"}
    found = Found({DEAD: Counter(["j2"]), "q00": Counter()}, records={"j1": True, "j2": False, "j3": False})
    purge = tally(ids, found, allowed_places(Trial("rq", "purge", "server", 3, 0), finished=False))
    assert (purge.lost, purge.duplicated, purge.misplaced) == (1, 0, 1)  # j2 lost its hash, j1's hash is left
