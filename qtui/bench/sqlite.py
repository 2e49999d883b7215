"""Benchmark of the SQLite queue at scale: `python -m qtui.bench sqlite [options]`.

Bulk-loads a database (default 1,000,000 jobs over 20 queues: mostly completed,
a quarter ready, 10% dead, some scheduled, one processing job per queue) with
payloads and errors like the demo's, then times the admin operations the console
runs: snapshot, peek, find by id, payload search, requeue of the dead jobs and
purge of everything. Reads are timed several times (median); the destructive
operations run once, at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from qtui import simulation
from qtui.backends.sqlite import SQLiteBackend
from qtui.clock import SYSTEM_CLOCK
from qtui.model import PURGEABLE_STATES, JobState
from qtui.sqlite_queue import SQLiteQueue

QUEUE_NAMES = (
    "email", "billing", "reports", "thumbnails", "webhooks", "sms", "push", "invoices",
    "exports", "search-index", "audit", "etl-nightly", "ml-features", "video-transcode",
    "pdf-render", "geocode", "fraud-check", "notifications", "backups", "email-bulk",
)

#: A tenant name put in a handful of payloads: the rare search term.
RARE_TERM = "needle-industries"
RARE_JOBS = 7
#: A tenant in about one payload in six: the common search term.
COMMON_TERM = "acme"

T = TypeVar("T")

_BATCH = 20_000
#: Jobs enqueued, then reserved and acknowledged, one at a time, on a queue of their own.
_QUEUE_OPS = 1_000
_OPS_QUEUE = "bench-ops"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qtui.bench sqlite", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--jobs", type=int, default=1_000_000, help="jobs to load (default %(default)s)"
    )
    parser.add_argument(
        "--queues", type=int, default=20,
        help=f"queues, at most {len(QUEUE_NAMES)} (default %(default)s)",
    )
    parser.add_argument(
        "--db", type=Path,
        help="database file to build (must not exist; default: a temporary file)",
    )
    parser.add_argument(
        "--runs", type=int, default=7, help="runs per read measurement (default %(default)s)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.queues <= len(QUEUE_NAMES):
        parser.error(f"--queues must be between 1 and {len(QUEUE_NAMES)}")
    if args.jobs < 1000:
        parser.error("--jobs must be at least 1000")
    if args.db is not None and args.db.exists():
        parser.error(f"{args.db} exists; give a new path")
    with tempfile.TemporaryDirectory(prefix="qtui-bench-") as scratch:
        path = args.db or Path(scratch) / "bench.db"
        return _bench(path, args.jobs, QUEUE_NAMES[: args.queues], args.runs)


def _bench(path: Path, jobs: int, queues: tuple[str, ...], runs: int) -> int:
    table = _Table()
    print(f"building {jobs:,} jobs over {len(queues)} queues in {path} ...", flush=True)
    seconds, dead_total = _timed(lambda: _build(path, jobs, queues))
    table.add("bulk load", seconds, f"{jobs:,} jobs, {path.stat().st_size / 2**20:,.0f} MiB")

    backend = SQLiteBackend(str(path), clock=SYSTEM_CLOCK.time)
    try:
        snapshot = backend.snapshot()
        counts = {state: sum(s.count(state) for s in snapshot.queues) for state in JobState}
        print("states: " + ", ".join(f"{state} {n:,}" for state, n in counts.items()), flush=True)
        busiest = max(snapshot.queues, key=lambda s: s.count(JobState.DEAD))
        big = busiest.name
        deep = _cursor_at(backend, big, JobState.DEAD, busiest.count(JobState.DEAD) // 2)
        ids = random.Random(1).sample(range(1, jobs + 1), 200)

        table.median(
            "snapshot (stats + workers)", backend.snapshot, runs * 3, f"{len(queues)} queues"
        )
        table.median(
            "peek first page, one queue",
            lambda: backend.peek(big, JobState.DEAD, limit=50), runs * 3, "50 dead jobs",
        )
        table.median(
            "peek page mid-way, one queue",
            lambda: backend.peek(big, JobState.DEAD, cursor=deep, limit=50),
            runs * 3,
            "keyset cursor",
        )
        table.median(
            "peek first page, all queues",
            lambda: backend.peek(None, JobState.COMPLETED, limit=50), runs * 3, "50 completed jobs",
        )
        table.add(
            "find by id",
            statistics.median(_timed(lambda: backend.job(str(i)))[0] for i in ids),
            f"{len(ids)} random ids (median)",
        )
        for term, label in ((RARE_TERM, "rare"), (COMMON_TERM, "common")):
            for state in (JobState.DEAD, JobState.COMPLETED):
                found = len(backend.peek(None, state, text=term, limit=50).jobs)
                table.median(
                    f"search {label} term, {state} ({counts[state]:,})",
                    lambda: backend.peek(None, state, text=term, limit=50),
                    runs,
                    f"{found} found in a page of 50",
                )

        with SQLiteQueue.open(path) as q:
            seconds, _ = _timed(
                lambda: [q.enqueue(_OPS_QUEUE, {"n": n}) for n in range(_QUEUE_OPS)]
            )
            table.add(
                "enqueue (one per transaction)", seconds / _QUEUE_OPS, f"mean of {_QUEUE_OPS:,}"
            )
            with q.worker([_OPS_QUEUE]) as worker:
                seconds, _ = _timed(
                    lambda: [worker.ack(worker.reserve(timeout=0)) for _ in range(_QUEUE_OPS)]
                )
            table.add("reserve + ack", seconds / _QUEUE_OPS, f"mean of {_QUEUE_OPS:,}")
        backend.purge(_OPS_QUEUE, JobState.COMPLETED)

        seconds, moved = _timed(backend.requeue)
        assert moved == dead_total, (moved, dead_total)
        table.add("requeue all dead jobs", seconds, f"{moved:,} jobs moved, one transaction")
        seconds, purged = _timed(
            lambda: sum(backend.purge(None, state) for state in sorted(PURGEABLE_STATES))
        )
        table.add(
            "purge every state, all queues", seconds, f"{purged:,} jobs deleted, 4 transactions"
        )
        table.median("snapshot after purge", backend.snapshot, runs)
    finally:
        backend.close()
    table.print()
    return 0


def _build(path: Path, jobs: int, queues: tuple[str, ...]) -> int:
    """Load `jobs` jobs straight into the schema (the counters' triggers run); returns dead jobs."""
    rng = random.Random(42)
    with SQLiteQueue.open(path, create=True, durable=False):
        pass  # creates the schema
    specs = simulation.SPECS
    errors = _sample_errors(rng)
    # A few busy queues and a long tail.
    cum_weights = list(itertools.accumulate(1 / (i + 1) for i in range(len(queues))))
    dead_total = jobs // 10
    now = time.time()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB while loading
    conn.execute("BEGIN")
    # Indexes are built once at the end (a sort) rather than row by row; the triggers
    # that keep the counters run for every row as usual.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_schema"
        " WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for index, name in enumerate(queues):
        conn.execute("INSERT INTO queues (name, created_at) VALUES (?, ?)", (name, now - 86_400))
        # Each queue has a worker holding one job: jobs 1 to len(queues), loaded first.
        conn.execute(
            "INSERT INTO workers (id, queues, host, pid, started_at, last_seen, lease_seconds,"
            " current_job) VALUES (?, ?, 'bench', 0, ?, ?, 30, ?)",
            (f"bench-{name}", json.dumps([name]), now - 3600, now, index + 1),
        )
    rare_at = set(rng.sample(range(jobs), RARE_JOBS))
    dead_at = set(rng.sample(range(len(queues), jobs), dead_total))
    batch = []
    for n in range(jobs):
        queue = rng.choices(queues, cum_weights=cum_weights)[0] if n >= len(queues) else queues[n]
        spec = specs[QUEUE_NAMES.index(queue) % len(specs)]
        payload = spec.make_payload(rng)
        if n in rare_at:
            payload["tenant"] = RARE_TERM
        created = now - 86_400 + 86_400 * n / jobs
        if n < len(queues):
            state, worker, lease = "processing", f"bench-{queue}", now + 30
        else:
            state, worker, lease = _state(rng, n in dead_at), None, None
        finished = created + rng.uniform(0.05, 30) if state in ("completed", "dead") else None
        batch.append((
            queue, state, 0, json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            3 if state == "dead" else (1 if state == "processing" else 0), 3,
            rng.choice(errors) if state == "dead" else None, worker, created, finished or created,
            now + rng.uniform(5, 3600) if state == "scheduled" else None, lease, finished,
        ))
        if len(batch) == _BATCH:
            _insert(conn, batch)
            batch.clear()
    _insert(conn, batch)
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return dead_total


def _state(rng: random.Random, dead: bool) -> str:
    if dead:
        return "dead"
    roll = rng.random()
    if roll < 0.28:
        return "ready"
    if roll < 0.34:
        return "scheduled"
    return "completed"


def _insert(conn: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO jobs (queue, state, priority, payload, attempts, max_attempts, last_error,"
        " worker, created_at, updated_at, run_at, lease_until, finished_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )


def _sample_errors(rng: random.Random) -> list[str]:
    """Error texts from the demo's failure models."""
    errors: list[str] = []
    while len(errors) < 500:
        spec = rng.choice(simulation.SPECS)
        error = spec.outcome(rng, spec.make_payload(rng))
        if error:
            errors.append(error)
    return errors


def _cursor_at(backend: SQLiteBackend, queue: str, state: JobState, position: int) -> str | None:
    """A cursor about `position` jobs into the state, found by walking big pages."""
    cursor = None
    walked = 0
    while walked < position:
        page = backend.peek(queue, state, cursor=cursor, limit=500)
        if page.next_cursor is None:
            break
        cursor, walked = page.next_cursor, walked + len(page.jobs)
    return cursor


def _timed(operation: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = operation()
    return time.perf_counter() - started, result


def _format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.1f} ms"
    return f"{seconds:,.2f} s"


class _Table:
    """Rows of (operation, time, notes), printed aligned."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, operation: str, seconds: float, notes: str = "") -> None:
        self.rows.append((operation, _format_seconds(seconds), notes))

    def median(self, operation: str, run: Callable[[], object], runs: int, notes: str = "") -> None:
        seconds = statistics.median(_timed(run)[0] for _ in range(runs))
        self.add(operation, seconds, f"{notes}{', ' if notes else ''}median of {runs}")

    def print(self) -> None:
        header = ("operation", "time", "notes")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(3)]
        line = f"{{:<{widths[0]}}}  {{:>{widths[1]}}}  {{}}"
        print()
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print(line.format(*row).rstrip())
        print(f"\nSQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")
