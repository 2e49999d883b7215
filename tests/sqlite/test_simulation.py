"""The demo: seeded history, and a simulation process the console can start and stop."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qtui import simulation
from tests.support import WAIT
from qtui.model import JobState
from qtui.sqlite_queue import SQLiteQueue
from tests.support import ManualClock


def totals(path: Path) -> dict[JobState, int]:
    with SQLiteQueue.open(path, read_only=True) as q:
        result: dict[JobState, int] = {}
        for stats in q.snapshot().queues:
            for state, n in stats.counts.items():
                result[state] = result.get(state, 0) + n
        return result


def test_seed_leaves_realistic_history(db_path: Path):
    simulation.seed(db_path, clock=ManualClock(), minutes=30, rng=random.Random(7))

    with SQLiteQueue.open(db_path, read_only=True) as q:
        snapshot = q.snapshot()
    assert {s.name for s in snapshot.queues} == {spec.name for spec in simulation.SPECS}
    assert snapshot.workers == (), "seeding workers sign off"
    counts = totals(db_path)
    assert counts[JobState.COMPLETED] > counts[JobState.DEAD] > 0
    assert counts[JobState.READY] > 0, "a backlog is left for the live workers"
    conn = sqlite3.connect(db_path)
    errors = [e for (e,) in conn.execute("SELECT last_error FROM jobs WHERE state = 'dead'")]
    query = "SELECT DISTINCT json_extract(payload, '$.tenant') FROM jobs"
    tenants = {tenant for (tenant,) in conn.execute(query)}
    conn.close()
    assert all(errors) and any(e.startswith("SMTPRecipientsRefused") for e in errors)
    assert tenants == set(simulation.TENANTS)


def test_hostile_subjects_reach_payloads_and_errors():
    rng = random.Random(3)
    subject = simulation.HOSTILE_SUBJECTS[0]
    payload = {"to": "ana@acme.example", "subject": subject}
    errors = {simulation._email_outcome(rng, payload) for _ in range(50)}
    assert any(e and "\x1b]0;" in e for e in errors), "raw escapes in the stored error text"


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the simulation made no progress"
        time.sleep(0.2)


@pytest.mark.slow
def test_simulation_process_works_until_stdin_closes_or_sigterm(db_path: Path, tmp_path: Path):
    command = [sys.executable, "-m", "qtui.simulation", "--db", str(db_path)]
    subprocess.run([*command, "--seed-only"], check=True, capture_output=True, timeout=120)
    seeded = totals(db_path)
    log = (tmp_path / "simulation.log").open("wb")

    for stop_by in ("closing stdin", "SIGTERM"):
        before = totals(db_path)[JobState.COMPLETED]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=log)
        try:
            wait_for(lambda: totals(db_path)[JobState.COMPLETED] > before + 20)
            if stop_by == "SIGTERM":
                process.send_signal(signal.SIGTERM)
            else:
                process.stdin.close()
            # Each of its threads ends its current step (a write may wait out SQLite's 5 s busy
            # timeout) and signs off: on a loaded machine that took over 30 s.
            assert process.wait(timeout=WAIT) == 0, stop_by
        finally:
            process.kill()
            process.wait()
    log.close()

    assert totals(db_path)[JobState.COMPLETED] > seeded[JobState.COMPLETED]
    with SQLiteQueue.open(db_path, read_only=True) as q:
        remaining = {w.id.partition(".")[0] for w in q.snapshot().workers}
    assert remaining <= {"media-1"}, "workers sign off when stopped; only 'crashed' ones remain"
    assert "seeding" not in (tmp_path / "simulation.log").read_text(), "an existing demo is kept"
