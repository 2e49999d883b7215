"""The reload watcher (qtui.plugins.bundles.watch.watch_folders), with file events and without."""

from __future__ import annotations

import errno
import math
from pathlib import Path

import pytest
import trio
import trio.testing

from qtui.files import inotify
from qtui.plugins.bundles import watch
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.watch import watch_folders
from tests.support import wait_until

WAYS = [pytest.param(True, id="file-events", marks=pytest.mark.skipif(not inotify.available(), reason="no inotify")),
        pytest.param(False, id="polling")]


@pytest.fixture(autouse=True)
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "POLL_SECONDS", 0.02)


def plugin_folder(root: Path, name: str, code: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "init.lua").write_text(code)
    return folder


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_save_made_while_no_watch_was_armed_counts_once_the_next_watch_is(
        tmp_path: Path, file_events: bool) -> None:
    saved = plugin_folder(tmp_path, "saved", "-- one")
    seen: dict[str, str] = {"saved": bundle_hash(saved)}  # what the previous watch knew
    (saved / "init.lua").write_text("-- two")  # saved between two watches
    same = plugin_folder(tmp_path, "same", "-- one")
    seen["same"] = bundle_hash(same)
    new = plugin_folder(tmp_path, "new", "-- one")  # never watched: nothing to compare with
    changed: list[str] = []

    async def on_change(name: str) -> None:
        changed.append(name)

    async with trio.open_nursery() as nursery:
        folders = {"saved": saved, "same": same, "new": new}
        nursery.start_soon(lambda: watch_folders(folders, on_change, seen, file_events=file_events))
        await wait_until(lambda: "new" in seen, "the watch to be armed")
        assert changed == ["saved"] and seen["saved"] == bundle_hash(saved)
        (same / "init.lua").write_text("-- three")  # and saves while it is armed count as before
        await wait_until(lambda: changed == ["saved", "same"], "the save to the watched folder")
        nursery.cancel_scope.cancel()
    assert seen["same"] == bundle_hash(same)


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_file_in_a_folder_made_after_the_watch_began_counts_and_saves_that_change_no_code_do_not(
        tmp_path: Path, file_events: bool) -> None:
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    seen: dict[str, str] = {}
    changed: list[str] = []

    async def on_change(name: str) -> None:
        changed.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_folders({"panel": plugin}, on_change, seen, file_events=file_events))
        await wait_until(lambda: "panel" in seen, "the watch to be armed")
        (plugin / ".init.lua.swp").write_text("editor state")
        (plugin / "init.lua~").write_text("backup")
        (plugin / "init.lua").write_text("-- one")  # saved unchanged
        (plugin / "spec").mkdir()
        (plugin / "spec" / "panel_spec.lua").write_text("describe('panel', function() end)")
        (plugin / "lib").mkdir()
        await trio.sleep(0.3)  # long enough for a watch that counted them to have said so
        assert changed == []
        (plugin / "lib" / "util.lua").write_text("return {}")
        await wait_until(lambda: changed == ["panel"], "the file in the new folder")
        assert seen["panel"] == bundle_hash(plugin)
        nursery.cancel_scope.cancel()


@pytest.mark.skipif(not inotify.available(), reason="no inotify")
async def test_with_file_events_an_idle_watch_sets_no_timer(tmp_path: Path) -> None:
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    seen: dict[str, str] = {}

    async def on_change(name: str) -> None:
        raise AssertionError(f"{name} did not change")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_folders, {"panel": plugin}, on_change, seen)
        await wait_until(lambda: "panel" in seen, "the watch to be armed")
        await trio.testing.wait_all_tasks_blocked()
        assert trio.lowlevel.current_statistics().seconds_to_next_deadline == math.inf
        nursery.cancel_scope.cancel()


def _no_watch_left(self, folder: Path, mask: int = 0) -> int:
    raise OSError(errno.ENOSPC, f"cannot watch {folder}: No space left on device")


def _no_instance_left(self) -> None:
    raise OSError(errno.EMFILE, "inotify: Too many open files")


@pytest.mark.skipif(not inotify.available(), reason="no inotify")
@pytest.mark.parametrize("limit", ["no watch left", "no inotify instance left"])
async def test_when_the_systems_limit_of_file_events_is_reached_saves_are_found_by_looking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str) -> None:
    if limit == "no watch left":
        monkeypatch.setattr(inotify.Inotify, "watch", _no_watch_left)
    else:
        monkeypatch.setattr(inotify.Inotify, "__init__", _no_instance_left)
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    seen: dict[str, str] = {}
    changed: list[str] = []

    async def on_change(name: str) -> None:
        changed.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_folders, {"panel": plugin}, on_change, seen)
        await wait_until(lambda: "panel" in seen, "the watch to be armed")
        (plugin / "init.lua").write_text("-- two")
        await wait_until(lambda: changed == ["panel"], "the save, found by looking")
        nursery.cancel_scope.cancel()
