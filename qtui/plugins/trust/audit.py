"""The audit log of what plugins asked for and what happened: JSON lines in ``$XDG_STATE_HOME/qtui/audit.jsonl``.

Each use of a capability is a *request* with an id, recorded twice or more: a ``requested``
entry when the plugin asks, then one entry per outcome (``refused`` with a reason, ``declined``,
``confirmed``, ``done`` with the number of jobs affected, ``failed`` with the error), all
carrying the request's id. Decisions are entries of their own (``granted``, ``revoked``)::

    {"time": "2024-05-01T12:00:00.123Z", "plugin": "tenant-sla", "version": "1.2.0",
     "capability": "jobs.purge", "request": "4f1c0a-7", "outcome": "done", "reason": "",
     "jobs": 12, "detail": "delete 12 dead jobs on emails"}

Lines are appended with ``O_APPEND`` in a single ``write``, so consoles open at once interleave
whole lines. When the file reaches ``max_bytes`` it is rotated to ``audit.jsonl.1`` (older ones
shift up to ``.<keep>``, the oldest is dropped), under a lock so two consoles rotate once.
Plugin-supplied text is hostile: control characters are replaced and details are shortened,
both when written and when read back.

:class:`Auditor` writes a running console's entries: it makes the request ids, holds back a
plugin's routine entries beyond a flood limit (writing a ``suppressed`` summary instead, so a
busy plugin cannot wash older entries out of the rotation) and raises :class:`AuditError` for
an *essential* entry, the record of an action that changes queues, so that the action is refused
rather than done unaudited.
"""

from __future__ import annotations

import collections
import datetime
import enum
import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any

import attrs

from qtui import paths
from qtui.clock import Clock, utc_now
from qtui.files.atomic import locked
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.trust.permissions import Verdict

AUDIT_FILE = "audit.jsonl"
MAX_BYTES = 1024 * 1024
KEEP_ROTATED = 3
MAX_DETAIL = 200
#: A plugin's routine entries beyond this many per :data:`FLOOD_SECONDS` are counted, not written.
FLOOD_ENTRIES = 120
FLOOD_SECONDS = 60
_MAX_FIELD = 128
_MAX_JOBS = 10**12
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

def audit_path() -> Path:
    """Where the audit log is written."""
    return paths.state_dir() / AUDIT_FILE


class Outcome(enum.StrEnum):
    """What an audit entry records."""

    REQUESTED = "requested"
    REFUSED = "refused"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    DONE = "done"
    FAILED = "failed"
    GRANTED = "granted"
    REVOKED = "revoked"
    SUPPRESSED = "suppressed"
    VIOLATION = "violation"  # the plugin broke a limit of its sandbox (capability: limits.KIND)


class Reason(enum.StrEnum):
    """Why a request was refused (the ``reason`` of a ``refused`` entry)."""

    DENIED = "denied"
    FORBIDDEN = "forbidden"
    UNDECIDED = "undecided"
    NOT_REQUESTED = "not_requested"
    BAD_ARGUMENTS = "bad_arguments"
    READ_ONLY = "read_only"
    OUT_OF_SCOPE = "out_of_scope"
    RATE_LIMIT = "rate_limit"
    TOO_MANY_JOBS = "too_many_jobs"
    NO_OPERATOR = "no_operator"
    WITHDRAWN = "withdrawn"
    AUDIT_UNAVAILABLE = "audit_unavailable"

    @classmethod
    def of(cls, verdict: Verdict) -> Reason:
        """The reason for refusing a use whose verdict is `verdict` (not GRANTED)."""
        return cls(verdict.value)


