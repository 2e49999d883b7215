"""The audit log: whole JSON lines, hostile text neutralised, bounded by rotation, safe to share."""

from __future__ import annotations

import datetime
import itertools
import json
import multiprocessing
from pathlib import Path

import pytest

from qtui.plugins.trust.audit import (
    AUDIT_BURST,
    AUDIT_RATE,
    MAX_DETAIL,
    AuditEntry,
    AuditError,
    AuditLog,
    Outcome,
    audit_path,
)
from qtui.plugins.trust.permissions import Verdict

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=datetime.UTC)


def test_lines_are_json_with_utc_iso_time(xdg: Path) -> None:
    log = AuditLog()
    assert log.path == audit_path() == xdg / ".local/state/qtui/audit.jsonl"
    log.record("tenant-sla", "1.2.0", "jobs.purge", Outcome.ALLOWED, "purged 12 dead jobs", now=T0)
    (line,) = log.path.read_text().splitlines()
    assert json.loads(line) == {
        "time": "2024-05-01T12:00:00.123Z",
        "plugin": "tenant-sla",
        "version": "1.2.0",
        "capability": "jobs.purge",
        "outcome": "allowed",
        "detail": "purged 12 dead jobs",
    }


def test_entries_read_back_oldest_first_filtered_and_limited() -> None:
    log = AuditLog()
    for i in range(5):
        log.record("a" if i % 2 else "b", "1.0.0", "timers", Outcome.ALLOWED, f"tick {i}",
                   now=T0 + datetime.timedelta(seconds=i))
    reading = log.read()
    assert [e.detail for e in reading.entries] == [f"tick {i}" for i in range(5)]
    assert reading.entries[0] == AuditEntry(T0, "b", "1.0.0", "timers", Outcome.ALLOWED, "tick 0")
    assert [e.detail for e in log.read(plugin="a").entries] == ["tick 1", "tick 3"]
    assert [e.detail for e in log.read(limit=2).entries] == ["tick 3", "tick 4"]
    assert log.read(limit=0).entries == ()


def test_missing_log_reads_as_empty() -> None:
    assert AuditLog().read().entries == ()


def test_hostile_text_is_neutralised() -> None:
    log = AuditLog()
    log.record("p", "1.0.0\x1b[2J", "notify", Outcome.DENIED, "\x1b]0;pwned\x07\u202e" + "x" * 1000 + "\n")
    raw = log.path.read_bytes()
    assert raw.count(b"\n") == 1 and raw.isascii() and b"\x1b" not in raw
    (entry,) = log.read().entries
    assert "\x1b" not in entry.detail and "\u202e" not in entry.detail and "\n" not in entry.detail
    assert len(entry.detail) == MAX_DETAIL and entry.version == "1.0.0\ufffd[2J"


def test_unreadable_lines_are_reported_and_skipped() -> None:
    log = AuditLog()
    log.record("p", "1.0.0", "timers", Outcome.ALLOWED, "first", now=T0)
    with open(log.path, "a") as f:
        f.write('{"time": "yesterday"}\nnot json\n')
        f.write(json.dumps({"time": "2024-05-01T12:00:00Z", "plugin": "p", "version": "1",
                            "capability": "c", "outcome": "exploded", "detail": ""}) + "\n")
    log.record("p", "1.0.0", "timers", Outcome.ALLOWED, "last", now=T0)
    reading = log.read()
    assert [e.detail for e in reading.entries] == ["first", "last"]
    assert reading.unreadable == (
        f"{log.path}:2: plugin: missing or not a string",
        f"{log.path}:3: not JSON (Expecting value)",
        f"{log.path}:4: outcome: unknown 'exploded'",
    )


