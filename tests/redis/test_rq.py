"""The RQ backend against a real redis-server and real RQ workers."""

from __future__ import annotations

import base64
import builtins
import json
import os
import pickle
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import FailedJobRegistry

from qtui.backends import open_backend
from qtui.backends.rq import RQBackend
from qtui.model import InvalidInput, JobState, NotFound

TESTS_DIR = Path(__file__).resolve().parent


def run_worker(url: str, *queues: str, burst: bool = True) -> subprocess.Popen | None:
    """Run a real `rq worker` (SimpleWorker) on `queues`; burst workers are waited for."""
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    args = [sys.executable, "-m", "rq.cli", "worker", "-u", url, "-w", "rq.worker.SimpleWorker", *queues]
    if burst:
        subprocess.run([*args, "--burst"], env=env, check=True, capture_output=True, timeout=60)
        return None
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def backend(redis_url: str) -> RQBackend:
    b = open_backend("rq+" + redis_url, clock=time.time)
    assert isinstance(b, RQBackend)
    yield b
    b.close()


def stats_of(backend: RQBackend, queue: str = "default") -> dict[JobState, int]:
    return dict({q.name: q for q in backend.snapshot().queues}[queue].counts)


def dump_db(client: redis.Redis) -> dict:
    """Every key with its type, value and whether it expires; enqueued_at stamps normalised."""
    out = {}
    for key in sorted(client.scan_iter(count=1000)):
        kind = client.type(key).decode()
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
            if b"enqueued_at" in value and value.get(b"status") == b"queued":
                stamp = datetime.strptime(value[b"enqueued_at"].decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
                assert abs(stamp.replace(tzinfo=UTC).timestamp() - time.time()) < 60
                value[b"enqueued_at"] = b"<recent>"
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = client.xrange(key)
        ttl = client.ttl(key)
        out[key] = (kind, value, "persistent" if ttl < 0 else round(ttl, -2))
    return out


def copy_db(redis_server, source: int, target: int) -> None:
    """Copy every key (with its TTL) from db `source` to db `target`."""
    src, dst = db(redis_server, source), db(redis_server, target)
    dst.flushdb()
    for key in src.scan_iter(count=1000):
        dst.restore(key, max(src.pttl(key), 0), src.dump(key))
    src.close()
    dst.close()


def db(redis_server, n: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=redis_server.port, db=n)


@pytest.fixture
def failed_jobs(redis_server, rdb):
    """Db 1 holding 6 failed, 2 finished and 1 queued job made by a real worker; returns (client, url)."""
    client = db(redis_server, 1)
    q = Queue("default", connection=client)
    for i in range(6):
        job = q.enqueue("rq_jobs.fail", f"boom {i}", result_ttl=600, ttl=3600 if i == 0 else None)
        job.meta["tenant"] = f"t{i}"
        job.save_meta()
    q.enqueue("rq_jobs.add", 1, 2)
    q.enqueue("rq_jobs.add", 3, 4)
    run_worker(redis_server.url(1), "default")
    q.enqueue("rq_jobs.add", 5, 6)
    yield client, redis_server.url(1)
    client.close()


def test_jobs_from_rq_appear_with_counts_and_fields(failed_jobs, redis_server):
    client, url = failed_jobs
    b = open_backend("rq+" + url, clock=time.time)
    assert stats_of(b) == {
        JobState.READY: 1, JobState.SCHEDULED: 0, JobState.PROCESSING: 0, JobState.COMPLETED: 2, JobState.DEAD: 6,
    }  # fmt: skip
    dead = b.peek("default", JobState.DEAD, limit=10).jobs
    assert sorted(j.payload for j in dead) == sorted(f"rq_jobs.fail('boom {i}')" for i in range(6))
    first = next(j for j in dead if j.payload.endswith("'boom 3')"))
    assert first.last_error.rstrip().endswith("RuntimeError: boom 3")
    assert first.queue == first.origin == "default" and first.extra["status"] == "failed"
    assert first.created_at and first.finished_at and first.finished_at >= first.created_at
    assert first.attempts == 1 and first.worker
    done = b.peek("default", JobState.COMPLETED).jobs
    assert {j.payload for j in done} == {"rq_jobs.add(1, 2)", "rq_jobs.add(3, 4)"}
    assert b.job(first.id) == first
    assert b.job("no-such-job") is None and b.job("bad:id") is None
    assert [j.id for j in b.peek(None, JobState.DEAD, text="BOOM 4").jobs] == [
        j.id for j in dead if j.payload.endswith("'boom 4')")
    ]
    stats = {q.name: q for q in b.snapshot().queues}["default"]
    assert stats.completed_per_min == 2 and stats.failed_per_min == 6  # scores = end + default TTLs
    b.close()


def test_requeue_matches_rqs_own_requeue_key_by_key(failed_jobs, redis_server):
    client, url = failed_jobs
    copy_db(redis_server, 1, 2)
    registry = FailedJobRegistry("default", connection=client)
    for job_id in registry.get_job_ids():  # what `rq requeue --all` does
        registry.requeue(job_id)
    b = open_backend("rq+" + redis_server.url(2), clock=time.time)
    assert b.requeue(queue="default") == 6
    ours, theirs = dump_db(db(redis_server, 2)), dump_db(client)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert ours[key] == theirs[key], key
    b.close()


def test_requeue_by_ids_and_requeued_jobs_run_on_a_real_worker(redis_server, rdb, backend, tmp_path):
    marker = tmp_path / "marker"
    q = Queue("default", connection=rdb)
    flaky = q.enqueue("rq_jobs.fail_unless_marker", str(marker))
    other = q.enqueue("rq_jobs.fail", "stays dead")
    run_worker(redis_server.url(), "default")
    assert stats_of(backend)[JobState.DEAD] == 2
    marker.write_text("now it works")
    assert backend.requeue(ids=[flaky.id, "not-a-job"]) == 1
    assert backend.job(flaky.id).state is JobState.READY
    run_worker(redis_server.url(), "default")
    assert backend.job(flaky.id).state is JobState.COMPLETED
    assert backend.job(other.id).state is JobState.DEAD
    assert stats_of(backend)[JobState.COMPLETED] == 1


def test_empty_matches_rq_empty(failed_jobs, redis_server):
    client, url = failed_jobs
    q = Queue("default", connection=client)
    for i in range(5):
        q.enqueue("rq_jobs.add", i, i)
    copy_db(redis_server, 1, 2)
    out = subprocess.run(
        [sys.executable, "-m", "rq.cli", "empty", "-u", url, "default"], capture_output=True, check=True, text=True
    )
    assert "6 jobs removed" in out.stdout
    b = open_backend("rq+" + redis_server.url(2), clock=time.time)
    assert b.purge("default", JobState.READY) == 6
    assert dump_db(db(redis_server, 2)) == dump_db(client)
    b.close()


def test_purge_dead_matches_rq_delete(failed_jobs, redis_server):
    client, url = failed_jobs
    copy_db(redis_server, 1, 2)
    registry = FailedJobRegistry("default", connection=client)
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
    b = open_backend("rq+" + redis_server.url(2), clock=time.time)
    assert b.purge(None, JobState.DEAD) == 6
    assert dump_db(db(redis_server, 2)) == dump_db(client)
    b.close()


def test_scheduled_deferred_and_purge_by_ids(redis_server, rdb, backend):
    q = Queue("default", connection=rdb)
    later = q.enqueue_in(timedelta(hours=1), "rq_jobs.add", 1, 1)
    parent = q.enqueue("rq_jobs.add", 2, 2)
    child = q.enqueue("rq_jobs.add", 3, 3, depends_on=parent)
    assert stats_of(backend)[JobState.SCHEDULED] == 2
    jobs = {j.id: j for j in backend.peek("default", JobState.SCHEDULED).jobs}
    assert jobs[later.id].run_at == pytest.approx(time.time() + 3600, abs=5)
    assert jobs[child.id].extra["status"] == "deferred"
    assert backend.purge("default", JobState.SCHEDULED, ids=[later.id]) == 1
    assert not rdb.exists(f"rq:job:{later.id}")
    assert backend.purge("default", JobState.READY, ids=[parent.id]) == 1
    assert rdb.llen("rq:queue:default") == 0


def test_enqueue_through_rq_then_a_worker_runs_it(redis_server, rdb, backend, tmp_path):
    Queue("default", connection=rdb)  # a queue must exist to be named
    rdb.sadd("rq:queues", "rq:queue:default")
    target = tmp_path / "ran"
    job = backend.enqueue("default", json.dumps({"func": "rq_jobs.touch", "args": [str(target)]}))
    assert job.state is JobState.READY and job.payload == f"rq_jobs.touch('{target}')"
    run_worker(redis_server.url(), "default")
    assert target.read_text() == "ran"
    assert backend.job(job.id).state is JobState.COMPLETED


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"func": "os.system", "args": "rm"}', "'args' must be a JSON array"),
        ('{"func": "no_dots"}', "dotted path"),
        ('{"args": []}', "module.function"),
        ('{"func": "a.b", "kwargs": [1]}', "'kwargs' must be a JSON object"),
    ],
)
def test_enqueue_refuses_bad_payloads(backend, payload, message):
    with pytest.raises(InvalidInput, match=message):
        backend.enqueue("default", payload)


