"""Recordings of what plugins see on a real host, for replaying into a plugin offline.

``qtui record --out FILE`` runs the console with a :class:`Recorder`; ``qtui plugin test
--replay FILE`` reads the file back with :func:`read_recording` and feeds it into a plugin (see
:mod:`qtui.authoring._spec_driver`). The file is JSON lines: a header, then one line per event
or job, in the order they happened::

    {"qtui_recording": 1, "api": "1.1.0", "started": 1700000000.0, "payloads": false}
    {"at": 0.0, "event": {"type": "stats", "queues": [...], "workers_alive": 2, ...}}
    {"at": 1.5, "event": {"type": "selection", "screen": "dead", "queue": "email", ...}}
    {"at": 2.0, "job": {"id": "42", "queue": "email", "state": "dead", "payload": "<redacted: 18 bytes>",
                        "payload_redacted": true, ...}}

``at`` is seconds since ``started`` (the console's clock). Events are those every plugin may
receive from the console (:data:`RECORDED`), as plugins receive them; jobs are those the
plugins' ``qtui.jobs.peek`` and ``qtui.jobs.find`` requests returned, so a replay can answer
the same reads. Job payloads and the data of plugin messages are replaced by a note of their
size unless the recording was made with ``payloads``: a recording may leave the operator's
machine. Reading treats the file as hostile: sizes are capped and every line is checked,
a problem being reported as ``file:line: message``.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from qtui.clock import Clock
from qtui.events import ConsoleKey, Event, SelectionChanged, StatsUpdated
from qtui.files.tomlfile import FileProblems, Problem
from qtui.plugins.runtime import api
from qtui.plugins.runtime.events import PluginLifecycle, PluginMessage, to_plain
from qtui.plugins.runtime.prepared import stats_plain

FORMAT = 1
#: Bus events a recording keeps: what any plugin may receive from the console itself.
RECORDED: tuple[type[Event], ...] = (StatsUpdated, SelectionChanged, PluginMessage, PluginLifecycle, ConsoleKey)
REPLAYED_TYPES = frozenset({"stats", "selection", "message", "lifecycle", "console_key"})
#: The largest recording written or read, the longest line, and the most jobs kept.
MAX_BYTES = 64 * 1024 * 1024
MAX_LINE = 1024 * 1024
MAX_JOBS = 10_000
_JOB_FIELDS = frozenset({"id", "queue", "state", "payload", "payload_redacted", "payload_truncated", "priority",
                         "attempts", "max_attempts", "last_error", "worker", "created_at", "updated_at", "run_at",
                         "lease_until", "finished_at", "origin", "extra"})


def redacted(text: str) -> str:
    """What a payload (or message data) becomes in a recording made without payloads."""
    return f"<redacted: {len(text.encode('utf-8'))} bytes>"


class Recorder:
    """Writes what plugins see to a recording file, as it happens; stops at :data:`MAX_BYTES`."""

    def __init__(self, path: Path, *, clock: Clock, payloads: bool = False) -> None:
        self.path = path
        self.payloads = payloads
        self._clock = clock
        self._started = clock.time()
        self._written = 0
        self._jobs: set[str] = set()
        self.full = False  # stopped at MAX_BYTES
        self.events = 0  # events written
        # Written beside `path` a line at a time, and put in its place by close(): an older
        # recording at `path` stays whole until the new one is complete.
        self._partial = path.with_name(f".{path.name}.partial")
        # Events come from the console's loop and job reads from plugin threads, until close().
        self._lock = threading.Lock()
        self._closed = False
        self._file: IO[str] = open(self._partial, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._line({"qtui_recording": FORMAT, "api": api.HOST_API_VERSION, "started": self._started,
                    "payloads": payloads})

    def _line(self, data: Mapping[str, Any]) -> bool:
        """Write one line; False when it was dropped (the recording is full or closed)."""
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self.full or self._closed:
                return False
            if self._written + len(text) > MAX_BYTES or len(text) > MAX_LINE:
                self.full = True
                return False
            self._file.write(text)
            self._written += len(text)
            return True

    def _at(self) -> float:
        return round(self._clock.time() - self._started, 3)

    def event(self, event: Event) -> None:
        """Record a bus event (one of RECORDED) as plugins receive it."""
        plain = stats_plain(event) if isinstance(event, StatsUpdated) else to_plain(event)
        if isinstance(event, PluginMessage) and not self.payloads:
            plain["data"] = redacted(json.dumps(plain.get("data"), allow_nan=False))
        if self._line({"at": self._at(), "event": plain}):
            self.events += 1

    def jobs(self, jobs: Iterable[Mapping[str, Any]]) -> None:
        """Record jobs a plugin read (as plugins see them), each once."""
        for job in jobs:
            if len(self._jobs) >= MAX_JOBS or job.get("id") in self._jobs:
                continue
            self._jobs.add(str(job.get("id")))
            kept = dict(job)
            if not self.payloads and isinstance(kept.get("payload"), str):
                kept["payload"], kept["payload_redacted"] = redacted(kept["payload"]), True
            self._line({"at": self._at(), "job": kept})

    def close(self) -> None:
        """Finish the recording: it replaces whatever was at its path; later events are dropped."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._file.close()
        os.replace(self._partial, self.path)


