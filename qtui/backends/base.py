"""The one admin interface every queue backend implements.

Methods are blocking and thread-safe; the console calls them from worker threads
(`trio.to_thread.run_sync`), the command line calls them directly. Public methods
validate input and enforce read-only mode once, here; backends implement the
underscored hooks.

Bulk requeues and purges are journaled operations (qtui.backends.journal):
`start_requeue`/`start_purge` write one to the journal, `run_operation` runs its
chunks with progress and cancel, and `operations`, `resume` and `abandon` deal
with those left unfinished. `requeue` and `purge` do all of it in one call.
"""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Callable, Iterator, Sequence

import attrs

from qtui.backends.journal import (
    Operation,
    OperationGone,
    ProgressCallback,
    drive,
    new_operation,
)
from qtui.backends.payload_fields import GroupCounter, count_jobs, field_keys
from qtui.clock import WallClock
from qtui.model import (
    PURGEABLE_STATES,
    BackendError,
    GroupCounts,
    InvalidInput,
    Job,
    JobState,
    NotFound,
    Page,
    QueueStats,
    ReadOnlyError,
    Snapshot,
    WorkerInfo,
    check_queue_name,
)

#: Largest page any backend returns, whatever the caller asks for.
MAX_PAGE = 500
#: Most jobs one `count_by` looks at, and how many it looks at unless told.
MAX_COUNT_SCAN = 50_000
DEFAULT_COUNT_SCAN = 10_000
#: Most queues `oldest` answers for.
MAX_OLDEST_QUEUES = 1000


def validate_json_payload(payload: str) -> str:
    """Return `payload` if it is a JSON document, else raise InvalidInput naming the spot."""
    try:
        json.loads(payload)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput("payload is nested too deeply") from None
    return payload