#: Outcomes of lines written before requests had ids, read back as today's outcomes.
_LEGACY = {
    "allowed": (Outcome.DONE, ""),
    **{v.value: (Outcome.REFUSED, v.value) for v in Verdict if v is not Verdict.GRANTED},
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
    request: str = ""  # the request's id, shared by its entries; "" for decisions
    reason: str = ""  # a Reason, for refused entries
    jobs: int | None = None  # jobs affected (done), or asked about (requested, confirmed)

    def to_line(self) -> str:
        """The entry as one JSON line (ASCII only, newline-terminated)."""
        stamp = self.time.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
        record = {
            "time": stamp.replace("+00:00", "Z"),
            "plugin": _clean(self.plugin, _MAX_FIELD),
            "version": _clean(self.version, _MAX_FIELD),
            "capability": _clean(self.capability, _MAX_FIELD),
            "request": _clean(self.request, _MAX_FIELD),
            "outcome": self.outcome.value,
            "reason": _clean(self.reason, _MAX_FIELD),
            "jobs": self.jobs,
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
        for key in ("time", "plugin", "version", "capability", "outcome", "detail", "request", "reason"):
            value = record.get(key, "" if key in ("request", "reason") else None)
            if not isinstance(value, str):
                raise ValueError(f"{key}: missing or not a string")
            fields[key] = value
        jobs = record.get("jobs")
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or not 0 <= jobs <= _MAX_JOBS):
            raise ValueError("jobs: not a count of jobs")
        try:
            time = datetime.datetime.fromisoformat(fields["time"])
        except ValueError:
            raise ValueError(f"time: {fields['time'][:40]!r} is not an ISO 8601 time") from None
        if time.tzinfo is None:
            raise ValueError("time: has no time zone")
        outcome, reason = _LEGACY.get(fields["outcome"], (None, fields["reason"]))
        try:
            outcome = outcome or Outcome(fields["outcome"])
        except ValueError:
            raise ValueError(f"outcome: unknown {fields['outcome'][:40]!r}") from None
        return cls(
            time=time.astimezone(datetime.UTC),
            plugin=_clean(fields["plugin"], _MAX_FIELD),
            version=_clean(fields["version"], _MAX_FIELD),
            capability=_clean(fields["capability"], _MAX_FIELD),
            outcome=outcome,
            detail=_clean(fields["detail"], MAX_DETAIL),
            request=_clean(fields["request"], _MAX_FIELD),
            reason=_clean(reason, _MAX_FIELD),
            jobs=jobs,
        )


@attrs.frozen
class AuditFilter:
    """Which entries to read back; every criterion given must hold."""

    plugin: str | None = None
    capability: str | None = None
    outcome: Outcome | None = None
    since: datetime.datetime | None = None  # inclusive
    until: datetime.datetime | None = None  # exclusive

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.plugin is None or entry.plugin == self.plugin)
            and (self.capability is None or entry.capability == self.capability)
            and (self.outcome is None or entry.outcome is self.outcome)
            and (self.since is None or entry.time >= self.since)
            and (self.until is None or entry.time < self.until)
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
        self, path: Path | None = None, *, max_bytes: int = MAX_BYTES, keep: int = KEEP_ROTATED
    ) -> None:
        if max_bytes < 1 or keep < 1:
            raise ValueError("max_bytes and keep must be at least 1")
        self.path = path if path is not None else audit_path()
        self.max_bytes = max_bytes
        self.keep = keep

    def record(
        self,
        plugin: str,
        version: str,
        capability: str,
        outcome: Outcome,
        detail: str = "",
        *,
        request: str = "",
        reason: str = "",
        jobs: int | None = None,
        now: datetime.datetime | None = None,
    ) -> AuditEntry:
        """Append an entry stamped `now` (default: the current UTC time) and return it."""
        entry = AuditEntry(now or datetime.datetime.now(datetime.UTC), plugin, version, capability, outcome, detail, request, reason, jobs)
        self.append(entry)
        return entry

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

    def read(self, *, plugin: str | None = None, limit: int | None = None,
             where: AuditFilter | None = None) -> AuditReading:
        """Entries from the rotated files and the current one, oldest first.

        `plugin` keeps only that plugin's entries, `where` only those it matches; `limit` keeps
        only the newest `limit` of them.
        """
        where = attrs.evolve(where or AuditFilter(), plugin=plugin) if plugin is not None else where
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
                if where is None or where.matches(entry):
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


# -- a console's entries ------------------------------------------------------------------


@attrs.frozen
class Ticket:
    """One request being audited: its id and whose it is; pass it to :meth:`Auditor.outcome`."""

    id: str
    plugin: str
    version: str
    capability: Capability
    essential: bool  # an action that changes queues: never held back, and refused if unrecorded


@attrs.define
class _Flood:
    """A plugin's entries in the current flood window, and those held back."""

    started: datetime.datetime
    version: str
    written: int = 0
    held: collections.Counter[str] = attrs.field(factory=collections.Counter)


