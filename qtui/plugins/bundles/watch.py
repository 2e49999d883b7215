"""Watching plugin folders for saved changes (inotify and friends, through watchfiles)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import trio
import watchfiles

from qtui.plugins.bundles.bundle import BundleError, bundle_hash
from qtui.plugins.bundles.manifest import is_ignored_name

#: Saves closer together than this are one change (editors write several files, or twice).
DEBOUNCE_MS = 80
#: How long the watch waits for file events before it answers with none (its first answer
#: comes once it is armed; a wait this long costs nothing while idle).
ARMED_MS = 1000


async def watch_folders(folders: Mapping[str, Path], on_change: Callable[[str], Awaitable[None]],
                        seen: dict[str, str | None] | None = None) -> None:
    """Call `on_change(name)` after each burst of changes in a plugin's folder, until cancelled.

    Uses the operating system's file events where it has them (inotify on Linux);
    editor temporary and hidden files are ignored. `seen` (kept by the caller across
    watches) holds each folder's bundle hash as the watcher last knew it: once a new watch
    is armed, a folder that differs from it was saved while no watch was, and counts as
    changed.
    """
    seen = {} if seen is None else seen
    roots = {name: folder.resolve() for name, folder in folders.items()}

    async def look(name: str) -> bool:
        """Note the folder's hash; whether it differs from the one noted before."""
        before, known = seen.get(name), name in seen
        seen[name] = await trio.to_thread.run_sync(_hash, roots[name])
        return known and seen[name] != before

    def relevant(_change: watchfiles.Change, path: str) -> bool:
        resolved = Path(path).resolve()
        for root in roots.values():
            if resolved == root or root in resolved.parents:
                return not any(is_ignored_name(part) for part in resolved.relative_to(root).parts)
        return False

    # The watcher waits in a thread; setting `stop` is what ends that wait promptly when
    # this task is cancelled (otherwise quitting would wait for the watcher's timeout).
    stop = threading.Event()  # watchfiles only needs is_set() and set()

    async def stop_when_cancelled() -> None:
        try:
            await trio.sleep_forever()
        finally:
            stop.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_when_cancelled)
        armed = False
        # The first answer (changes, or an empty set on the timeout) comes once the watch is armed.
        async for changes in watchfiles.awatch(*roots.values(), watch_filter=relevant, debounce=DEBOUNCE_MS,
                                               stop_event=stop, recursive=True, rust_timeout=ARMED_MS,
                                               yield_on_timeout=True):
            touched = {Path(path).resolve() for _kind, path in changes}
            for name, root in roots.items():
                if any(path == root or root in path.parents for path in touched):
                    await look(name)
                    await on_change(name)
                elif not armed and await look(name):
                    await on_change(name)
            armed = True
        nursery.cancel_scope.cancel()


def _hash(folder: Path) -> str | None:
    try:
        return bundle_hash(folder)
    except (OSError, BundleError):
        return None