class Backend(abc.ABC):
    """Admin operations on one queue system."""

    #: URL-like description shown in the status bar, without any password.
    display_name: str
    #: The largest payload (UTF-8 bytes) the queue itself stores; enqueue refuses bigger ones.
    max_payload_bytes: int

    def __init__(self, *, clock: WallClock, read_only: bool = False) -> None:
        self.read_only = read_only
        self.clock = clock  # dates snapshots, what the backend writes and its operation records

    # -- reads ---------------------------------------------------------------

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """Stats for every queue and the workers seen, in one call."""

    def server(self) -> str | None:
        """The server answering now where that can change (a Sentinel's master), else None."""
        return None

    def stats(self) -> tuple[QueueStats, ...]:
        return self.snapshot().queues

    def workers(self) -> tuple[WorkerInfo, ...]:
        return self.snapshot().workers

    def peek(
        self,
        queue: str | None,
        state: JobState,
        *,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """A page of jobs in `state` (on `queue`, or all queues if None), oldest first.

        `text` keeps jobs whose payload or last error contains it (case-insensitive).
        Raises NotFound for an unknown queue.
        """
        if queue is not None:
            check_queue_name(queue)
        if limit < 1:
            raise InvalidInput("page size must be at least 1")
        return self._peek(queue, JobState(state), text or None, cursor, min(limit, MAX_PAGE))

    def oldest(self, queue: str | None, state: JobState) -> tuple[Job, ...]:
        """The oldest job in `state` of each queue (of `queue` alone if given), in queue order.

        Queues with no job in that state are left out; so are queues beyond MAX_OLDEST_QUEUES.
        Raises NotFound for an unknown queue.
        """
        if queue is not None:
            check_queue_name(queue)
        return self._oldest(queue, JobState(state))

    def count_by(
        self,
        queue: str | None,
        state: JobState,
        field: str,
        *,
        older_than: float | None = None,
        limit: int = DEFAULT_COUNT_SCAN,
    ) -> GroupCounts:
        """Jobs in `state` (of `queue`, or all queues) counted by a field of their JSON payload.

        Looks at the `limit` oldest jobs at most (capped at MAX_COUNT_SCAN); `complete` says
        whether that was all of them. Each group also counts the jobs created before
        `older_than`. See :mod:`qtui.backends.payload_fields` for how payloads are read.
        """
        if queue is not None:
            check_queue_name(queue)
        keys = field_keys(field)
        if limit < 1:
            raise InvalidInput("a count looks at one job at least")
        return self._count_by(queue, JobState(state), keys, older_than, min(limit, MAX_COUNT_SCAN))

    def job(self, job_id: str, *, progress: Callable[[int, int], None] | None = None) -> Job | None:
        """The job with this id, or None.

        Where the layout keeps no index by id the lookup scans, calling
        `progress(examined, total)` after each step.
        """
        job_id = job_id.strip()
        if not job_id:
            raise InvalidInput("job id is empty")
        return self._job(job_id, progress)

    # -- writes --------------------------------------------------------------

    def enqueue(self, queue: str, payload: str, *, priority: int = 0) -> Job:
        """Add a job; `payload` must be JSON. Returns the stored job."""
        self._check_writable("enqueue")
        check_queue_name(queue)
        size = len(payload.encode("utf-8", "surrogatepass"))
        if size > self.max_payload_bytes:
            raise InvalidInput(f"payload is {size} bytes; this queue takes at most {self.max_payload_bytes}")
        return self._enqueue(queue, validate_json_payload(payload), priority)

    def enqueue_many(self, queue: str, payloads: Sequence[str], *, priority: int = 0) -> list[str]:
        """Add a job per JSON payload in one atomic step, all or none; returns their ids in order.

        A payload the backend cannot take raises InvalidBatchItem naming its position, and
        nothing is added.
        """
        self._check_writable("enqueue")
        check_queue_name(queue)
        return self._enqueue_many(queue, list(payloads), priority) if payloads else []

    def requeue(
        self,
        *,
        ids: Sequence[str] | None = None,
        queue: str | None = None,
        text: str | None = None,
        to_queue: str | None = None,
    ) -> int:
        """Move dead jobs back to ready, chunk by chunk; returns how many moved.

        Either `ids` (the selected jobs; those not dead are left alone) or a filter
        (`queue` and/or `text`; neither means every dead job). Jobs go back to
        their own queue, or to `to_queue` when given. Each chunk is atomic; the
        whole is a journaled operation (see `start_requeue`).
        """
        return self.run_operation(self.start_requeue(ids=ids, queue=queue, text=text, to_queue=to_queue)).done

    def purge(self, queue: str | None, state: JobState, *, ids: Sequence[str] | None = None) -> int:
        """Delete jobs in `state` (of `queue`, or all queues), chunk by chunk; returns how many.

        With `ids`, deletes only those of them that are in `state`.
        """
        return self.run_operation(self.start_purge(queue, state, ids=ids)).done

    # -- journaled operations ------------------------------------------------

    def start_requeue(
        self,
        *,
        ids: Sequence[str] | None = None,
        queue: str | None = None,
        text: str | None = None,
        to_queue: str | None = None,
    ) -> Operation:
        """Journal a requeue (arguments as for `requeue`) and return it, ready to run."""
        self._check_writable("requeue")
        if ids is not None and (queue is not None or text):
            raise InvalidInput("requeue takes either job ids or a filter, not both")
        if queue is not None:
            check_queue_name(queue)
        if to_queue is not None:
            check_queue_name(to_queue)
        operation = new_operation(
            "requeue", JobState.DEAD, ids=list(ids) if ids is not None else None, queue=queue,
            text=text or None, to_queue=to_queue, clock=self.clock,
        )  # fmt: skip
        return self._begin(self._plan(operation))

    def start_purge(self, queue: str | None, state: JobState, *, ids: Sequence[str] | None = None) -> Operation:
        """Journal a purge (arguments as for `purge`) and return it, ready to run."""
        self._check_writable("purge")
        state = JobState(state)
        if state not in PURGEABLE_STATES:
            raise InvalidInput(f"cannot purge {state} jobs: they belong to running workers")
        if queue is not None:
            check_queue_name(queue)
        operation = new_operation(
            "purge", state, queue=queue, ids=list(ids) if ids is not None else None, clock=self.clock
        )
        return self._begin(self._plan(operation))

    def run_operation(
        self,
        operation: Operation,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Operation:
        """Run a journaled operation's remaining chunks; returns it with its `outcome`.

        `progress` is called after each chunk; setting `cancel` stops it before the
        next one ("cancelled": what was done stays done). It leaves the journal
        when it ends; an error on the way (a lost connection) leaves it there,
        interrupted, to be resumed. Another process abandoning it ends it as
        "abandoned".
        """
        self._check_writable(operation.kind)
        chunks = self._chunks(operation, journaled=True)
        latest = [operation]

        def seen(current: Operation) -> None:
            latest[0] = current
            if progress is not None:
                progress(current)

        try:
            final = drive(operation, chunks, progress=seen, cancel=cancel)
        except OperationGone:
            return attrs.evolve(latest[0], outcome="abandoned")
        self._forget(final.id)
        return final

    def operations(self) -> tuple[Operation, ...]:
        """Operations in the journal, oldest first: interrupted ones and any still running."""
        return tuple(self._journal_list())

    def resume(self, op_id: str) -> Operation:
        """Take over an interrupted operation so `run_operation` can finish it.

        Raises NotFound for an unknown id and InvalidInput for one another live
        process is running.
        """
        operation = self._owned(op_id, "resume")
        if operation.running_elsewhere(self.clock()):
            raise InvalidInput(f"operation {op_id} is running in {operation.owner}; wait for it or abandon it")
        return self._take_over(operation)

    def abandon(self, op_id: str) -> Operation:
        """Drop an operation from the journal without finishing it; what it did stays done."""
        operation = self._owned(op_id, "abandon")
        if not self._forget(op_id):
            raise NotFound(f"no unfinished operation {op_id!r}")
        return attrs.evolve(operation, outcome="abandoned")

    def _owned(self, op_id: str, verb: str) -> Operation:
        self._check_writable(verb)
        operation = self._journal_load(op_id.strip())
        if operation is None:
            raise NotFound(f"no unfinished operation {op_id!r} (qtui ops lists them)")
        return operation
    def close(self) -> None:
        """Release connections. The backend is unusable afterwards."""

    def _check_writable(self, operation: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{operation} refused: the console is in read-only mode")

    # -- hooks for backends --------------------------------------------------

    @abc.abstractmethod
    def _peek(
        self, queue: str | None, state: JobState, text: str | None, cursor: str | None, limit: int
    ) -> Page: ...

    def _oldest(self, queue: str | None, state: JobState) -> tuple[Job, ...]:
        """A page of one job per queue (a backend with an index answers in one query instead)."""
        names = [queue] if queue is not None else [q.name for q in self.snapshot().queues]
        found = []
        for name in names[:MAX_OLDEST_QUEUES]:
            found.extend(self._peek(name, state, None, None, 1).jobs)
        return tuple(found)

    def _count_by(
        self, queue: str | None, state: JobState, keys: tuple[str, ...], older_than: float | None, limit: int
    ) -> GroupCounts:
        """Pages of the oldest jobs, their payloads read here (a backend with SQL groups them itself)."""
        counter = GroupCounter()
        scanned = unreadable = 0
        cursor: str | None = None
        while True:
            page = self._peek(queue, state, None, cursor, min(MAX_PAGE, limit - scanned))
            seen, bad = count_jobs(((job.payload, job.created_at) for job in page.jobs), keys, older_than, counter)
            scanned, unreadable, cursor = scanned + seen, unreadable + bad, page.next_cursor
            if cursor is None or scanned >= limit:
                complete = cursor is None or not self._peek(queue, state, None, cursor, 1).jobs
                return counter.result(scanned=scanned, unreadable=unreadable, complete=complete)

    @abc.abstractmethod
    def _job(self, job_id: str, progress: Callable[[int, int], None] | None) -> Job | None: ...

    @abc.abstractmethod
    def _enqueue(self, queue: str, payload: str, priority: int) -> Job: ...

    def _enqueue_many(self, queue: str, payloads: list[str], priority: int) -> list[str]:
        """Backends that can add many jobs atomically override this."""
        raise BackendError(f"{self.display_name}: this backend cannot enqueue a batch of jobs atomically")

    @abc.abstractmethod
    def _plan(self, operation: Operation) -> Operation:
        """Check the operation's queues (NotFound) and fill in its sources and total."""

    @abc.abstractmethod
    def _begin(self, operation: Operation) -> Operation:
        """Write a planned operation to the journal."""

    @abc.abstractmethod
    def _chunks(self, operation: Operation, *, journaled: bool) -> Iterator[Operation]:
        """Run the operation from its cursor, one atomic chunk per step, yielding it after each.

        With `journaled`, each chunk moves the journal's cursor and counts in the
        same atomic step (False runs the same chunks unrecorded, for benchmarks).
        Raises OperationGone when the operation left the journal.
        """

    @abc.abstractmethod
    def _journal_list(self) -> list[Operation]: ...

    @abc.abstractmethod
    def _journal_load(self, op_id: str) -> Operation | None: ...

    @abc.abstractmethod
    def _take_over(self, operation: Operation) -> Operation: ...

    @abc.abstractmethod
    def _forget(self, op_id: str) -> bool:
        """Remove an operation from the journal; False if it was not there."""
