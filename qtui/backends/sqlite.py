"""Admin backend for the SQLite job queue (qtui.sqlite_queue).

Paging is keyset paging by job id (oldest first), so a page costs the same at the
start and the end of a million-job state. Requeue moves dead jobs back to ready
with their attempts reset to 0; the last error is kept (it is replaced when the
job next fails), and a job moved to another queue records the queue it came from
in `origin`.

Requeues and purges are journaled operations (qtui.backends.journal): jobs in id
order, CHUNK per write transaction, which also moves the operation's row in the
`qtui_operations` table; the cursor is the last job id taken.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from qtui.backends.base import MAX_OLDEST_QUEUES, Backend
from qtui.backends.journal import Operation, OperationGone, SQLiteJournal, owner_id
from qtui.backends.payload_fields import MAX_PAYLOAD_BYTES, GroupCounter, scalar_text
from qtui.clock import WallClock
from qtui.model import MALFORMED, GroupCounts, InvalidInput, Job, JobState, NotFound, Page, Snapshot
from qtui.sqlite_queue import Database, SQLiteQueue
from qtui.sqlite_queue.queue import register_queue

_COLUMNS = (
    "id, queue, state, payload, priority, attempts, max_attempts, last_error, worker,"
    " created_at, updated_at, run_at, lease_until, finished_at, origin"
)

_MAX_ROWID = 2**63 - 1

#: Jobs one requeue or purge transaction takes.
CHUNK = 5000


def open_sqlite(target: str, *, clock: WallClock, read_only: bool, create: bool) -> SQLiteBackend:
    """Open a file path, or ``sqlite://`` + path (``sqlite:///abs.db``, ``sqlite://rel.db``)."""
    path = target[len("sqlite://") :] if target.lower().startswith("sqlite://") else target
    if not path:
        raise InvalidInput(f"no database path in {target!r}")
    return SQLiteBackend(path, clock=clock, read_only=read_only, create=create)


