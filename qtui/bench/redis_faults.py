"""Fault trials of journaled requeues and purges on real Redis servers.

One trial starts redis-server on a layout's saved data set of dead jobs, starts
a requeue or a purge, and kills either the client (a forked process, SIGKILL) or
redis-server (SIGKILL, then a restart from its append-only file) once the
operation's journal says a random share of the jobs has been examined (the
share comes from the trial's seed, so a trial can be run again). It then checks
that every job is exactly once where it was or where the operation puts it,
that the operation is in the journal, and either resumes it (every job ends
exactly once in the right place, the dead counts match) or abandons it (every
job stays exactly once where it is). The checks count jobs lost, duplicated and
misplaced rather than stopping at the first.

Each layout's data set is loaded once and kept as the server's append-only
files; every trial restarts the server from a fresh copy of them, so a trial
costs the operation, the kill, the resume and the checks, not the loading.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
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
DEAD = "dead"  # where a job is: dead, in the queue it is named after, or gone
GONE = "gone"
AOF_DIR = "appendonlydir"  # redis-server's default appenddirname


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
class Tally:
    """What a check found: how many jobs it looked at, and how many were lost, duplicated or misplaced."""

    checked: int = 0
    lost: int = 0
    duplicated: int = 0
    misplaced: int = 0
    examples: tuple[str, ...] = ()  # the first few jobs found wrong, and how

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.misplaced)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.checked + other.checked, self.lost + other.lost, self.duplicated + other.duplicated,
            self.misplaced + other.misplaced, (self.examples + other.examples)[:5],
        )  # fmt: skip


@attrs.frozen
class Outcome:
    """What a trial saw: how far the operation got before the kill, the resume, and the checks."""

    examined_at_kill: int
    done_at_kill: int
    interrupted: bool  # False: the operation finished before the kill landed
    abandoned: bool  # abandoned instead of resumed
    restore_seconds: float
    resume_seconds: float
    after_kill: Tally
    after_resume: Tally

    @property
    def tally(self) -> Tally:
        return self.after_kill + self.after_resume


def url(server: LocalRedisServer, layout: Layout) -> str:
    return server.url(scheme="rq+redis" if layout == "rq" else "redis")


def load(client: redis.Redis, layout: Layout, jobs: int) -> None:
    """`jobs` dead jobs: go-redis-work-queue's dead letter (high and low), or RQ failed registries.

    Loaded without an fsync per write, then written to a fresh append-only file
    (so a restart reads only this data), then every write is fsynced again.
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


@attrs.frozen
class DataSet:
    """A layout's dead jobs, loaded once and saved as append-only files that every trial starts from."""

    layout: Layout
    jobs: int
    saved: Path  # a copy of the server's append-only directory, holding only these jobs
    ids: Mapping[str, str]  # each job's id and the queue it belongs to

    @classmethod
    def build(cls, server: LocalRedisServer, layout: Layout, jobs: int, saved: Path) -> DataSet:
        """Load `jobs` dead jobs into persistent `server` and save its append-only files at `saved`."""
        client = server.client()
        try:
            load(client, layout, jobs)
            ids = expected_ids(client, layout)
        finally:
            client.close()
        server.stop()  # so the files are complete and no longer written while copied
        shutil.copytree(server.directory / AOF_DIR, saved)
        server.start()
        return cls(layout, jobs, saved, ids)

    def restore(self, server: LocalRedisServer) -> None:
        """Restart `server` holding exactly this data set, whatever the last trial left."""
        server.stop()
        live = server.directory / AOF_DIR
        shutil.rmtree(live, ignore_errors=True)
        shutil.copytree(self.saved, live)
        server.start()


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


def kill_point(trial: Trial) -> int:
    """How many jobs the operation examines before the kill: random, from the trial's seed."""
    return random.Random(trial.seed).randrange(0, max(1, int(trial.jobs * 0.9)))


