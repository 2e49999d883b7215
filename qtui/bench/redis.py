"""Benchmark of the Redis backends: `python -m qtui.bench redis [--jobs N --queues Q]`.

Starts its own redis-server on loopback (no persistence), loads jobs in the RQ
layout and in the go-redis-work-queue layout, and times qtui's operations next to
RQ's own tools on the same data. Also home of LocalRedisServer, the throwaway
server the benchmark and the test suite run.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import redis

from qtui.backends.rq import SEARCH_BUDGET as SEARCH_BUDGET_RQ
from qtui.clock import SYSTEM_CLOCK
from qtui.model import JobState


class LocalRedisServer:
    """A redis-server on 127.0.0.1 with its files in `directory` and no persistence."""

    def __init__(self, directory: Path, *, port: int | None = None, executable: str = "redis-server") -> None:
        self.directory = directory
        self.port = port or free_port()
        self.executable = shutil.which(executable) or executable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    def url(self, db: int = 0, scheme: str = "redis") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start the server and wait until it answers PING (raises RuntimeError if it does not)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable,
            "--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
            "--logfile", str(self.directory / "redis.log"), "--loglevel", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on port {self.port}: {log}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM; no data is saved) and wait for it to exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the benchmark ------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Run the benchmark; prints one table per layout."""
    parser = argparse.ArgumentParser(prog="python -m qtui.bench redis", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs to load per layout (default 1,000,000)")
    parser.add_argument("--queues", type=int, default=20, help="RQ queues (default 20)")
    parser.add_argument("--dead", type=int, default=100_000, help="failed/dead jobs among them, requeued in bulk")
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        print("redis-server is not installed (Debian package redis-server)", file=sys.stderr)
        return 1
    if args.dead > args.jobs or args.queues < 1:
        parser.error("--dead must not exceed --jobs and --queues must be at least 1")
    with tempfile.TemporaryDirectory(prefix="qtui-bench-redis-") as tmp:
        server = LocalRedisServer(Path(tmp))
        server.start()
        try:
            rows = bench_rq(server, args.jobs, args.queues, args.dead)
            print_table(f"RQ layout: {args.jobs:,} jobs over {args.queues} queues, {args.dead:,} failed", rows)
            rows = bench_gowork(server, args.jobs, args.dead)
            print_table(f"go-redis-work-queue layout: {args.jobs:,} jobs in 2 priority lists + dead letter", rows)
        finally:
            server.stop()
    return 0


Row = tuple[str, str, str, str]


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_table(title: str, rows: Sequence[Row]) -> None:
    headers = ("operation", "qtui", "RQ's own", "notes")
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(4)]
    print(f"\n{title}")
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def load_rq(client: redis.Redis, jobs: int, queues: int, dead: int) -> list[str]:
    """Load `jobs` RQ jobs (`dead` of them failed, 5% finished) with pipelines; returns the ids."""
    from rq import Queue  # the template job is made by RQ itself, so the layout is RQ's

    template = Queue("template", connection=client).enqueue("bench_tasks.resize", 0)
    fields = {k.decode(): v for k, v in client.hgetall(template.key).items()}
    client.flushdb()
    finished = jobs // 20
    ids = [f"bench-{i:08d}" for i in range(jobs)]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    error = base64.b64encode(zlib.compress(b"Traceback (most recent call last):\nRuntimeError: disk full\n"))
    later = int(time.time()) + 31536000
    with client.pipeline(transaction=False) as pipe:
        for i, job_id in enumerate(ids):
            queue = f"q{i % queues:02d}"
            mapping = {**fields, "origin": queue, "description": f"bench_tasks.resize({i})",
                       "created_at": stamp, "enqueued_at": stamp}  # fmt: skip
            if i < dead:
                mapping.update(status="failed", started_at=stamp, ended_at=stamp, worker_name="bench-worker")
                pipe.zadd(f"rq:failed:{queue}", {job_id: later})
                pipe.xadd(f"rq:results:{job_id}", {"type": 2, "worker_name": "bench-worker", "exc_string": error})
            elif i < dead + finished:
                mapping.update(status="finished", started_at=stamp, ended_at=stamp, worker_name="bench-worker")
                pipe.zadd(f"rq:finished:{queue}", {job_id: later})
            else:
                mapping["status"] = "queued"
                pipe.rpush(f"rq:queue:{queue}", job_id)
            pipe.hset(f"rq:job:{job_id}", mapping=mapping)
            if i % 5000 == 4999:
                pipe.execute()
        for q in range(queues):
            pipe.sadd("rq:queues", f"rq:queue:q{q:02d}")
        pipe.execute()
    return ids