def test_log_rotates_at_its_size_and_keeps_a_bounded_history(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=1000, keep=2)
    line_size = len(AuditEntry(T0, "p", "1.0.0", "timers", Outcome.ALLOWED, "n 000").to_line())
    per_file = -(-1000 // line_size)  # a file takes lines until it reaches max_bytes
    for i in range(per_file * 4):
        log.record("p", "1.0.0", "timers", Outcome.ALLOWED, f"n {i:03}", now=T0)
    assert [p.name for p in log.files()] == ["audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]
    for path in log.files()[:-1]:
        assert 1000 <= path.stat().st_size < 1000 + line_size
    details = [e.detail for e in log.read().entries]
    assert details == [f"n {i:03}" for i in range(per_file, per_file * 4)]  # the oldest file went


def test_unwritable_log_raises_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where a folder should be")
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    with pytest.raises(AuditError, match=r"state/audit.jsonl: cannot write the audit log: "):
        log.record("p", "1.0.0", "timers", Outcome.ALLOWED)


def test_outcome_of_each_verdict() -> None:
    assert [Outcome.of(v) for v in Verdict] == [
        Outcome.ALLOWED, Outcome.DENIED, Outcome.FORBIDDEN, Outcome.UNDECIDED, Outcome.NOT_REQUESTED
    ]


LINES_PER_WRITER = 300


def _write_many(path: str, plugin: str, start: multiprocessing.synchronize.Event) -> None:
    slow_clock = itertools.count(step=10).__next__  # ten seconds between entries: none is left out
    log = AuditLog(Path(path), max_bytes=4000, keep=100, clock=slow_clock)
    start.wait()
    for i in range(LINES_PER_WRITER):
        log.record(plugin, "1.0.0", "stats.read", Outcome.ALLOWED, f"{plugin} {i}")


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


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_plugin_flooding_the_log_is_summed_up_in_one_entry(tmp_path: Path) -> None:
    clock = FakeClock()
    log = AuditLog(tmp_path / "audit.jsonl", clock=clock)
    for n in range(5000):
        log.record("flood", "1.0.0", "jobs.purge", Outcome.DENIED, f"try {n}", now=T0)
    log.record("calm", "1.0.0", "notify", Outcome.ALLOWED, "another plugin's entry", now=T0)
    log.record("flood", "1.0.0", "jobs.purge", Outcome.GRANTED, "decided in the console", now=T0)
    assert [e.detail for e in log.read(plugin="flood").entries][-2:] == [f"try {AUDIT_BURST - 1}",
                                                                         "decided in the console"]
    assert [e.detail for e in log.read(plugin="calm").entries] == ["another plugin's entry"]
    clock.now += 1  # the flood goes on at its own pace: AUDIT_RATE more, then one summary
    for n in range(5000, 5000 + AUDIT_RATE):
        log.record("flood", "1.0.0", "jobs.purge", Outcome.DENIED, f"try {n}", now=T0)
    entries = log.read(plugin="flood").entries
    summary = entries[-AUDIT_RATE - 1]
    assert (summary.capability, summary.outcome) == ("audit", Outcome.SUPPRESSED)
    assert summary.detail == f"{5000 - AUDIT_BURST} entries left out (more than {AUDIT_RATE} a second)"
    assert entries[-1].detail == f"try {5000 + AUDIT_RATE - 1}"
    assert len(entries) == AUDIT_BURST + 1 + 1 + AUDIT_RATE


def test_the_summary_of_a_flood_that_ended_is_written_when_settled(tmp_path: Path) -> None:
    clock = FakeClock()
    log = AuditLog(tmp_path / "audit.jsonl", clock=clock)
    for n in range(AUDIT_BURST + 7):
        log.record("flood", "1.0.0", "stats.read", Outcome.NOT_REQUESTED, f"try {n}", now=T0)
    log.settle("flood", "1.0.0", now=T0)  # too early: the flood has not ended
    assert len(log.read().entries) == AUDIT_BURST
    clock.now += 1
    log.settle("flood", "1.0.0", now=T0)
    assert log.read().entries[-1].detail == f"7 entries left out (more than {AUDIT_RATE} a second)"
    log.settle("flood", "1.0.0", now=T0)  # once
    assert len(log.read().entries) == AUDIT_BURST + 1