def run_trial(server: LocalRedisServer, data: DataSet, trial: Trial) -> Outcome:
    """Run one trial on `server` (persistent: it is restarted from `data`, and may be killed).

    Raises AssertionError if the journal or the counts shown are wrong; jobs found
    wrong are counted in the outcome's tallies.
    """
    assert (data.layout, data.jobs) == (trial.layout, trial.jobs), f"{trial.describe()}: data set of {data.layout}"
    began = time.perf_counter()
    data.restore(server)
    restored = time.perf_counter() - began
    client = server.client()
    threshold = kill_point(trial)
    if trial.fault == "client":
        at_kill = _kill_client(server, trial, client, threshold)
    else:
        at_kill = _kill_server(server, trial, client, threshold)
        client = server.client()
    after_kill = tally(data.ids, find_jobs(client, trial.layout, data.ids), allowed_places(trial, finished=False))
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
        else:
            for operation in pending:
                final = backend.run_operation(backend.resume(operation.id))
                assert final.outcome == "finished", final
            if not pending:  # it finished before the kill landed, or died before journaling
                backend.run_operation(start(backend, trial.layout, trial.kind))
        elapsed = time.perf_counter() - began
        assert backend.operations() == (), f"{trial.describe()}: operations left in the journal"
        found = find_jobs(client, trial.layout, data.ids)
        after_resume = tally(data.ids, found, allowed_places(trial, finished=not trial.abandon))
        check_counts(backend, trial, data.ids, found)
    finally:
        backend.close()
        client.close()
    return Outcome(at_kill[0], at_kill[1], interrupted, trial.abandon, restored, elapsed, after_kill, after_resume)


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


@attrs.frozen
class Found:
    """Where the jobs are: per place (DEAD or a queue's name) how often each id is there.

    `wrong` holds ids whose record does not fit where they are (a requeued job
    that kept its retries, an RQ job whose status is not its place's); `records`
    (RQ only) whether each loaded job's hash still exists.
    """

    places: Mapping[str, Counter[str]]
    wrong: frozenset[str] = frozenset()
    records: Mapping[str, bool] | None = None


def expected_ids(client: redis.Redis, layout: Layout) -> dict[str, str]:
    """Each loaded job's id and the queue it belongs to."""
    if layout == "gowork":
        return {job["id"]: job["priority"] for job in map(json.loads, client.lrange("jobqueue:dead_letter", 0, -1))}
    return {
        member.decode(): f"q{q:02d}"
        for q in range(RQ_QUEUES)
        for member in client.zrange(f"rq:failed:q{q:02d}", 0, -1)
    }


def find_jobs(client: redis.Redis, layout: Layout, ids: Mapping[str, str]) -> Found:
    """Read every place a job can be in, in one pipeline (and RQ's job hashes in a second)."""
    if layout == "gowork":
        with client.pipeline(transaction=False) as pipe:
            pipe.lrange("jobqueue:dead_letter", 0, -1)
            for name in QUEUES:
                pipe.lrange(f"jobqueue:{name}_priority", 0, -1)
            dead, *queued = pipe.execute()
        places = {DEAD: Counter(json.loads(raw)["id"] for raw in dead)}
        wrong: set[str] = set()
        for name, items in zip(QUEUES, queued, strict=True):
            jobs = [json.loads(raw) for raw in items]
            wrong.update(job["id"] for job in jobs if job["retries"] != 0 or job["priority"] != name)
            places[name] = Counter(job["id"] for job in jobs)
        return Found(places, frozenset(wrong))
    queues = sorted(set(ids.values()))
    with client.pipeline(transaction=False) as pipe:
        for name in queues:
            pipe.zrange(f"rq:failed:{name}", 0, -1)
        for name in queues:
            pipe.lrange(f"rq:queue:{name}", 0, -1)
        listed = pipe.execute()
    places = {DEAD: Counter(m.decode() for members in listed[: len(queues)] for m in members)}
    places.update((name, Counter(i.decode() for i in items)) for name, items in zip(queues, listed[len(queues) :]))
    with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(f"rq:job:{job_id}", "status")
        statuses = dict(zip(ids, pipe.execute(), strict=True))
    wrong = {i for i in places[DEAD] if statuses.get(i, b"failed") not in (b"failed", None)}
    wrong.update(i for name in queues for i in places[name] if statuses.get(i, b"queued") not in (b"queued", None))
    return Found(places, frozenset(wrong), {i: status is not None for i, status in statuses.items()})


def allowed_places(trial: Trial, *, finished: bool) -> Callable[[str, str], frozenset[str]]:
    """Where a job (id, its queue) may be after the kill, or after the operation finished."""

    def purged(queue: str) -> bool:
        return trial.layout == "rq" or queue == "low"

    def allowed(job_id: str, queue: str) -> frozenset[str]:
        if trial.kind == "requeue":
            return frozenset({queue} if finished else {DEAD, queue})
        if not purged(queue):
            return frozenset({DEAD})
        return frozenset({GONE} if finished else {DEAD, GONE})

    return allowed


