"""Watching the decision files (qtui.plugins.trust.live.watch_files), with file events and without."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import trio
import trio.testing

from qtui.files import inotify
from qtui.plugins.trust.live import watch_files, watch_points
from tests.support import wait_until

WAYS = [pytest.param(True, id="file-events", marks=pytest.mark.skipif(not inotify.available(), reason="no inotify")),
        pytest.param(False, id="polling")]


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_change_made_before_the_watch_first_looked_is_applied_and_later_ones_too(
        tmp_path: Path, file_events: bool) -> None:
    decisions = tmp_path / "permissions.toml"
    decisions.write_text("[a]\n")  # the caller read this...
    decisions.write_text("[a]\n[b]\n")  # ...and another shell changed it before the watch began
    applied: list[str] = []

    async def apply() -> None:
        applied.append(decisions.read_text())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_files([decisions], apply, interval=0.01, file_events=file_events))
        await wait_until(lambda: applied == ["[a]\n[b]\n"], "the catch-up")
        decisions.write_text("[a]\n[b]\n[c]\n")
        await wait_until(lambda: applied[-1:] == ["[a]\n[b]\n[c]\n"], "the next change")
        nursery.cancel_scope.cancel()
    assert applied == ["[a]\n[b]\n", "[a]\n[b]\n[c]\n"]


@pytest.mark.parametrize("file_events", WAYS)
async def test_a_file_replaced_whole_removed_and_made_again_in_a_new_folder_is_seen_each_time(
        tmp_path: Path, file_events: bool) -> None:
    decisions = tmp_path / "config" / "qtui" / "permissions.toml"  # its folder does not exist yet
    policy = tmp_path / "etc" / "policy.toml"
    policy.parent.mkdir()
    policy.write_text("# none\n")
    calls: list[tuple[bool, str | None]] = []

    async def apply() -> None:
        calls.append((decisions.exists(), policy.read_text() if policy.exists() else None))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_files([decisions, policy], apply, interval=0.01, file_events=file_events))
        await wait_until(lambda: len(calls) == 1, "the first look")
        decisions.parent.mkdir(parents=True)
        decisions.write_text("[a]\n")
        await wait_until(lambda: calls[-1] == (True, "# none\n"), "the file made in a new folder")
        replacement = policy.with_name("policy.toml.new")
        replacement.write_text("# forbid\n")
        os.replace(replacement, policy)  # as an editor or qtui itself saves: renamed over the old one
        await wait_until(lambda: calls[-1] == (True, "# forbid\n"), "the file replaced whole")
        decisions.unlink()
        await wait_until(lambda: calls[-1] == (False, "# forbid\n"), "the file removed")
        nursery.cancel_scope.cancel()


@pytest.mark.skipif(not inotify.available(), reason="no inotify")
async def test_with_file_events_an_idle_watch_sets_no_timer(tmp_path: Path) -> None:
    decisions = tmp_path / "permissions.toml"
    applied: list[bool] = []

    async def apply() -> None:
        applied.append(True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_files([decisions], apply))
        await wait_until(lambda: applied, "the first look")
        await trio.testing.wait_all_tasks_blocked()
        # Nothing of the watch wakes up until a file changes (the test's own waits are over).
        assert trio.lowlevel.current_statistics().seconds_to_next_deadline == math.inf
        nursery.cancel_scope.cancel()


def test_a_missing_folder_is_watched_through_the_nearest_one_that_exists_and_a_link_through_both(
        tmp_path: Path) -> None:
    real = tmp_path / "shared" / "permissions.toml"
    real.parent.mkdir()
    real.write_text("")
    (tmp_path / "user").mkdir()
    link = tmp_path / "user" / "permissions.toml"
    link.symlink_to(real)
    missing = tmp_path / "etc" / "xdg" / "qtui" / "policy.toml"
    assert watch_points([link, missing]) == {tmp_path / "user", tmp_path / "shared", tmp_path}



async def test_when_the_systems_limit_of_file_events_is_reached_the_files_are_looked_at_on_a_timer(
        tmp_path: Path, file_event_limit: str) -> None:
    decisions = tmp_path / "permissions.toml"
    applied: list[str] = []

    async def apply() -> None:
        applied.append(decisions.read_text() if decisions.exists() else "")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_files([decisions], apply, interval=0.01))
        await wait_until(lambda: applied == [""], "the first look")
        decisions.write_text("[a]\n")
        await wait_until(lambda: applied == ["", "[a]\n"], "the change, seen by looking")
        nursery.cancel_scope.cancel()
