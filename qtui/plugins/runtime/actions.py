"""The admin actions plugins request (``qtui.jobs.*``): what each would touch, in words, and doing it.

Before a request that moves or deletes jobs is confirmed, :func:`resolve` finds the very jobs
it would touch: their ids, how many and on which queues. The confirmation shows that number
and the first ids, the scope and rate checks use it, and :func:`perform` then acts on exactly
those ids, so what is done is never more than what was shown. All of it is blocking backend
work for a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from qtui.backends.base import MAX_PAGE, Backend
from qtui.model import PURGEABLE_STATES, InvalidInput, JobState, Page
from qtui.plugins.runtime.events import group_counts_plain, job_plain
from qtui.plugins.runtime.instance import Request

#: The most jobs one requeue or purge request may touch (the same bound as a list of ids).
MAX_ACTION_JOBS = 10_000
#: Job ids a confirmation shows.
SHOWN_IDS = 5


class TooManyJobs(Exception):
    """The request would touch more than :data:`MAX_ACTION_JOBS` jobs."""


@attrs.frozen
class Target:
    """What a request would touch: the jobs (for requeue and purge), their count and queues.

    `queues` is None when the request reaches every queue at once, and empty when the queue is
    known only after the action (find); `count` is None when the number of jobs is known only
    after the action (peek, find).
    """

    ids: tuple[str, ...] | None
    count: int | None
    queues: frozenset[str] | None
    summary: str  # e.g. "requeue 71 dead jobs on webhooks to their own queues"

    @property
    def first_ids(self) -> tuple[str, ...]:
        return (self.ids or ())[:SHOWN_IDS]

    def describe(self) -> str:
        """The summary and the first job ids, for a confirmation and the audit log."""
        if not self.ids:
            return self.summary
        more = len(self.ids) - SHOWN_IDS
        return f"{self.summary}: {', '.join(self.first_ids)}" + (f" and {more} more" if more > 0 else "")


def _jobs(n: int, kind: str) -> str:
    """'1 dead job', '71 dead jobs'."""
    return f"{n} {kind} job" if n == 1 else f"{n} {kind} jobs"


def _on(queues: frozenset[str]) -> str:
    return ", ".join(sorted(queues)) if queues else "no queue"


def resolve(backend: Backend, request: Request) -> Target:
    """What `request` would touch now (reads the backend); InvalidInput for an impossible one."""
    args = request.args
    match request.action:
        case "peek":
            queue = args["queue"]
            return Target(None, None, None if queue is None else frozenset({queue}),
                          f"read {args['state']} jobs on {queue or 'every queue'}")
        case "find":
            return Target(None, None, frozenset(), f"read job {args['id']}")
        case "oldest":
            queue = args["queue"]
            return Target(None, None, None if queue is None else frozenset({queue}),
                          f"read the oldest {args['state']} job of {queue or 'every queue'}")
        case "count_by":
            queue = args["queue"]
            return Target(None, None, None if queue is None else frozenset({queue}),
                          f"count {args['state']} jobs on {queue or 'every queue'} by {args['field']}")
        case "enqueue":
            return Target(None, 1, frozenset({args["queue"]}), f"add a job to {args['queue']}")
        case "requeue":
            if args["ids"] is not None:
                jobs = [backend.job(job_id) for job_id in dict.fromkeys(args["ids"])]
                found = [(j.id, j.queue) for j in jobs if j is not None and j.state is JobState.DEAD]
            else:
                found = _scan(backend, args["queue"], JobState.DEAD, args["text"])
            on = frozenset(q for _, q in found)
            to = args["to"]
            matching = f" matching {args['text']!r}" if args.get("text") else ""
            summary = f"requeue {_jobs(len(found), 'dead')}{matching} on {_on(on)} to {to or 'their own queues'}"
            # the action names these ids: it touches their queues and the one they go to, no other
            return Target(tuple(i for i, _ in found), len(found), on | ({to} if to else set()), summary)
        case "purge":
            state = JobState(args["state"])
            if state not in PURGEABLE_STATES:
                raise InvalidInput(f"cannot purge {state} jobs: they belong to running workers")
            found = _scan(backend, args["queue"], state, None)
            summary = f"delete {_jobs(len(found), state)} on {args['queue'] or 'every queue'}"
            return Target(tuple(i for i, _ in found), len(found), frozenset(q for _, q in found), summary)
    raise ValueError(f"unknown action {request.action}")


def _scan(backend: Backend, queue: str | None, state: JobState, text: str | None) -> list[tuple[str, str]]:
    """(id, queue) of every job in `state` (on `queue`, matching `text`), oldest first."""
    found: list[tuple[str, str]] = []
    cursor = None
    while True:
        page: Page = backend.peek(queue, state, text=text, cursor=cursor, limit=MAX_PAGE)
        found += [(job.id, job.queue) for job in page.jobs]
        if len(found) > MAX_ACTION_JOBS:
            raise TooManyJobs(f"it would touch more than {MAX_ACTION_JOBS} jobs; "
                              "a plugin's request may touch at most that many")
        if page.next_cursor is None or not page.jobs:
            return found
        cursor = page.next_cursor


def perform(backend: Backend, request: Request, target: Target, *, limit: int | None = None) -> tuple[Any, int]:
    """Carry out `request` on `target`: the result for the plugin and the number of jobs affected.

    `limit` caps the jobs a read returns or looks at (what is left of a rate).
    """
    args: Mapping[str, Any] = request.args
    match request.action:
        case "peek":
            page = backend.peek(args["queue"], JobState(args["state"]), text=args["text"], cursor=args["cursor"],
                                limit=min(args["limit"], limit) if limit is not None else args["limit"])
            return {"jobs": [job_plain(j) for j in page.jobs], "next_cursor": page.next_cursor}, len(page.jobs)
        case "find":
            job = backend.job(args["id"])
            return (job_plain(job) if job else None), (1 if job else 0)
        case "oldest":
            jobs = backend.oldest(args["queue"], JobState(args["state"]))[:limit]
            return {"jobs": [job_plain(j) for j in jobs]}, len(jobs)
        case "count_by":
            counts = backend.count_by(args["queue"], JobState(args["state"]), args["field"],
                                      older_than=args["older_than"],
                                      limit=min(args["limit"], limit) if limit is not None else args["limit"])
            return group_counts_plain(counts), counts.scanned
        case "enqueue":
            return job_plain(backend.enqueue(args["queue"], args["payload"])), 1
        case "requeue":
            count = backend.requeue(ids=list(target.ids or ()), to_queue=args["to"]) if target.ids else 0
            return {"count": count}, count
        case "purge":
            state = JobState(args["state"])
            count = backend.purge(args["queue"], state, ids=list(target.ids or ())) if target.ids else 0
            return {"count": count}, count
    raise ValueError(f"unknown action {request.action}")
