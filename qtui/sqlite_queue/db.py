"""The queue database file: opening it safely, its schema, and SQLite errors in plain words.

Every message names the database as ``sqlite:<path>``. SQLite errors never escape as
tracebacks: `Database.read()` and `Database.write()` turn them into the model's
BackendError family. Text that is not UTF-8 is read with its bad bytes as lone surrogates
(Python's "surrogateescape"), so a row another program wrote badly never fails a read.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue as stdlib_queue
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from qtui.model import BackendError, BackendUnavailable, InvalidInput, ReadOnlyError

#: The schema this code reads and writes (PRAGMA user_version).
SCHEMA_VERSION = 1

#: Oldest SQLite with what the queue needs (UPDATE ... RETURNING).
MIN_SQLITE = (3, 35, 0)

#: Width of the per-queue rate buckets, in seconds.
BUCKET_SECONDS = 5

_SCHEMA = f"""
CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('ready', 'scheduled', 'processing', 'completed', 'dead')),
    priority INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,  -- attempts made since enqueued or requeued
    deliveries INTEGER NOT NULL DEFAULT 0,  -- reservations ever made: the lease's fencing token
    max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    last_error TEXT,
    worker TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    run_at REAL,
    lease_until REAL,
    finished_at REAL,
    origin TEXT
);

-- Paging one queue or all queues in a state, oldest first.
CREATE INDEX jobs_by_queue_state ON jobs (queue, state, id);
CREATE INDEX jobs_by_state ON jobs (state, id);
-- Reserving: best priority first, then FIFO.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, id) WHERE state = 'ready';
-- Promoting due retries and reclaiming expired leases.
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE state = 'processing';
-- Completed retention.
CREATE INDEX jobs_completed ON jobs (queue, finished_at) WHERE state = 'completed';

-- Jobs per queue and state, kept exact by the triggers below (stats never COUNT jobs).
CREATE TABLE queue_counts (
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (queue, state)
) WITHOUT ROWID;

-- Events per queue in {BUCKET_SECONDS}-second buckets (bucket = unix time // {BUCKET_SECONDS}).
CREATE TABLE rates (
    bucket INTEGER NOT NULL,
    queue TEXT NOT NULL,
    enqueued INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, queue)
) WITHOUT ROWID;

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    queues TEXT NOT NULL,  -- JSON array of queue names, in the order the worker tries them
    host TEXT,
    pid INTEGER,
    started_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    lease_seconds REAL NOT NULL,
    current_job INTEGER,
    processed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs BEGIN
    INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
    INSERT INTO rates (bucket, queue, enqueued)
        VALUES (CAST(NEW.created_at / {BUCKET_SECONDS} AS INTEGER), NEW.queue, 1)
        ON CONFLICT (bucket, queue) DO UPDATE SET enqueued = enqueued + 1;
END;

CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs BEGIN
    UPDATE queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
END;

CREATE TRIGGER jobs_moved AFTER UPDATE OF queue, state ON jobs
WHEN NEW.queue IS NOT OLD.queue OR NEW.state IS NOT OLD.state BEGIN
    UPDATE queue_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
    INSERT INTO queue_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER jobs_completed AFTER UPDATE OF state ON jobs
WHEN OLD.state = 'processing' AND NEW.state = 'completed' BEGIN
    INSERT INTO rates (bucket, queue, completed)
        VALUES (CAST(NEW.finished_at / {BUCKET_SECONDS} AS INTEGER), NEW.queue, 1)
        ON CONFLICT (bucket, queue) DO UPDATE SET completed = completed + 1;
END;

-- A failed attempt: the worker reported an error, or its lease expired.
CREATE TRIGGER jobs_failed AFTER UPDATE OF state ON jobs
WHEN OLD.state = 'processing' AND NEW.state IN ('ready', 'scheduled', 'dead') BEGIN
    INSERT INTO rates (bucket, queue, failed)
        VALUES (CAST(NEW.updated_at / {BUCKET_SECONDS} AS INTEGER), NEW.queue, 1)
        ON CONFLICT (bucket, queue) DO UPDATE SET failed = failed + 1;
END;

PRAGMA user_version = {SCHEMA_VERSION};
"""

_TABLES = frozenset({"queues", "jobs", "queue_counts", "rates", "workers"})


def _statements(script: str) -> Iterator[str]:
    """Split an SQL script into statements (trigger bodies hold semicolons too).

    Executed one by one so the schema is created inside the caller's transaction,
    which executescript() would commit first.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""


