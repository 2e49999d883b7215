"""Recordings (qtui record): what is written, what is redacted, and reading a hostile file back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qtui.cli.common import EXIT_ERROR
from qtui.cli.main import main
from qtui.events import ConsoleKey, SelectionChanged, StatsUpdated
from qtui.files.tomlfile import FileProblems
from qtui.model import JobState, QueueStats, Snapshot
from qtui.plugins.runtime.events import PluginMessage
from qtui.plugins.runtime.recording import Recorder, read_recording
from qtui.sqlite_queue import SQLiteQueue
from tests.support import ManualClock

JOB = {"id": "7", "queue": "email", "state": "dead", "payload": '{"to": "ann@example.com"}', "attempts": 1,
       "last_error": "smtp down"}


def stats(taken_at: float) -> StatsUpdated:
    queue = QueueStats("email", {JobState.DEAD: 1, JobState.COMPLETED: 4}, completed_per_min=4.0)
    return StatsUpdated(Snapshot((queue,), (), taken_at))


def record(path: Path, *, payloads: bool) -> None:
    clock = ManualClock()
    recorder = Recorder(path, clock=clock, payloads=payloads)
    recorder.event(stats(clock.time()))
    clock.advance(1.5)
    recorder.event(SelectionChanged("dead", "email", JobState.DEAD, "7"))
    recorder.jobs([JOB, JOB])  # read twice, kept once
    clock.advance(0.5)
    recorder.event(PluginMessage("plugin.a.seen", "a", {"email": "ann@example.com"}))
    recorder.event(ConsoleKey("j", "dead"))
    recorder.close()


def test_events_after_close_are_dropped_and_the_recording_stays_whole(tmp_path: Path) -> None:
    # The console may still deliver an event (or a plugin thread a job read) while qtui record closes.
    late = Recorder(tmp_path / "late.jsonl", clock=ManualClock())
    late.event(ConsoleKey("j", "dead"))
    late.close()
    late.event(ConsoleKey("k", "dead"))
    late.jobs([JOB])
    late.close()
    assert late.events == 1 and [e["key"] for _, e in read_recording(tmp_path / "late.jsonl").events] == ["j"]


def test_a_recording_reads_back_as_plugins_saw_it_with_payloads_redacted(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    record(path, payloads=False)
    text = path.read_text()
    assert "ann@example.com" not in text
    recording = read_recording(path)
    assert recording.started == ManualClock().time() and not recording.payloads
    assert [(at, event["type"]) for at, event in recording.events] == [
        (0.0, "stats"), (1.5, "selection"), (2.0, "message"), (2.0, "console_key")]
    assert recording.events[0][1]["queues"][0]["completed_per_min"] == 4.0
    assert recording.events[1][1] == {"type": "selection", "screen": "dead", "queue": "email", "state": "dead",
                                      "job_id": "7"}
    assert recording.events[2][1]["data"] == "<redacted: 28 bytes>"
    assert recording.events[3][1] == {"type": "console_key", "key": "j", "screen": "dead"}
    assert recording.jobs == ({**JOB, "payload": "<redacted: 25 bytes>", "payload_redacted": True},)


def test_with_payloads_the_recording_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    record(path, payloads=True)
    recording = read_recording(path)
    assert recording.payloads
    assert recording.jobs == (JOB,)
    assert recording.events[2][1]["data"] == {"email": "ann@example.com"}


def test_an_older_recording_stays_whole_until_the_new_one_is_finished(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("the old recording\n")
    recorder = Recorder(path, clock=ManualClock())
    recorder.event(ConsoleKey("j", "dead"))
    assert path.read_text() == "the old recording\n"
    recorder.close()
    assert [event["type"] for _, event in read_recording(path).events] == ["console_key"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.jsonl"]


HEADER = '{"qtui_recording": 1, "api": "1.1.0", "started": 100.0, "payloads": false}'


@pytest.mark.parametrize(("lines", "message"), [
    (["[]"], "1: not a qtui recording (the first line names format 1)"),
    (["{not json"], "1: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ([HEADER.replace("100.0", '"soon"')], "1: started must be a time in seconds"),
    ([HEADER, '{"at": 1, "event": {"type": "stats"}}', '{"at": 0.5, "event": {"type": "stats"}}'],
     "3: at 0.5 is before the line above (1.0): lines are in time order"),
    ([HEADER, '{"at": 1, "event": {"type": "action"}}'],
     "2: an event's type is one of console_key, lifecycle, message, selection, stats, not 'action'"),
    ([HEADER, '{"at": 1, "event": {"type": "console_key", "key": "j", "secret": 1}}'],
     "2: a console_key event has no field 'secret'"),
    ([HEADER, '{"at": 1, "job": {"id": 7, "queue": "q", "state": "dead"}}'],
     "2: a job has at least an id, a queue and a state (strings)"),
    ([HEADER, "[" * 100_000 + "]" * 100_000], "2: nested too deeply"),
    ([HEADER, '{"at": -1, "event": {"type": "stats"}}'],
     '2: each line after the first is {"at": SECONDS, "event": {...}} or {"at": SECONDS, "job": {...}}'),
])
def test_a_broken_recording_is_refused_naming_its_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FileProblems) as caught:
        read_recording(path)
    assert str(caught.value.problems[0]) == f"{path}:{message}"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(lines=["\n:"]).via("a generated line with a line break: the file's line 3 is not JSON")
@given(st.lists(st.one_of(
    st.text(max_size=40),
    st.builds(json.dumps, st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
            st.sampled_from(["at", "event", "job", "type", "id", "queue", "state", "key", "screen"]), inner,
            max_size=4),
        max_leaves=8)),
), max_size=5))
def test_any_file_reads_as_a_recording_or_a_problem_at_a_line(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "rec.jsonl"
    text = "\n".join([HEADER, *lines])  # a generated line may hold line breaks of its own
    path.write_text(text, encoding="utf-8")
    try:
        read_recording(path)
    except FileProblems as exc:
        problem = exc.problems[0]
        assert problem.file == path and problem.line is not None and 1 <= problem.line <= text.count("\n") + 1


def test_qtui_record_says_when_it_cannot_write_the_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SQLiteQueue.open(tmp_path / "queue.db", create=True).close()
    out = tmp_path / "missing" / "rec.jsonl"
    assert main(["record", "--db", str(tmp_path / "queue.db"), "--out", str(out)]) == EXIT_ERROR
    assert capsys.readouterr().err == f"qtui: {out}: cannot write: No such file or directory\n"
