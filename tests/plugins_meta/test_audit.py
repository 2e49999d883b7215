"""The audit log: whole JSON lines, hostile text neutralised, bounded by rotation, safe to share."""

from __future__ import annotations

import datetime
import json
import multiprocessing
from pathlib import Path

import pytest

from hypothesis import given
from hypothesis import strategies as st

from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.trust.audit import (
    MAX_DETAIL,
    AuditEntry,
    AuditError,
    AuditFilter,
    AuditLog,
    Auditor,
    Outcome,
    Reason,
    audit_path,
)
from qtui.plugins.trust.permissions import Verdict
from tests.support import ManualClock

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=datetime.UTC)


def test_lines_are_json_with_utc_iso_time(xdg: Path) -> None:
    log = AuditLog()
    assert log.path == audit_path() == xdg / ".local/state/qtui/audit.jsonl"
    log.record("tenant-sla", "1.2.0", "jobs.purge", Outcome.DONE, "", request="ab12cd-3", jobs=12, now=T0)
    (line,) = log.path.read_text().splitlines()
    assert json.loads(line) == {
        "time": "2024-05-01T12:00:00.123Z",
        "plugin": "tenant-sla",
        "version": "1.2.0",
        "capability": "jobs.purge",
        "request": "ab12cd-3",
        "outcome": "done",
        "reason": "",
        "jobs": 12,
        "detail": "",
    }


def test_entries_read_back_oldest_first_filtered_and_limited() -> None:
    log = AuditLog()
    for i in range(5):
        log.record("a" if i % 2 else "b", "1.0.0", "timers", Outcome.DONE, f"tick {i}",
                   now=T0 + datetime.timedelta(seconds=i))
    reading = log.read()
    assert [e.detail for e in reading.entries] == [f"tick {i}" for i in range(5)]
    assert reading.entries[0] == AuditEntry(T0, "b", "1.0.0", "timers", Outcome.DONE, "tick 0")
    assert [e.detail for e in log.read(plugin="a").entries] == ["tick 1", "tick 3"]
    assert [e.detail for e in log.read(limit=2).entries] == ["tick 3", "tick 4"]
    assert log.read(limit=0).entries == ()


def test_missing_log_reads_as_empty() -> None:
    assert AuditLog().read().entries == ()


def test_hostile_text_is_neutralised() -> None:
    log = AuditLog()
    log.record("p", "1.0.0\x1b[2J", "notify", Outcome.REFUSED, "\x1b]0;pwned\x07\u202e" + "x" * 1000 + "\n",
               reason="denied\x1b[2J")
    raw = log.path.read_bytes()
    assert raw.count(b"\n") == 1 and raw.isascii() and b"\x1b" not in raw
    (entry,) = log.read().entries
    assert "\x1b" not in entry.detail and "\u202e" not in entry.detail and "\n" not in entry.detail
    assert len(entry.detail) == MAX_DETAIL and entry.version == "1.0.0\ufffd[2J" and entry.reason == "denied\ufffd[2J"


def test_unreadable_lines_are_reported_and_skipped() -> None:
    log = AuditLog()
    log.record("p", "1.0.0", "timers", Outcome.DONE, "first", now=T0)
    with open(log.path, "a") as f:
        f.write('{"time": "yesterday"}\nnot json\n')
        f.write(json.dumps({"time": "2024-05-01T12:00:00Z", "plugin": "p", "version": "1",
                            "capability": "c", "outcome": "exploded", "detail": ""}) + "\n")
        f.write(json.dumps({"time": "2024-05-01T12:00:00Z", "plugin": "p", "version": "1",
                            "capability": "c", "outcome": "done", "detail": "", "jobs": -3}) + "\n")
    log.record("p", "1.0.0", "timers", Outcome.DONE, "last", now=T0)
    reading = log.read()
    assert [e.detail for e in reading.entries] == ["first", "last"]
    assert reading.unreadable == (
        f"{log.path}:2: plugin: missing or not a string",
        f"{log.path}:3: not JSON (Expecting value)",
        f"{log.path}:4: outcome: unknown 'exploded'",
        f"{log.path}:5: jobs: not a count of jobs",
    )


