"""The reload watcher (qtui.plugins.bundles.watch.watch_folders) across its restarts."""

from __future__ import annotations

from pathlib import Path

import trio

from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.watch import watch_folders
from tests.support import wait_until


def plugin_folder(root: Path, name: str, code: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "init.lua").write_text(code)
    return folder


async def test_a_save_made_while_no_watch_was_armed_counts_once_the_next_watch_is(tmp_path: Path) -> None:
    saved = plugin_folder(tmp_path, "saved", "-- one")
    seen: dict[str, str | None] = {"saved": bundle_hash(saved)}  # what the previous watch knew
    (saved / "init.lua").write_text("-- two")  # saved between two watches
    same = plugin_folder(tmp_path, "same", "-- one")
    seen["same"] = bundle_hash(same)
    new = plugin_folder(tmp_path, "new", "-- one")  # never watched: nothing to compare with
    changed: list[str] = []

    async def on_change(name: str) -> None:
        changed.append(name)

    async with trio.open_nursery() as nursery:
        folders = {"saved": saved, "same": same, "new": new}
        nursery.start_soon(watch_folders, folders, on_change, seen)
        await wait_until(lambda: "new" in seen, "the watch to be armed")
        assert changed == ["saved"] and seen["saved"] == bundle_hash(saved)
        (same / "init.lua").write_text("-- three")  # and saves while it is armed count as before
        await wait_until(lambda: changed == ["saved", "same"], "the save to the watched folder")
        nursery.cancel_scope.cancel()
    assert seen["same"] == bundle_hash(same)
