"""Benchmark of the Redis backends: `python -m qtui.bench redis [--jobs N --dead N --repeats N]`.

Starts its own redis-server on loopback (no persistence), loads jobs in the
go-redis-work-queue layout and in the RQ layout, and times qtui's operations
next to the floor (pipelined LLEN, one EVAL doing a whole bulk operation, LRANGE
and a search) and the tool an operator would use instead (redis-cli, RQ's own
commands), with min and median of repeats, plus the journaling overhead of bulk
operations. The kill -9 soak is `python -m qtui.bench redis_faults`. Also home
of LocalRedisServer, the throwaway server the benchmark and the test suite run.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
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

from qtui.backends.base import Backend
from qtui.backends.journal import Operation
from qtui.backends.rq import SEARCH_BUDGET as SEARCH_BUDGET_RQ
from qtui.clock import SYSTEM_CLOCK
from qtui.model import JobState


class LocalRedisServer:
    """A redis-server on 127.0.0.1 with its files in `directory`.

    No persistence by default; `persistent` keeps an append-only file written on
    every write (appendfsync always), so a server killed with SIGKILL restarts with
    every write it acknowledged. `extra` adds arguments (--replicaof ...); `password`
    is the one `extra` sets with --requirepass, for the server's own clients.
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        executable: str = "redis-server",
        persistent: bool = False,
        extra: Sequence[str] = (),
        password: str | None = None,
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.executable = shutil.which(executable) or executable
        self.persistent = persistent
        self.extra = tuple(extra)
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    def url(self, db: int = 0, scheme: str = "redis") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        """A plain client on this server (the caller closes it)."""
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password)

    def start(self) -> None:
        """Start the server and wait until it answers PING (raises RuntimeError if it does not)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        args = [
            self.executable,
            "--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
            "--save", "", *persistence, "--dir", str(self.directory),
            "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
            "--logfile", str(self.directory / "redis.log"), "--loglevel", "warning", *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2, password=self.password)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.BusyLoadingError:
                    time.sleep(0.02)
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on port {self.port}: {log}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the running server has used so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL the server, as a crash would, and reap it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

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
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timed step (min and median shown)")
    parser.add_argument("--layout", choices=("both", "gowork", "rq"), default="both", help="which tables to print")
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        print("redis-server is not installed (Debian package redis-server)", file=sys.stderr)
        return 1
    if args.dead > args.jobs or args.queues < 1 or args.repeats < 1:
        parser.error("--dead must not exceed --jobs; --queues and --repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="qtui-bench-redis-") as tmp:
        server = LocalRedisServer(Path(tmp))
        server.start()
        try:
            if args.layout in ("both", "gowork"):
                rows = bench_gowork(server, args.jobs, args.dead, args.repeats)
                print_table(f"go-redis-work-queue layout: {args.jobs:,} jobs in 2 priority lists, {args.dead:,} dead",
                            rows)  # fmt: skip
            if args.layout in ("both", "rq"):
                rows = bench_rq(server, args.jobs, args.queues, args.dead, args.repeats)
                print_table(f"RQ layout: {args.jobs:,} jobs over {args.queues} queues, {args.dead:,} failed", rows)
        finally:
            server.stop()
    return 0


Row = tuple[str, ...]
HEADERS = ("operation", "qtui min / median", "floor min / median", "instead", "notes")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def repeated(fn: Callable[[], object], repeats: int, prepare: Callable[[], object] | None = None) -> list[float]:
    """Seconds of `repeats` runs of `fn`, each after `prepare()` (untimed)."""
    times = []
    for _ in range(repeats):
        if prepare is not None:
            prepare()
        times.append(timed(fn)[0])
    return sorted(times)


Measured = tuple[list[float], list[float]]  # wall seconds, server seconds; each sorted


def interleaved(
    first: Callable[[], object],
    second: Callable[[], object],
    repeats: int,
    prepare: Callable[[], object],
    server: LocalRedisServer,
) -> tuple[Measured, Measured]:
    """Wall and CPU seconds of `repeats` runs of each, alternating which goes first, each after `prepare()`.

    CPU seconds are those of redis-server and of this process together: unlike
    wall time they do not grow when other programs share the machine.
    Alternating keeps drift (a warming allocator) out of the comparison.
    """
    walls: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    for n in range(repeats):
        for which in (0, 1) if n % 2 == 0 else (1, 0):
            prepare()
            before = server.cpu_seconds() + time.process_time()
            walls[which].append(timed((first, second)[which])[0])
            cpus[which].append(server.cpu_seconds() + time.process_time() - before)
    return (sorted(walls[0]), sorted(cpus[0])), (sorted(walls[1]), sorted(cpus[1]))


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def spread(times: Sequence[float]) -> str:
    """`min / median` of sorted times."""
    return f"{fmt(times[0])} / {fmt(times[len(times) // 2])}"


def print_table(title: str, rows: Sequence[Row], headers: Row = HEADERS) -> None:
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(len(headers))]
    if title:
        print(f"\n{title}")
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def _rq_stamp(when: float) -> str:
    """`when` as RQ writes its job timestamps."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load_rq(client: redis.Redis, jobs: int, queues: int, dead: int, *, spread: float = 0.0) -> list[str]:
    """Load `jobs` RQ jobs (`dead` of them failed, 5% finished) with pipelines; returns the ids.

    The jobs are made, and the failed and finished ones ended, evenly over the `spread` seconds
    before now, oldest first (all now when 0), so each queue's first job is its oldest.
    """
    from rq import Queue  # the template job is made by RQ itself, so the layout is RQ's

    template = Queue("template", connection=client).enqueue("bench_tasks.resize", 0)
    fields = {k.decode(): v for k, v in client.hgetall(template.key).items()}
    client.flushdb()
    finished = jobs // 20
    ids = [f"bench-{i:08d}" for i in range(jobs)]
    now = time.time()
    error = base64.b64encode(zlib.compress(b"Traceback (most recent call last):\nRuntimeError: disk full\n"))
    later = int(time.time()) + 31536000
    with client.pipeline(transaction=False) as pipe:
        for i, job_id in enumerate(ids):
            queue = f"q{i % queues:02d}"
            stamp = _rq_stamp(now - spread + spread * i / jobs)
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


