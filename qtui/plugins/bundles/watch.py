"""Watching plugin folders for saved changes: file events where the system has them (inotify on
Linux), their bundle hashes looked at every second elsewhere."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import trio

from qtui.files import inotify
from qtui.plugins.bundles.bundle import BundleError, bundle_folders, bundle_hash
from qtui.plugins.bundles.manifest import is_ignored_name

#: Saves closer together than this are one change (editors write several files, or twice).
DEBOUNCE_SECONDS = 0.08
#: Changes that never pause are reported after this long all the same.
LONGEST_BURST_SECONDS = 1.0
#: Without file events, how often each folder's bundle hash is looked at.
POLL_SECONDS = 1.0


async def watch_folders(folders: Mapping[str, Path], on_change: Callable[[str], Awaitable[None]],
                        seen: dict[str, str] | None = None, *, file_events: bool = True) -> None:
    """Call `on_change(name)` after each burst of saves that changed a plugin's bundle, until cancelled.

    A change is a new bundle hash (or a new reason the folder is no bundle): editor temporary
    and hidden files, specs and a file saved unchanged are not. `seen` (kept by the caller
    across watches) holds each folder's hash as the watcher last knew it: once a new watch is
    armed, a folder that differs from it was saved while no watch was, and counts as changed.
    With file events (unless `file_events` is False: where the system has them) a folder is
    looked at after a burst of changes in it, and an idle watch does nothing; without (and for
    a folder that cannot be watched: the system's limit of watches reached, say), each folder
    is looked at every POLL_SECONDS.
    """
    seen = {} if seen is None else seen
    roots = {name: folder.resolve() for name, folder in folders.items()}

    async def look(name: str) -> bool:
        """Note the folder's hash; whether it differs from the one noted before."""
        before, known = seen.get(name), name in seen
        seen[name] = await trio.to_thread.run_sync(_hash, roots[name])
        return known and seen[name] != before

    with contextlib.ExitStack() as stack:
        events = inotify.open_or_none() if file_events else None
        trees = _Trees(stack.enter_context(events), roots) if events is not None else None
        for name in roots:  # armed: catch up with what was saved while no watch was
            if await look(name):
                await on_change(name)
        while True:
            if trees is None:
                await trio.sleep(POLL_SECONDS)
                changed = [name for name in roots if await look(name)]
            else:
                touched = await trees.changed()
                changed = [name for name in roots if name in touched and await look(name)]
            for name in changed:
                await on_change(name)


class _Trees:
    """Watches on every folder of some plugin folders, kept up as folders are made."""

    def __init__(self, events: inotify.Inotify, roots: Mapping[str, Path]) -> None:
        self._events = events
        self._folders: dict[int, tuple[str, Path]] = {}  # watch -> (plugin, folder)
        self._unwatched: set[str] = set()  # plugins with a folder that could not be watched
        for name, root in roots.items():
            self._add_tree(name, root)

    async def changed(self) -> set[str]:
        """The plugins whose folders changed, once a burst of changes is over; with them, every
        POLL_SECONDS at least, those with a folder that could not be watched."""
        while True:
            touched = await self._burst()
            if touched or self._unwatched:
                return touched | self._unwatched

    async def _burst(self) -> set[str]:
        """The plugins one burst of changes touched (none if POLL_SECONDS passed without a
        change while a folder is not watched)."""
        batch: list[inotify.FileEvent] = []
        with trio.move_on_after(POLL_SECONDS if self._unwatched else math.inf):
            batch = await self._events.read()
        touched = self._touched(batch)
        began = trio.current_time()
        while touched and trio.current_time() - began < LONGEST_BURST_SECONDS:
            with trio.move_on_after(DEBOUNCE_SECONDS) as quiet:
                batch = await self._events.read()
            if quiet.cancelled_caught:
                break
            touched |= self._touched(batch)
        return touched

    def _touched(self, batch: list[inotify.FileEvent]) -> set[str]:
        touched = set()
        for event in batch:
            if event.overflowed:  # events were lost: any folder may have changed
                touched.update(name for name, _folder in self._folders.values())
                continue
            place = self._folders.get(event.watch)
            if place is None:
                continue
            name, folder = place
            if event.watch_ended:
                del self._folders[event.watch]
            elif event.name and is_ignored_name(event.name):
                continue
            elif event.is_dir and event.mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
                self._add_tree(name, folder / event.name, nested=True)
            touched.add(name)
        return touched

    def _add_tree(self, name: str, root: Path, *, nested: bool = False) -> None:
        """Watch every bundle folder of `root` (a plugin's folder, or one `nested` in it; bounded
        as a bundle is); a tree that cannot be walked or watched whole is looked at every
        POLL_SECONDS instead."""
        try:
            folders = bundle_folders(root, nested=nested)
        except BundleError:  # too deep, too many files, or unreadable: no bundle until fixed
            self._unwatched.add(name)
            folders = [(root, "", [])]
        for folder, _prefix, _entries in folders:
            try:
                self._folders[self._events.watch(folder)] = (name, folder)
            except OSError:  # removed meanwhile, unreadable, or no watch left on this system
                self._unwatched.add(name)


def _hash(folder: Path) -> str:
    try:
        return bundle_hash(folder)
    except (OSError, BundleError) as exc:
        return f"not a bundle: {exc}"  # a different problem is a change too
