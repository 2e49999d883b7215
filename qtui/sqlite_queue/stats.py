"""Queue statistics and workers, read from the counters, never by counting jobs.

A poll of an unchanged database reads none of it: :class:`StatsReader` keeps the rows of the
last read and reads again only when the database's change counter moved.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import attrs

from qtui.model import JobState, QueueStats, Snapshot, WorkerInfo
from qtui.sqlite_queue.db import BUCKET_SECONDS, Database

#: Buckets in the last minute: the rates and the `history` sparkline cover these.
HISTORY_BUCKETS = 60 // BUCKET_SECONDS


def _first_bucket(now: float) -> int:
    return int(now // BUCKET_SECONDS) - HISTORY_BUCKETS + 1


@attrs.frozen
class StatsRows:
    """What the stats tables held: enough to make a snapshot at any later time, until they change."""

    queues: tuple[tuple[str, float | None], ...]  # name, created_at of its oldest ready job
    counts: tuple[tuple[str, str, int], ...]  # queue, state, jobs
    rates: tuple[tuple[int, str, int, int, int], ...]  # bucket, queue, enqueued, completed, failed
    since: int  # the first rate bucket read (later buckets, however far, are all there)
    workers: tuple[tuple[Any, ...], ...]  # the workers' rows, their queues decoded


def read_rows(conn: sqlite3.Connection, now: float) -> StatsRows:
    """The stats rows, inside the caller's read transaction.

    Cost: a few index lookups per queue and a scan of the rate buckets of the last
    minute (HISTORY_BUCKETS per queue); independent of the number of jobs.
    """
    since = _first_bucket(now)
    queues = tuple(conn.execute(
        "SELECT name, (SELECT created_at FROM jobs INDEXED BY jobs_by_queue_state"
        "              WHERE queue = name AND state = 'ready' ORDER BY id LIMIT 1)"
        " FROM queues ORDER BY name"
    ))
    counts = tuple(conn.execute("SELECT queue, state, n FROM queue_counts WHERE n > 0"))
    rates = tuple(conn.execute(
        "SELECT bucket, queue, enqueued, completed, failed FROM rates WHERE bucket >= ?", (since,)
    ))
    workers = tuple(
        (worker_id, tuple(json.loads(queue_names)), *rest)
        for worker_id, queue_names, *rest in conn.execute(
            "SELECT id, queues, host, pid, started_at, last_seen, lease_seconds, current_job,"
            " processed, failed FROM workers ORDER BY started_at, id"
        )
    )
    return StatsRows(queues, counts, rates, since, workers)


def snapshot_of(rows: StatsRows, now: float) -> Snapshot:
    """Stats for every queue and the workers as of `now`, from `rows`."""
    counts: dict[str, dict[JobState, int]] = {name: {} for name, _ in rows.queues}
    for name, state, n in rows.counts:
        if name in counts:
            counts[name][JobState(state)] = n
    current = int(now // BUCKET_SECONDS)
    first = current - HISTORY_BUCKETS + 1
    rates: dict[str, list[int]] = {name: [0, 0, 0] for name in counts}
    history: dict[str, list[int]] = {name: [0] * HISTORY_BUCKETS for name in counts}
    for bucket, name, enqueued, completed, failed in rows.rates:
        if name in rates and first <= bucket <= current:
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
            oldest_ready_at=oldest_ready_at,
            history=tuple(history[name]),
        )
        for name, oldest_ready_at in rows.queues
    )
    return Snapshot(queues=queues, workers=workers_of(rows, now), taken_at=now)


def workers_of(rows: StatsRows, now: float) -> tuple[WorkerInfo, ...]:
    """Every registered worker, longest running first."""
    return tuple(
        WorkerInfo(
            id=worker_id,
            queues=queues,
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
        ) in rows.workers
    )


class StatsReader:
    """Snapshots of one database that read its tables only when something was committed since.

    Between two commits a snapshot is made again from the rows read before: ages, the
    rates' minute and whether a worker is alive follow the clock; nothing else can change.
    Safe to share between threads.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._kept: tuple[int, StatsRows] | None = None  # (data version, its rows)
        #: Times the stats tables were read (a snapshot of an unchanged database reads none).
        self.reads = 0

    def snapshot(self, now: float) -> Snapshot:
        """Counts, rates and workers of every queue as of `now`."""
        version = self._database.data_version()  # before the read: a commit after it reads again
        with self._lock:
            kept = self._kept
        if kept is None or kept[0] != version or _first_bucket(now) < kept[1].since:
            with self._database.read() as conn:
                rows = read_rows(conn, now)
            with self._lock:
                self._kept = version, rows
                self.reads += 1
        else:
            rows = kept[1]
        return snapshot_of(rows, now)