def database_label(path: Path) -> str:
    """How messages and the status bar name a database: ``sqlite:<path>``."""
    return f"sqlite:{path}"


class Database:
    """A queue database file and a pool of connections to it, safe to share between threads.

    Each thread borrows its own connection for the length of a transaction, so a
    slow search in one thread does not hold up a snapshot in another (WAL readers
    run concurrently with the one writer).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        create: bool = False,
        busy_timeout: float = 5.0,
        durable: bool = True,
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self.label = database_label(self.path)
        self.busy_timeout = busy_timeout
        # FULL syncs the WAL at every commit; NORMAL survives a crash of the program but
        # may lose the last commits on power loss (fine for demos and bulk loads).
        self._synchronous = "FULL" if durable else "NORMAL"
        #: Why writes are refused, or None if they are allowed.
        self.read_only_reason: str | None = "it was opened read-only" if read_only else None
        self._idle: stdlib_queue.SimpleQueue[sqlite3.Connection] = stdlib_queue.SimpleQueue()
        self._lock = threading.Lock()  # orders giving a connection back against close()
        self._closed = False
        self._watch: sqlite3.Connection | None = None  # never writes: sees every commit (data_version)
        self._watch_lock = threading.Lock()
        self._uri = self._open_uri(create and not read_only)
        first = self._connect()
        try:
            with self._translated():
                self._check_schema(first, create=create and not read_only)
        except BaseException:
            self.close()
            raise
        self._idle.put(first)

    # -- opening -------------------------------------------------------------

    def _open_uri(self, create: bool) -> str:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise BackendUnavailable(
                f"{self.label}: the queue needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer;"
                f" this Python has {sqlite3.sqlite_version}"
            )
        path = self.path
        if path.is_dir():
            raise BackendUnavailable(f"{self.label}: is a directory, not a database file")
        quoted = urllib.parse.quote(str(path))
        if not path.exists():
            if not create:
                raise BackendUnavailable(f"{self.label}: no such database file")
            if not path.parent.is_dir():
                raise BackendUnavailable(f"{self.label}: directory {path.parent} does not exist")
            return f"file:{quoted}?mode=rwc"
        if not os.access(path, os.R_OK):
            raise BackendUnavailable(f"{self.label}: permission denied reading the database file")
        if self.read_only_reason is None:
            self.read_only_reason = _unwritable_reason(path)
        if self.read_only_reason is not None and not os.access(path.parent, os.W_OK):
            if not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists():
                # SQLite cannot create its shared-memory file next to the database, and no
                # one else can be writing (they could not create a WAL file either), so the
                # main file is the whole, unchanging database: read it as immutable.
                return f"file:{quoted}?mode=ro&immutable=1"
        mode = "ro" if self.read_only_reason is not None else "rw"
        return f"file:{quoted}?mode={mode}"

    def _connect(self) -> sqlite3.Connection:
        with self._translated():
            conn = sqlite3.connect(
                self._uri,
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,  # transactions are explicit
                check_same_thread=False,  # borrowed by one thread at a time, see _borrow
            )
        try:
            with self._translated():
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException:
            conn.close()
            raise
        conn.create_function("qtui_icontains", 2, _icontains, deterministic=True)
        conn.text_factory = _decode_text
        return conn

    def _check_schema(self, conn: sqlite3.Connection, *, create: bool) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            if not create:
                raise BackendUnavailable(
                    f"{self.label}: not a qtui queue database (no qtui schema)"
                )
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Checked again under the write lock: another process may have just created it.
                if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                    tables = {
                        name
                        for (name,) in conn.execute(
                            "SELECT name FROM sqlite_schema WHERE type = 'table'"
                        )
                    }
                    if tables:
                        raise BackendUnavailable(
                            f"{self.label}: not a qtui queue database"
                            f" (it has other tables: {', '.join(sorted(tables)[:5])})"
                        )
                    for statement in _statements(_SCHEMA):
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("PRAGMA journal_mode = WAL")
            version = SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise BackendUnavailable(
                f"{self.label}: database schema version {version} is newer than this qtui"
                f" understands ({SCHEMA_VERSION}); upgrade qtui to open it"
            )
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        if not _TABLES <= tables:
            raise BackendUnavailable(f"{self.label}: not a qtui queue database (tables missing)")
        if self.read_only_reason is None:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")

    # -- transactions --------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a read transaction: one consistent view of the database."""
        with self._translated(), self._borrow() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:  # some errors end the transaction themselves
                    conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a write transaction, committed on success, rolled back on error.

        The write lock is taken at the start (BEGIN IMMEDIATE), so reads made inside
        cannot go stale before the writes that depend on them.
        """
        if self.read_only_reason is not None:
            raise ReadOnlyError(f"{self.label}: changes refused: {self.read_only_reason}")
        with self._translated(), self._borrow() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # some errors (disk full, I/O) already rolled back
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def data_version(self) -> int:
        """A number that changes whenever a change is committed to the database, by any connection.

        Costs a few microseconds: it reads SQLite's `PRAGMA data_version` on a connection of its
        own, which never writes, so the commits of this process count as well as other processes'.
        """
        with self._translated(), self._watch_lock:
            if self._closed:
                raise BackendUnavailable(f"{self.label}: the database has been closed")
            if self._watch is None:
                self._watch = self._connect()
            return self._watch.execute("PRAGMA data_version").fetchone()[0]

    @contextlib.contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise BackendUnavailable(f"{self.label}: the database has been closed")
        try:
            conn = self._idle.get_nowait()
        except stdlib_queue.Empty:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT or ROLLBACK: do not reuse a broken connection
                conn.close()
                raise
            self._give_back(conn)
            raise
        self._give_back(conn)

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.put(conn)
                return
        conn.close()  # closed while this thread used it: its last user closes it

    def close(self) -> None:
        """Close every connection; the database is unusable afterwards.

        Connections in use by other threads are closed when those threads give them back:
        closing a connection under a running statement can crash the interpreter.
        """
        with self._lock:
            self._closed = True
        with self._watch_lock:
            if self._watch is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._watch.close()
                self._watch = None
        while True:
            try:
                conn = self._idle.get_nowait()
            except stdlib_queue.Empty:
                break
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- errors --------------------------------------------------------------

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        except UnicodeEncodeError:  # a str holding lone surrogates cannot become UTF-8
            raise InvalidInput(
                f"{self.label}: text with invalid characters (lone surrogates) cannot be stored"
            ) from None

    def _explain(self, exc: sqlite3.Error) -> BackendError:
        """The BackendError an operator should see for a SQLite error."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        label = self.label
        if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
            return BackendUnavailable(
                f"{label}: database is locked by another process"
                f" (gave up after waiting {self.busy_timeout:g} s)"
            )
        if name.startswith("SQLITE_READONLY"):
            reason = self.read_only_reason or _unwritable_reason(self.path)
            reason = reason or "the database is read-only"
            return ReadOnlyError(f"{label}: changes refused: {reason}")
        if name.startswith("SQLITE_NOTADB"):
            return BackendUnavailable(f"{label}: not a SQLite database (file is not a database)")
        if name.startswith("SQLITE_CORRUPT"):
            return BackendUnavailable(f"{label}: the database file is corrupt ({exc})")
        if name.startswith("SQLITE_CANTOPEN"):
            return BackendUnavailable(f"{label}: cannot open the database file ({exc})")
        if name.startswith("SQLITE_FULL"):
            return BackendError(f"{label}: the disk is full; nothing was changed")
        if name.startswith("SQLITE_IOERR"):
            return BackendUnavailable(f"{label}: input/output error ({exc})")
        if name.startswith("SQLITE_PERM") or name.startswith("SQLITE_AUTH"):
            return BackendUnavailable(f"{label}: permission denied ({exc})")
        return BackendError(f"{label}: database error: {exc}")


#: Text as stored, even when another program wrote bytes that are not UTF-8: those become lone
#: surrogates (undone by encoding with "surrogateescape") instead of an error that fails the read.
_decode_text = functools.partial(str, encoding="utf-8", errors="surrogateescape")


def _icontains(haystack: str | None, casefolded_needle: str) -> bool:
    """SQL function: does `haystack` contain the needle, ignoring case (all of Unicode)?"""
    return haystack is not None and casefolded_needle in haystack.casefold()


def _unwritable_reason(path: Path) -> str | None:
    """Why the file at `path` cannot be written, or None if it can."""
    if not os.access(path, os.W_OK):
        return "the database file is read-only"
    if not os.access(path.parent, os.W_OK):
        return f"the directory {path.parent} is read-only"
    return None
