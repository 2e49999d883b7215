"""Fault trials of journaled requeues and purges on real Redis servers.

One trial loads dead jobs in one layout, starts a requeue or a purge, and kills
either the client (a forked process, SIGKILL) or redis-server (SIGKILL, then a
restart from its append-only file) once the operation's journal says a random
share of the jobs has been examined. It then checks that every job is exactly
once where it was or where the operation puts it, that the operation is in the
journal, and either resumes it (every job ends exactly once in the right place,
the dead counts match) or abandons it (every job stays exactly once where it is).

The test suite runs these with a few thousand jobs; `python -m qtui.bench
redis_faults` runs the full 100,000-job, 20-trial version and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import attrs
import redis

from qtui.backends import open_backend
from qtui.backends.base import Backend
from qtui.backends.journal import Operation
from qtui.bench.redis import LocalRedisServer, load_gowork, load_rq
from qtui.clock import SYSTEM_CLOCK
from qtui.model import BackendUnavailable, JobState

Layout = Literal["gowork", "rq"]
Kind = Literal["requeue", "purge"]
Fault = Literal["client", "server"]
QUEUES = ("high", "low")
RQ_QUEUES = 4


@attrs.frozen
class Trial:
    layout: Layout
    kind: Kind
    fault: Fault
    jobs: int
    seed: int
    abandon: bool = False

    def describe(self) -> str:
        return f"{self.layout} {self.kind}, {self.fault} killed, {self.jobs:,} jobs, seed {self.seed}"


@attrs.frozen
class Outcome:
    """What a trial saw: how far the operation got before the kill, and the resume."""

    examined_at_kill: int
    done_at_kill: int
    interrupted: bool  # False: the operation finished before the kill landed
    resume_seconds: float


def url(server: LocalRedisServer, layout: Layout) -> str:
    return server.url(scheme="rq+redis" if layout == "rq" else "redis")


def load(client: redis.Redis, layout: Layout, jobs: int) -> None:
    """`jobs` dead jobs: go-redis-work-queue's dead letter (high and low), or RQ failed registries.

    Loaded without an fsync per write, then written to a fresh append-only file
    (so a restart reads only this trial's data), then every write is fsynced again.
    """
    client.config_set("appendfsync", "no")
    client.flushall()
    if layout == "gowork":
        load_gowork(client, jobs, jobs)
    else:
        load_rq(client, jobs, RQ_QUEUES, jobs)
    while True:  # the load may have set off a rewrite of its own: wait it out, then rewrite again
        _wait_for_aof_rewrite(client)
        try:
            client.bgrewriteaof()
            break
        except redis.ResponseError as exc:
            if "already in progress" not in str(exc):
                raise
    _wait_for_aof_rewrite(client)
    client.config_set("appendfsync", "always")


def _wait_for_aof_rewrite(client: redis.Redis) -> None:
    """Until no rewrite of the append-only file is running or scheduled."""
    while True:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.005)


def start(backend: Backend, layout: Layout, kind: Kind) -> Operation:
    """The operation a trial interrupts: requeue every dead job, or purge dead jobs.

    The go-redis-work-queue purge is of queue low's dead jobs, which runs in
    filtered chunks (a purge of the whole dead letter is one atomic UNLINK).
    """
    if kind == "requeue":
        return backend.start_requeue()
    return backend.start_purge("low" if layout == "gowork" else None, JobState.DEAD)


def journal_state(client: redis.Redis, layout: Layout) -> dict[bytes, bytes] | None:
    namespace = "jobqueue:qtui" if layout == "gowork" else "rq:qtui"
    ids = client.zrange(f"{namespace}:ops", 0, -1)
    return client.hgetall(f"{namespace}:op:{ids[0].decode()}") if ids else None


def wait_to_kill(client: redis.Redis, layout: Layout, threshold: int, finished: Callable[[], bool]) -> tuple[int, int]:
    """Poll the journal until the operation examined `threshold` items (or ended); (examined, done)."""
    seen = (0, 0)
    while not finished():
        try:
            state = journal_state(client, layout)
        except redis.ConnectionError:
            break
        if state:
            seen = (int(state.get(b"examined", 0)), int(state.get(b"done", 0)))
            if seen[0] >= threshold:
                break
        time.sleep(0.0005)
    return seen


def run_trial(server: LocalRedisServer, trial: Trial) -> Outcome:
    """Run one trial on `server` (persistent: it may be killed and restarted); raises AssertionError."""
    rng = random.Random(trial.seed)
    client = server.client()
    load(client, trial.layout, trial.jobs)
    ids = expected_ids(client, trial.layout)
    threshold = rng.randrange(0, max(1, int(trial.jobs * 0.9)))
    if trial.fault == "client":
        at_kill = _kill_client(server, trial, client, threshold)
    else:
        at_kill = _kill_server(server, trial, client, threshold)
        client = server.client()
    check_partial(client, trial, ids)
    backend = open_backend(url(server, trial.layout), clock=SYSTEM_CLOCK.time)
    try:
        # In the journal unless the kill came after its last step (or before its first write).
        pending = backend.operations()
        assert len(pending) <= 1, f"{trial.describe()}: journal holds {len(pending)} operations"
        assert not any(op.running_elsewhere(backend.clock()) for op in pending)
        interrupted = bool(pending)
        began = time.perf_counter()
        if trial.abandon:
            for operation in pending:
                backend.abandon(operation.id)
            assert backend.operations() == ()
            check_partial(client, trial, ids)
        else:
            for operation in pending:
                final = backend.run_operation(backend.resume(operation.id))
                assert final.outcome == "finished", final
            if not pending:  # it finished before the kill landed, or died before journaling
                backend.run_operation(start(backend, trial.layout, trial.kind))
            assert backend.operations() == ()
            check_finished(client, backend, trial, ids)
        elapsed = time.perf_counter() - began
    finally:
        backend.close()
        client.close()
    return Outcome(at_kill[0], at_kill[1], interrupted, elapsed)


def _kill_client(server: LocalRedisServer, trial: Trial, client: redis.Redis, threshold: int) -> tuple[int, int]:
    """Run the operation in a forked client and SIGKILL it at `threshold`; (examined, done) then."""
    pid = os.fork()
    if pid == 0:  # the client: run the operation until killed
        code = 0
        try:
            backend = open_backend(url(server, trial.layout), clock=SYSTEM_CLOCK.time)
            backend.run_operation(start(backend, trial.layout, trial.kind))
        except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
            code = 1
        os._exit(code)
    exited: list[int] = []

    def finished() -> bool:
        if not exited:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                exited.append(status)
        return bool(exited)

    at_kill = wait_to_kill(client, trial.layout, threshold, finished)
    if not exited:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return at_kill
    assert os.waitstatus_to_exitcode(exited[0]) == 0, f"{trial.describe()}: the client failed on its own"
    return at_kill


def _kill_server(server: LocalRedisServer, trial: Trial, client: redis.Redis, threshold: int) -> tuple[int, int]:
    """Run the operation in a thread, SIGKILL the server at `threshold` and restart it; (examined, done) then."""
    backend = open_backend(url(server, trial.layout), clock=SYSTEM_CLOCK.time)
    operation = start(backend, trial.layout, trial.kind)

    def run() -> None:
        with contextlib.suppress(BackendUnavailable):  # the server went away under it, as intended
            backend.run_operation(operation)

    worker = threading.Thread(target=run)
    worker.start()
    at_kill = wait_to_kill(client, trial.layout, threshold, lambda: not worker.is_alive())
    server.kill()
    worker.join()
    backend.close()
    client.close()
    server.start()
    return at_kill


# -- checks ------------------------------------------------------------------------


def expected_ids(client: redis.Redis, layout: Layout) -> dict[str, str]:
    """Each loaded job's id and the queue it belongs to."""
    if layout == "gowork":
        return {job["id"]: job["priority"] for job in map(json.loads, client.lrange("jobqueue:dead_letter", 0, -1))}
    return {
        member.decode(): f"q{q:02d}"
        for q in range(RQ_QUEUES)
        for member in client.zrange(f"rq:failed:q{q:02d}", 0, -1)
    }


def _gowork_places(client: redis.Redis) -> tuple[Counter[str], dict[str, Counter[str]]]:
    dead = Counter(json.loads(raw)["id"] for raw in client.lrange("jobqueue:dead_letter", 0, -1))
    queues = {}
    for name in QUEUES:
        items = [json.loads(raw) for raw in client.lrange(f"jobqueue:{name}_priority", 0, -1)]
        assert all(item["retries"] == 0 and item["priority"] == name for item in items)
        queues[name] = Counter(item["id"] for item in items)
    return dead, queues


def _rq_places(client: redis.Redis) -> tuple[Counter[str], dict[str, Counter[str]]]:
    failed: Counter[str] = Counter()
    queues = {}
    for q in range(RQ_QUEUES):
        name = f"q{q:02d}"
        failed.update(m.decode() for m in client.zrange(f"rq:failed:{name}", 0, -1))
        queues[name] = Counter(i.decode() for i in client.lrange(f"rq:queue:{name}", 0, -1))
    return failed, queues


def check_partial(client: redis.Redis, trial: Trial, ids: dict[str, str]) -> None:
    """Every job exactly once, either where it was or where the operation puts it."""
    where = trial.describe()
    dead, queues = (_gowork_places if trial.layout == "gowork" else _rq_places)(client)
    if trial.kind == "requeue":
        for job_id, queue in ids.items():
            places = dead[job_id] + sum(q[job_id] for q in queues.values())
            in_place = dead[job_id] + queues[queue][job_id]
            assert places == 1 and in_place == 1, f"{where}: job {job_id} in {places} places"
        assert sum(dead.values()) + sum(sum(q.values()) for q in queues.values()) == len(ids), where
        if trial.layout == "rq":
            _check_rq_status(client, ids, dead, where)
        return
    purged = {i for i, q in ids.items() if trial.layout == "rq" or q == "low"}
    for job_id in ids:
        limit = 1 if job_id in purged else None
        assert dead[job_id] == 1 or (limit and dead[job_id] == 0), f"{where}: job {job_id} {dead[job_id]} times"
    if trial.layout == "rq":
        with client.pipeline(transaction=False) as pipe:
            for job_id in purged:
                pipe.exists(f"rq:job:{job_id}")
            exists = pipe.execute()
        for job_id, found in zip(purged, exists, strict=True):
            assert bool(found) == bool(dead[job_id]), f"{where}: job {job_id} half deleted"


def _check_rq_status(client: redis.Redis, ids: dict[str, str], failed: Counter[str], where: str) -> None:
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(f"rq:job:{job_id}", "status")
        statuses = pipe.execute()
    for job_id, status in zip(ids, statuses, strict=True):
        assert status == (b"failed" if failed[job_id] else b"queued"), f"{where}: job {job_id} is {status!r}"


def check_finished(client: redis.Redis, backend: Backend, trial: Trial, ids: dict[str, str]) -> None:
    """Every job exactly once in the right place, and the dead counts the backend shows are true."""
    where = trial.describe()
    dead, queues = (_gowork_places if trial.layout == "gowork" else _rq_places)(client)
    if trial.kind == "requeue":
        assert not dead, f"{where}: {len(dead)} jobs still dead after resuming"
        for job_id, queue in ids.items():
            assert queues[queue][job_id] == 1, f"{where}: job {job_id} not once in {queue}"
        assert sum(sum(q.values()) for q in queues.values()) == len(ids), f"{where}: jobs added on the way"
        if trial.layout == "rq":
            _check_rq_status(client, ids, dead, where)
    elif trial.layout == "gowork":
        assert dead == Counter(i for i, q in ids.items() if q == "high"), f"{where}: wrong jobs left dead"
    else:
        assert not dead and not any(client.exists(f"rq:job:{i}") for i in list(ids)[:100]), where
    shown = {q.name: q.count(JobState.DEAD) for q in backend.snapshot().queues}
    truth = Counter(ids[i] for i in dead.elements())
    assert all(shown.get(name, 0) == truth[name] for name in set(shown) | set(truth)), f"{where}: {shown} != {truth}"


# -- the soak benchmark ----------------------------------------------------------------


@contextlib.contextmanager
def persistent_server(directory: str, executable: str = "redis-server") -> Iterator[LocalRedisServer]:
    server = LocalRedisServer(Path(directory), executable=executable, persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def soak(directory: str, layouts: Sequence[Layout], jobs: int, trials: int, seed: int) -> Iterator[tuple[str, ...]]:
    """Every kind and fault of `layouts`, `trials` each (the last one abandoned): a row per case as it ends."""
    with persistent_server(directory) as server:
        for layout in layouts:
            for kind in ("requeue", "purge"):
                for fault in ("client", "server"):
                    outcomes = []
                    began = time.perf_counter()
                    for n in range(trials):
                        trial = Trial(layout, kind, fault, jobs, seed + n, abandon=n == trials - 1)
                        outcomes.append(run_trial(server, trial))
                    interrupted = sum(o.interrupted for o in outcomes)
                    resumes = sorted(o.resume_seconds for o in outcomes[:-1] if o.interrupted)
                    kills = sorted(o.examined_at_kill for o in outcomes)
                    yield (
                        f"{layout} {kind}", f"kill -9 {fault}", f"{trials} ({interrupted} interrupted)",
                        f"{kills[0]:,}..{kills[-1]:,}",
                        f"{resumes[0]:.2f} / {resumes[len(resumes) // 2]:.2f} s" if resumes else "-",
                        f"{time.perf_counter() - began:.0f} s", "ok",
                    )  # fmt: skip


WIDTHS = (16, 16, 18, 18, 20, 7, 5)


def main(argv: list[str]) -> int:
    """`python -m qtui.bench redis_faults [--jobs N --trials N --seed N --layout L]`: the soak, a row per case."""
    parser = argparse.ArgumentParser(prog="python -m qtui.bench redis_faults", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="dead jobs per trial (default 100,000)")
    parser.add_argument("--trials", type=int, default=20, help="trials per layout, kind and fault (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="first random seed")
    parser.add_argument("--layout", choices=("both", "gowork", "rq"), default="both", help="which layouts")
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        print("redis-server is not installed (Debian package redis-server)", file=sys.stderr)
        return 1
    if args.jobs < 1 or args.trials < 1:
        parser.error("--jobs and --trials must be at least 1")
    print(f"kill -9 trials: {args.jobs:,} dead jobs per trial, {args.trials} trials per row "
          "(the last one abandoned), appendonly yes + appendfsync always")
    headers = ("operation", "fault", "trials", "examined at kill", "resume min / median", "time", "check")
    print("  ".join(h.ljust(w) for h, w in zip(headers, WIDTHS, strict=True)), flush=True)
    layouts: list[Layout] = ["gowork", "rq"] if args.layout == "both" else [args.layout]
    with tempfile.TemporaryDirectory(prefix="qtui-bench-faults-") as tmp:
        for row in soak(tmp, layouts, args.jobs, args.trials, args.seed):
            print("  ".join(c.ljust(w) for c, w in zip(row, WIDTHS, strict=True)), flush=True)
    return 0
