"""Batch enqueue on the Redis layouts: one atomic step in the go-redis-work-queue layout, refused on RQ."""

from __future__ import annotations

import json
import time

import gowork_sim as sim
import pytest
import redis

from qtui.backends import open_backend
from qtui.cli.main import main
from qtui.model import BackendError, InvalidBatchItem


def test_gowork_batch_is_one_lpush_in_order(redis_url: str, rdb: redis.Redis, redis_server) -> None:
    backend = open_backend(redis_url, clock=time.time)
    try:
        ids = backend.enqueue_many("low", [json.dumps({"filepath": f"/data/{n}.pdf"}) for n in range(5)])
    finally:
        backend.close()
    stored = [json.loads(raw) for raw in rdb.lrange(sim.QUEUES["low"], 0, -1)]
    assert [job["id"] for job in reversed(stored)] == ids and len(set(ids)) == 5
    seen: list[str] = []
    sim.Worker(redis_server.port, lambda job: seen.append(job["filepath"]) or True).run()
    assert seen == [f"/data/{n}.pdf" for n in range(5)]  # workers take them oldest first


def test_gowork_batch_with_a_bad_payload_adds_nothing(redis_url: str, rdb: redis.Redis) -> None:
    backend = open_backend(redis_url, clock=time.time)
    try:
        with pytest.raises(InvalidBatchItem, match="job 2 of the batch: payload field 'filepath' is required") as error:
            backend.enqueue_many("high", ['{"filepath": "/a"}', '{"filesize": 3}', '{"filepath": "/c"}'])
    finally:
        backend.close()
    assert error.value.position == 2 and rdb.llen(sim.QUEUES["high"]) == 0


def test_rq_refuses_a_batch(redis_server, rdb: redis.Redis, tmp_path, capsys) -> None:
    backend = open_backend(redis_server.url(scheme="rq+redis"), clock=time.time)
    try:
        with pytest.raises(BackendError, match="cannot enqueue a batch of jobs atomically"):
            backend.enqueue_many("default", ['{"func": "app.tasks.add", "args": [1, 2]}'])
    finally:
        backend.close()
    (tmp_path / "jobs.jsonl").write_text('{"func": "app.tasks.add", "args": [1, 2]}\n')
    code = main(["--db", redis_server.url(scheme="rq+redis"), "enqueue", "default",
                 "--batch", str(tmp_path / "jobs.jsonl")])
    assert code == 5 and "cannot enqueue a batch" in capsys.readouterr().err
    assert rdb.keys("rq:*") == []