def test_unknown_queue(backend):
    with pytest.raises(NotFound):
        backend.peek("nope", JobState.DEAD)


class _Plant:
    """A pickle that creates a file when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (builtins.open, (str(self.path), "w"))


def test_pickled_job_data_is_never_unpickled(redis_server, rdb, backend, tmp_path):
    canary = tmp_path / "canary"
    pickle.loads(pickle.dumps(_Plant(canary)))
    assert canary.exists(), "the planted pickle must really run code when unpickled"
    canary.unlink()
    evil = pickle.dumps(_Plant(tmp_path / "pwned"))
    for job_id, registry in (("evil-dead", "failed"), ("evil-done", "finished")):
        rdb.hset(
            f"rq:job:{job_id}",
            mapping={
                "data": zlib.compress(evil), "meta": evil, "result": evil, "origin": "default",
                "status": "failed" if registry == "failed" else "finished", "description": "evil()",
                "created_at": "2025-01-01T00:00:00.000000Z", "exc_info": zlib.compress(b"boom"),
            },
        )  # fmt: skip
        rdb.zadd(f"rq:{registry}:default", {job_id: time.time() + 1000})
        rdb.xadd(f"rq:results:{job_id}", {"type": 2, "return_value": base64.b64encode(evil), "exc_string": "!!"})
    rdb.hset("rq:job:evil-ready", mapping={"data": zlib.compress(evil), "meta": evil, "origin": "default"})
    rdb.rpush("rq:queue:default", "evil-ready")
    rdb.sadd("rq:queues", "rq:queue:default")
    backend.snapshot()
    for state in JobState:
        backend.peek(None, state, text="evil")
    dead = backend.job("evil-dead")
    assert dead.payload == "evil()" and dead.last_error == "!!"
    assert backend.requeue(ids=["evil-dead"]) == 1
    assert backend.purge(None, JobState.COMPLETED) == 1
    assert backend.purge(None, JobState.READY) == 2
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_busy_worker_and_processing_job(redis_server, rdb, backend, tmp_path):
    release = tmp_path / "release"
    job = Queue("default", connection=rdb).enqueue("rq_jobs.wait_for", str(release))
    worker = run_worker(redis_server.url(), "default", burst=False)
    try:
        deadline = time.monotonic() + 30
        while stats_of(backend)[JobState.PROCESSING] == 0:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.05)
        (busy,) = backend.peek("default", JobState.PROCESSING).jobs
        assert busy.id == job.id and busy.lease_until > time.time()
        (info,) = backend.workers()
        assert info.alive and info.current_job == job.id and info.queues == ("default",) and info.pid
        release.write_text("go")
        while backend.job(job.id).state is not JobState.COMPLETED:
            assert time.monotonic() < deadline, "the job never finished"
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(30)


def test_requeue_on_an_unknown_queue_is_not_found(backend):
    with pytest.raises(NotFound):
        backend.requeue(queue="nope")


def test_count_by_and_oldest_read_rqs_own_order(failed_jobs):
    client, url = failed_jobs
    b = open_backend("rq+" + url, clock=time.time)
    try:
        # An RQ job's payload is its call string, never JSON: every one is unreadable for a field.
        counts = b.count_by("default", JobState.DEAD, "tenant")
        assert (counts.groups, counts.scanned, counts.unreadable, counts.complete) == ((), 6, 6, True)
        (oldest,) = b.oldest(None, JobState.DEAD)
        assert oldest.id == b.peek("default", JobState.DEAD, limit=1).jobs[0].id
        assert [j.payload for j in b.oldest("default", JobState.READY)] == ["rq_jobs.add(5, 6)"]
    finally:
        b.close()
