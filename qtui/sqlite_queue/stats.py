"""Queue statistics and workers, read from the counters, never by counting jobs."""

from __future__ import annotations

import json
import sqlite3

from qtui.model import JobState, QueueStats, Snapshot, WorkerInfo
from qtui.sqlite_queue.db import BUCKET_SECONDS

#: Buckets in the last minute: the rates and the `history` sparkline cover these.
HISTORY_BUCKETS = 60 // BUCKET_SECONDS


def read_snapshot(conn: sqlite3.Connection, now: float) -> Snapshot:
    """Stats for every queue and the workers, inside the caller's read transaction.

    Cost: a few index lookups per queue and a scan of the rate buckets of the last
    minute (HISTORY_BUCKETS per queue); independent of the number of jobs.
    """
    counts: dict[str, dict[JobState, int]] = {}
    oldest: dict[str, float | None] = {}
    for name, oldest_ready_at in conn.execute(
        "SELECT name, (SELECT created_at FROM jobs INDEXED BY jobs_by_queue_state"
        "              WHERE queue = name AND state = 'ready' ORDER BY id LIMIT 1)"
        " FROM queues ORDER BY name"
    ):
        counts[name] = {}
        oldest[name] = oldest_ready_at
    for name, state, n in conn.execute("SELECT queue, state, n FROM queue_counts WHERE n > 0"):
        if name in counts:
            counts[name][JobState(state)] = n
    current = int(now // BUCKET_SECONDS)
    first = current - HISTORY_BUCKETS + 1
    rates: dict[str, list[int]] = {name: [0, 0, 0] for name in counts}
    history: dict[str, list[int]] = {name: [0] * HISTORY_BUCKETS for name in counts}
    for bucket, name, enqueued, completed, failed in conn.execute(
        "SELECT bucket, queue, enqueued, completed, failed FROM rates"
        " WHERE bucket BETWEEN ? AND ?",
        (first, current),
    ):
        if name in rates:
            total = rates[name]
            total[0] += enqueued
            total[1] += completed
            total[2] += failed
            history[name][bucket - first] += completed
    queues = tuple(
        QueueStats(
            name=name,
            counts=counts[name],
            enqueued_per_min=float(rates[name][0]),
            completed_per_min=float(rates[name][1]),
            failed_per_min=float(rates[name][2]),
            oldest_ready_at=oldest[name],
            history=tuple(history[name]),
        )
        for name in counts
    )
    return Snapshot(queues=queues, workers=read_workers(conn, now), taken_at=now)


def read_workers(conn: sqlite3.Connection, now: float) -> tuple[WorkerInfo, ...]:
    """Every registered worker, longest running first."""
    return tuple(
        WorkerInfo(
            id=worker_id,
            queues=tuple(json.loads(queues)),
            host=host,
            pid=pid,
            started_at=started_at,
            last_seen=last_seen,
            current_job=None if current_job is None else str(current_job),
            processed=processed,
            failed=failed,
            # Workers write last_seen every third of a lease: alive = seen within 3 intervals.
            alive=now - last_seen <= lease_seconds,
        )
        for (
            worker_id, queues, host, pid, started_at, last_seen, lease_seconds, current_job,
            processed, failed,
        ) in conn.execute(
            "SELECT id, queues, host, pid, started_at, last_seen, lease_seconds, current_job,"
            " processed, failed FROM workers ORDER BY started_at, id"
        )
    )
