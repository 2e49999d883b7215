"""The reload watcher (qtui.plugins.bundles.watch.watch_folders), with file events and without."""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

from qtui.files import inotify
from qtui.plugins.bundles import watch
from qtui.plugins.bundles.bundle import MAX_BUNDLE_DEPTH, bundle_hash
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


@attrs.define
class Watch:
    """What a running watch_folders knows (`seen`) and the plugins it said changed, in order."""

    seen: dict[str, str]
    changed: list[str] = attrs.Factory(list)


@contextlib.asynccontextmanager
async def watching(folders: dict[str, Path], seen: dict[str, str] | None = None, *,
                   file_events: bool = True) -> AsyncIterator[Watch]:
    """watch_folders running on `folders` until the block ends, once it is armed."""
    found = Watch({} if seen is None else seen)

    async def on_change(name: str) -> None:
        found.changed.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_folders(folders, on_change, found.seen, file_events=file_events))
        await wait_until(lambda: folders.keys() <= found.seen.keys(), "the watch to be armed")
        yield found
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_save_made_while_no_watch_was_armed_counts_once_the_next_watch_is(
        tmp_path: Path, file_events: bool) -> None:
    saved = plugin_folder(tmp_path, "saved", "-- one")
    seen: dict[str, str] = {"saved": bundle_hash(saved)}  # what the previous watch knew
    (saved / "init.lua").write_text("-- two")  # saved between two watches
    same = plugin_folder(tmp_path, "same", "-- one")
    seen["same"] = bundle_hash(same)
    new = plugin_folder(tmp_path, "new", "-- one")  # never watched: nothing to compare with

    async with watching({"saved": saved, "same": same, "new": new}, seen, file_events=file_events) as found:
        assert found.changed == ["saved"] and seen["saved"] == bundle_hash(saved)
        (same / "init.lua").write_text("-- three")  # and saves while it is armed count as before
        await wait_until(lambda: found.changed == ["saved", "same"], "the save to the watched folder")
    assert seen["same"] == bundle_hash(same)


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_file_in_a_folder_made_after_the_watch_began_counts_and_saves_that_change_no_code_do_not(
        tmp_path: Path, file_events: bool) -> None:
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    async with watching({"panel": plugin}, file_events=file_events) as found:
        (plugin / ".init.lua.swp").write_text("editor state")
        (plugin / "init.lua~").write_text("backup")
        (plugin / "init.lua").write_text("-- one")  # saved unchanged
        (plugin / "spec").mkdir()
        (plugin / "spec" / "panel_spec.lua").write_text("describe('panel', function() end)")
        (plugin / "lib").mkdir()
        await trio.sleep(0.3)  # long enough for a watch that counted them to have said so
        assert found.changed == []
        (plugin / "lib" / "util.lua").write_text("return {}")
        await wait_until(lambda: found.changed == ["panel"], "the file in the new folder")
        assert found.seen["panel"] == bundle_hash(plugin)


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_folder_nested_too_deep_is_no_bundle_and_its_repair_counts(tmp_path: Path, file_events: bool) -> None:
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    plugin.joinpath(*["d"] * (MAX_BUNDLE_DEPTH + 1)).mkdir(parents=True)
    async with watching({"panel": plugin}, file_events=file_events) as found:
        assert found.seen["panel"].startswith("not a bundle: ") and "nest deeper than" in found.seen["panel"]
        shutil.rmtree(plugin / "d")
        await wait_until(lambda: found.changed == ["panel"], "the repaired folder")
        assert found.seen["panel"] == bundle_hash(plugin)


@pytest.mark.skipif(not inotify.available(), reason="no inotify")
async def test_with_file_events_an_idle_watch_sets_no_timer(tmp_path: Path) -> None:
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    async with watching({"panel": plugin}) as found:
        await trio.testing.wait_all_tasks_blocked()
        assert trio.lowlevel.current_statistics().seconds_to_next_deadline == math.inf
    assert found.changed == []


async def test_when_the_systems_limit_of_file_events_is_reached_saves_are_found_by_looking(
        tmp_path: Path, file_event_limit: str) -> None:
    plugin = plugin_folder(tmp_path, "panel", "-- one")
    async with watching({"panel": plugin}) as found:
        (plugin / "init.lua").write_text("-- two")
        await wait_until(lambda: found.changed == ["panel"], "the save, found by looking")
