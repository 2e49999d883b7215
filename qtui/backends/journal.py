"""The operation journal: bulk requeues and purges as resumable, recorded operations.

A bulk operation is written to the backend's own store before its first chunk:
its kind, the state it takes jobs from, its filter (queue, text or ids), where
it sends jobs, the sources it walks and a cursor. Each chunk is one atomic step
on the backend (a Lua script, a SQLite transaction) that also moves the cursor
and the counts, so the journal always says exactly how far the operation got.
A finished, cancelled or abandoned operation leaves the journal.

An operation whose process died, or whose server restarted or went away, stays
in the journal as interrupted: `qtui ops` lists it, and resuming it runs the
remaining chunks from the cursor. Chunks are idempotent (a chunk takes only jobs
still where the operation takes them from), so running one twice, or two
processes racing on one operation, never loses or duplicates a job.

Liveness: an operation is running while its owner (host and pid) is alive. On
the owner's own host a dead pid shows at once; from another host an operation is
taken as interrupted when it has not advanced for `LEASE_SECONDS`.

Stores: `RedisJournal` (a hash per operation and a sorted set of their ids,
under the layout's key prefix) and `SQLiteJournal` (a table in the queue
database, created on first use).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from qtui.clock import WallClock
from qtui.model import BackendError, InvalidInput, JobState

if TYPE_CHECKING:  # every backend imports this module: script commands on SQLite must not load redis
    import redis

#: An operation that has not advanced for this long is interrupted, whoever owns it.
LEASE_SECONDS = 60.0
#: Ids one operation may be given (a console selection, a command line).
MAX_IDS = 100_000

Kind = Literal["requeue", "purge"]
KINDS = ("requeue", "purge")

#: Called with the operation as it stands after each chunk.
ProgressCallback = Callable[["Operation"], None]


class OperationGone(BackendError):
    """The operation is no longer in the journal (finished, cancelled or abandoned elsewhere)."""


@attrs.frozen
class Operation:
    """One bulk requeue or purge, as the journal holds it."""

    id: str
    kind: Kind
    state: JobState  # the state jobs are taken from (dead for a requeue)
    queue: str | None = None
    text: str | None = None
    to_queue: str | None = None
    ids: tuple[str, ...] | None = None
    sources: tuple[str, ...] = ()  # what the operation walks, in order (keys, queue names)
    cursor: str = ""  # where the next chunk starts, in the backend's notation ("" = the start)
    examined: int = 0  # items looked at so far
    done: int = 0  # jobs moved or deleted so far
    total: int | None = None  # items the sources held when it started (for progress)
    started_at: float = 0.0
    updated_at: float = 0.0
    owner: str = ""  # host:pid of the process running it
    #: How a run ended: "finished", "cancelled", "abandoned"; "" while in the journal.
    outcome: str = ""

    def describe(self) -> str:
        """One line saying what the operation does, for lists and prompts."""
        if self.ids is not None:
            what = f"{len(self.ids)} selected {self.state} job{'s' if len(self.ids) != 1 else ''}"
        else:
            what = f"all {self.state} jobs" + (f" of {self.queue}" if self.queue else "")
            if self.text:
                what += f" matching {self.text!r}"
        if self.kind == "requeue":
            return f"requeue {what} to {self.to_queue or 'their own queues'}"
        return f"purge {what}"

    def progress_text(self) -> str:
        """`done` against the total when known: "1,200 of ~5,000 examined, 1,100 moved"."""
        verb = "moved" if self.kind == "requeue" else "deleted"
        if self.total:
            return f"{self.examined:,} of ~{self.total:,} examined, {self.done:,} {verb}"
        return f"{self.examined:,} examined, {self.done:,} {verb}"

    def fraction(self) -> float | None:
        """How far along it is, 0 to 1, when the total is known."""
        if not self.total:
            return None
        return min(1.0, self.examined / self.total)

    def running_elsewhere(self, now: float) -> bool:
        """Whether a live process other than this one owns it at wall time `now` (see module doc)."""
        host, _, pid_text = self.owner.rpartition(":")
        if self.owner == owner_id():
            return False
        if host == socket.gethostname() and pid_text.isdigit():
            return _pid_alive(int(pid_text))
        return now - self.updated_at < LEASE_SECONDS

    # -- storage ---------------------------------------------------------------------

    def to_fields(self) -> dict[str, str]:
        """The record as text fields (a Redis hash, a JSON object)."""
        return {
            "id": self.id, "kind": self.kind, "state": self.state.value,
            "queue": self.queue or "", "text": self.text or "", "to_queue": self.to_queue or "",
            "ids": json.dumps(list(self.ids)) if self.ids is not None else "",
            "sources": json.dumps(list(self.sources)), "cursor": self.cursor,
            "examined": str(self.examined), "done": str(self.done),
            "total": "" if self.total is None else str(self.total),
            "started_at": repr(self.started_at), "updated_at": repr(self.updated_at), "owner": self.owner,
        }  # fmt: skip

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> Operation:
        """Parse a stored record, raising InvalidInput naming the bad field (stores are hostile)."""
        text = {_text(k): _text(v) for k, v in fields.items()}

        def get(name: str) -> str:
            value = text.get(name)
            if value is None:
                raise InvalidInput(f"operation record: field {name!r} is missing")
            if len(value) > 16 << 20:
                raise InvalidInput(f"operation record: field {name!r} is too long")
            return value

        def number(name: str, kind: type = int) -> Any:
            value = get(name)
            try:
                parsed = kind(value)
            except ValueError:
                raise InvalidInput(f"operation record: field {name!r} is not a number: {value[:40]!r}") from None
            if kind is int and not 0 <= parsed < 2**63:
                raise InvalidInput(f"operation record: field {name!r} is out of range")
            return parsed

        kind = get("kind")
        if kind not in KINDS:
            raise InvalidInput(f"operation record: unknown kind {kind[:40]!r}")
        return cls(
            id=get("id"), kind=kind, state=JobState.parse(get("state")),  # type: ignore[arg-type]
            queue=get("queue") or None, text=get("text") or None, to_queue=get("to_queue") or None,
            ids=_string_list("ids", get("ids")) if get("ids") else None,
            sources=_string_list("sources", get("sources")), cursor=get("cursor"),
            examined=number("examined"), done=number("done"),
            total=number("total") if get("total") else None,
            started_at=number("started_at", float), updated_at=number("updated_at", float), owner=get("owner"),
        )  # fmt: skip


def new_operation(
    kind: Kind,
    state: JobState,
    *,
    queue: str | None = None,
    text: str | None = None,
    to_queue: str | None = None,
    ids: Iterable[str] | None = None,
    clock: WallClock,
) -> Operation:
    """A fresh operation owned by this process, not yet planned or stored."""
    id_tuple = tuple(ids) if ids is not None else None
    if id_tuple is not None and len(id_tuple) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS:,} job ids per operation, not {len(id_tuple):,}")
    now = clock()
    return Operation(
        id=uuid.uuid4().hex[:12], kind=kind, state=state, queue=queue, text=text, to_queue=to_queue,
        ids=id_tuple, started_at=now, updated_at=now, owner=owner_id(),
    )  # fmt: skip


def owner_id() -> str:
    """This process, as operations name their owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def drive(
    operation: Operation,
    chunks: Iterator[Operation],
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Operation:
    """Run `chunks` (each one atomic step that yields the operation after it) to the end.

    Between chunks, `progress` sees the operation and `cancel` is checked; a
    cancelled run stops before its next chunk. Returns the last state with
    `outcome` "finished" or "cancelled"; the caller removes it from the journal.
    """
    current = operation
    if progress is not None:
        progress(current)
    for current in chunks:
        if progress is not None:
            progress(current)
        if cancel is not None and cancel.is_set():
            return attrs.evolve(current, outcome="cancelled")
    return attrs.evolve(current, outcome="finished")


# -- Redis --------------------------------------------------------------------------

#: Prepended to every chunk script. Its last ARGV is the journal spec: "" (no journal)
#: or "INDEX|POSITION|NOW", with the operation's hash as its last KEYS. A chunk of an
#: operation no longer in the journal does nothing and fails with QTUI_OP_GONE.
#: The body returns through journaled(advance, examined, done, reply), which moves
#: the cursor to INDEX.(POSITION + advance) and adds to the counts.
JOURNAL_LUA = """
local journal_spec = table.remove(ARGV)
local journal_key = nil
if journal_spec ~= '' then
  journal_key = table.remove(KEYS)
  if redis.call('EXISTS', journal_key) == 0 then return redis.error_reply('QTUI_OP_GONE') end
end
local function journaled(advance, examined, done, reply)
  if journal_key then
    local index, position, now = string.match(journal_spec, '^(%d+)|(%d+)|(.+)$')
    redis.call('HSET', journal_key, 'cursor', index .. '.' .. (tonumber(position) + advance), 'updated_at', now)
    redis.call('HINCRBY', journal_key, 'examined', examined)
    redis.call('HINCRBY', journal_key, 'done', done)
  end
  return reply
end
"""


@attrs.frozen
class JournalArgs:
    """What a chunk script needs to journal itself: extra KEYS and the last ARGV."""

    keys: tuple[str, ...]
    spec: str


_TAKE_OVER_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'updated_at', ARGV[2])
return 1
"""


class RedisJournal:
    """Operations in Redis: `<namespace>:op:<id>` hashes and the `<namespace>:ops` sorted set."""

    def __init__(self, client: redis.Redis, namespace: str, clock: WallClock) -> None:
        self.client = client
        self.namespace = namespace
        self.clock = clock

    def key(self, op_id: str) -> str:
        return f"{self.namespace}:op:{op_id}"

    @property
    def index_key(self) -> str:
        return f"{self.namespace}:ops"

    def create(self, operation: Operation) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(operation.id), mapping=operation.to_fields())
            pipe.zadd(self.index_key, {operation.id: operation.started_at})
            pipe.execute()

    def take_over(self, operation: Operation) -> Operation:
        """Make this process the owner of a stored operation (to resume it)."""
        taken = attrs.evolve(operation, owner=owner_id(), updated_at=self.clock())
        found = self.client.eval(_TAKE_OVER_LUA, 1, self.key(operation.id), taken.owner, repr(taken.updated_at))
        if not found:
            raise OperationGone(f"operation {operation.id} is no longer in the journal")
        return taken

    def load(self, op_id: str) -> Operation | None:
        if not _OP_ID_CHARS.issuperset(op_id) or not 0 < len(op_id) <= 64:
            return None
        fields = self.client.hgetall(self.key(op_id))
        return Operation.from_fields(fields) if fields else None

    def list(self) -> list[Operation]:
        """Every operation in the journal, oldest first; unreadable records are skipped."""
        ids = [_text(i) for i in self.client.zrange(self.index_key, 0, 999)]
        with self.client.pipeline(transaction=False) as pipe:
            for op_id in ids:
                pipe.hgetall(self.key(op_id))
            records = pipe.execute()
        found = []
        for op_id, fields in zip(ids, records, strict=True):
            if not fields:
                self.client.zrem(self.index_key, op_id)  # a record removed without its index entry
                continue
            try:
                found.append(Operation.from_fields(fields))
            except InvalidInput:
                continue
        return found

    def remove(self, op_id: str) -> bool:
        """Drop an operation; False if it was not there."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.key(op_id))
            pipe.zrem(self.index_key, op_id)
            deleted, _ = pipe.execute()
        return bool(deleted)

    def args(self, operation: Operation | None, index: int, position: int) -> JournalArgs:
        """The KEYS and ARGV tail journaling a chunk at `index.position` (none without an operation)."""
        if operation is None:
            return JournalArgs((), "")
        return JournalArgs((self.key(operation.id),), f"{index}|{position}|{self.clock()!r}")