def tally(ids: Mapping[str, str], found: Found, allowed: Callable[[str, str], frozenset[str]]) -> Tally:
    """Count each loaded job once: in an allowed place (with a fitting record), or lost, duplicated, misplaced.

    Lost: in no place though it may not be gone, or listed while its RQ hash is gone.
    Duplicated: in more than one place or twice in one (ids nobody loaded count too).
    Misplaced: once, but somewhere it may not be, or with a record that does not fit there
    (a purged RQ job whose hash was left behind counts here).
    """
    lost = duplicated = misplaced = 0
    examples: list[str] = []

    def note(job_id: str, what: str) -> None:
        if len(examples) < 5:
            examples.append(f"{job_id} {what}")

    for job_id, queue in ids.items():
        where = [name for name, counts in found.places.items() for _ in range(counts[job_id])]
        may_be = allowed(job_id, queue)
        has_record = found.records is None or found.records[job_id]
        if len(where) > 1:
            duplicated += 1
            note(job_id, f"in {' and '.join(where)}")
        elif not where and GONE not in may_be:
            lost += 1
            note(job_id, "in no place")
        elif not where and has_record and found.records is not None:
            misplaced += 1
            note(job_id, "purged from its registry but its hash is left")
        elif where and where[0] not in may_be:
            misplaced += 1
            note(job_id, f"in {where[0]}, not in {' or '.join(sorted(may_be))}")
        elif where and not has_record:
            lost += 1
            note(job_id, f"in {where[0]} but its hash is gone")
        elif job_id in found.wrong:
            misplaced += 1
            note(job_id, f"in {where[0]} with a record that does not fit there")
    strangers = sum(n for counts in found.places.values() for i, n in counts.items() if i not in ids)
    if strangers:
        note(f"{strangers} items", "of jobs nobody loaded")
    return Tally(len(ids), lost, duplicated + strangers, misplaced, tuple(examples))


def check_counts(backend: Backend, trial: Trial, ids: Mapping[str, str], found: Found) -> None:
    """The dead counts the backend shows are the true ones (raises AssertionError)."""
    shown = {q.name: q.count(JobState.DEAD) for q in backend.snapshot().queues}
    truth = Counter(ids[i] for i in found.places[DEAD].elements() if i in ids)
    assert all(shown.get(name, 0) == truth[name] for name in set(shown) | set(truth)), (
        f"{trial.describe()}: dead counts shown {shown}, true {dict(truth)}"
    )


# -- the soak benchmark ----------------------------------------------------------------


