"""kill -9 of the client and of redis-server in the middle of requeues and purges, both layouts.

Each case runs 20 trials at random points (qtui.bench.redis_faults) on a server
with an append-only file (appendfsync always). To keep the suite fast, a trial in
the suite has 3,000 dead jobs on go-redis-work-queue and 1,000 on RQ (whose jobs
take longer to load), in chunks that make every operation 20 chunks long;
`python -m qtui.bench redis_faults` runs 100,000 jobs in the default chunk
sizes, 20 trials per case.
"""

from __future__ import annotations

import pytest

from qtui.bench.redis import LocalRedisServer
from qtui.bench.redis_faults import Trial, run_trial

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


@pytest.mark.parametrize("fault", ["client", "server"])
@pytest.mark.parametrize("kind", ["requeue", "purge"])
@pytest.mark.parametrize("layout", ["gowork", "rq"])
def test_killed_in_the_middle_then_resumed_every_job_is_once_in_the_right_place(
    persistent_server, layout, kind, fault
):
    outcomes = [run_trial(persistent_server, Trial(layout, kind, fault, JOBS[layout], seed)) for seed in range(TRIALS)]
    interrupted = [o for o in outcomes if o.interrupted]
    assert len(interrupted) >= TRIALS * 3 // 4, outcomes  # most kills land while it runs
    assert any(o.done_at_kill > 0 for o in interrupted)  # some after chunks had moved jobs


@pytest.mark.parametrize("fault", ["client", "server"])
@pytest.mark.parametrize("layout", ["gowork", "rq"])
def test_killed_in_the_middle_then_abandoned_every_job_stays_once_where_it_is(persistent_server, layout, fault):
    for seed in range(3):
        outcome = run_trial(persistent_server, Trial(layout, "requeue", fault, JOBS[layout], 100 + seed, abandon=True))
        assert outcome.interrupted or outcome.done_at_kill == 0