@attrs.frozen
class Recording:
    """A recording read back: when it started, its events (seconds after the start, plain) and jobs."""

    path: Path
    started: float
    payloads: bool
    events: tuple[tuple[float, dict[str, Any]], ...]
    jobs: tuple[dict[str, Any], ...]


def _fail(path: Path, line: int | None, message: str) -> FileProblems:
    return FileProblems([Problem(path, line, "", message)])


def read_recording(path: Path) -> Recording:
    """Read and check the recording at `path`; FileProblems names the file and line of a problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fail(path, None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise _fail(path, None, f"larger than {MAX_BYTES} bytes")
    lines = raw.split(b"\n")
    header = _json_line(path, 1, lines[0])
    if not isinstance(header, dict) or header.get("qtui_recording") != FORMAT:
        raise _fail(path, 1, f"not a qtui recording (the first line names format {FORMAT})")
    started = header.get("started")
    if not _number(started):
        raise _fail(path, 1, "started must be a time in seconds")
    events: list[tuple[float, dict[str, Any]]] = []
    jobs: list[dict[str, Any]] = []
    last = 0.0
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        entry = _json_line(path, number, line)
        if not isinstance(entry, dict) or not _number(entry.get("at")) or set(entry) - {"at", "event", "job"} \
                or len(entry) != 2:
            raise _fail(path, number, "each line after the first is {\"at\": SECONDS, \"event\": {...}} or "
                                      "{\"at\": SECONDS, \"job\": {...}}")
        at = float(entry["at"])
        if at < last:
            raise _fail(path, number, f"at {at} is before the line above ({last}): lines are in time order")
        last = at
        if "event" in entry:
            events.append((at, _event(path, number, entry["event"])))
        elif len(jobs) < MAX_JOBS:
            jobs.append(_job(path, number, entry["job"]))
    return Recording(path, float(started), header.get("payloads") is True, tuple(events), tuple(jobs))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _json_line(path: Path, number: int, line: bytes) -> Any:
    if len(line) > MAX_LINE:
        raise _fail(path, number, f"line longer than {MAX_LINE} bytes")
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(path, number, f"not JSON: {exc}") from None
    except RecursionError:
        raise _fail(path, number, "nested too deeply") from None


def _event(path: Path, number: int, event: Any) -> dict[str, Any]:
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in REPLAYED_TYPES:
        raise _fail(path, number, f"an event's type is one of {', '.join(sorted(REPLAYED_TYPES))}, not {kind!r}")
    declared = {f.name for f in api.event(kind).fields} | {"type"}
    unknown = sorted(set(event) - declared)
    if unknown:
        raise _fail(path, number, f"a {kind} event has no field {unknown[0]!r}")
    return event


def _job(path: Path, number: int, job: Any) -> dict[str, Any]:
    if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not isinstance(job.get("queue"), str) \
            or not isinstance(job.get("state"), str):
        raise _fail(path, number, "a job has at least an id, a queue and a state (strings)")
    unknown = sorted(set(job) - _JOB_FIELDS)
    if unknown:
        raise _fail(path, number, f"a job has no field {unknown[0]!r}")
    return job
