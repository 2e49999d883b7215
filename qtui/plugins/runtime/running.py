"""Which plugins the consoles on this machine are running, for `qtui plugin list` and `info`.

Each console with plugins keeps one small JSON file, ``$XDG_STATE_HOME/qtui/running/PID-N.json``
(the process id, and a count for a second console in one process), replaced atomically whenever
one of its plugins changes state and deleted when the console ends::

    {"pid": 4242, "plugins": {"tenant-sla": {"version": "1.2.0", "state": "running"},
                              "spin": {"version": "1.0.0", "state": "quarantined",
                                       "reason": "exceeded 1000000 instructions 3 times"}}}

A file whose process is gone (a console that crashed) is ignored, and deleted by the next
console that starts. The files are read as hostile: size, entries and text are bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from qtui import paths
from qtui.files.atomic import replace_file

#: The largest file read (a console runs at most a few dozen plugins).
MAX_FILE_BYTES = 256 * 1024
MAX_PLUGINS = 1000
_MAX_TEXT = 500

#: How states rank when several consoles run one plugin: the most alarming is shown.
STATE_RANK = ("stopped", "starting", "running", "waiting", "errored", "quarantined")


def running_dir() -> Path:
    """$XDG_STATE_HOME/qtui/running: one file per console."""
    return paths.state_dir() / "running"


@attrs.frozen
class Running:
    """One plugin in one console."""

    name: str
    version: str
    state: str  # one of STATE_RANK
    reason: str | None
    pid: int


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process of that pid: alive, but not ours to judge
    return True


_consoles = itertools.count(1)


class RunningFile:
    """The file of one console's plugins."""

    def __init__(self, directory: Path | None = None) -> None:
        self.pid = os.getpid()
        self.directory = directory or running_dir()
        self.path = self.directory / f"{self.pid}-{next(_consoles)}.json"

    def write(self, plugins: Mapping[str, Mapping[str, str | None]]) -> None:
        """Record `plugins`: name -> version, state (one of STATE_RANK) and reason."""
        entries = {name: {k: v for k, v in fields.items() if v is not None} for name, fields in plugins.items()}
        replace_file(self.path, json.dumps({"pid": self.pid, "plugins": entries}, sort_keys=True), mode=0o644)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def remove_stale(self) -> None:
        """Delete the files of consoles that ended without deleting theirs."""
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.directory):
                pid = _pid_of(entry.name)
                if pid is not None and pid != self.pid and not _alive(pid):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)


def _pid_of(file_name: str) -> int | None:
    stem, dot, suffix = file_name.partition(".")
    pid, dash, count = stem.partition("-")
    if dot and dash and suffix == "json" and all(p.isascii() and p.isdigit() and len(p) < 10 for p in (pid, count)):
        return int(pid)
    return None


def _text(value: Any) -> str | None:
    return value[:_MAX_TEXT] if isinstance(value, str) else None


def _entries(path: Path, pid: int) -> list[Running]:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES])
    except (OSError, ValueError):
        return []  # being replaced, or not ours: a console's state is advisory
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        return []
    found = []
    for name, fields in list(plugins.items())[:MAX_PLUGINS]:
        if not isinstance(fields, dict) or fields.get("state") not in STATE_RANK:
            continue
        found.append(Running(name[:_MAX_TEXT], _text(fields.get("version")) or "", fields["state"],
                             _text(fields.get("reason")), pid))
    return found


def read_running(directory: Path | None = None) -> dict[str, list[Running]]:
    """Every plugin of every live console, by plugin name."""
    directory = directory or running_dir()
    found: dict[str, list[Running]] = {}
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        pid = _pid_of(entry.name)
        if pid is None or not _alive(pid):
            continue
        for running in _entries(Path(entry.path), pid):
            found.setdefault(running.name, []).append(running)
    return found


def summary(consoles: list[Running]) -> Running | None:
    """The state to show for a plugin several consoles may run: the most alarming one."""
    if not consoles:
        return None
    return max(consoles, key=lambda r: STATE_RANK.index(r.state))