@contextlib.contextmanager
def persistent_server(directory: Path, executable: str = "redis-server") -> Iterator[LocalRedisServer]:
    server = LocalRedisServer(directory, executable=executable, persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@attrs.frozen
class Case:
    """One row of the soak: a layout, an operation and a fault, and how its trials went."""

    trial: Trial  # the first trial (its seed is the first of the row's)
    outcomes: tuple[Outcome, ...]
    failures: tuple[str, ...]  # assertion messages of trials that failed outright
    seconds: float


def run_case(server: LocalRedisServer, data: DataSet, kind: Kind, fault: Fault, trials: int, seed: int,
             progress: Callable[[str], None]) -> Case:  # fmt: skip
    """`trials` trials of one case, seeds `seed`.., the last one abandoned instead of resumed."""
    outcomes: list[Outcome] = []
    failures: list[str] = []
    began = time.perf_counter()
    first = Trial(data.layout, kind, fault, data.jobs, seed)
    for n in range(trials):
        trial = attrs.evolve(first, seed=seed + n, abandon=n == trials - 1)
        try:
            outcome = run_trial(server, data, trial)
        except AssertionError as exc:
            failures.append(f"{trial.describe()}: {exc}")
            progress(f"FAILED {failures[-1]}")
            continue
        outcomes.append(outcome)
        found = outcome.tally
        progress(f"{trial.describe()}: killed at {outcome.examined_at_kill:,} examined; {found.checked:,} jobs "
                 f"checked: {found.lost} lost, {found.duplicated} duplicated, {found.misplaced} misplaced")
    return Case(first, tuple(outcomes), tuple(failures), time.perf_counter() - began)


def _spread(values: Sequence[float], fmt: str) -> str:
    ordered = sorted(values)
    return " / ".join(format(v, fmt) for v in (ordered[0], ordered[len(ordered) // 2])) if ordered else "-"


def row(case: Case) -> tuple[str, ...]:
    """The table row of a case."""
    trial, outcomes = case.trial, case.outcomes
    kills = sorted(o.examined_at_kill for o in outcomes)
    total = sum((o.tally for o in outcomes), Tally())
    resumes = [o.resume_seconds for o in outcomes if o.interrupted and not o.abandoned]
    ran = len(outcomes) + len(case.failures)
    check = f"FAIL ({len(case.failures)} trials)" if case.failures else "ok" if total.clean else "FAIL"
    return (
        f"{trial.layout} {trial.kind}", f"kill -9 {trial.fault}",
        f"{ran} ({sum(o.interrupted for o in outcomes)} int.)",
        f"{kills[0]:,} / {kills[len(kills) // 2]:,} / {kills[-1]:,}" if kills else "-",
        f"{total.checked:,}", f"{total.lost}", f"{total.duplicated}", f"{total.misplaced}",
        _spread(resumes, ".2f"), f"{case.seconds:.0f} s", check,
    )  # fmt: skip


HEADERS = ("operation", "fault", "trials", "examined at kill min/med/max", "jobs checked", "lost", "dup.",
           "misplaced", "resume min/med s", "time", "check")  # fmt: skip
WIDTHS = (14, 14, 13, 28, 12, 4, 4, 9, 16, 6, 5)


def print_row(cells: Sequence[str]) -> None:
    print("  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True)).rstrip(), flush=True)


def soak(directory: Path, layouts: Sequence[Layout], jobs: int, trials: int, seed: int, verbose: bool) -> bool:
    """Every kind and fault of `layouts`, `trials` each: prints a row per case as it ends; True if all were right."""

    def progress(line: str) -> None:
        if verbose or line.startswith("FAILED"):
            print(f"  {line}", file=sys.stderr, flush=True)

    cases: list[Case] = []
    with persistent_server(directory / "server") as server:
        for layout in layouts:
            began = time.perf_counter()
            data = DataSet.build(server, layout, jobs, directory / f"{layout}-saved")
            built = time.perf_counter() - began
            layout_cases = [
                run_case(server, data, kind, fault, trials, seed, progress)
                for kind in ("requeue", "purge")
                for fault in ("client", "server")
            ]
            restores = [o.restore_seconds for case in layout_cases for o in case.outcomes]
            print(f"{layout}: {jobs:,} dead jobs loaded and saved once in {built:.1f} s; "
                  f"each trial's restart from the saved files took {_spread(restores, '.2f')} s (min / median)")  # fmt: skip
            for case in layout_cases:
                print_row(row(case))
                for failure in case.failures:
                    print(f"  failed: {failure}")
                examples = sum((o.tally for o in case.outcomes), Tally()).examples
                if examples:
                    print(f"  for example: {'; '.join(examples)}")
            cases += layout_cases
            shutil.rmtree(data.saved)
    return all(not c.failures and all(o.tally.clean for o in c.outcomes) for c in cases)


def main(argv: list[str]) -> int:
    """`python -m qtui.bench redis_faults [--jobs N --trials N --seed N --layout L -v]`: the soak, a row per case."""
    parser = argparse.ArgumentParser(prog="python -m qtui.bench redis_faults", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="dead jobs per trial (default 100,000)")
    parser.add_argument("--trials", type=int, default=20, help="trials per layout, kind and fault (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="first random seed (trial n of a row has seed + n)")
    parser.add_argument("--layout", choices=("both", "gowork", "rq"), default="both", help="which layouts")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per trial on stderr")
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        print("redis-server is not installed (Debian package redis-server)", file=sys.stderr)
        return 1
    if args.jobs < 1 or args.trials < 1:
        parser.error("--jobs and --trials must be at least 1")
    print(f"kill -9 trials: {args.jobs:,} dead jobs per trial, {args.trials} trials per row with seeds "
          f"{args.seed}..{args.seed + args.trials - 1} (the last one abandoned instead of resumed), "
          "appendonly yes + appendfsync always.\nJobs are checked twice per trial (after the kill and after "
          "the resume): lost, duplicated and misplaced count the jobs found so.")  # fmt: skip
    print_row(HEADERS)
    layouts: list[Layout] = ["gowork", "rq"] if args.layout == "both" else [args.layout]
    with tempfile.TemporaryDirectory(prefix="qtui-bench-faults-") as tmp:
        right = soak(Path(tmp), layouts, args.jobs, args.trials, args.seed, args.verbose)
    return 0 if right else 1
