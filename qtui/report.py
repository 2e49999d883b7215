"""Command-line output: readable tables for people, JSON for scripts.

Tables sanitise every value that came from a job; JSON escapes control
characters by construction (json.dumps with ensure_ascii).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from qtui.console import format as fmt
from qtui.console.job_detail import detail_lines
from qtui.model import MALFORMED, Job, JobState, Page, QueueStats, WorkerInfo
from qtui.sanitize import one_line


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data: attrs classes become dicts, enums their values, tuples lists.

    A queue's stats carry a count for every state, zeros included, so scripts need no defaults.
    """
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, QueueStats):
        data = _plain(attrs.asdict(value, recurse=False))
        data["counts"] = {state.value: value.count(state) for state in JobState}
        return data
    if attrs.has(type(value)):
        return _plain(attrs.asdict(value, recurse=False))
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value


def to_json(value: Any) -> str:
    """JSON text for model objects (attrs classes, tuples of them, dicts)."""
    return json.dumps(_plain(value), indent=2, sort_keys=True, ensure_ascii=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A plain text table; columns in `right` are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def stats_table(queues: Sequence[QueueStats]) -> str:
    if not queues:
        return "no queues"
    headers = ["QUEUE", "READY", "SCHEDULED", "PROCESSING", "COMPLETED", "DEAD", "IN/min", "OUT/min", "FAILED/min"]
    rows = [
        [one_line(q.name, 40), *(str(q.count(s)) for s in JobState),
         f"{q.enqueued_per_min:g}", f"{q.completed_per_min:g}", f"{q.failed_per_min:g}"]
        for q in queues
    ]
    return table(headers, rows, right=range(1, 9))


def workers_table(workers: Sequence[WorkerInfo]) -> str:
    if not workers:
        return "no workers seen"
    headers = ["WORKER", "ALIVE", "HOST", "PID", "QUEUES", "JOB", "PROCESSED", "FAILED", "LAST SEEN"]
    rows = [
        [one_line(w.id, 40), "yes" if w.alive else "no", one_line(w.host or "-"), str(w.pid or "-"),
         one_line(",".join(w.queues), 40), one_line(w.current_job or "-"), str(w.processed), str(w.failed),
         fmt.timestamp(w.last_seen)]
        for w in workers
    ]
    return table(headers, rows, right=(3, 6, 7))


def page_table(page: Page) -> str:
    if not page.jobs:
        return "no jobs"
    headers = ["ID", "QUEUE", "STATE", "TRIES", "CREATED", "PAYLOAD / LAST ERROR"]
    rows = [
        [one_line(j.id, 36), one_line(j.queue, 30), str(j.state), str(j.attempts), fmt.timestamp(j.created_at),
         ("! " if MALFORMED in j.extra else "")
         + one_line(j.last_error if j.state is JobState.DEAD and j.last_error else j.payload, 80)]
        for j in page.jobs
    ]
    text = table(headers, rows, right=(3,))
    if any(MALFORMED in j.extra for j in page.jobs):
        text += "\n(! stored by another program in a form qtui does not expect: qtui find ID says what)"
    if page.next_cursor:
        text += f"\n(more: --cursor {page.next_cursor})"
    return text


def job_text(job: Job) -> str:
    """The same fields as the console's detail view, as plain text."""
    out = []
    for line in detail_lines(job):
        if isinstance(line, list):
            out.append("".join(part[1] if isinstance(part, tuple) else part for part in line).rstrip())
        elif isinstance(line, tuple):
            out.append(line[1])
        else:
            out.append(line)
    return "\n".join(out)