def bench_rq(server: LocalRedisServer, jobs: int, queues: int, dead: int, repeats: int) -> list[Row]:
    from rq import Queue
    from rq.job import Job as RQJob
    from rq.registry import (
        FailedJobRegistry,
        FinishedJobRegistry,
        StartedJobRegistry,
        clean_registries,
    )
    from rq.worker_registration import clean_worker_registry

    from qtui.backends.rq import open_rq

    ours_db, theirs_db = server.client(0), server.client(1)
    ours_db.flushdb()
    load_time, ids = timed(lambda: load_rq(ours_db, jobs, queues, dead))
    load_rq(theirs_db, jobs, queues, dead)
    backend = open_rq(f"rq+{server.url(0)}", clock=SYSTEM_CLOCK.time)
    rows: list[Row] = [("load (pipelined HSET/RPUSH/ZADD)", fmt(load_time), "-", "-", f"{jobs:,} jobs, bench setup")]

    def rq_info() -> None:  # what `rq info` computes, in process (the CLI adds ~0.3 s of start-up)
        for q in Queue.all(connection=theirs_db):
            clean_registries(q)
            clean_worker_registry(q)
            q.count, FailedJobRegistry(queue=q).count, FinishedJobRegistry(queue=q).count
            StartedJobRegistry(queue=q).count

    cli, _ = timed(lambda: subprocess.run([sys.executable, "-m", "rq.cli", "info", "-u", server.url(1)],
                                          capture_output=True, check=True))  # fmt: skip
    rows.append(("stats, all queues", spread(repeated(backend.snapshot, repeats)), "-",
                 f"rq info: {spread(repeated(rq_info, repeats))}", f"`rq info` CLI: {fmt(cli)} (incl. start-up)"))
    ready_queue = "q19" if queues > 19 else f"q{queues - 1:02d}"
    depth = Queue(ready_queue, connection=theirs_db).count
    ours = repeated(lambda: backend.peek(ready_queue, JobState.READY, limit=50), repeats)
    theirs = repeated(lambda: Queue(ready_queue, connection=theirs_db).get_jobs(0, 50), repeats)
    rows.append(("peek 50 ready (first page)", spread(ours), "-", f"Queue.get_jobs: {spread(theirs)}", "RQ unpickles"))
    offset = max(depth - 50, 0)
    ours = repeated(lambda: backend.peek(ready_queue, JobState.READY, cursor=f"0.{offset}", limit=50), repeats)
    theirs = repeated(lambda: Queue(ready_queue, connection=theirs_db).get_jobs(offset, 50), repeats)
    rows.append((f"peek 50 ready at offset {offset:,}", spread(ours), "-", f"Queue.get_jobs: {spread(theirs)}", ""))
    ours = repeated(lambda: backend.job(ids[-1]), repeats)
    theirs = repeated(lambda: RQJob.fetch(ids[-1], connection=theirs_db), repeats)
    rows.append(("find job by id", spread(ours), "-", f"Job.fetch: {spread(theirs)}", "the job hash is the index"))
    ours = repeated(lambda: backend.peek(None, JobState.DEAD, text="no such text", limit=50), repeats)
    rows.append(("search dead jobs (payload+error), one call", spread(ours), "-", "-",
                 f"examines {SEARCH_BUDGET_RQ:,} jobs per call; RQ has no search"))  # fmt: skip

    ready_lists = {f"rq:queue:q{q:02d}": ours_db.lrange(f"rq:queue:q{q:02d}", 0, -1) for q in range(queues)}
    refail = functools.partial(refail_rq, ours_db, ids[:dead], queues, ready_lists)
    journaled, plain = interleaved(backend.requeue, lambda: _unjournaled(backend, backend.start_requeue()),
                                   repeats, refail, server)

    def rq_requeue_all() -> int:  # what `rq requeue --all --queue Q` does, per queue
        count = 0
        for q in range(queues):
            registry = FailedJobRegistry(f"q{q:02d}", connection=theirs_db)
            for job_id in registry.get_job_ids():
                registry.requeue(job_id)
                count += 1
        return count

    theirs_time, theirs_moved = timed(rq_requeue_all)
    assert theirs_moved == dead, theirs_moved
    registries = [f"rq:failed:q{q:02d}" for q in range(queues)]
    requeue_floor = ours_db.register_script(_RQ_FLOOR_REQUEUE_LUA)
    floor = repeated(lambda: requeue_floor(keys=registries, args=["rq"]), repeats, refail)
    rows.append((f"requeue {dead:,} failed", spread(journaled[0]), spread(floor),
                 f"rq requeue --all: {fmt(theirs_time)}",
                 "1,000-job atomic chunks, journaled; floor: one EVAL (blocks the server)"))  # fmt: skip
    rows.append(("  same, chunks unjournaled", spread(plain[0]), "-", "-", _overhead(journaled, plain)))
    purge = repeated(lambda: backend.purge(None, JobState.DEAD), repeats, refail)
    purge_floor = ours_db.register_script(_RQ_FLOOR_PURGE_LUA)
    floor = repeated(lambda: purge_floor(keys=registries, args=["rq"]), repeats, refail)
    refail_rq(theirs_db, ids[:dead], queues, None)

    def rq_delete_failed() -> None:  # what RQ offers: remove each job from its registry, deleting it
        for q in range(queues):
            registry = FailedJobRegistry(f"q{q:02d}", connection=theirs_db)
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)

    theirs_purge = timed(rq_delete_failed)[0]
    rows.append((f"purge {dead:,} failed (as Job.delete)", spread(purge), spread(floor),
                 f"registry.remove(delete_job): {fmt(theirs_purge)}", "1,000 per atomic chunk; floor: one EVAL"))
    one = Queue(ready_queue, connection=theirs_db).count
    ours_time, n = timed(lambda: backend.purge(ready_queue, JobState.READY))
    theirs_time, m = timed(lambda: Queue(ready_queue, connection=theirs_db).empty())
    assert n == m == one, (n, m, one)
    rows.append((f"purge one queue ({one:,} ready)", fmt(ours_time), "-", f"Queue.empty: {fmt(theirs_time)}",
                 "RQ: one Lua call for the queue"))
    backend.close()
    ours_db.flushdb()
    theirs_db.flushdb()
    return rows


