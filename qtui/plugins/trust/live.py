"""Decisions that change while a console runs: the files watched, and what a change means in words.

A running console watches ``permissions.toml`` and ``policy.toml`` (:func:`watch_files`) and,
when either changes, evaluates every plugin's grants again; :func:`changes` says what is
different for one plugin, for the status line.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import trio

from qtui.plugins.trust.permissions import Grants

#: How often the watched files are looked at: a change applies within a second.
POLL_SECONDS = 0.5

_Signature = tuple[int, int, int, int] | str | None


def _signature(path: Path) -> _Signature:
    """What changes when a file is written, replaced, created or removed."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return str(exc)
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino


async def watch_files(paths: Sequence[Path], on_change: Callable[[], Awaitable[None]], *,
                      interval: float = POLL_SECONDS) -> None:
    """Await `on_change()` after any of `paths` changed (created and removed too), until cancelled.

    The files are looked at every `interval` seconds (a stat each: they are small, local and
    often replaced whole, which file events on the file itself would miss). `on_change()` also
    runs once after the first look: a change made after the caller read the files but before
    this task first ran would otherwise never be seen.
    """
    seen = [_signature(p) for p in paths]
    await on_change()
    while True:
        await trio.sleep(interval)
        now = [_signature(p) for p in paths]
        if now != seen:
            seen = now
            await on_change()


def changes(before: Grants, after: Grants) -> list[str]:
    """What differs between two evaluations of one plugin's grants, one phrase per capability."""
    found = []
    for capability in after.manifest.permissions:
        old, new = before.check(capability), after.check(capability)
        if old.allowed != new.allowed or (not new.allowed and old.verdict is not new.verdict):
            found.append(f"{capability} {new.verdict}" if not new.allowed else f"{capability} granted")
        elif new.allowed and old.bounds != new.bounds:
            bounds = "; ".join(str(b) for b in new.bounds) or "unbounded"
            found.append(f"{capability} now {bounds}")
        elif new.allowed and old.confirm != new.confirm:
            found.append(f"{capability} {'asks before each use' if new.confirm else 'no longer asks'}")
    return found