def test_log_rotates_at_its_size_and_keeps_a_bounded_history(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=1000, keep=2)
    line_size = len(AuditEntry(T0, "p", "1.0.0", "timers", Outcome.DONE, "n 000").to_line())
    per_file = -(-1000 // line_size)  # a file takes lines until it reaches max_bytes
    for i in range(per_file * 4):
        log.record("p", "1.0.0", "timers", Outcome.DONE, f"n {i:03}", now=T0)
    assert [p.name for p in log.files()] == ["audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]
    for path in log.files()[:-1]:
        assert 1000 <= path.stat().st_size < 1000 + line_size
    details = [e.detail for e in log.read().entries]
    assert details == [f"n {i:03}" for i in range(per_file, per_file * 4)]  # the oldest file went


def test_unwritable_log_raises_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where a folder should be")
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    with pytest.raises(AuditError, match=r"state/audit.jsonl: cannot write the audit log: "):
        log.record("p", "1.0.0", "timers", Outcome.DONE)


def test_the_reason_of_each_refusing_verdict() -> None:
    assert [Reason.of(v) for v in Verdict if v is not Verdict.GRANTED] == [
        Reason.DENIED, Reason.FORBIDDEN, Reason.UNDECIDED, Reason.NOT_REQUESTED
    ]


def test_lines_written_before_requests_had_ids_read_as_todays_outcomes(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    old = {"time": "2024-05-01T12:00:00.123Z", "plugin": "p", "version": "1.0.0", "capability": "jobs.purge"}
    log.path.write_text("".join(json.dumps({**old, "outcome": o, "detail": o}) + "\n"
                                for o in ("allowed", "denied", "forbidden", "confirmed")))
    reading = log.read()
    assert reading.unreadable == ()
    assert [(e.outcome, e.reason, e.request, e.jobs) for e in reading.entries] == [
        ("done", "", "", None), ("refused", "denied", "", None), ("refused", "forbidden", "", None),
        ("confirmed", "", "", None)]


def test_entries_are_filtered_by_plugin_capability_outcome_and_time(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i, (plugin, capability, outcome) in enumerate([
        ("a", "jobs.purge", Outcome.REQUESTED), ("a", "jobs.purge", Outcome.DONE), ("b", "notify", Outcome.DONE),
        ("a", "notify", Outcome.REFUSED), ("a", "jobs.purge", Outcome.DONE),
    ]):
        log.record(plugin, "1.0.0", capability, outcome, f"e{i}", now=T0 + datetime.timedelta(minutes=i))

    def details(**criteria) -> list[str]:
        return [e.detail for e in log.read(where=AuditFilter(**criteria)).entries]

    assert details(plugin="a") == ["e0", "e1", "e3", "e4"]
    assert details(capability="notify") == ["e2", "e3"]
    assert details(outcome=Outcome.DONE) == ["e1", "e2", "e4"]
    assert details(since=T0 + datetime.timedelta(minutes=1), until=T0 + datetime.timedelta(minutes=4)) == [
        "e1", "e2", "e3"]
    assert details(plugin="a", capability="jobs.purge", outcome=Outcome.DONE) == ["e1", "e4"]
    assert [e.detail for e in log.read(plugin="a", limit=1, where=AuditFilter(outcome=Outcome.DONE)).entries] == [
        "e4"]


_text = st.text(st.characters(), max_size=300)


@given(plugin=_text, version=_text, capability=_text, outcome=st.sampled_from(Outcome), detail=_text,
       request=_text, reason=_text, jobs=st.none() | st.integers(0, 10**12),
       when=st.datetimes(timezones=st.just(datetime.UTC)))
def test_an_entry_reads_back_as_written_made_safe(plugin, version, capability, outcome, detail, request,
                                                   reason, jobs, when) -> None:
    line = AuditEntry(when, plugin, version, capability, outcome, detail, request, reason, jobs).to_line()
    assert line.isascii() and line.count("\n") == 1 and line.endswith("\n")
    entry = AuditEntry.from_line(line)
    assert entry.outcome is outcome and entry.jobs == jobs
    assert abs(entry.time - when) < datetime.timedelta(milliseconds=1)
    for field in (entry.plugin, entry.version, entry.capability, entry.detail, entry.request, entry.reason):
        assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in field)
    assert len(entry.detail) <= MAX_DETAIL


def test_a_request_and_its_outcomes_share_an_id_unique_to_the_console(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    first, second = Auditor(log, clock=ManualClock(T0.timestamp())), Auditor(log, clock=ManualClock(T0.timestamp()))
    a = first.request("p", "1.0.0", Capability.JOBS_PURGE, "qtui.jobs.purge", essential=True)
    b = second.request("p", "1.0.0", Capability.JOBS_PURGE, "qtui.jobs.purge", essential=True)
    first.outcome(a, Outcome.CONFIRMED, jobs=3, detail="delete 3 dead jobs on email")
    first.outcome(a, Outcome.DONE, jobs=3)
    second.outcome(b, Outcome.REFUSED, reason=Reason.READ_ONLY, detail="the console is in read-only mode")
    entries = log.read().entries
    assert [(e.request, e.outcome, e.reason, e.jobs) for e in entries] == [
        (a.id, "requested", "", None), (b.id, "requested", "", None), (a.id, "confirmed", "", 3),
        (a.id, "done", "", 3), (b.id, "refused", "read_only", None)]
    assert a.id != b.id


def test_a_flood_of_routine_entries_is_summarised_but_actions_on_queues_are_all_written(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    clock = ManualClock(T0.timestamp())
    auditor = Auditor(log, clock=clock, flood_entries=10, flood_seconds=60)
    for _ in range(20):
        auditor.outcome(auditor.request("chatty", "1.0.0", Capability.NOTIFY, "qtui.notify"), Outcome.DONE)
    enqueue = auditor.request("chatty", "1.0.0", Capability.JOBS_ENQUEUE, "qtui.jobs.enqueue", essential=True)
    auditor.outcome(enqueue, Outcome.DONE, jobs=1)
    auditor.outcome(auditor.request("quiet", "1.0.0", Capability.NOTIFY, "qtui.notify"), Outcome.DONE)
    written = log.read().entries
    assert sum(e.plugin == "chatty" and e.capability == "notify" for e in written) == 10
    assert [e.outcome for e in written if e.capability == "jobs.enqueue"] == ["requested", "done"]
    assert sum(e.plugin == "quiet" for e in written) == 2  # the limit is per plugin
    clock.advance(61)  # a new window: the held-back entries are summed up first
    auditor.outcome(auditor.request("chatty", "1.0.0", Capability.NOTIFY, "qtui.notify"), Outcome.DONE)
    summary = [e for e in log.read().entries if e.outcome is Outcome.SUPPRESSED]
    assert [(e.plugin, e.detail) for e in summary] == [
        ("chatty", "30 entries held back (more than 10 in 60 s): notify requested 15, notify done 15")]
    assert log.read().entries[-2:][0].outcome is Outcome.REQUESTED  # then the new window's entries


def test_a_plugin_that_stops_gets_its_summary_at_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    auditor = Auditor(log, clock=ManualClock(T0.timestamp()), flood_entries=2)
    for _ in range(3):
        auditor.request("chatty", "1.0.0", Capability.TIMERS, "qtui.every")
    auditor.flush("chatty")
    assert log.read().entries[-1].detail == "1 entries held back (more than 2 in 60 s): timers requested 1"


def test_an_unwritable_log_refuses_essential_entries_and_is_reported(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where a folder should be")
    auditor = Auditor(AuditLog(tmp_path / "state" / "audit.jsonl"), clock=ManualClock(T0.timestamp()))
    routine = auditor.request("p", "1.0.0", Capability.NOTIFY, "qtui.notify")  # written or not, it goes on
    assert auditor.failure is not None and "cannot write the audit log" in auditor.failure
    with pytest.raises(AuditError):
        auditor.request("p", "1.0.0", Capability.JOBS_PURGE, "qtui.jobs.purge", essential=True)
    auditor.outcome(routine, Outcome.DONE)
    (tmp_path / "state").unlink()
    auditor.outcome(routine, Outcome.DONE)
    assert auditor.failure is None


LINES_PER_WRITER = 300


def _write_many(path: str, plugin: str, start: multiprocessing.synchronize.Event) -> None:
    log = AuditLog(Path(path), max_bytes=4000, keep=100)
    start.wait()
    for i in range(LINES_PER_WRITER):
        log.record(plugin, "1.0.0", "stats.read", Outcome.DONE, f"{plugin} {i}")


def test_two_consoles_appending_at_once_interleave_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    writers = [ctx.Process(target=_write_many, args=(str(path), name, start)) for name in ("a", "b")]
    for w in writers:
        w.start()
    start.set()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    reading = AuditLog(path, max_bytes=4000, keep=100).read()
    assert reading.unreadable == ()
    for name in ("a", "b"):
        mine = [e.detail for e in reading.entries if e.plugin == name]
        assert mine == [f"{name} {i}" for i in range(LINES_PER_WRITER)]  # all there, in order
