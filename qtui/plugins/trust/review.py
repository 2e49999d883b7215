"""Reviewing changed code: a copy of the files last granted, and what differs from them now.

Each time the operator grants a plugin something, qtui keeps a copy of the code granted
(:class:`GrantedCopies`, one file per plugin in ``$XDG_STATE_HOME/qtui/granted/``). When the
plugin's code changes, :func:`review` compares that copy with the files now: which files were
added, removed or changed, the unified diff, and every line that mentions a function a
capability gates, those among the changed lines marked. The scan reads names, not meaning:
code that builds a function's name at run time is not found, which is why the host checks
every call whatever the review showed.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from qtui import paths
from qtui.files.atomic import replace_file
from qtui.plugins.bundles.bundle import MAX_BUNDLE_BYTES, Bundle
from qtui.plugins.bundles.manifest import PLUGIN_NAME

#: The folder under the state dir where the copies are kept.
GRANTED_FOLDER = "granted"
#: The most diff lines a review holds; the rest is summed up in one line.
MAX_DIFF_LINES = 4000
_COPY_FORMAT = 1


def granted_dir() -> Path:
    """Where the copies of granted code are kept."""
    return paths.state_dir() / GRANTED_FOLDER


@attrs.frozen
class Copy:
    """The files of a plugin version as they were when the operator last granted it something."""

    plugin: str
    version: str
    hash: str
    files: Mapping[str, bytes]


class GrantedCopies:
    """The copy of each plugin's last granted code (default folder :func:`granted_dir`)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else granted_dir()

    def path(self, plugin: str) -> Path:
        if not PLUGIN_NAME.fullmatch(plugin):
            raise ValueError(f"{plugin!r} is not a plugin name")
        return self.folder / f"{plugin}.json"

    def keep(self, plugin: str, version: str, bundle: Bundle) -> None:
        """Keep `bundle` as the code last granted to `plugin` (atomically replacing the older copy)."""
        document = {"format": _COPY_FORMAT, "plugin": plugin, "version": version, "hash": bundle.hash,
                    "files": {name: base64.b64encode(data).decode("ascii") for name, data in bundle.files.items()}}
        replace_file(self.path(plugin), json.dumps(document, sort_keys=True))

    def load(self, plugin: str) -> Copy | None:
        """The copy kept for `plugin`, or None if there is none; ValueError names a damaged one."""
        path = self.path(plugin)
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_BUNDLE_BYTES * 2)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            doc: Any = json.loads(raw)
            files = {name: base64.b64decode(data, validate=True) for name, data in doc["files"].items()}
            copy = Copy(doc["plugin"], doc["version"], doc["hash"], files)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise ValueError(f"{path}: not a copy of granted code; it is replaced at the next grant") from None
        if copy.plugin != plugin or not all(isinstance(v, str) for v in (copy.version, copy.hash)):
            raise ValueError(f"{path}: not a copy of {plugin}'s granted code")
        return copy


@attrs.frozen
class FileChange:
    """One file added, removed or changed since the granted copy, with its lines added and removed."""

    path: str
    status: str  # "added", "removed" or "changed"
    added: int
    removed: int

    def __str__(self) -> str:
        return f"{self.path} ({self.status}, +{self.added} -{self.removed})"


@attrs.frozen
class GatedCall:
    """A line of the current code that mentions a function a capability gates."""

    gate: str  # the capability (or what decides it)
    function: str  # e.g. "qtui.jobs.requeue"
    path: str
    line: int
    text: str
    changed: bool  # among the lines added or changed since the granted copy

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text.strip()}"


@attrs.frozen
class Review:
    """What changed between the code last granted (`granted`, None if no copy is kept) and now."""

    granted: Copy | None
    changes: tuple[FileChange, ...]
    diff: tuple[str, ...]  # unified diff lines, without line ends
    calls: tuple[GatedCall, ...]

    @property
    def changed_calls(self) -> tuple[GatedCall, ...]:
        return tuple(c for c in self.calls if c.changed)


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines()


def _patterns(gated: Mapping[str, str]) -> list[tuple[str, str, re.Pattern[str]]]:
    found = []
    for name, gate in gated.items():
        *parents, last = name.split(".")
        prefix = r"\b" + r"\s*\.\s*".join(map(re.escape, parents)) + r"\s*" if parents else ""
        found.append((gate, f"qtui.{name}", re.compile(prefix + r"\.\s*" + re.escape(last) + r"\b")))
    return found


def review(granted: Copy | None, bundle: Bundle, gated: Mapping[str, str]) -> Review:
    """Compare the granted copy with `bundle`; `gated` maps each gated function (``jobs.requeue``)
    to the capability that gates it."""
    old = granted.files if granted is not None else {}
    new = bundle.files
    changes: list[FileChange] = []
    diff: list[str] = []
    fresh: dict[str, set[int]] = {}  # file -> numbers of lines added or changed
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        a, b = _text(before or b""), _text(after or b"")
        fresh[path] = set()
        lines = list(difflib.unified_diff(a, b, f"granted/{path}" if before is not None else "/dev/null",
                                          f"now/{path}" if after is not None else "/dev/null", lineterm=""))
        number = 0
        for line in lines:
            if line.startswith("@@"):
                number = int(re.match(r"@@ -\d+(?:,\d+)? \+(\d+)", line).group(1)) - 1  # type: ignore[union-attr]
            elif line.startswith("+") and not line.startswith("+++"):
                number += 1
                fresh[path].add(number)
            elif line.startswith(" "):
                number += 1
        status = "added" if before is None else "removed" if after is None else "changed"
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
        changes.append(FileChange(path, status, added, removed))
        diff += lines
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"... {len(diff) - MAX_DIFF_LINES} more diff lines not shown"]
    calls = []
    patterns = _patterns(gated)
    for path in sorted(p for p in new if p.endswith(".lua")):
        for number, line in enumerate(_text(new[path]), 1):
            for gate, function, pattern in patterns:
                if pattern.search(line):
                    calls.append(GatedCall(gate, function, path, number, line[:300],
                                           number in fresh.get(path, ())))
    return Review(granted, tuple(changes), tuple(diff), tuple(calls))