# One EVAL requeuing every failed job of the registries KEYS (ARGV[1]: the key prefix): the floor.
# It does what a requeue must to every job (status, times, error, the queue's list), nothing more.
_RQ_FLOOR_REQUEUE_LUA = """
local moved = 0
for _, registry in ipairs(KEYS) do
  for _, id in ipairs(redis.call('ZRANGE', registry, 0, -1)) do
    local jk = ARGV[1] .. ':job:' .. id
    local origin = redis.call('HGET', jk, 'origin')
    redis.call('HSET', jk, 'status', 'queued', 'started_at', '', 'ended_at', '', 'exc_info', '')
    redis.call('RPUSH', ARGV[1] .. ':queue:' .. origin, id)
    moved = moved + 1
  end
  redis.call('DEL', registry)
end
return moved
"""

# One EVAL deleting every failed job of the registries KEYS, with their results: the floor of a purge.
_RQ_FLOOR_PURGE_LUA = """
local deleted = 0
for _, registry in ipairs(KEYS) do
  for _, id in ipairs(redis.call('ZRANGE', registry, 0, -1)) do
    redis.call('DEL', ARGV[1] .. ':job:' .. id, ARGV[1] .. ':results:' .. id)
    deleted = deleted + 1
  end
  redis.call('DEL', registry)
end
return deleted
"""


