"""Batch enqueue on SQLite: `python -m qtui.bench enqueue [--jobs N --runs N]`.

Puts the same payloads (the demo's e-mail jobs, as JSON Lines) into a fresh database each
run, four ways, in turn: the floor (one `executemany` of the prepared rows into the jobs
table in one transaction, nothing checked or counted), `SQLiteQueue.enqueue_many` in
batches, `qtui enqueue QUEUE --batch FILE` as a whole process, and for scale a sample
enqueued one job per transaction as `SQLiteQueue.enqueue` does. Every commit is synced
(the queue's default). Target: 1,000,000 jobs at 50,000 jobs/s or more.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qtui import simulation
from qtui.bench.processes import command_path, print_table, run_once
from qtui.cli.batch import DEFAULT_BATCH_SIZE
from qtui.sqlite_queue import SQLiteQueue

QUEUE = "email"
#: Jobs enqueued one per transaction: enough for a steady rate, few enough to wait for.
ONE_BY_ONE = 2_000


def payloads(jobs: int) -> list[dict[str, object]]:
    """`jobs` payloads like the demo's e-mail producer makes."""
    rng = random.Random(7)
    spec = next(s for s in simulation.SPECS if s.name == QUEUE)
    return [spec.make_payload(rng) for _ in range(jobs)]


def fresh_database(path: Path) -> Path:
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    SQLiteQueue.open(path, create=True).close()
    return path


def floor(path: Path, texts: list[str]) -> None:
    """The prepared rows into the jobs table with one executemany, synced, no trigger, no checks."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DROP TRIGGER jobs_inserted")
    now = time.time()
    conn.executemany(
        "INSERT INTO jobs (queue, state, priority, payload, max_attempts, created_at, updated_at, run_at)"
        " VALUES (?, 'ready', 0, ?, 3, ?, ?, NULL)", ((QUEUE, text, now, now) for text in texts))
    conn.execute("COMMIT")
    conn.close()


def count_jobs(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM jobs WHERE queue = ? AND state = 'ready'", (QUEUE,)).fetchone()[0]
    finally:
        conn.close()


def enqueue_many(path: Path, jobs: list[dict[str, object]]) -> None:
    with SQLiteQueue.open(path) as queue:
        for start in range(0, len(jobs), DEFAULT_BATCH_SIZE):
            queue.enqueue_many(QUEUE, jobs[start:start + DEFAULT_BATCH_SIZE])


def one_by_one(path: Path, jobs: list[dict[str, object]]) -> None:
    with SQLiteQueue.open(path) as queue:
        for job in jobs:
            queue.enqueue(QUEUE, job)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall, cpu) seconds of `run`: this process's CPU, or the child's when `run` returns run_once's figures."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = run()
    wall = time.perf_counter() - start
    if isinstance(result, tuple):  # a child process: its own CPU time
        return wall, result[1]
    after = resource.getrusage(resource.RUSAGE_SELF)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench enqueue", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs per run (default %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each way (default %(default)s)")
    args = parser.parse_args(argv)
    qtui = command_path("qtui")
    if qtui is None:
        print("needs the qtui command (pip install -e .)", file=sys.stderr)
        return 1
    jobs = payloads(args.jobs)
    texts = [json.dumps(job, ensure_ascii=False, separators=(",", ":")) for job in jobs]
    sample = jobs[:min(ONE_BY_ONE, args.jobs)]
    with tempfile.TemporaryDirectory(prefix="qtui-bench-enqueue-") as tmp:
        root = Path(tmp)
        lines = root / "jobs.jsonl"
        lines.write_text("".join(text + "\n" for text in texts))
        db = root / "queue.db"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cli = [qtui, "enqueue", "--db", str(db), QUEUE, "--batch", str(lines)]
        ways: dict[str, tuple[int, Callable[[], object]]] = {
            "floor: executemany, one transaction": (args.jobs, lambda: floor(db, texts)),
            f"SQLiteQueue.enqueue_many, {DEFAULT_BATCH_SIZE:,} a batch": (args.jobs, lambda: enqueue_many(db, jobs)),
            f"qtui enqueue --batch FILE (process, {DEFAULT_BATCH_SIZE:,} a batch)": (args.jobs, lambda: run_once(cli, env)),
            "SQLiteQueue.enqueue, one per transaction": (len(sample), lambda: one_by_one(db, sample)),
        }
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.runs):
            for name, (count, run) in ways.items():
                fresh_database(db)
                wall, used = timed(run)
                seconds[name].append(wall)
                cpu[name].append(used)
                written = count_jobs(db)
                if written != count:
                    raise RuntimeError(f"{name}: {written:,} jobs in the database, not {count:,}")
    floor_rate = args.jobs / statistics.median(seconds["floor: executemany, one transaction"])
    rows = []
    for name, (count, _) in ways.items():
        best, median = min(seconds[name]), statistics.median(seconds[name])
        rate = count / median
        rows.append((name, f"{count:,}", f"{best:.2f} s", f"{median:.2f} s", f"{rate:,.0f}",
                     f"{rate / floor_rate:.2f}", f"{min(cpu[name]):.2f} s", f"{statistics.median(cpu[name]):.2f} s",
                     f"{count / min(cpu[name]):,.0f}"))
    print_table(f"Enqueue on SQLite, synced commits, {args.runs} runs each in turn on a fresh database "
                f"(SQLite {sqlite3.sqlite_version}; target: 50,000 jobs/s; CPU: user + system time of the "
                "process doing the work, which a busy machine inflates less than the wall clock)",
                ("way", "jobs", "min", "median", "jobs/s (median)", "x floor", "CPU min", "CPU median",
                 "jobs per CPU-s (best)"), rows)
    return 0
