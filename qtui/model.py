"""Backend-neutral data: jobs, queue statistics, workers, pages.

Every backend (SQLite, Redis in the go-redis-work-queue layout, RQ) returns these
frozen attrs classes, so screens, the command line and plugins never see a
backend's own representation.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

import attrs


class JobState(enum.StrEnum):
    """Where a job is in its life."""

    READY = "ready"  # waiting for a worker
    SCHEDULED = "scheduled"  # waiting for its retry time (backoff) or a start time
    PROCESSING = "processing"  # reserved by a worker, under a lease
    COMPLETED = "completed"  # acknowledged by a worker (retention is bounded)
    DEAD = "dead"  # out of attempts: in the dead letter queue, last error kept

    @classmethod
    def parse(cls, text: str) -> JobState:
        """Parse a state name, raising InvalidInput that names the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise InvalidInput(f"unknown job state {text!r} (choose from {choices})") from None


#: States an operator may purge; processing jobs belong to live workers.
PURGEABLE_STATES = frozenset({JobState.READY, JobState.SCHEDULED, JobState.COMPLETED, JobState.DEAD})

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")


def check_queue_name(name: str) -> str:
    """Return `name` if it is a valid queue name, else raise InvalidInput."""
    if not isinstance(name, str) or not _QUEUE_NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid queue name {name!r}: use 1-128 letters, digits or _ . : @ -"
        )
    return name


#: Job.extra key that says what was wrong with a stored job (hostile or foreign data: text that is
#: not UTF-8, a payload that is not JSON, a time that is not a number). Its values are shown
#: escaped or left out, and lists flag the job with "!".
MALFORMED = "malformed"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def fits_int64(value: object) -> bool:
    """Whether `value` is an int (not a bool) that fits in 64 bits, as Lua and SQLite need."""
    return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX


@attrs.frozen
class Job:
    """One job as an operator sees it. Timestamps are Unix seconds (UTC)."""

    id: str
    queue: str
    state: JobState
    payload: str  # raw payload text as stored (normally JSON); hostile, sanitise before display
    priority: int = 0
    attempts: int = 0
    max_attempts: int | None = None
    last_error: str | None = None
    worker: str | None = None
    created_at: float | None = None
    updated_at: float | None = None
    run_at: float | None = None  # when a scheduled job becomes ready
    lease_until: float | None = None  # when a processing job's lease expires
    finished_at: float | None = None  # completed or dead since
    origin: str | None = None  # queue the job was first enqueued on, if it moved
    extra: Mapping[str, str] = attrs.field(factory=dict)  # backend-specific fields, for display; see MALFORMED


@attrs.frozen
class QueueStats:
    """Counts and rates for one queue."""

    name: str
    counts: Mapping[JobState, int]
    enqueued_per_min: float = 0.0  # jobs enqueued over the last 60 seconds
    completed_per_min: float = 0.0  # jobs acknowledged over the last 60 seconds
    failed_per_min: float = 0.0  # failed attempts over the last 60 seconds
    oldest_ready_at: float | None = None  # creation time of the oldest ready job
    history: tuple[int, ...] = ()  # completions per bucket, oldest first (for a sparkline)

    def count(self, state: JobState) -> int:
        return self.counts.get(state, 0)


@attrs.frozen
class WorkerInfo:
    """A worker seen by the backend."""

    id: str
    queues: tuple[str, ...] = ()
    host: str | None = None
    pid: int | None = None
    started_at: float | None = None
    last_seen: float | None = None
    current_job: str | None = None
    processed: int = 0
    failed: int = 0
    alive: bool = True


@attrs.frozen
class Snapshot:
    """Everything the Queues and Workers screens show, taken in one backend call."""

    queues: tuple[QueueStats, ...]
    workers: tuple[WorkerInfo, ...]
    taken_at: float
    #: What the backend skipped and why (a key of the wrong type...), for the operator.
    problems: tuple[str, ...] = ()


@attrs.frozen
class Page:
    """A page of jobs; pass `next_cursor` back to get the following page."""

    jobs: tuple[Job, ...]
    next_cursor: str | None = None


@attrs.frozen
class Group:
    """Jobs whose payloads give one value for a field (see `Backend.count_by`)."""

    value: str | None  # the field's value as text; None: the payload has no such scalar field
    count: int
    oldest: float | None = None  # creation time of the group's oldest job
    older: int = 0  # jobs created before the time the count was asked about


@attrs.frozen
class GroupCounts:
    """Jobs of a queue and state counted by a payload field, over a bounded scan."""

    groups: tuple[Group, ...]  # the most jobs first
    scanned: int  # jobs looked at (every group, the others and the unreadable ones)
    unreadable: int  # payloads that are not JSON, or too long to read
    complete: bool  # whether every job of the queue in that state was looked at
    others: int = 0  # jobs of further groups, beyond the most a count returns
    newest: float | None = None  # creation time of the newest job looked at (the rest are newer)


class BackendError(Exception):
    """A failure with a message fit to show an operator (no traceback needed)."""


class BackendUnavailable(BackendError):
    """The backend cannot be reached or opened (missing file, lock, lost connection)."""


class InvalidInput(BackendError):
    """The operator's input is wrong: bad JSON, bad queue name, unknown state."""


class NotFound(BackendError):
    """No such queue or job."""


class ReadOnlyError(BackendError):
    """A write was attempted on a backend opened read-only."""


class InvalidBatchItem(InvalidInput):
    """One payload of a batch is invalid, so nothing of the batch was written."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"job {position} of the batch: {reason}; nothing of the batch was enqueued")
        self.position = position  # counted from 1
        self.reason = reason
