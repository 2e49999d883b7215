"""The running-plugins files: what one console writes, what `qtui plugin list` reads back, and hostile files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from qtui.plugins.runtime.running import RunningFile, read_running, summary


def test_a_console_writes_its_plugins_and_removes_the_file_when_it_ends(tmp_path: Path) -> None:
    console = RunningFile(tmp_path)
    console.write({"sla": {"version": "1.0.0", "state": "running", "reason": None},
                   "spin": {"version": "2.0.0", "state": "quarantined", "reason": "limits"}})
    found = read_running(tmp_path)
    assert [(r.name, r.state, r.reason, r.pid) for r in found["spin"]] == [("spin", "quarantined", "limits", os.getpid())]
    assert found["sla"][0].reason is None
    console.remove()
    assert read_running(tmp_path) == {}


def test_two_consoles_of_one_plugin_show_the_most_alarming_state(tmp_path: Path) -> None:
    first, second = RunningFile(tmp_path), RunningFile(tmp_path)
    assert first.path != second.path
    first.write({"sla": {"version": "1.0.0", "state": "running"}})
    second.write({"sla": {"version": "1.0.0", "state": "errored", "reason": "init.lua:3: boom"}})
    shown = summary(read_running(tmp_path)["sla"])
    assert shown is not None and (shown.state, shown.reason) == ("errored", "init.lua:3: boom")


def test_files_of_ended_consoles_and_hostile_files_are_ignored(tmp_path: Path) -> None:
    gone = tmp_path / "999999999-1.json"
    gone.write_text(json.dumps({"plugins": {"sla": {"state": "running"}}}))
    mine = f"{os.getpid()}"
    (tmp_path / f"{mine}-7.json").write_text("{not json")
    (tmp_path / f"{mine}-8.json").write_text(json.dumps({"plugins": {"a": {"state": "exploded"}, "b": [1],
                                                                     "c": {"state": "running", "reason": 5}}}))
    (tmp_path / f"{mine}-9.json").write_text(json.dumps({"plugins": {"big": {"state": "running",
                                                                             "reason": "x" * 10_000}}}))
    (tmp_path / "notes.txt").write_text("hello")
    found = read_running(tmp_path)
    assert sorted(found) == ["big", "c"]
    assert found["c"][0].reason is None and len(found["big"][0].reason) == 500
    RunningFile(tmp_path).remove_stale()
    assert not gone.exists() and (tmp_path / f"{mine}-7.json").exists()


def test_a_missing_folder_means_nothing_runs(tmp_path: Path) -> None:
    assert read_running(tmp_path / "nowhere") == {}
