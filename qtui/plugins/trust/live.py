"""Decisions that change while a console runs: the files watched, and what a change means in words.

A running console watches ``permissions.toml`` and ``policy.toml`` (:func:`watch_files`) and,
when either changes, evaluates every plugin's grants again; :func:`changes` says what is
different for one plugin, for the status line.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import trio

from qtui.files import inotify
from qtui.plugins.trust.permissions import Grants

#: Where the system has no file events, how often the watched files are looked at: a change
#: applies within a second either way.
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


def watch_points(paths: Sequence[Path]) -> set[Path]:
    """The folders whose file events tell of a change to any of `paths`.

    For each file (and the file a symbolic link points to): its folder, or the nearest existing
    folder above it while its folder is missing (its creation is then the event to wait for).
    """
    points = set()
    for path in paths:
        for file in {Path(os.path.abspath(path)), Path(os.path.realpath(path))}:
            folder = file.parent
            while not folder.is_dir() and folder != folder.parent:
                folder = folder.parent
            points.add(folder)
    return points


async def watch_files(paths: Sequence[Path], on_change: Callable[[], Awaitable[None]], *,
                      interval: float = POLL_SECONDS, file_events: bool = True) -> None:
    """Await `on_change()` after any of `paths` changed (created and removed too), until cancelled.

    `on_change()` also runs once after the watch began: a change made after the caller read
    the files but before this task first ran would otherwise never be seen. With file events
    (inotify, where the system has them, unless `file_events` is False) the folders holding
    the files are watched and an idle console does nothing; without (or while a folder cannot
    be watched: the system's limit of watches reached, say), the files are looked at every
    `interval` seconds. Either way a change is a change of a file's modification time,
    size or inode (a file replaced whole counts).
    """
    with contextlib.ExitStack() as stack:
        events = inotify.open_or_none() if file_events else None
        if events is not None:
            wait = _Folders(stack.enter_context(events), paths, interval).wait
        else:
            wait = functools.partial(trio.sleep, interval)
        seen = [_signature(p) for p in paths]
        await on_change()
        while True:
            await wait()
            now = [_signature(p) for p in paths]
            if now != seen:
                seen = now
                await on_change()


class _Folders:
    """The watches on the folders of some files (:func:`watch_points`), kept up as folders come and go."""

    def __init__(self, events: inotify.Inotify, paths: Sequence[Path], interval: float) -> None:
        self._events = events
        self._paths = paths
        self._interval = interval
        self._watches: dict[Path, int] = {}
        self._unwatched = False  # a folder could not be watched: look every interval too
        self._rearm()

    async def wait(self) -> None:
        """Until something changed in a watched folder (or `interval` passed, while one is not watched)."""
        with trio.move_on_after(self._interval if self._unwatched else math.inf):
            ended = {event.watch for event in await self._events.read() if event.watch_ended}
            for folder in [f for f, watch in self._watches.items() if watch in ended]:
                del self._watches[folder]
        self._rearm()

    def _rearm(self) -> None:
        wanted = watch_points(self._paths)
        for folder in [f for f in self._watches if f not in wanted]:
            watch = self._watches.pop(folder)
            if watch not in self._watches.values():  # two paths to one folder share a watch
                self._events.unwatch(watch)
        self._unwatched = False
        for folder in wanted - self._watches.keys():
            try:
                self._watches[folder] = self._events.watch(folder)
            except OSError:  # removed meanwhile, unreadable, or no watch left on this system
                self._unwatched = True


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
