"""Rows another program wrote badly are shown escaped and flagged; they never fail a page.

The rows are written with sqlite3 directly, as a program that is not qtui would: text that
is not UTF-8, control bytes, payloads that are not JSON, times and numbers that are text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from qtui.cli.main import main
from qtui.console.app import Console
from tests.support import screen_text, wait_until

CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def write_badly(db: Path) -> dict[str, int]:
    """Damaged jobs on queue email, by what is wrong with each: their ids."""
    rows = {
        "not utf-8": ("CAST(X'7B2274223A2022E282AC20FF20F0909F22207D' AS TEXT)", "1700000000", "0"),
        "not json": ("'hello \x1b[31mred\x1b[0m world'", "1700000000", "0"),
        "bad times": ("'{\"n\": 1}'", "'yesterday'", "'high'"),
        "blob": ("X'7B7D'", "1e300", "0"),
    }
    ids = {}
    with sqlite3.connect(db) as conn:
        for what, (payload, created, priority) in rows.items():
            cursor = conn.execute(
                "INSERT INTO jobs (queue, state, payload, priority, created_at, updated_at)"
                f" VALUES ('email', 'ready', {payload}, {priority}, {created}, 1700000000)")
            ids[what] = cursor.lastrowid
        conn.execute("INSERT INTO queues (name, created_at) VALUES (CAST(X'6261640A1B5B33316DFF' AS TEXT), 1)")
    return ids


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_peek_shows_damaged_rows_flagged_and_escaped(capsys, queue_db: Path) -> None:
    ids = write_badly(queue_db)
    code, out, err = run(capsys, "peek", "email", "--db", str(queue_db), "--limit", "500")
    assert (code, err) == (0, "") and not CONTROL.search(out)
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line[:1].isdigit()}
    assert len(lines) == 34  # the 30 good jobs and the 4 damaged ones
    for job_id in ids.values():
        assert "! " in lines[str(job_id)]
    assert r'{"t": "€ \xff \xf0\x90\x9f" }' in lines[str(ids["not utf-8"])]
    assert "hello ^[[31mred^[[0m world" in lines[str(ids["not json"])]
    assert "! " not in lines["1"] and "(! stored by another program" in out


def test_json_and_find_say_what_is_wrong(capsys, queue_db: Path) -> None:
    ids = write_badly(queue_db)
    code, out, _ = run(capsys, "peek", "email", "--db", str(queue_db), "--limit", "500", "--json")
    damaged = {job["id"]: job["extra"].get("malformed") for job in json.loads(out)["jobs"]}
    assert damaged[str(ids["not utf-8"])] == r"payload: not UTF-8 (bad bytes shown as \xNN)"
    assert damaged[str(ids["not json"])] == "payload: not JSON"
    assert damaged[str(ids["bad times"])] == "priority: not a whole number: 'high'; created_at: not a time: 'yesterday'"
    assert damaged[str(ids["blob"])] == "payload: stored as a blob; created_at: not a time: 1e+300"
    assert damaged["1"] is None
    code, out, err = run(capsys, "find", str(ids["bad times"]), "--db", str(queue_db))
    assert code == 0 and "malformed   priority: not a whole number: 'high'" in out and "created " not in out


def test_stats_show_a_queue_name_that_is_not_utf8(capsys, queue_db: Path) -> None:
    write_badly(queue_db)
    code, out, err = run(capsys, "stats", "--db", str(queue_db))
    assert code == 0 and "bad^J^[[31m\ufffd" in out and not CONTROL.search(out)


def test_error_messages_do_not_reach_the_terminal_raw(capsys, queue_db: Path, tmp_path: Path) -> None:
    missing = str(tmp_path / "jobs\x1b]0;owned\x07.jsonl")
    code, _, err = run(capsys, "enqueue", "email", "--batch", missing, "--db", str(queue_db))
    assert code == 2 and "jobs^[]0;owned^G.jsonl: No such file" in err and not CONTROL.search(err.rstrip("\n"))


@pytest.mark.parametrize("screen", ["ready", "dead"])
async def test_the_console_shows_damaged_rows_flagged(screen: str, queue_db: Path, backend, clock, nursery) -> None:
    ids = write_badly(queue_db)
    with sqlite3.connect(queue_db) as conn:  # and a dead one, for the dead letter screen
        conn.execute("UPDATE jobs SET state = 'dead', last_error = CAST(X'626F6F6DFF' AS TEXT) WHERE id = ?",
                     (ids["not json"],))
    console = Console(backend, clock=clock, refresh=0)
    console.start_tasks(nursery)
    await wait_until(lambda: console.snapshot is not None, "the first poll")
    assert "\ufffd" in screen_text(console)  # the queue name that is not UTF-8
    console.execute("queue email")
    console.execute(f"state {screen}")
    tall = (80, 50)  # room for the 30 good jobs and the damaged ones after them
    await wait_until(lambda: "! " in screen_text(console, tall), lambda: f"a flagged row in:\n{screen_text(console, tall)}")
    text = screen_text(console, tall)
    assert not CONTROL.search(text)
    if screen == "dead":
        assert r"! boom\xff" in text
    else:
        assert r'! {"t": "€ \xff' in text
        assert "disconnected" not in text
