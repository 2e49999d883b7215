"""The kernel's file events (qtui.files.inotify): what is read, and a real watch."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from qtui.files import inotify

names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/"), max_size=40)
events = st.lists(st.tuples(st.integers(1, 2**31 - 1), st.integers(0, 2**32 - 1), names), max_size=20)


def packed(wd: int, mask: int, name: str, pad: int) -> bytes:
    raw = os.fsencode(name)
    raw = raw + b"\0" * (pad + (1 if raw or pad else 0))  # the kernel pads names with NULs
    return struct.pack("iIII", wd, mask, 0, len(raw)) + raw


@given(events, st.integers(0, 7), st.integers(1, 15))
def test_every_whole_event_read_is_parsed_and_a_cut_off_one_is_left_out(
        found: list[tuple[int, int, str]], pad: int, cut: int) -> None:
    data = b"".join(packed(wd, mask, name, pad) for wd, mask, name in found)
    expected = [inotify.FileEvent(wd, mask, name) for wd, mask, name in found]
    assert inotify.parse_events(data) == expected
    if found:
        assert inotify.parse_events(data[:-cut]) == expected[:-1]


@pytest.mark.skipif(not inotify.available(), reason="no inotify")
async def test_a_watch_reports_files_made_replaced_and_removed_by_name(tmp_path: Path) -> None:
    with inotify.Inotify() as watcher:
        folder_watch = watcher.watch(tmp_path)
        (tmp_path / "a.toml").write_text("x")
        os.replace(tmp_path / "a.toml", tmp_path / "b.toml")
        (tmp_path / "b.toml").unlink()
        seen: list[inotify.FileEvent] = []
        with trio.fail_after(5):
            while not any(e.mask & inotify.IN_DELETE for e in seen):
                seen += await watcher.read()
        assert {e.watch for e in seen} == {folder_watch}
        kinds = [(e.name, e.mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO | inotify.IN_DELETE)) for e in seen]
        assert ("a.toml", inotify.IN_CREATE) in kinds
        assert ("b.toml", inotify.IN_MOVED_TO) in kinds
        assert ("b.toml", inotify.IN_DELETE) in kinds


def test_watching_a_missing_folder_names_it(tmp_path: Path) -> None:
    if not inotify.available():
        pytest.skip("no inotify")
    with inotify.Inotify() as watcher, pytest.raises(OSError, match=f"cannot watch {tmp_path / 'gone'}"):
        watcher.watch(tmp_path / "gone")