def bench_rq(server: LocalRedisServer, jobs: int, queues: int, dead: int) -> list[Row]:
    from rq import Queue
    from rq.job import Job as RQJob
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry, clean_registries
    from rq.worker_registration import clean_worker_registry

    from qtui.backends.rq import open_rq

    ours_db, theirs_db = redis.Redis(port=server.port, db=0), redis.Redis(port=server.port, db=1)
    load_time, ids = timed(lambda: load_rq(ours_db, jobs, queues, dead))
    load_rq(theirs_db, jobs, queues, dead)
    backend = open_rq(f"rq+{server.url(0)}", clock=SYSTEM_CLOCK.time)
    rows: list[Row] = [("load (pipelined HSET/RPUSH/ZADD)", fmt(load_time), "-", f"{jobs:,} jobs, bench setup")]

    def rq_info() -> None:  # what `rq info` computes, in process (the CLI adds ~0.3 s of start-up)
        for q in Queue.all(connection=theirs_db):
            clean_registries(q)
            clean_worker_registry(q)
            q.count, FailedJobRegistry(queue=q).count, FinishedJobRegistry(queue=q).count
            StartedJobRegistry(queue=q).count

    ours, _ = timed(backend.snapshot)
    theirs, _ = timed(rq_info)
    cli, _ = timed(lambda: subprocess.run([sys.executable, "-m", "rq.cli", "info", "-u", server.url(1)],
                                          capture_output=True, check=True))  # fmt: skip
    rows.append(("stats, all queues", fmt(ours), fmt(theirs), f"`rq info` CLI: {fmt(cli)} (incl. start-up)"))
    ready_queue = "q19" if queues > 19 else f"q{queues - 1:02d}"
    depth = Queue(ready_queue, connection=theirs_db).count
    ours, page = timed(lambda: backend.peek(ready_queue, JobState.READY, limit=50))
    theirs, _ = timed(lambda: Queue(ready_queue, connection=theirs_db).get_jobs(0, 50))
    rows.append(("peek 50 ready (first page)", fmt(ours), fmt(theirs), "RQ: Queue.get_jobs (unpickles)"))
    offset = max(depth - 50, 0)
    ours, _ = timed(lambda: backend.peek(ready_queue, JobState.READY, cursor=f"0.{offset}", limit=50))
    theirs, _ = timed(lambda: Queue(ready_queue, connection=theirs_db).get_jobs(offset, 50))
    rows.append((f"peek 50 ready at offset {offset:,}", fmt(ours), fmt(theirs), ""))
    ours, _ = timed(lambda: backend.job(ids[-1]))
    theirs, _ = timed(lambda: RQJob.fetch(ids[-1], connection=theirs_db))
    rows.append(("find job by id", fmt(ours), fmt(theirs), "RQ: Job.fetch"))
    ours, page = timed(lambda: backend.peek(None, JobState.DEAD, text="no such text", limit=50))
    rows.append(("search dead jobs (payload+error), one call", fmt(ours), "-",
                 f"examines {SEARCH_BUDGET_RQ:,} jobs per call; RQ has no search"))  # fmt: skip
    ours, moved = timed(backend.requeue)

    def rq_requeue_all() -> int:  # what `rq requeue --all --queue Q` does, per queue
        count = 0
        for q in range(queues):
            registry = FailedJobRegistry(f"q{q:02d}", connection=theirs_db)
            for job_id in registry.get_job_ids():
                registry.requeue(job_id)
                count += 1
        return count

    theirs, theirs_moved = timed(rq_requeue_all)
    assert moved == theirs_moved == dead, (moved, theirs_moved)
    rows.append((f"requeue {dead:,} failed", fmt(ours), fmt(theirs), "RQ: FailedJobRegistry.requeue per job"))
    one = Queue(ready_queue, connection=theirs_db).count
    ours, n = timed(lambda: backend.purge(ready_queue, JobState.READY))
    theirs, m = timed(lambda: Queue(ready_queue, connection=theirs_db).empty())
    assert n == m == one, (n, m, one)
    rows.append((f"purge one queue ({one:,} ready)", fmt(ours), fmt(theirs), "RQ: Queue.empty (one Lua call)"))
    rest = sum(Queue(f"q{q:02d}", connection=theirs_db).count for q in range(queues))
    ours, n = timed(lambda: backend.purge(None, JobState.READY))
    theirs, _ = timed(lambda: [Queue(f"q{q:02d}", connection=theirs_db).empty() for q in range(queues)])
    rows.append((f"purge all ready ({rest:,})", fmt(ours), fmt(theirs), "qtui: 1,000 jobs per atomic chunk"))
    backend.close()
    ours_db.flushdb()
    theirs_db.flushdb()
    return rows