class SQLiteBackend(Backend):
    """The admin interface over one queue database file. Thread-safe."""

    #: SQLite's own limit on a string (SQLITE_MAX_LENGTH as Python's sqlite3 builds it).
    max_payload_bytes = 1_000_000_000

    def __init__(
        self,
        path: str,
        *,
        clock: WallClock,
        read_only: bool = False,
        create: bool = False,
        busy_timeout: float = 5.0,
    ) -> None:
        super().__init__(clock=clock, read_only=read_only)
        self._database = Database(
            path, read_only=read_only, create=create, busy_timeout=busy_timeout
        )
        self._queue = SQLiteQueue(self._database, clock=clock)
        self.display_name = self._database.label

    def close(self) -> None:
        self._database.close()

    # -- reads ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self._queue.snapshot()

    def _peek(
        self, queue: str | None, state: JobState, text: str | None, cursor: str | None, limit: int
    ) -> Page:
        condition, state_params, index = _state_and_queue(state, queue)
        where = [condition]
        params: list[Any] = list(state_params)
        if cursor is not None:
            where.append("id > ?")
            params.append(_parse_cursor(cursor))
        if text is not None:
            condition, values = _text_condition(text)
            where.append(condition)
            params.extend(values)
        with self._database.read() as conn:
            if queue is not None:
                _check_queue_exists(conn, queue)
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs INDEXED BY {index}"
                f" WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
                (*params, limit),
            ).fetchall()
        jobs = tuple(_job_from_row(row) for row in rows)
        next_cursor = f"after:{jobs[-1].id}" if len(jobs) == limit else None
        return Page(jobs=jobs, next_cursor=next_cursor)

    def _oldest(self, queue: str | None, state: JobState) -> tuple[Job, ...]:
        with self._database.read() as conn:
            if queue is not None:
                _check_queue_exists(conn, queue)
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE id IN ("
                " SELECT (SELECT id FROM jobs INDEXED BY jobs_by_queue_state"
                "         WHERE queue = name AND state = ? ORDER BY id LIMIT 1)"
                " FROM queues WHERE ?2 IS NULL OR name = ?2 ORDER BY name LIMIT ?)"
                " ORDER BY queue",
                (state.value, queue, MAX_OLDEST_QUEUES),
            ).fetchall()
        return tuple(_job_from_row(row) for row in rows)

    def _count_by(
        self, queue: str | None, state: JobState, keys: tuple[str, ...], older_than: float | None, limit: int
    ) -> GroupCounts:
        # One pass over the `limit` oldest jobs by index; SQLite parses each payload once (its
        # JSON functions share the parse of a value within a row). A text value comes as JSON
        # (in an array: json_extract with two paths): as SQL text it would end at a NUL.
        path = "$" + "".join(f'."{key}"' for key in keys)
        where, params, index = _state_and_queue(state, queue)
        with self._database.read() as conn:
            if queue is not None:
                _check_queue_exists(conn, queue)
            rows = conn.execute(
                "SELECT kind, value, count(*), min(created_at), total(created_at < ?), max(created_at) FROM ("
                " SELECT created_at, kind, CASE kind WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
                "   WHEN 'text' THEN json_extract(payload, ?2, ?2) WHEN 'integer' THEN json_extract(payload, ?2)"
                "   WHEN 'real' THEN json_extract(payload, ?2) END AS value FROM ("
                "  SELECT created_at, payload, CASE"
                "   WHEN length(CAST(payload AS BLOB)) > ? OR NOT json_valid(payload) THEN 'unreadable'"
                "   ELSE coalesce(json_type(payload, ?2), 'missing') END AS kind"
                f"  FROM jobs INDEXED BY {index} WHERE {where} ORDER BY id LIMIT ?))"
                " GROUP BY kind, value",
                (older_than if older_than is not None else float("-inf"), path, MAX_PAYLOAD_BYTES, *params, limit),
            ).fetchall()
            scanned = sum(row[2] for row in rows)
            more = scanned == limit and conn.execute(
                f"SELECT 1 FROM jobs INDEXED BY {index} WHERE {where} ORDER BY id LIMIT 1 OFFSET ?",
                (*params, limit),
            ).fetchone() is not None
        counter = GroupCounter()
        unreadable = 0
        for kind, value, count, oldest, older, newest in rows:
            counter.seen(newest)
            if kind == "unreadable":
                unreadable += count
            else:
                value = json.loads(value)[0] if kind == "text" else value
                counter.add(scalar_text(value), count, oldest, int(older))
        return counter.result(scanned=scanned, unreadable=unreadable, complete=not more)

    def _job(self, job_id: str, progress: Callable[[int, int], None] | None = None) -> Job | None:
        """By primary key: no scan, so no progress to report."""
        number = _job_number(job_id)
        if number is None:
            return None
        with self._database.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (number,)).fetchone()
        return None if row is None else _job_from_row(row)

    # -- writes --------------------------------------------------------------

    def _enqueue(self, queue: str, payload: str, priority: int) -> Job:
        job_id = self._queue.enqueue(queue, payload, priority=priority)
        job = self._job(job_id)
        if job is None:  # another console purged it in the blink of an eye
            raise NotFound(f"job {job_id} was enqueued, then removed before it could be read back")
        return job

    def _enqueue_many(self, queue: str, payloads: list[str], priority: int) -> list[str]:
        return self._queue.enqueue_many(queue, payloads, priority=priority)

    # -- journaled operations --------------------------------------------------

    def _plan(self, operation: Operation) -> Operation:
        where, params = _selection(operation)
        with self._database.read() as conn:
            if operation.queue is not None:
                _check_queue_exists(conn, operation.queue)
            total = conn.execute(f"SELECT count(*) FROM jobs WHERE {where}", params).fetchone()[0]
        return attrs.evolve(operation, sources=("jobs",), total=total)

    def _begin(self, operation: Operation) -> Operation:
        with self._database.write() as conn:
            if operation.to_queue is not None:
                register_queue(conn, operation.to_queue, self.clock())
            SQLiteJournal.create(conn, operation)
        return operation

    def _chunks(self, operation: Operation, *, journaled: bool) -> Iterator[Operation]:
        """Jobs in id order, CHUNK per transaction; the journal row moves in the same transaction."""
        where, params = _selection(operation)
        index = "jobs_by_queue_state" if operation.queue is not None else "jobs_by_state"
        while True:
            after = _parse_cursor(operation.cursor) if operation.cursor else 0
            now = self.clock()
            with self._database.write() as conn:
                if journaled and SQLiteJournal.load(conn, operation.id) is None:
                    raise OperationGone(f"operation {operation.id} is no longer in the journal")
                chosen = [row[0] for row in conn.execute(
                    f"SELECT id FROM jobs INDEXED BY {index} WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                    (*params, after, CHUNK),
                )]  # fmt: skip
                done = self._apply(conn, operation, chosen, now) if chosen else 0
                operation = attrs.evolve(
                    operation, examined=operation.examined + len(chosen), done=operation.done + done,
                    cursor=f"after:{chosen[-1]}" if chosen else operation.cursor, updated_at=now,
                )  # fmt: skip
                if journaled:
                    SQLiteJournal.save(conn, operation)
            yield operation
            if len(chosen) < CHUNK:
                return

    def _apply(self, conn: Any, operation: Operation, chosen: list[int], now: float) -> int:
        """Requeue or delete the chosen jobs (all still in the operation's state: same transaction)."""
        ids = json.dumps(chosen)
        if operation.kind == "purge":
            return conn.execute("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (ids,)).rowcount
        return conn.execute(
            "UPDATE jobs SET state = 'ready', queue = coalesce(?1, queue),"
            " origin = CASE WHEN ?1 IS NOT NULL AND ?1 <> queue"
            "          THEN coalesce(origin, queue) ELSE origin END,"
            " attempts = 0, updated_at = ?2, run_at = NULL, lease_until = NULL,"
            " finished_at = NULL, worker = NULL"
            " WHERE id IN (SELECT value FROM json_each(?3))",
            (operation.to_queue, now, ids),
        ).rowcount

    def _journal_list(self) -> list[Operation]:
        with self._database.read() as conn:
            return SQLiteJournal.list(conn)

    def _journal_load(self, op_id: str) -> Operation | None:
        with self._database.read() as conn:
            return SQLiteJournal.load(conn, op_id)

    def _take_over(self, operation: Operation) -> Operation:
        taken = attrs.evolve(operation, owner=owner_id(), updated_at=self.clock())
        with self._database.write() as conn:
            SQLiteJournal.save(conn, taken)
        return taken

    def _forget(self, op_id: str) -> bool:
        with self._database.write() as conn:
            return SQLiteJournal.remove(conn, op_id)


def _selection(operation: Operation) -> tuple[str, list[Any]]:
    """SQL choosing the jobs an operation acts on, and its parameters."""
    where = ["state = ?"]
    params: list[Any] = [operation.state.value]
    if operation.ids is not None:
        where.append("id IN (SELECT value FROM json_each(?))")
        params.append(_ids_json(operation.ids))
    if operation.queue is not None:
        where.append("queue = ?")
        params.append(operation.queue)
    if operation.text is not None:
        condition, values = _text_condition(operation.text)
        where.append(condition)
        params.extend(values)
    return " AND ".join(where), params


def _state_and_queue(state: JobState, queue: str | None) -> tuple[str, tuple[Any, ...], str]:
    """The condition selecting jobs in `state` (of `queue`), its parameters and the index to page them by."""
    if queue is None:
        return "state = ?", (state.value,), "jobs_by_state"
    return "state = ? AND queue = ?", (state.value, queue), "jobs_by_queue_state"


def _check_queue_exists(conn: Any, queue: str) -> None:
    if conn.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone() is None:
        raise NotFound(f"no queue named {queue!r}")


def _job_number(text: str) -> int | None:
    """The row id a job id names, or None if it cannot name one."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or int(text) > _MAX_ROWID:
        return None
    return int(text)


def _parse_cursor(cursor: str) -> int:
    number = _job_number(cursor.removeprefix("after:")) if cursor.startswith("after:") else None
    if number is None:
        raise InvalidInput(f"invalid page cursor {cursor!r}")
    return number


def _ids_json(ids: Sequence[str]) -> str:
    numbers = []
    for job_id in ids:
        number = _job_number(str(job_id))
        if number is None:
            raise InvalidInput(f"invalid job id {job_id!r}: SQLite job ids are whole numbers")
        numbers.append(number)
    return json.dumps(numbers)


def _text_condition(text: str) -> tuple[str, list[str]]:
    """SQL keeping jobs whose payload or last error contains `text`, ignoring case."""
    if text.isascii():
        # LIKE ignores ASCII case, which is all an ASCII needle needs; it runs in C.
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
        return "(payload LIKE ? ESCAPE '\\' OR last_error LIKE ? ESCAPE '\\')", [pattern, pattern]
    needle = text.casefold()
    return "(qtui_icontains(payload, ?) OR qtui_icontains(last_error, ?))", [needle, needle]


def _job_from_row(row: tuple[Any, ...]) -> Job:
    """The job a row holds; a value another program stored badly is escaped or left out, and noted."""
    (
        job_id, queue, state, payload, priority, attempts, max_attempts, last_error, worker,
        created_at, updated_at, run_at, lease_until, finished_at, origin,
    ) = row
    stored = _StoredValues()
    payload = stored.text("payload", payload) or ""
    if not stored.problems:  # text that is not as stored is not worth parsing
        try:
            json.loads(payload)
        except (ValueError, RecursionError):
            stored.problems.append("payload: not JSON")
    return Job(
        id=str(job_id),
        queue=stored.text("queue", queue) or "",
        state=JobState(state),  # the schema's CHECK constraint allows only the five states
        payload=payload,
        priority=stored.integer("priority", priority, 0),
        attempts=stored.integer("attempts", attempts, 0),
        max_attempts=stored.integer("max_attempts", max_attempts, None),
        last_error=stored.text("last_error", last_error),
        worker=stored.text("worker", worker),
        created_at=stored.time("created_at", created_at),
        updated_at=stored.time("updated_at", updated_at),
        run_at=stored.time("run_at", run_at),
        lease_until=stored.time("lease_until", lease_until),
        finished_at=stored.time("finished_at", finished_at),
        origin=stored.text("origin", origin),
        extra={MALFORMED: "; ".join(stored.problems)} if stored.problems else {},
    )


#: Times shown as dates: years 1 to 9999.
_TIME_RANGE = (-62_135_596_800.0, 253_402_300_799.0)
#: Bad bytes of text that is not UTF-8, as the database's text factory decodes them.
_BAD_BYTES = re.compile("[\udc80-\udcff]")


class _StoredValues:
    """Converts the values of one stored row for the model, noting what was wrong instead of failing."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def text(self, name: str, value: object) -> str | None:
        """Text as stored; bytes that are not UTF-8 are shown as \\xNN escapes."""
        if value is None:
            return None
        if isinstance(value, bytes):
            self.problems.append(f"{name}: stored as a blob")
            value = value.decode("utf-8", "surrogateescape")
        text = value if isinstance(value, str) else str(value)
        if _BAD_BYTES.search(text):
            self.problems.append(f"{name}: not UTF-8 (bad bytes shown as \\xNN)")
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return text

    def integer(self, name: str, value: object, default: int | None) -> int | None:
        if (value is None and default is None) or isinstance(value, int):
            return value  # type: ignore[return-value]
        self.problems.append(f"{name}: not a whole number: {_sample(value)}")
        return default

    def time(self, name: str, value: object) -> float | None:
        if value is None:
            return None
        if isinstance(value, int | float) and _TIME_RANGE[0] <= value <= _TIME_RANGE[1]:
            return float(value)
        self.problems.append(f"{name}: not a time: {_sample(value)}")
        return None


def _sample(value: object) -> str:
    """A short, quoted rendering of a bad value for a problem note."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
