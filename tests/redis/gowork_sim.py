"""A producer, worker and reaper following go-redis-work-queue's documented semantics.

Producers LPUSH job JSON onto the priority lists; a worker BRPOPLPUSHes into its
processing list (high priority first), sets its heartbeat key (value: the payload,
TTL), and on success LPUSHes the payload to the completed list; on failure it bumps
`retries`, backs off and re-LPUSHes to the job's queue while retries <= max, else
LPUSHes the original payload to the dead letter list. The reaper moves items of
processing lists whose heartbeat expired back to their priority queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import redis

PREFIX = "jobqueue"
QUEUES = {"high": f"{PREFIX}:high_priority", "low": f"{PREFIX}:low_priority"}
COMPLETED = f"{PREFIX}:completed"
DEAD_LETTER = f"{PREFIX}:dead_letter"


def processing_key(worker_id: str) -> str:
    return f"{PREFIX}:worker:{worker_id}:processing"


def heartbeat_key(worker_id: str) -> str:
    return f"{PREFIX}:processing:worker:{worker_id}"


def make_job(filepath: str, priority: str, *, job_id: str | None = None, retries: int = 0) -> bytes:
    job = {
        "id": job_id or str(uuid.uuid4()),
        "filepath": filepath,
        "filesize": 1024,
        "priority": priority,
        "retries": retries,
        "creation_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex[:16],
    }
    return json.dumps(job, separators=(",", ":")).encode()


def produce(client: redis.Redis, count: int, priority: str, *, name: str = "file") -> list[str]:
    """LPUSH `count` jobs onto `priority`'s list; returns their ids, oldest first."""
    ids = []
    with client.pipeline() as pipe:
        for i in range(count):
            raw = make_job(f"/data/{name}-{i}.pdf", priority)
            ids.append(json.loads(raw)["id"])
            pipe.lpush(QUEUES[priority], raw)
        pipe.execute()
    return ids


class Worker(threading.Thread):
    """One worker thread; `handler(job) -> bool` decides success."""

    def __init__(
        self,
        port: int,
        handler: Callable[[dict], bool],
        *,
        worker_id: str | None = None,
        max_retries: int = 3,
        heartbeat_ttl: int = 30,
        stop_when_idle: bool = True,
    ) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis(host="127.0.0.1", port=port)
        self.handler = handler
        self.worker_id = worker_id or uuid.uuid4().hex[:8]
        self.max_retries = max_retries
        self.heartbeat_ttl = heartbeat_ttl
        self.stop_when_idle = stop_when_idle
        self.stopping = threading.Event()
        self.processed = 0

    def run(self) -> None:
        mine = processing_key(self.worker_id)
        while not self.stopping.is_set():
            raw = None
            for key in QUEUES.values():  # priority order, high first
                raw = self.client.rpoplpush(key, mine)
                if raw is not None:
                    break
            if raw is None:
                raw = self.client.brpoplpush(QUEUES["low"], mine, timeout=0.1)
            if raw is None:
                if self.stop_when_idle:
                    return
                continue
            self.client.set(heartbeat_key(self.worker_id), raw, ex=self.heartbeat_ttl)
            job = json.loads(raw)
            ok = self.handler(job)
            with self.client.pipeline() as pipe:
                if ok:
                    pipe.lpush(COMPLETED, raw)
                else:
                    job["retries"] += 1
                    if job["retries"] <= self.max_retries:
                        time.sleep(0.001 * 2 ** job["retries"])  # backoff
                        pipe.lpush(QUEUES[job["priority"]], json.dumps(job, separators=(",", ":")))
                    else:
                        pipe.lpush(DEAD_LETTER, raw)
                pipe.lrem(mine, 1, raw)
                pipe.delete(heartbeat_key(self.worker_id))
                pipe.execute()
            self.processed += 1
        self.client.close()


def reap(client: redis.Redis) -> int:
    """Move items of processing lists with no heartbeat back to their queue; returns how many."""
    moved = 0
    for key in client.scan_iter(match=f"{PREFIX}:worker:*:processing"):
        worker_id = key.decode()[len(f"{PREFIX}:worker:") : -len(":processing")]
        if client.exists(heartbeat_key(worker_id)):
            continue
        while (raw := client.rpop(key)) is not None:
            client.lpush(QUEUES[json.loads(raw)["priority"]], raw)
            moved += 1
    return moved
