"""The fields of a job's detail view as display markup, shared by the console and `qtui find`.

Plain data (text and ``(attribute, text)`` pairs), no widgets: the command line uses it
without loading the console.
"""

from __future__ import annotations

import json

from qtui.console import format as fmt
from qtui.model import Job
from qtui.sanitize import one_line, visible


def pretty_payload(payload: str) -> str:
    """Indented JSON when the payload parses, else the raw text."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False, sort_keys=False)
    except (ValueError, RecursionError):
        return payload


def detail_lines(job: Job) -> list:
    """Display lines for `job`; every value from the job is sanitised."""

    def field(label: str, value: str) -> tuple:
        return [("label", f"{label:<12}"), one_line(value)]

    lines: list = [
        field("id", job.id),
        field("queue", job.queue),
        field("state", str(job.state)),
        field("priority", str(job.priority)),
        field("attempts", f"{job.attempts}" + (f" of {job.max_attempts}" if job.max_attempts else "")),
    ]
    optional = [
        ("origin", job.origin),
        ("worker", job.worker),
        ("created", fmt.timestamp(job.created_at) if job.created_at else None),
        ("updated", fmt.timestamp(job.updated_at) if job.updated_at else None),
        ("runs at", fmt.timestamp(job.run_at) if job.run_at else None),
        ("lease until", fmt.timestamp(job.lease_until) if job.lease_until else None),
        ("finished", fmt.timestamp(job.finished_at) if job.finished_at else None),
    ]
    lines += [field(label, value) for label, value in optional if value]
    lines += [field(key, value) for key, value in sorted(job.extra.items())]
    if job.last_error:
        lines += ["", ("label", "last error")]
        lines += [("dead", line) for line in visible(job.last_error, multiline=True).split("\n")]
    lines += ["", ("label", "payload")]
    lines += visible(pretty_payload(job.payload), multiline=True).split("\n")
    return lines
