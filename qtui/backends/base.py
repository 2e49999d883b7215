"""The one admin interface every queue backend implements.

Methods are blocking and thread-safe; the console calls them from worker threads
(`trio.to_thread.run_sync`), the command line calls them directly. Public methods
validate input and enforce read-only mode once, here; backends implement the
underscored hooks.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence

from qtui.model import (
    PURGEABLE_STATES,
    InvalidInput,
    Job,
    JobState,
    Page,
    QueueStats,
    ReadOnlyError,
    Snapshot,
    WorkerInfo,
    check_queue_name,
)

#: Largest page any backend returns, whatever the caller asks for.
MAX_PAGE = 500


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

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only

    # -- reads ---------------------------------------------------------------

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """Stats for every queue and the workers seen, in one call."""

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

    def job(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        job_id = job_id.strip()
        if not job_id:
            raise InvalidInput("job id is empty")
        return self._job(job_id)

    # -- writes --------------------------------------------------------------

    def enqueue(self, queue: str, payload: str, *, priority: int = 0) -> Job:
        """Add a job; `payload` must be JSON. Returns the stored job."""
        self._check_writable("enqueue")
        check_queue_name(queue)
        size = len(payload.encode("utf-8", "surrogatepass"))
        if size > self.max_payload_bytes:
            raise InvalidInput(f"payload is {size} bytes; this queue takes at most {self.max_payload_bytes}")
        return self._enqueue(queue, validate_json_payload(payload), priority)

    def requeue(
        self,
        *,
        ids: Sequence[str] | None = None,
        queue: str | None = None,
        text: str | None = None,
        to_queue: str | None = None,
    ) -> int:
        """Move dead jobs back to ready, atomically; returns how many moved.

        Either `ids` (the selected jobs; those not dead are left alone) or a filter
        (`queue` and/or `text`; neither means every dead job). Jobs go back to
        their own queue, or to `to_queue` when given.
        """
        self._check_writable("requeue")
        if ids is not None and (queue is not None or text):
            raise InvalidInput("requeue takes either job ids or a filter, not both")
        if queue is not None:
            check_queue_name(queue)
        if to_queue is not None:
            check_queue_name(to_queue)
        return self._requeue(list(ids) if ids is not None else None, queue, text or None, to_queue)

    def purge(self, queue: str | None, state: JobState, *, ids: Sequence[str] | None = None) -> int:
        """Delete jobs in `state` (of `queue`, or all queues), atomically; returns how many.

        With `ids`, deletes only those of them that are in `state`.
        """
        self._check_writable("purge")
        state = JobState(state)
        if state not in PURGEABLE_STATES:
            raise InvalidInput(f"cannot purge {state} jobs: they belong to running workers")
        if queue is not None:
            check_queue_name(queue)
        return self._purge(queue, state, list(ids) if ids is not None else None)

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

    @abc.abstractmethod
    def _job(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def _enqueue(self, queue: str, payload: str, priority: int) -> Job: ...

    @abc.abstractmethod
    def _requeue(
        self, ids: list[str] | None, queue: str | None, text: str | None, to_queue: str | None
    ) -> int: ...

    @abc.abstractmethod
    def _purge(self, queue: str | None, state: JobState, ids: list[str] | None) -> int: ...
