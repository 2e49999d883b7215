"""Faults: the server going away and coming back, connections killed in the middle of bulk work."""

from __future__ import annotations

import json
import threading
import time

import gowork_sim as sim
import pytest
import redis
from rq import Queue

from qtui.backends import open_backend
from qtui.model import BackendUnavailable, JobState, Snapshot

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("scheme", ["", "rq+"])
def test_server_restart_gives_unavailable_then_recovers(own_redis_server, scheme):
    backend = open_backend(scheme + own_redis_server.url(), clock=time.time)
    assert isinstance(backend.snapshot(), Snapshot)
    outcomes: list[object] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                outcomes.append(backend.snapshot())
            except BackendUnavailable as exc:
                outcomes.append(exc)
            except Exception as exc:  # anything else is a defect the test reports
                outcomes.append(exc)
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.1)
        own_redis_server.stop()
        time.sleep(0.3)
        with pytest.raises(BackendUnavailable, match="cannot reach the Redis server"):
            backend.requeue()
        own_redis_server.start()
        time.sleep(0.3)
    finally:
        stop.set()
        poller.join()
    kinds = {type(o) for o in outcomes}
    assert kinds == {Snapshot, BackendUnavailable}, kinds
    assert isinstance(outcomes[-1], Snapshot)  # recovered without reopening
    assert isinstance(backend.snapshot(), Snapshot)
    backend.close()


def test_wrong_port_is_unavailable_with_a_clear_message(own_redis_server):
    backend = open_backend(f"redis://127.0.0.1:{own_redis_server.port}/0", clock=time.time)
    own_redis_server.stop()
    with pytest.raises(BackendUnavailable, match=r"redis://127\.0\.0\.1:\d+/0: cannot reach"):
        backend.peek(None, JobState.READY)


def kill_qtui_connections_when(client: redis.Redis, ready: callable, done: threading.Event) -> None:
    """Once `ready()` holds, keep killing the connections named qtui (the backend's) until `done`.

    A connection killed while idle is silently replaced by redis-py before the next
    command, so the killing goes on until one lands on a command in flight.
    """
    while not done.is_set() and not ready():
        time.sleep(0.001)
    while not done.is_set():
        for info in client.client_list():
            if info.get("name") == "qtui":
                client.client_kill_filter(_id=info["id"])


def run_interrupted(operation, client: redis.Redis, ready) -> BaseException | None:
    done = threading.Event()
    killer = threading.Thread(target=kill_qtui_connections_when, args=(client, ready, done))
    killer.start()
    error = None
    try:
        operation()
    except BackendUnavailable as exc:
        error = exc
    finally:
        done.set()
        killer.join()
    return error


def test_interrupted_gowork_requeue_loses_and_duplicates_nothing(own_redis_server, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 200)
    client = redis.Redis(host="127.0.0.1", port=own_redis_server.port)
    jobs = [sim.make_job(f"/f{i}", "low" if i % 2 else "high", job_id=f"j{i}", retries=4) for i in range(20_000)]
    for i in range(0, len(jobs), 5000):
        client.lpush(sim.DEAD_LETTER, *jobs[i : i + 5000])
    backend = open_backend(own_redis_server.url(), clock=time.time)
    error = run_interrupted(
        lambda: backend.requeue(queue="low"), client, lambda: client.llen(sim.QUEUES["low"]) > 0
    )
    assert error is not None, "the requeue finished before the connection was killed"

    def ids(key: str) -> list[str]:
        return [sim_id(raw) for raw in client.lrange(key, 0, -1)]

    low, dead = ids(sim.QUEUES["low"]), ids(sim.DEAD_LETTER)
    assert 0 < len(low) < 10_000
    assert len(low) + len(dead) == 20_000 and len(set(low) | set(dead)) == 20_000
    assert backend.requeue(queue="low") == 10_000 - len(low)  # the connection comes back; rerun finishes
    assert len(set(ids(sim.QUEUES["low"]))) == 10_000 and client.llen(sim.DEAD_LETTER) == 10_000
    backend.close()


def sim_id(raw: bytes) -> str:
    return json.loads(raw)["id"]


def test_interrupted_rq_requeue_loses_and_duplicates_nothing(own_redis_server, monkeypatch):
    monkeypatch.setattr("qtui.backends.rq.CHUNK", 50)
    client = redis.Redis(host="127.0.0.1", port=own_redis_server.port)
    queue = Queue("default", connection=client)
    created = queue.enqueue_many([Queue.prepare_data("rq_jobs.add", (i, i)) for i in range(3000)])
    with client.pipeline() as pipe:  # turn them into failed jobs as a worker would leave them
        pipe.delete("rq:queue:default")
        for job in created:
            pipe.hset(job.key, "status", "failed")
            pipe.zadd("rq:failed:default", {job.id: time.time() + 10_000})
        pipe.execute()
    backend = open_backend("rq+" + own_redis_server.url(), clock=time.time)
    error = run_interrupted(lambda: backend.requeue(), client, lambda: client.llen("rq:queue:default") > 0)
    assert error is not None, "the requeue finished before the connection was killed"
    queued = [i.decode() for i in client.lrange("rq:queue:default", 0, -1)]
    failed = [i.decode() for i in client.zrange("rq:failed:default", 0, -1)]
    assert 0 < len(queued) < 3000
    assert len(queued) + len(failed) == 3000 and len(set(queued) | set(failed)) == 3000
    assert {client.hget(f"rq:job:{i}", "status") for i in queued} == {b"queued"}
    assert {client.hget(f"rq:job:{i}", "status") for i in failed} == {b"failed"}
    assert backend.requeue() == len(failed)
    assert client.llen("rq:queue:default") == 3000 and client.zcard("rq:failed:default") == 0
    backend.close()
