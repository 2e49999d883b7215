"""One field of jobs' JSON payloads, as text, and jobs counted by it (`Backend.count_by`).

Payloads are hostile: any text, huge, deeply nested, or JSON of another shape. A payload is
read only when it is at most MAX_PAYLOAD_BYTES long and JSON (NaN and Infinity are not);
otherwise it counts as unreadable. A field is a dotted path of keys into nested objects
(``meta.tenant``); its value counts when it is a string, a number or a boolean, as text:
strings as they are, booleans as ``true`` or ``false``, integers in decimal and other numbers
in their shortest form (``1.5``, ``1e+20``). Every backend gives the same text for the same
payload.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from qtui.model import Group, GroupCounts, InvalidInput

#: Longest payload read, in bytes (what a plugin would see of it, too).
MAX_PAYLOAD_BYTES = 64 * 1024
#: Most groups a count returns; further values are counted as `others`.
MAX_GROUPS = 1000

_FIELD = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){0,7}")
_MAX_FIELD = 200


def field_keys(field: str) -> tuple[str, ...]:
    """The keys of a dotted field path, or InvalidInput saying what a field may be."""
    if not isinstance(field, str) or len(field) > _MAX_FIELD or not _FIELD.fullmatch(field):
        raise InvalidInput(f"invalid payload field {field!r}: use up to 8 keys of letters, digits, _ and -, "
                           "separated by dots")
    return tuple(field.split("."))


def scalar_text(value: Any) -> str | None:
    """A JSON scalar as text (see the module doc); None for null, objects, arrays and non-finite numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def payload_field(payload: str, keys: tuple[str, ...]) -> tuple[str | None, bool]:
    """(the field's value as text or None, whether the payload could be read)."""
    if len(payload) > MAX_PAYLOAD_BYTES or len(payload.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        return None, False
    try:
        value: Any = json.loads(payload, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None, False
    for key in keys:
        if not isinstance(value, dict):
            return None, True
        value = value.get(key)
    return scalar_text(value), True


class GroupCounter:
    """Adds up groups of jobs by value; makes the backend-neutral GroupCounts."""

    def __init__(self) -> None:
        self._groups: dict[str | None, list[Any]] = {}  # value -> [count, oldest, older]
        self.newest: float | None = None  # creation time of the newest job seen

    def add(self, value: str | None, count: int, oldest: float | None, older: int) -> None:
        """Count `count` jobs of `value`, the oldest created at `oldest`, `older` of them older than asked."""
        group = self._groups.setdefault(value, [0, None, 0])
        group[0] += count
        if oldest is not None and (group[1] is None or oldest < group[1]):
            group[1] = oldest
        group[2] += older

    def seen(self, created_at: float | None) -> None:
        """Note a job looked at, readable or not."""
        if created_at is not None and (self.newest is None or created_at > self.newest):
            self.newest = created_at

    def add_job(self, value: str | None, created_at: float | None, older_than: float | None) -> None:
        older = older_than is not None and created_at is not None and created_at < older_than
        self.add(value, 1, created_at, int(older))

    def result(self, *, scanned: int, unreadable: int, complete: bool) -> GroupCounts:
        groups = sorted(self._groups.items(), key=lambda item: (-item[1][0], item[0] is None, item[0] or ""))
        return GroupCounts(
            groups=tuple(Group(value, count, oldest, older) for value, (count, oldest, older) in groups[:MAX_GROUPS]),
            scanned=scanned,
            unreadable=unreadable,
            complete=complete,
            others=sum(count for _, (count, _, _) in groups[MAX_GROUPS:]),
            newest=self.newest,
        )


def count_jobs(jobs: Iterable[tuple[str, float | None]], keys: tuple[str, ...], older_than: float | None,
               counter: GroupCounter) -> tuple[int, int]:
    """Count (payload, created_at) pairs into `counter`; returns (jobs, unreadable payloads)."""
    scanned = unreadable = 0
    for payload, created_at in jobs:
        scanned += 1
        counter.seen(created_at)
        value, readable = payload_field(payload, keys)
        if readable:
            counter.add_job(value, created_at, older_than)
        else:
            unreadable += 1
    return scanned, unreadable