def load_gowork(client: redis.Redis, jobs: int, dead: int) -> list[str]:
    """Load `jobs` go-redis-work-queue jobs: `dead` in the dead letter, the rest in high/low."""
    ids = [f"job-{i:08d}" for i in range(jobs)]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    batch: dict[str, list[bytes]] = {}
    with client.pipeline(transaction=False) as pipe:
        for i, job_id in enumerate(ids):
            priority = "high" if i % 5 < 2 else "low"
            job = {"id": job_id, "filepath": f"/data/in/{i}.pdf", "filesize": 1000 + i, "priority": priority,
                   "retries": 4 if i < dead else 0, "creation_time": stamp, "trace_id": "", "span_id": ""}  # fmt: skip
            key = "jobqueue:dead_letter" if i < dead else f"jobqueue:{priority}_priority"
            batch.setdefault(key, []).append(json.dumps(job, separators=(",", ":")).encode())
            if i % 5000 == 4999 or i == jobs - 1:
                for key, items in batch.items():
                    pipe.lpush(key, *items)
                pipe.execute()
                batch.clear()
    return ids


def bench_gowork(server: LocalRedisServer, jobs: int, dead: int) -> list[Row]:
    from qtui.backends.gowork import open_gowork

    client = redis.Redis(port=server.port, db=0)
    load_time, ids = timed(lambda: load_gowork(client, jobs, dead))
    backend = open_gowork(server.url(0), clock=SYSTEM_CLOCK.time)
    rows: list[Row] = [("load (pipelined LPUSH)", fmt(load_time), "-", f"{jobs:,} jobs, bench setup")]
    ours, _ = timed(backend.snapshot)
    rows.append(("stats, first call", fmt(ours), "-", f"reads the {dead:,}-item dead letter once"))
    client.lpush("jobqueue:dead_letter", json.dumps({"id": "late", "priority": "low", "retries": 4}))
    ours, _ = timed(backend.snapshot)
    rows.append(("stats, later calls", fmt(ours), "-", "one Lua round trip; reads only new items"))
    ours, _ = timed(lambda: backend.peek("low", JobState.READY, limit=50))
    rows.append(("peek 50 ready (first page)", fmt(ours), "-", ""))
    depth = client.llen("jobqueue:low_priority")
    ours, _ = timed(lambda: backend.peek("low", JobState.READY, cursor=f"0.{depth - 50}", limit=50))
    rows.append((f"peek 50 ready at offset {depth - 50:,}", fmt(ours), "-", ""))
    newest = ids[-1]
    ours, job = timed(lambda: backend.job(newest))
    assert job is not None
    rows.append(("find job by id (worst case)", fmt(ours), "-", "scans lists in 20,000-item Lua chunks"))
    ours, moved = timed(lambda: backend.requeue(queue="low"))
    rows.append((f"requeue {moved:,} dead (queue=low)", fmt(ours), "-", "5,000-item atomic Lua chunks"))
    ours, moved = timed(backend.requeue)
    rows.append((f"requeue {moved:,} dead (the rest)", fmt(ours), "-", ""))
    ours, purged = timed(lambda: backend.purge(None, JobState.READY))
    rows.append((f"purge all ready ({purged:,})", fmt(ours), "-", "MULTI: LLEN + UNLINK"))
    backend.close()
    client.flushdb()
    return rows