def is_operation_gone(error: redis.ResponseError) -> bool:
    return str(error).startswith("QTUI_OP_GONE")


# -- SQLite -------------------------------------------------------------------------

SQLITE_TABLE = """
CREATE TABLE IF NOT EXISTS qtui_operations (
    id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    record TEXT NOT NULL  -- Operation.to_fields() as a JSON object
) WITHOUT ROWID
"""


class SQLiteJournal:
    """Operations in the queue database's `qtui_operations` table (made on first use)."""

    @staticmethod
    def create(conn: sqlite3.Connection, operation: Operation) -> None:
        conn.execute(SQLITE_TABLE)
        conn.execute(
            "INSERT INTO qtui_operations (id, started_at, record) VALUES (?, ?, ?)",
            (operation.id, operation.started_at, json.dumps(operation.to_fields())),
        )

    @staticmethod
    def save(conn: sqlite3.Connection, operation: Operation) -> None:
        """Write the operation back (inside the chunk's own transaction); OperationGone if removed."""
        updated = conn.execute(
            "UPDATE qtui_operations SET record = ? WHERE id = ?", (json.dumps(operation.to_fields()), operation.id)
        ).rowcount
        if not updated:
            raise OperationGone(f"operation {operation.id} is no longer in the journal")

    @staticmethod
    def load(conn: sqlite3.Connection, op_id: str) -> Operation | None:
        if not SQLiteJournal._exists(conn):
            return None
        row = conn.execute("SELECT record FROM qtui_operations WHERE id = ?", (op_id,)).fetchone()
        return _record(row[0]) if row else None

    @staticmethod
    def list(conn: sqlite3.Connection) -> list[Operation]:
        if not SQLiteJournal._exists(conn):
            return []
        rows = conn.execute("SELECT record FROM qtui_operations ORDER BY started_at, id LIMIT 1000").fetchall()
        return [op for (text,) in rows if (op := _record(text, strict=False)) is not None]

    @staticmethod
    def remove(conn: sqlite3.Connection, op_id: str) -> bool:
        if not SQLiteJournal._exists(conn):
            return False
        return conn.execute("DELETE FROM qtui_operations WHERE id = ?", (op_id,)).rowcount > 0

    @staticmethod
    def _exists(conn: sqlite3.Connection) -> bool:
        return conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'qtui_operations'"
        ).fetchone() is not None


def _record(text: str, *, strict: bool = True) -> Operation | None:
    try:
        fields = json.loads(text)
        if not isinstance(fields, dict):
            raise InvalidInput("operation record is not a JSON object")
        return Operation.from_fields(fields)
    except (ValueError, InvalidInput):
        if strict:
            raise InvalidInput("operation record is unreadable") from None
        return None


# -- helpers ------------------------------------------------------------------------

_OP_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _string_list(name: str, text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(f"operation record: field {name!r} is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_IDS:
        raise InvalidInput(f"operation record: field {name!r} must be a list of at most {MAX_IDS:,} strings")
    return tuple(value)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = [
    "JOURNAL_LUA", "LEASE_SECONDS", "JournalArgs", "Operation", "OperationGone", "RedisJournal",
    "SQLiteJournal", "drive", "new_operation", "owner_id",
]  # fmt: skip