class Auditor:
    """Writes the entries of one console's plugins to an :class:`AuditLog`; safe from any thread.

    `clock` gives the entries' time and drives the flood windows. A write that fails sets
    :attr:`failure` (for the console to show); it raises :class:`AuditError` only for essential
    entries, whose action must then not go ahead.
    """

    def __init__(self, log: AuditLog, *, clock: Clock, flood_entries: int = FLOOD_ENTRIES,
                 flood_seconds: float = FLOOD_SECONDS) -> None:
        self.log = log
        self._clock = clock
        self._flood_entries = flood_entries
        self._window = datetime.timedelta(seconds=flood_seconds)
        self._session = secrets.token_hex(3)  # request ids stay unique across consoles
        self._count = 0
        self._floods: dict[str, _Flood] = {}
        self._lock = threading.Lock()
        self.failure: str | None = None  # the latest write failure, until a write succeeds

    def request(self, plugin: str, version: str, capability: Capability, detail: str, *,
                essential: bool = False, jobs: int | None = None) -> Ticket:
        """Record that `plugin` asks to use `capability`; AuditError if essential and unwritten."""
        with self._lock:
            self._count += 1
            ticket = Ticket(f"{self._session}-{self._count}", plugin, version, capability, essential)
        self._write(ticket, Outcome.REQUESTED, detail=detail, jobs=jobs)
        return ticket

    def outcome(self, ticket: Ticket, outcome: Outcome, *, reason: Reason | None = None,
                jobs: int | None = None, detail: str = "") -> None:
        """Record what became of the request; AuditError if essential and unwritten."""
        self._write(ticket, outcome, reason=reason, jobs=jobs, detail=detail)

    def flush(self, plugin: str | None = None) -> None:
        """Write the summary of entries held back so far (of `plugin`, or of every plugin)."""
        with self._lock:
            names = [plugin] if plugin is not None else list(self._floods)
            floods = [(name, self._floods.pop(name)) for name in names if name in self._floods]
        for name, flood in floods:
            self._summarise(name, flood)

    def violation(self, plugin: str, version: str, limit: str, detail: str) -> None:
        """Record that `plugin` broke a limit of its sandbox (`limit`: ``limits.KIND``); a routine entry."""
        self._admit(AuditEntry(utc_now(self._clock), plugin, version, limit, Outcome.VIOLATION, detail),
                    essential=False)

    def _write(self, ticket: Ticket, outcome: Outcome, *, reason: Reason | None = None,
               jobs: int | None = None, detail: str = "") -> None:
        entry = AuditEntry(utc_now(self._clock), ticket.plugin, ticket.version, ticket.capability.value, outcome,
                           detail, ticket.id, reason.value if reason else "", jobs)
        self._admit(entry, essential=ticket.essential)

    def _admit(self, entry: AuditEntry, *, essential: bool) -> None:
        """Append `entry`, or hold it back if its plugin is flooding the log (never an essential one)."""
        now = entry.time
        ended = None
        with self._lock:
            flood = self._floods.get(entry.plugin)
            if flood is None or now - flood.started >= self._window:
                ended = flood
                flood = self._floods[entry.plugin] = _Flood(now, entry.version)
            flood.written += 1
            if flood.written > self._flood_entries and not essential:
                flood.held[f"{entry.capability} {entry.outcome}"] += 1
                return
        if ended is not None and ended.held:
            self._summarise(entry.plugin, ended)
        self._append(entry, essential=essential)

    def _summarise(self, plugin: str, flood: _Flood) -> None:
        if not flood.held:
            return
        total = sum(flood.held.values())
        counts = ", ".join(f"{what} {n}" for what, n in flood.held.most_common())
        detail = (f"{total} entries held back (more than {self._flood_entries} in "
                  f"{self._window.total_seconds():g} s): {counts}")
        self._append(AuditEntry(utc_now(self._clock), plugin, flood.version, "", Outcome.SUPPRESSED, detail), essential=False)

    def _append(self, entry: AuditEntry, *, essential: bool) -> None:
        try:
            self.log.append(entry)
        except AuditError as exc:
            self.failure = str(exc)
            if essential:
                raise
            return
        self.failure = None
