"""The audit log of what plugins tried to do: JSON lines in ``$XDG_STATE_HOME/qtui/audit.jsonl``.

Each line is one JSON object::

    {"time": "2024-05-01T12:00:00.123Z", "plugin": "tenant-sla", "version": "1.2.0",
     "capability": "jobs.purge", "outcome": "allowed", "detail": "purged 12 dead jobs on emails"}

Lines are appended with ``O_APPEND`` in a single ``write``, so consoles open at once interleave
whole lines. When the file reaches ``max_bytes`` it is rotated to ``audit.jsonl.1`` (older ones
shift up to ``.<keep>``, the oldest is dropped), under a lock so two consoles rotate once.
Plugin-supplied text is hostile: control characters are replaced and details are shortened,
both when written and when read back. A plugin cannot flood the log and rotate its history
away: past a burst of AUDIT_BURST, each plugin's entries are kept to AUDIT_RATE a second and
the ones left out are summed up in one ``suppressed`` entry. The operator's own decisions and
answers are never left out.
"""

from __future__ import annotations

import datetime
import enum
import json
import os
import re
from pathlib import Path
from typing import Any

import attrs

from qtui import paths
from qtui.clock import SYSTEM_CLOCK, MonotonicClock
from qtui.files.atomic import locked
from qtui.plugins.trust.permissions import Verdict
from qtui.ratelimit import RateLimit

AUDIT_FILE = "audit.jsonl"
MAX_BYTES = 1024 * 1024
KEEP_ROTATED = 3
MAX_DETAIL = 200
#: Entries one plugin may cause: AUDIT_BURST at once, then AUDIT_RATE a second on average.
AUDIT_RATE = 20
AUDIT_BURST = 100
_MAX_FIELD = 128
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def audit_path() -> Path:
    """Where the audit log is written."""
    return paths.state_dir() / AUDIT_FILE


class Outcome(enum.StrEnum):
    """What happened when a plugin used (or the operator decided on) a capability."""

    ALLOWED = "allowed"  # the use went ahead
    DENIED = "denied"  # refused: the operator denied the capability
    FORBIDDEN = "forbidden"  # refused: the site policy forbids it
    UNDECIDED = "undecided"  # refused: no decision yet for this version
    NOT_REQUESTED = "not_requested"  # refused: the manifest does not request it
    CONFIRMED = "confirmed"  # the operator confirmed a destructive use
    DECLINED = "declined"  # the operator declined a destructive use
    GRANTED = "granted"  # the operator granted the capability
    REVOKED = "revoked"  # the operator denied or withdrew the capability
    VIOLATION = "violation"  # the plugin broke a limit of its sandbox (capability: limits.KIND)
    SUPPRESSED = "suppressed"  # entries of the plugin left out of a flood (detail: how many)

    @classmethod
    def of(cls, verdict: Verdict) -> Outcome:
        """The outcome of a use decided by `verdict`."""
        return _OUTCOME_OF_VERDICT[verdict]


#: The operator's decisions and answers: never left out of the log.
_OPERATOR_OUTCOMES = frozenset({Outcome.GRANTED, Outcome.REVOKED, Outcome.CONFIRMED, Outcome.DECLINED})

_OUTCOME_OF_VERDICT = {
    Verdict.GRANTED: Outcome.ALLOWED,
    Verdict.DENIED: Outcome.DENIED,
    Verdict.FORBIDDEN: Outcome.FORBIDDEN,
    Verdict.UNDECIDED: Outcome.UNDECIDED,
    Verdict.NOT_REQUESTED: Outcome.NOT_REQUESTED,
}


def _clean(text: str, limit: int) -> str:
    text = _UNSAFE.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen
class AuditEntry:
    """One audited event."""

    time: datetime.datetime  # UTC
    plugin: str
    version: str
    capability: str
    outcome: Outcome
    detail: str = ""

    def to_line(self) -> str:
        """The entry as one JSON line (ASCII only, newline-terminated)."""
        stamp = self.time.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
        record = {
            "time": stamp.replace("+00:00", "Z"),
            "plugin": _clean(self.plugin, _MAX_FIELD),
            "version": _clean(self.version, _MAX_FIELD),
            "capability": _clean(self.capability, _MAX_FIELD),
            "outcome": self.outcome.value,
            "detail": _clean(self.detail, MAX_DETAIL),
        }
        return json.dumps(record, ensure_ascii=True) + "\n"

    @classmethod
    def from_line(cls, line: str) -> AuditEntry:
        """Parse a line written by :meth:`to_line`; ValueError says what is wrong with it."""
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        fields = {}
        for key in ("time", "plugin", "version", "capability", "outcome", "detail"):
            value = record.get(key)
            if not isinstance(value, str):
                raise ValueError(f"{key}: missing or not a string")
            fields[key] = value
        try:
            time = datetime.datetime.fromisoformat(fields["time"])
        except ValueError:
            raise ValueError(f"time: {fields['time'][:40]!r} is not an ISO 8601 time") from None
        if time.tzinfo is None:
            raise ValueError("time: has no time zone")
        try:
            outcome = Outcome(fields["outcome"])
        except ValueError:
            raise ValueError(f"outcome: unknown {fields['outcome'][:40]!r}") from None
        return cls(
            time=time.astimezone(datetime.UTC),
            plugin=_clean(fields["plugin"], _MAX_FIELD),
            version=_clean(fields["version"], _MAX_FIELD),
            capability=_clean(fields["capability"], _MAX_FIELD),
            outcome=outcome,
            detail=_clean(fields["detail"], MAX_DETAIL),
        )


