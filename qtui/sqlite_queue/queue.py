"""Producers and workers of the SQLite job queue."""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from qtui.model import BackendError, InvalidBatchItem, InvalidInput, Snapshot, check_queue_name
from qtui.clock import WallClock
from qtui.sqlite_queue.db import BUCKET_SECONDS, Database
from qtui.sqlite_queue.stats import StatsReader

log = logging.getLogger(__name__)


#: Longest error text kept on a job; longer ones are cut (tracebacks can be huge).
MAX_ERROR_CHARS = 16_384

#: Batches this big or bigger are counted once, not by the per-row trigger (see _insert_jobs).
_BULK_ROWS = 64

#: Rows deleted per transaction when pruning, so workers are never held up for long.
_PRUNE_BATCH = 5_000

#: Pause after a database error in `Worker.run` before trying again.
_RETRY_PAUSE = 1.0

_JOB_COLUMNS = "id, queue, payload, attempts, max_attempts, deliveries"


class LeaseLost(Exception):
    """The job is no longer this worker's: its lease expired and it was taken back, or removed."""


@attrs.frozen
class Retention:
    """How much history `SQLiteQueue.maintenance()` keeps."""

    keep_completed: int = attrs.field(default=10_000, validator=attrs.validators.ge(1))  # per queue
    completed_max_age: float = 7 * 86_400.0  # seconds a completed job is kept at most
    forget_workers_after: float = 86_400.0  # seconds after which a silent worker is forgotten
    rates_max_age: float = 3_600.0  # seconds of rate buckets kept


@attrs.frozen
class ReservedJob:
    """A job a worker holds under a lease."""

    id: str
    queue: str
    payload: Any  # the decoded JSON payload
    attempt: int  # 1 for the first try
    max_attempts: int
    delivery: int  # which reservation of this job this is; fences off stale holders


