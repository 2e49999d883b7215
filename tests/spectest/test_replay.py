"""qtui plugin test --replay FILE: a recording fed into a plugin, timers included, the same every time."""

from __future__ import annotations

import textwrap
from pathlib import Path

from qtui.events import ConsoleKey, SelectionChanged, StatsUpdated
from qtui.model import JobState, QueueStats, Snapshot
from qtui.plugins.runtime.recording import Recorder
from tests.support import ManualClock

# Writes down every event and timer it gets, with the time the plugin sees (os.time).
DIARY = """
    local lines = {}
    local function note(text)
      lines[#lines + 1] = string.format("%+d %s", os.time() - START, text)
      qtui.render(lines)
    end
    function activate()
      START = os.time()
      for _, kind in ipairs({ "stats", "selection", "console_key" }) do pcall(qtui.subscribe, kind) end
      qtui.every("tick", 5)
    end
    function on_event(e)
      if e.type == "stats" then note("stats " .. e.queues[1].name .. " done=" .. e.queues[1].completed)
      elseif e.type == "timer" then note("timer " .. e.name)
      elseif e.type == "selection" then note("selection " .. e.screen .. " " .. (e.job_id or "-"))
      elseif e.type == "console_key" then note("key " .. e.key)
      end
    end
"""
MANIFEST = """
    name = "diary"
    version = "1.0.0"
    description = "notes what it receives"
    api = "1"
    permissions = ["stats.read", "selection.read", "timers", "keys.read"]
"""
REPLAY_SPEC = """
    describe("diary", function()
      it("replays", function()
        local p = qtest.load{ recording = qtest.recording }
        print("received " .. p:replay())
        for _, line in ipairs(p:text()) do print(line) end
      end)
    end)
"""


def diary(tmp_path: Path, spec: str = REPLAY_SPEC) -> Path:
    folder = tmp_path / "diary"
    (folder / "spec").mkdir(parents=True)
    (folder / "manifest.toml").write_text(textwrap.dedent(MANIFEST))
    (folder / "init.lua").write_text(textwrap.dedent(DIARY))
    (folder / "spec" / "diary_spec.lua").write_text(textwrap.dedent(spec))
    return folder


def recording(path: Path) -> Path:
    """A console's 12 seconds: stats, the operator moves to a dead job and presses j, stats again."""
    clock = ManualClock()
    recorder = Recorder(path, clock=clock)

    def stats(done: int) -> StatsUpdated:
        queue = QueueStats("email", {JobState.COMPLETED: done}, completed_per_min=float(done))
        return StatsUpdated(Snapshot((queue,), (), clock.time()))

    recorder.event(stats(3))
    clock.advance(7)
    recorder.event(SelectionChanged("dead", "email", JobState.DEAD, "42"))
    recorder.event(ConsoleKey("j", "dead"))
    clock.advance(5)
    recorder.event(stats(9))
    recorder.close()
    return path


def test_a_recording_replays_into_the_plugin_with_its_timers_in_between(run, tmp_path: Path) -> None:
    folder = diary(tmp_path)
    file = recording(tmp_path / "console.jsonl")
    first = run("plugin", "test", str(folder), "--replay", str(file))
    assert first == (0, "\n".join([
        "received 4",
        "+0 stats email done=3",
        "+5 timer tick",
        "+7 selection dead 42",
        "+7 key j",
        "+10 timer tick",
        "+12 stats email done=9",
        "1 passed, 0 failed",
    ]) + "\n", "")
    assert run("plugin", "test", str(folder), "--replay", str(file)) == first


def test_a_plugin_gets_only_what_it_may_receive(run, tmp_path: Path) -> None:
    folder = diary(tmp_path, REPLAY_SPEC.replace("recording = qtest.recording", 'recording = qtest.recording, deny = { "keys.read" }'))
    file = recording(tmp_path / "console.jsonl")
    code, out, _ = run("plugin", "test", str(folder), "--replay", str(file))
    assert code == 0
    assert "received 3" in out and "key j" not in out


def test_a_spec_asserts_on_the_replay_of_a_recording_beside_it(run, tmp_path: Path) -> None:
    folder = diary(tmp_path, """
        describe("diary", function()
          it("notes the operator's key after the first tick", function()
            local p = qtest.load{ recording = "console.jsonl" }
            assert.equals(4, p:replay())
            assert.same({ "+0 stats email done=3", "+5 timer tick", "+7 selection dead 42", "+7 key k" },
                        { table.unpack(p:text(), 1, 4) })
          end)
        end)
    """)
    recording(folder / "spec" / "console.jsonl")
    code, out, _ = run("plugin", "test", str(folder))
    assert code == 1
    assert out.splitlines()[:4] == [
        "FAIL diary notes the operator's key after the first tick",
        "  at diary/spec/diary_spec.lua:6",
        '  expected: {"+0 stats email done=3", "+5 timer tick", "+7 selection dead 42", "+7 key k"}',
        '       got: {"+0 stats email done=3", "+5 timer tick", "+7 selection dead 42", "+7 key j"}',
    ]


def test_a_broken_recording_fails_the_spec_naming_the_file_and_line(run, tmp_path: Path) -> None:
    folder = diary(tmp_path)
    file = tmp_path / "console.jsonl"
    file.write_text('{"qtui_recording": 1, "started": 5}\n{"at": 1, "event": {"type": "action"}}\n')
    code, out, _ = run("plugin", "test", str(folder), "--replay", str(file))
    assert code == 1
    assert (f"{file}:2: an event's type is one of console_key, lifecycle, message, selection, stats, "
            "not 'action'") in out


def test_replay_without_a_recording_says_how_to_give_one(run, tmp_path: Path) -> None:
    folder = diary(tmp_path)
    assert run("plugin", "test", str(folder), "--replay", str(tmp_path / "missing.jsonl")) == (
        2, "", f"qtui: {tmp_path / 'missing.jsonl'}: no such recording (make one with: qtui record --out FILE)\n")
    code, out, _ = run("plugin", "test", str(folder))
    assert code == 1
    assert ("replay: which recording? p:replay(FILE), qtest.load{recording = FILE}, or run qtui plugin test "
            "--replay FILE (qtest.recording)") in out


def test_the_queue_of_a_replay_is_filled_at_the_recordings_time(run, tmp_path: Path) -> None:
    folder = diary(tmp_path, """
        describe("a queue's rate", function()
          it("counts the jobs completed in the recorded minute", function()
            local p = qtest.load{ recording = "console.jsonl", grant = { "stats.read" }, source = [[
              function activate() qtui.subscribe("stats") end
              function on_event(e) qtui.render({ "email " .. e.queues[1].completed_per_min .. "/m" }) end
            ]], jobs = { { queue = "email", state = "completed" }, { queue = "email", state = "completed" } } }
            p:send("stats")
            assert.same({ "email 2.0/m" }, p:text())
          end)
        end)
    """)
    recording(folder / "spec" / "console.jsonl")  # at a ManualClock's time, years before now
    assert run("plugin", "test", str(folder)) == (0, "1 passed, 0 failed\n", "")


def test_p_replay_takes_another_recording_by_name(run, tmp_path: Path) -> None:
    folder = diary(tmp_path, """
        describe("diary", function()
          it("replays the recording it names", function()
            local p = qtest.load{}
            assert.equals(4, p:replay("console.jsonl"))
            local last = p:text()[#p:text()]
            assert.matches(" stats email done=9$", last)
          end)
        end)
    """)
    recording(folder / "spec" / "console.jsonl")
    assert run("plugin", "test", str(folder)) == (0, "1 passed, 0 failed\n", "")