def refail_rq(
    client: redis.Redis, failed: Sequence[str], queues: int, ready_lists: dict[str, list[bytes]] | None
) -> None:
    """Put requeued (or purged) bench jobs back in their failed registries, as a worker would leave them.

    With `ready_lists`, the queue lists are put back as they were (without the requeued ids).
    """
    later = int(time.time()) + 31536000
    with client.pipeline(transaction=False) as pipe:
        for key, items in (ready_lists or {}).items():
            pipe.delete(key)
            for i in range(0, len(items), 5000):
                pipe.rpush(key, *items[i : i + 5000])
        for index, job_id in enumerate(failed):
            pipe.zadd(f"rq:failed:q{index % queues:02d}", {job_id: later})
            pipe.hset(f"rq:job:{job_id}", mapping={"status": "failed", "origin": f"q{index % queues:02d}",
                                                    "description": f"bench_tasks.resize({index})"})
            if index % 5000 == 4999:
                pipe.execute()
        pipe.execute()


def _unjournaled(backend: Backend, operation: Operation) -> int:
    """Run an operation's chunks without their journal writes (the overhead's baseline)."""
    done = 0
    for current in backend._chunks(operation, journaled=False):  # noqa: SLF001 - the benchmark's seam
        done = current.done
    backend._forget(operation.id)  # noqa: SLF001
    return done


def _overhead(journaled: Measured, plain: Measured) -> str:
    def change(a: Sequence[float], b: Sequence[float]) -> str:
        return f"{100 * (a[len(a) // 2] - b[len(b) // 2]) / b[len(b) // 2]:+.1f}%"

    return (f"journaling overhead (medians; target <= 10%): wall {change(journaled[0], plain[0])}, "
            f"CPU {change(journaled[1], plain[1])} ({fmt(journaled[1][len(journaled[1]) // 2])} vs "
            f"{fmt(plain[1][len(plain[1]) // 2])})")


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


# One EVAL doing a whole requeue of the dead letter: the floor (it blocks the server throughout).
_FLOOR_REQUEUE_LUA = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do
  local item = items[i]
  local queue = string.match(item, '"priority":%s*"([^"]*)"')
  local new = string.gsub(item, '"retries":%s*%-?[%d%.eE+]+', '"retries":0', 1)
  redis.call('LPUSH', KEYS[1] .. ':' .. queue, new)
end
redis.call('DEL', KEYS[1])
return #items
"""

# One EVAL deleting one queue's items from the dead letter: the floor of a filtered purge.
_FLOOR_PURGE_LUA = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local kept = {}
for _, item in ipairs(items) do
  if string.match(item, '"priority":%s*"([^"]*)"') ~= ARGV[1] then kept[#kept + 1] = item end
end
redis.call('DEL', KEYS[1])
for i = 1, #kept, 5000 do redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 4999, #kept))) end
return #items - #kept
"""