def encode_payload(payload: object) -> str:
    """JSON text for a payload: objects are serialised, text must already be strict JSON."""
    if isinstance(payload, str):
        try:
            _STRICT_JSON.decode(payload)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except ValueError as exc:
            raise InvalidInput(f"payload is not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidInput("payload is not valid JSON: nested too deeply") from None
        return payload
    try:
        return _COMPACT_JSON.encode(payload)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"payload cannot be stored as JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("payload cannot be stored as JSON: nested too deeply") from None


def _is_int32(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


#: Strict JSON: NaN and Infinity are not JSON (made once: json.loads with options makes one per call).
_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)
#: Compact strict JSON text for payloads given as objects (made once, as json.dumps with options does per call).
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class SQLiteQueue:
    """A durable job queue in one SQLite file, shared safely by threads and processes."""

    def __init__(
        self,
        database: Database,
        *,
        clock: WallClock = time.time,
        retention: Retention = Retention(),
    ) -> None:
        self.database = database
        self.clock = clock
        self.retention = retention
        self.stats_reader = StatsReader(database)  # reads the stats tables only after a commit

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = False,
        read_only: bool = False,
        busy_timeout: float = 5.0,
        durable: bool = True,
        clock: WallClock = time.time,
        retention: Retention = Retention(),
    ) -> SQLiteQueue:
        """Open the queue database at `path`; `create` makes it if missing.

        `busy_timeout` is how long to wait for another process's write lock.
        `durable=False` skips syncing every commit to disk: a crash of the program
        loses nothing, a power cut may lose the last commits. Raises
        BackendUnavailable with a plain message (missing, locked, corrupt, newer schema).
        """
        database = Database(
            path, read_only=read_only, create=create, busy_timeout=busy_timeout, durable=durable
        )
        return cls(database, clock=clock, retention=retention)

    def close(self) -> None:
        """Close the database connections."""
        self.database.close()

    def __enter__(self) -> SQLiteQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- producing -----------------------------------------------------------

    def enqueue(
        self,
        queue: str,
        payload: object,
        *,
        priority: int = 0,
        max_attempts: int = 3,
        delay: float = 0.0,
    ) -> str:
        """Add a job and return its id.

        `payload` is JSON text or a JSON-serialisable object. Higher `priority` runs
        first. With `delay` > 0 the job is scheduled to become ready that many
        seconds from now.
        """
        return self._add(queue, [encode_payload(payload)], priority, max_attempts, delay)[0]

    def enqueue_many(
        self,
        queue: str,
        payloads: Iterable[object],
        *,
        priority: int = 0,
        max_attempts: int = 3,
        delay: float = 0.0,
    ) -> list[str]:
        """Add several jobs in one transaction (all or none); returns their ids in order.

        Every payload is checked before anything is written: one that is not JSON raises
        InvalidBatchItem naming its position, and no job is added.
        """
        texts = []
        scan = _STRICT_JSON.scan_once
        for position, payload in enumerate(payloads, 1):
            if type(payload) is str:
                # The common case at C speed: exactly one JSON value, nothing around it. Anything
                # else (surrounding whitespace, an error) takes encode_payload's way, which has
                # the same verdict and says what is wrong.
                try:
                    if scan(payload, 0)[1] == len(payload):
                        texts.append(payload)
                        continue
                except (StopIteration, ValueError, RecursionError):
                    pass
            try:
                texts.append(encode_payload(payload))
            except InvalidInput as exc:
                raise InvalidBatchItem(position, str(exc)) from None
        return self._add(queue, texts, priority, max_attempts, delay)

    def _add(
        self, queue: str, texts: Sequence[str], priority: int, max_attempts: int, delay: float
    ) -> list[str]:
        check_queue_name(queue)
        if not _is_int32(priority):
            raise InvalidInput(
                f"priority must be a whole number from -2**31 to 2**31-1, not {priority!r}"
            )
        if not _is_int32(max_attempts) or max_attempts < 1:
            raise InvalidInput(
                f"max_attempts must be a positive whole number, not {max_attempts!r}"
            )
        if not isinstance(delay, int | float) or not 0 <= delay < math.inf:
            raise InvalidInput(f"delay must be a number of seconds, 0 or more, not {delay!r}")
        if not texts:
            return []
        now = self.clock()
        state, run_at = ("scheduled", now + delay) if delay > 0 else ("ready", None)
        with self.database.write() as conn:
            register_queue(conn, queue, now)
            first = _insert_jobs(conn, queue, state, texts, priority=priority,
                                 max_attempts=max_attempts, now=now, run_at=run_at)
        return list(map(str, range(first, first + len(texts))))

    # -- consuming -----------------------------------------------------------

    def worker(
        self,
        queues: Sequence[str],
        *,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        retry_base: float = 2.0,
        retry_cap: float = 3_600.0,
    ) -> Worker:
        """Register a worker taking jobs from `queues`, tried in the given order."""
        return Worker(
            self,
            queues,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
            retry_base=retry_base,
            retry_cap=retry_cap,
        )

    # -- watching and housekeeping ---------------------------------------------

    def snapshot(self) -> Snapshot:
        """Counts, rates and workers of every queue; cost grows with queues, not jobs."""
        return self.stats_reader.snapshot(self.clock())

    def maintenance(self) -> int:
        """Reclaim expired leases, prune old completed jobs, rate buckets and forgotten workers.

        Workers call this periodically; returns how many completed jobs were pruned.
        """
        now = self.clock()
        with self.database.write() as conn:
            release_due_jobs(conn, now)
            conn.execute(
                "DELETE FROM rates WHERE bucket < ?",
                (int((now - self.retention.rates_max_age) // BUCKET_SECONDS),),
            )
            conn.execute(
                "DELETE FROM workers WHERE last_seen < ?",
                (now - self.retention.forget_workers_after,),
            )
            queues = conn.execute(
                "SELECT queue, n FROM queue_counts WHERE state = 'completed' AND n > 0"
            ).fetchall()
        return sum(self._prune_completed(queue, count, now) for queue, count in queues)

    def _prune_completed(self, queue: str, count: int, now: float) -> int:
        cutoff = now - self.retention.completed_max_age
        if count > self.retention.keep_completed:
            with self.database.read() as conn:
                row = conn.execute(
                    "SELECT finished_at FROM jobs INDEXED BY jobs_completed"
                    " WHERE queue = ? AND state = 'completed'"
                    " ORDER BY finished_at DESC LIMIT 1 OFFSET ?",
                    (queue, self.retention.keep_completed - 1),
                ).fetchone()
            if row is not None:
                cutoff = max(cutoff, row[0])
        pruned = 0
        while True:
            with self.database.write() as conn:
                deleted = conn.execute(
                    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_completed"
                    " WHERE queue = ? AND state = 'completed' AND finished_at < ? LIMIT ?)",
                    (queue, cutoff, _PRUNE_BATCH),
                ).rowcount
            pruned += deleted
            if deleted < _PRUNE_BATCH:
                return pruned


def register_queue(conn: Any, queue: str, now: float) -> None:
    """Record `queue` in the registry if it is new (inside the caller's write transaction)."""
    conn.execute("INSERT OR IGNORE INTO queues (name, created_at) VALUES (?, ?)", (queue, now))


def _insert_jobs(
    conn: Any, queue: str, state: str, texts: Sequence[str], *,
    priority: int, max_attempts: int, now: float, run_at: float | None,
) -> int:
    """Insert a job per payload text (inside the caller's write transaction); returns the first id.

    The ids are consecutive: the transaction holds the write lock and ids only grow
    (AUTOINCREMENT). A big batch is counted once instead of row by row: the counting trigger
    is dropped, the count and the rate added as it would have, and the trigger created again
    from its stored text, all in the same transaction, so no other connection sees it missing.
    """
    trigger = conn.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'jobs_inserted'"
    ).fetchone()
    counted_once = trigger is not None and len(texts) >= _BULK_ROWS
    if counted_once:
        conn.execute("DROP TRIGGER jobs_inserted")
    conn.executemany(
        "INSERT INTO jobs (payload, queue, state, priority, max_attempts,"
        " created_at, updated_at, run_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        zip(texts, *(itertools.repeat(value) for value in (queue, state, priority, max_attempts, now, now, run_at))),
    )
    last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
    if counted_once:
        conn.execute(
            "INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?)"
            " ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n",
            (queue, state, len(texts)),
        )
        conn.execute(
            f"INSERT INTO rates (bucket, queue, enqueued)"
            f" VALUES (CAST(? / {BUCKET_SECONDS} AS INTEGER), ?, ?)"
            " ON CONFLICT (bucket, queue) DO UPDATE SET enqueued = enqueued + excluded.enqueued",
            (now, queue, len(texts)),
        )
        conn.execute(trigger[0])
    return last - len(texts) + 1


def release_due_jobs(conn: Any, now: float) -> None:
    """Make due retries ready, and take back jobs whose worker let the lease expire.

    The indexes are named: SQLite's planner would rather scan every scheduled or
    processing job by state than use the partial index on the time.
    """
    conn.execute(
        "UPDATE jobs INDEXED BY jobs_scheduled SET state = 'ready', run_at = NULL, updated_at = ?"
        " WHERE state = 'scheduled' AND run_at <= ?",
        (now, now),
    )
    reclaimed = conn.execute(
        "UPDATE jobs INDEXED BY jobs_leases SET"
        " state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END,"
        " finished_at = CASE WHEN attempts >= max_attempts THEN ? END,"
        " last_error = 'lease expired (worker ' || coalesce(worker, '?')"
        "              || ' stopped heartbeating)',"
        " lease_until = NULL, updated_at = ?"
        " WHERE state = 'processing' AND lease_until < ?"
        " RETURNING id",
        (now, now, now),
    ).fetchall()
    if reclaimed:
        conn.execute(
            "UPDATE workers SET current_job = NULL"
            " WHERE current_job IN (SELECT value FROM json_each(?))",
            (json.dumps([job_id for (job_id,) in reclaimed]),),
        )


class Worker:
    """Takes jobs from some queues and reports how they went.

    Use `run(handler, stop)` for the usual loop, or `reserve()` then `ack()` /
    `fail()` (and `heartbeat()` during long jobs) by hand.
    """

    def __init__(
        self,
        owner: SQLiteQueue,
        queues: Sequence[str],
        *,
        worker_id: str | None,
        lease_seconds: float,
        retry_base: float,
        retry_cap: float,
        poll_interval: float = 0.05,
    ) -> None:
        if isinstance(queues, str) or not queues:
            raise InvalidInput("a worker needs a list of at least one queue name")
        self.queues = tuple(check_queue_name(q) for q in queues)
        if lease_seconds <= 0:
            raise InvalidInput(f"lease_seconds must be positive, not {lease_seconds!r}")
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.poll_interval = poll_interval
        self._owner = owner
        self._database = owner.database
        self._clock = owner.clock
        self._last_seen_written = 0.0
        now = self._clock()
        with self._database.write() as conn:
            conn.execute(
                "INSERT INTO workers (id, queues, host, pid, started_at, last_seen, lease_seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " queues = excluded.queues, host = excluded.host, pid = excluded.pid,"
                " started_at = excluded.started_at, last_seen = excluded.last_seen,"
                " lease_seconds = excluded.lease_seconds, current_job = NULL",
                (self.id, json.dumps(self.queues), socket.gethostname(), os.getpid(), now, now,
                 lease_seconds),
            )
        self._last_seen_written = now

    @property
    def heartbeat_interval(self) -> float:
        """How often a held job's lease is extended (a third of the lease)."""
        return self.lease_seconds / 3

    def close(self) -> None:
        """Unregister the worker (a stopped worker is not shown as one)."""
        with self._database.write() as conn:
            conn.execute("DELETE FROM workers WHERE id = ?", (self.id,))

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one job at a time ---------------------------------------------------

    def reserve(self, timeout: float | None = None) -> ReservedJob | None:
        """Take the best ready job of this worker's queues, waiting up to `timeout` seconds.

        `timeout=None` waits until a job arrives, 0 does not wait. Returns None when
        the time is up. The job is leased for `lease_seconds`.
        """
        return self._reserve_waiting(timeout, None)

    def heartbeat(self, job: ReservedJob) -> None:
        """Extend the lease on `job`; raises LeaseLost if it is no longer ours."""
        now = self._clock()
        with self._database.write() as conn:
            self._update_own(
                conn, job, "lease_until = ?", (now + self.lease_seconds,)
            )
            self._touch(conn, now)

    def ack(self, job: ReservedJob) -> None:
        """Mark `job` completed; raises LeaseLost if it is no longer ours."""
        now = self._clock()
        with self._database.write() as conn:
            self._update_own(
                conn,
                job,
                "state = 'completed', finished_at = ?, updated_at = ?, lease_until = NULL",
                (now, now),
            )
            conn.execute(
                "UPDATE workers SET processed = processed + 1, current_job = NULL, last_seen = ?"
                " WHERE id = ?",
                (now, self.id),
            )
        self._last_seen_written = now

    def fail(self, job: ReservedJob, error: str) -> None:
        """Record a failed attempt: retry later with backoff, or dead when out of attempts.

        Raises LeaseLost if the job is no longer ours.
        """
        # Whatever the handler's exception said must be recordable: no lone surrogates.
        error = str(error).encode("utf-8", "replace").decode("utf-8")
        if len(error) > MAX_ERROR_CHARS:
            error = error[: MAX_ERROR_CHARS - 1] + "…"
        now = self._clock()
        if job.attempt < job.max_attempts:
            assignment = "state = 'scheduled', run_at = ?"
            values: tuple[object, ...] = (now + self.backoff(job.attempt),)
        else:
            assignment = "state = 'dead', finished_at = ?"
            values = (now,)
        with self._database.write() as conn:
            self._update_own(
                conn,
                job,
                f"{assignment}, last_error = ?, updated_at = ?, lease_until = NULL",
                (*values, error, now),
            )
            conn.execute(
                "UPDATE workers SET failed = failed + 1, current_job = NULL, last_seen = ?"
                " WHERE id = ?",
                (now, self.id),
            )
        self._last_seen_written = now

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retrying after failed attempt number `attempt`."""
        delay = min(self.retry_cap, self.retry_base * 2 ** (attempt - 1))
        return delay + random.uniform(0, delay / 4)  # jitter spreads out retry stampedes

    # -- the loop ----------------------------------------------------------------

    def run(
        self,
        handler: Callable[[ReservedJob], object],
        stop: threading.Event,
        *,
        maintenance_interval: float = 60.0,
    ) -> None:
        """Process jobs until `stop` is set: ack when `handler` returns, fail when it raises.

        The lease is extended in the background while the handler runs, and
        `maintenance()` runs every `maintenance_interval` seconds.
        """
        next_maintenance = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() >= next_maintenance:
                    self._owner.maintenance()
                    next_maintenance = time.monotonic() + maintenance_interval
                job = self._reserve_waiting(max(0.0, next_maintenance - time.monotonic()), stop)
                if job is not None:
                    self._process(job, handler)
            except BackendError as exc:  # e.g. locked for longer than the busy timeout
                log.warning("%s: %s; retrying in %g s", self.id, exc, _RETRY_PAUSE)
                stop.wait(_RETRY_PAUSE)

    def _process(self, job: ReservedJob, handler: Callable[[ReservedJob], object]) -> None:
        finished = threading.Event()
        beating = threading.Thread(
            target=self._beat_until, args=(job, finished), name=f"heartbeat {self.id}", daemon=True
        )
        beating.start()
        error: str | None = None
        try:
            handler(job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            finished.set()
            beating.join()
        try:
            if error is None:
                self.ack(job)
            else:
                self.fail(job, error)
        except LeaseLost as exc:
            log.warning("%s: %s", self.id, exc)

    def _beat_until(self, job: ReservedJob, finished: threading.Event) -> None:
        while not finished.wait(self.heartbeat_interval):
            try:
                self.heartbeat(job)
            except LeaseLost:
                return  # ack or fail will report it
            except Exception:
                log.exception("%s: heartbeat for job %s failed", self.id, job.id)

    # -- internals -----------------------------------------------------------

    def _reserve_waiting(
        self, timeout: float | None, stop: threading.Event | None
    ) -> ReservedJob | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self._try_reserve()
            if job is not None:
                return job
            if deadline is None:
                wait = self.poll_interval
            else:
                wait = min(self.poll_interval, deadline - time.monotonic())
                if wait <= 0:
                    return None
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                return None

    def _try_reserve(self) -> ReservedJob | None:
        now = self._clock()
        if not self._work_waiting(now):
            if now - self._last_seen_written >= self.heartbeat_interval:
                with self._database.write() as conn:
                    self._touch(conn, now)
            return None
        with self._database.write() as conn:
            release_due_jobs(conn, now)
            for queue in self.queues:
                row = conn.execute(
                    "UPDATE jobs SET state = 'processing', worker = ?, attempts = attempts + 1,"
                    " deliveries = deliveries + 1,"
                    " lease_until = ?, updated_at = ?, run_at = NULL"
                    " WHERE id = (SELECT id FROM jobs INDEXED BY jobs_ready"
                    "             WHERE queue = ? AND state = 'ready'"
                    "             ORDER BY priority DESC, id LIMIT 1)"
                    f" RETURNING {_JOB_COLUMNS}",
                    (self.id, now + self.lease_seconds, now, queue),
                ).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE workers SET current_job = ?, last_seen = ? WHERE id = ?",
                        (row[0], now, self.id),
                    )
                    self._last_seen_written = now
                    return _reserved(row)
            self._touch(conn, now)
        return None

    def _work_waiting(self, now: float) -> bool:
        """A cheap read-only check, so idle workers do not queue up for the write lock."""
        marks = ",".join("?" * len(self.queues))
        with self._database.read() as conn:
            return bool(
                conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_ready"
                    f"              WHERE state = 'ready' AND queue IN ({marks}))"
                    " OR EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_scheduled"
                    "            WHERE state = 'scheduled' AND run_at <= ?)"
                    " OR EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_leases"
                    "            WHERE state = 'processing' AND lease_until < ?)",
                    (*self.queues, now, now),
                ).fetchone()[0]
            )

    def _update_own(
        self, conn: Any, job: ReservedJob, assignments: str, values: tuple[object, ...]
    ) -> None:
        # The delivery number fences off a holder whose lease expired, even if the
        # job was then reserved again by the same worker.
        changed = conn.execute(
            f"UPDATE jobs SET {assignments}"
            " WHERE id = ? AND state = 'processing' AND worker = ? AND deliveries = ?",
            (*values, int(job.id), self.id, job.delivery),
        ).rowcount
        if not changed:
            raise LeaseLost(
                f"job {job.id} (delivery {job.delivery}) is no longer held by worker {self.id}:"
                " its lease expired or it was removed"
            )

    def _touch(self, conn: Any, now: float) -> None:
        conn.execute("UPDATE workers SET last_seen = ? WHERE id = ?", (now, self.id))
        self._last_seen_written = now


def _reserved(row: tuple[Any, ...]) -> ReservedJob:
    job_id, queue, payload, attempts, max_attempts, deliveries = row
    return ReservedJob(
        id=str(job_id),
        queue=queue,
        payload=json.loads(payload),
        attempt=attempts,
        max_attempts=max_attempts,
        delivery=deliveries,
    )