@attrs.frozen
class AuditReading:
    """Entries read back, oldest first, and the lines that could not be read (``file:line: why``)."""

    entries: tuple[AuditEntry, ...]
    unreadable: tuple[str, ...] = ()


class AuditError(Exception):
    """The audit log could not be written; the message names the file."""


class AuditLog:
    """Appends to and reads the audit log (default :func:`audit_path`)."""

    def __init__(
        self, path: Path | None = None, *, max_bytes: int = MAX_BYTES, keep: int = KEEP_ROTATED,
        clock: MonotonicClock = SYSTEM_CLOCK.monotonic,
    ) -> None:
        if max_bytes < 1 or keep < 1:
            raise ValueError("max_bytes and keep must be at least 1")
        self.path = path if path is not None else audit_path()
        self.max_bytes = max_bytes
        self.keep = keep
        self._clock = clock
        self._limits: dict[str, RateLimit] = {}

    def record(
        self,
        plugin: str,
        version: str,
        capability: str,
        outcome: Outcome,
        detail: str = "",
        *,
        now: datetime.datetime | None = None,
    ) -> AuditEntry | None:
        """Append an entry stamped with the current UTC time and return it.

        None when the plugin's entries come too fast and this one is left out (see the module
        docstring); the next entry that goes in is preceded by a ``suppressed`` entry.
        """
        stamp = now or datetime.datetime.now(datetime.UTC)
        if outcome not in _OPERATOR_OUTCOMES:
            limit = self._limits.get(plugin)
            if limit is None:
                limit = self._limits[plugin] = RateLimit(AUDIT_RATE, AUDIT_BURST, clock=self._clock)
            go, missed = limit.admit()
            self._suppressed(plugin, version, missed, stamp)
            if not go:
                return None
        entry = AuditEntry(stamp, plugin, version, capability, outcome, detail)
        self.append(entry)
        return entry

    def settle(self, plugin: str, version: str, *, now: datetime.datetime | None = None) -> None:
        """Write the ``suppressed`` entry of a flood of `plugin`'s that has ended, if any."""
        limit = self._limits.get(plugin)
        if limit is not None and limit.refused:
            self._suppressed(plugin, version, limit.settle(), now or datetime.datetime.now(datetime.UTC))

    def _suppressed(self, plugin: str, version: str, missed: int, stamp: datetime.datetime) -> None:
        if missed:
            self.append(AuditEntry(stamp, plugin, version, "audit", Outcome.SUPPRESSED,
                                   f"{missed} entries left out (more than {AUDIT_RATE} a second)"))

    def append(self, entry: AuditEntry) -> None:
        """Append one entry as one line, rotating the file first if it is full."""
        data = entry.to_line().encode("ascii")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._open()
            try:
                if os.fstat(fd).st_size >= self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = self._open()
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(f"short write ({written} of {len(data)} bytes)")
            finally:
                if fd >= 0:
                    os.close(fd)
        except OSError as e:
            raise AuditError(f"{self.path}: cannot write the audit log: {e.strerror or e}") from None

    def read(self, *, plugin: str | None = None, limit: int | None = None) -> AuditReading:
        """Entries from the rotated files and the current one, oldest first.

        `plugin` keeps only that plugin's entries; `limit` keeps only the newest `limit`.
        """
        entries: list[AuditEntry] = []
        unreadable: list[str] = []
        for path in self.files():
            try:
                with open(path, "rb") as f:
                    lines = f.read().split(b"\n")
            except FileNotFoundError:
                continue  # rotated away while we read
            except OSError as e:
                unreadable.append(f"{path}: cannot read: {e.strerror or e}")
                continue
            if lines and lines[-1] == b"":
                lines.pop()
            for number, raw in enumerate(lines, 1):
                try:
                    entry = AuditEntry.from_line(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    unreadable.append(f"{path}:{number}: {e}")
                    continue
                if plugin is None or entry.plugin == plugin:
                    entries.append(entry)
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        return AuditReading(tuple(entries), tuple(unreadable))

    def files(self) -> list[Path]:
        """The existing log files, oldest first."""
        candidates = [self._rotated(i) for i in range(self.keep, 0, -1)] + [self.path]
        return [p for p in candidates if p.exists()]

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _rotated(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def _rotate(self) -> None:
        with locked(self.path):
            try:
                if os.stat(self.path).st_size < self.max_bytes:
                    return  # another console rotated it meanwhile
            except FileNotFoundError:
                return
            for index in range(self.keep - 1, 0, -1):
                if self._rotated(index).exists():
                    os.replace(self._rotated(index), self._rotated(index + 1))
            os.replace(self.path, self._rotated(1))