def bench_gowork(server: LocalRedisServer, jobs: int, dead: int, repeats: int) -> list[Row]:
    from qtui.backends.gowork import open_gowork

    client = server.client(0)
    client.flushdb()
    load_time, ids = timed(lambda: load_gowork(client, jobs, dead))
    url = server.url(0)
    lists = ["jobqueue:high_priority", "jobqueue:low_priority", "jobqueue:dead_letter", "jobqueue:completed"]
    rows: list[Row] = [("load (pipelined LPUSH)", fmt(load_time), "-", "-", f"{jobs:,} jobs, bench setup")]

    def llen_floor() -> None:
        with client.pipeline(transaction=False) as pipe:
            for key in lists:
                pipe.llen(key)
            pipe.execute()

    first, _ = timed(lambda: open_gowork(url, clock=SYSTEM_CLOCK.time).snapshot())
    rows.append(("stats, first ever (builds the dead index)", fmt(first), "-", "-",
                 f"counts the {dead:,} dead once, in 50,000-item Lua steps"))  # fmt: skip
    cold = repeated(lambda: open_gowork(url, clock=SYSTEM_CLOCK.time).snapshot(), repeats)
    rows.append(("cold snapshot() (new backend)", spread(cold), spread(repeated(llen_floor, repeats)),
                 "-", "floor: pipelined LLEN of the 4 lists; target <= 20 ms"))
    cli = repeated(lambda: subprocess.run([sys.executable, "-m", "qtui", "stats", "--json", "--db", url],
                                          capture_output=True, check=True), repeats)  # fmt: skip
    redis_cli = repeated(lambda: subprocess.run(["redis-cli", "-p", str(server.port), "LLEN", lists[2]],
                                                capture_output=True, check=True), repeats)  # fmt: skip
    rows.append(("qtui stats --json (new process)", spread(cli), "-", f"redis-cli LLEN: {spread(redis_cli)}",
                 "includes Python start-up"))
    backend = open_gowork(url, clock=SYSTEM_CLOCK.time)
    backend.snapshot()
    client.lpush(lists[2], json.dumps({"id": "late", "priority": "low", "retries": 4}))
    rows.append(("stats after a new dead job", spread(repeated(backend.snapshot, repeats)), "-", "-",
                 "index checked against the list's length and ends"))
    client.lrem(lists[2], 1, client.lindex(lists[2], dead // 2))  # go-redis-work-queue's own DLQ requeue
    rebuild, _ = timed(backend.snapshot)
    rows.append(("stats after an LREM mid-list (rebuild)", fmt(rebuild), "-", "-", "counted again in Lua steps"))
    newest = ids[-1]
    found = repeated(lambda: backend.job(newest), repeats)

    def grep() -> None:
        subprocess.run(f"redis-cli -p {server.port} --raw LRANGE jobqueue:low_priority 0 -1 | grep -F -m1 {newest}",
                       shell=True, capture_output=True, check=False)  # fmt: skip

    def lrange_floor() -> None:
        needle = newest.encode()
        for key in lists:
            if any(needle in item for item in client.lrange(key, 0, -1)):
                return

    rows.append(("find job by id (worst case: a ready job)", spread(found), spread(repeated(lrange_floor, repeats)),
                 f"LRANGE | grep: {spread(repeated(grep, repeats))}",
                 "no index for lists workers pop; server-side scan, 20,000-item steps"))  # fmt: skip

    dead_items = client.lrange(lists[2], 0, -1)

    def reload_dead() -> None:
        with client.pipeline(transaction=False) as pipe:
            pipe.delete(lists[2], "jobqueue:qtui:index:dead_letter", *lists[:2])
            for i in range(0, len(dead_items), 5000):
                pipe.rpush(lists[2], *dead_items[i : i + 5000])
            pipe.execute()
        backend.snapshot()

    journaled, plain = interleaved(backend.requeue, lambda: _unjournaled(backend, backend.start_requeue()),
                                   repeats, reload_dead, server)
    floor_script = client.register_script(_FLOOR_REQUEUE_LUA)
    floor = repeated(lambda: floor_script(keys=["jobqueue:dead_letter"]), repeats, reload_dead)
    rows.append((f"requeue {len(dead_items):,} dead", spread(journaled[0]), spread(floor), "-",
                 "5,000-item atomic chunks, journaled; floor: one EVAL (blocks the server)"))
    rows.append(("  same, chunks unjournaled", spread(plain[0]), "-", "-", _overhead(journaled, plain)))
    purge, plain = interleaved(lambda: backend.purge("low", JobState.DEAD),
                               lambda: _unjournaled(backend, backend.start_purge("low", JobState.DEAD)),
                               repeats, reload_dead, server)  # fmt: skip
    purge_script = client.register_script(_FLOOR_PURGE_LUA)
    floor = repeated(lambda: purge_script(keys=["jobqueue:dead_letter"], args=["low"]), repeats, reload_dead)
    rows.append(("purge the dead of one queue", spread(purge[0]), spread(floor), "-",
                 "filtered chunks; floor: one EVAL"))
    rows.append(("  same, chunks unjournaled", spread(plain[0]), "-", "-", _overhead(purge, plain)))
    whole = repeated(lambda: backend.purge(None, JobState.DEAD), repeats, reload_dead)
    rows.append((f"purge all {len(dead_items):,} dead", spread(whole), "-", "purge-dlq: DEL", "one UNLINK, journaled"))
    backend.close()
    client.flushdb()
    return rows
