"""Bounds on a granted capability: which queues its uses may touch, and how many jobs per period.

A grant in ``permissions.toml`` and the site policy may each scope a capability that works on
jobs (:data:`SCOPABLE`)::

    [plugins.bulk-requeue.scopes."jobs.requeue"]
    queues = ["email*"]     # shell-style patterns (* ? [abc]); a use must touch only matching queues
    rate = "500/h"          # at most 500 jobs per sliding hour (units s, m, h, d: "100/30m")

Every bound that applies must hold: the operator's and the site policy's. The host counts the
jobs each use affected in a :class:`RateLedger`, seeded from the audit log when a console
starts, so a restart does not reset the count.
"""

from __future__ import annotations

import collections
import datetime
import fnmatch
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from qtui.files.tomlfile import FieldPath, Reporter, show, type_name
from qtui.plugins.bundles.capabilities import Capability, known_names

#: The capabilities a scope can bound: those whose uses name queues and jobs.
SCOPABLE = (Capability.JOBS_PEEK, Capability.JOBS_ENQUEUE, Capability.JOBS_REQUEUE, Capability.JOBS_PURGE)
#: Seconds per unit of a rate's period.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest period a rate may have.
MAX_PERIOD = 7 * 86400
MAX_PATTERNS = 32
_PATTERN = re.compile(r"[A-Za-z0-9_.:*?\[\]!-]{1,200}", re.ASCII)
_RATE = re.compile(r"([0-9]{1,9})/([0-9]{0,6})([smhd])", re.ASCII)


class ScopeError(ValueError):
    """A scope or rate written wrongly; the message says how to write it."""


@attrs.frozen
class Rate:
    """At most `jobs` jobs in any `seconds` long stretch of time."""

    jobs: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read ``JOBS/PERIOD`` (``500/h``, ``100/30m``); ScopeError says what is wrong."""
        found = _RATE.fullmatch(text.strip()) if isinstance(text, str) else None
        if found is None:
            raise ScopeError(f"{show(text)} is not a rate: write JOBS/PERIOD, e.g. 500/h or 100/30m "
                             f"(units: {', '.join(UNITS)})")
        jobs, count, unit = int(found.group(1)), int(found.group(2) or 1), found.group(3)
        seconds = count * UNITS[unit]
        if jobs < 1 or not 1 <= seconds <= MAX_PERIOD:
            raise ScopeError(f"{show(text)}: a rate needs at least 1 job and a period of 1s to 7d")
        return cls(jobs, seconds)

    @property
    def period(self) -> str:
        """The period in words: 'hour', '30 minutes'."""
        return _period(self.seconds)

    def __str__(self) -> str:
        unit, size = next((unit, size) for unit, size in reversed(UNITS.items()) if self.seconds % size == 0)
        count = self.seconds // size
        return f"{self.jobs}/{'' if count == 1 else count}{unit}"


@attrs.frozen
class Scope:
    """Queue patterns (None: every queue) and a rate (None: no limit) for one capability."""

    queues: tuple[str, ...] | None = None
    rate: Rate | None = None

    def allows(self, queue: str) -> bool:
        """Whether a use may touch `queue`."""
        return self.queues is None or any(fnmatch.fnmatchcase(queue, p) for p in self.queues)

    @property
    def bounded(self) -> bool:
        return self.queues is not None or self.rate is not None

    def __str__(self) -> str:
        parts = []
        if self.queues is not None:
            parts.append("queues " + " ".join(self.queues))
        if self.rate is not None:
            parts.append(f"at most {self.rate.jobs} jobs per {self.rate.period}")
        return ", ".join(parts) or "unbounded"

    def to_toml(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        if self.queues is not None:
            table["queues"] = list(self.queues)
        if self.rate is not None:
            table["rate"] = str(self.rate)
        return table


def _period(seconds: int) -> str:
    """'hour', '30 minutes', '2 days': a period in words."""
    size, name = next((size, name) for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
                      if seconds % size == 0)
    count = seconds // size
    return name if count == 1 else f"{count} {name}s"


def parse_queues(patterns: Iterable[str]) -> tuple[str, ...] | None:
    """Checked queue patterns; None when one of them is ``*`` (every queue)."""
    found: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not _PATTERN.fullmatch(pattern):
            raise ScopeError(f"{show(pattern)} is not a queue pattern: letters, digits, _ . : - and * ? [ ]")
        if pattern not in found:
            found.append(pattern)
    if not found:
        raise ScopeError("give at least one queue pattern (* for every queue)")
    if len(found) > MAX_PATTERNS:
        raise ScopeError(f"at most {MAX_PATTERNS} queue patterns")
    return None if "*" in found else tuple(found)


def read_scopes(reporter: Reporter, value: object, path: FieldPath) -> dict[Capability, Scope]:
    """The ``scopes`` table of a permissions or policy file, problems reported with their lines."""
    if not isinstance(value, dict):
        reporter.error(path, f"must be a table of capabilities, not {type_name(value)}")
        return {}
    scopes: dict[Capability, Scope] = {}
    for name, table in value.items():
        where = path + (name,)
        try:
            capability = Capability(name)
        except ValueError:
            reporter.error(where, f"unknown capability {show(name)} (known: {known_names()})")
            continue
        if capability not in SCOPABLE:
            reporter.error(where, f"{capability} cannot be scoped (only {', '.join(SCOPABLE)})")
            continue
        table = reporter.table(table, where, ["queues", "rate"])
        queues: tuple[str, ...] | None = None
        rate: Rate | None = None
        if "queues" in table:
            patterns = table["queues"]
            if not isinstance(patterns, list):
                reporter.error(where + ("queues",), f"must be an array of queue patterns, not {type_name(patterns)}")
            else:
                try:
                    queues = parse_queues(patterns)
                except ScopeError as exc:
                    reporter.error(where + ("queues",), str(exc))
        if "rate" in table:
            try:
                rate = Rate.parse(table["rate"])
            except ScopeError as exc:
                reporter.error(where + ("rate",), str(exc))
        if not table:
            reporter.error(where, "an empty scope: give queues, rate or both")
        scopes[capability] = Scope(queues, rate)
    return scopes


def scopes_toml(scopes: Mapping[Capability, Scope]) -> dict[str, Any]:
    """`scopes` as the ``scopes`` table of a file (bounded ones only)."""
    return {c.value: s.to_toml() for c, s in sorted(scopes.items()) if s.bounded}


@attrs.frozen
class Bound:
    """A scope on one capability, and who set it (the operator's grant or the site policy)."""

    scope: Scope
    source: str

    def __str__(self) -> str:
        return f"{self.scope} ({self.source})"


class RateLedger:
    """The jobs each plugin's uses of each capability affected, over the longest rate period.

    It reads no clock: callers pass the time, so one clock drives a console's limits and its
    audit entries. Safe from any thread.
    """

    def __init__(self) -> None:
        self._uses: dict[tuple[str, Capability], collections.deque[tuple[datetime.datetime, int]]] = {}
        self._lock = threading.Lock()

    def known(self, plugin: str, capability: Capability) -> bool:
        """Whether the ledger holds (or was seeded with) this plugin's uses of `capability`."""
        return (plugin, capability) in self._uses

    def seed(self, plugin: str, capability: Capability, uses: Iterable[tuple[datetime.datetime, int]]) -> None:
        """Start counting from earlier uses (e.g. read from the audit log), oldest first."""
        with self._lock:
            self._uses.setdefault((plugin, capability), collections.deque()).extend(uses)

    def used(self, plugin: str, capability: Capability, rate: Rate, now: datetime.datetime) -> int:
        """Jobs affected in the last `rate.seconds` before `now`."""
        since = now - datetime.timedelta(seconds=rate.seconds)
        with self._lock:
            uses = self._uses.get((plugin, capability), ())
            return sum(jobs for when, jobs in uses if when > since)

    def charge(self, plugin: str, capability: Capability, jobs: int, now: datetime.datetime) -> None:
        """Count `jobs` affected by a use at `now` (forgetting what is older than any period)."""
        with self._lock:
            uses = self._uses.setdefault((plugin, capability), collections.deque())
            uses.append((now, jobs))
            horizon = now - datetime.timedelta(seconds=MAX_PERIOD)
            while uses and uses[0][0] <= horizon:
                uses.popleft()
