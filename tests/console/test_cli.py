"""The qtui command line on a real SQLite database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qtui.cli.main import main
from qtui.model import JobState


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("qtui ")


def test_bad_arguments_exit_2_with_a_message(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["peek", "email", "--state", "sideways"])
    assert exit_info.value.code == 2
    assert "unknown job state 'sideways'" in capsys.readouterr().err


def test_stats_table_and_json(capsys, queue_db) -> None:
    code, out, _ = run(capsys, "stats", "--db", str(queue_db))
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:6] == ["QUEUE", "READY", "SCHEDULED", "PROCESSING", "COMPLETED", "DEAD"]
    assert rows[1].split()[:6] == ["email", "30", "0", "0", "0", "0"]
    code, out, _ = run(capsys, "--db", str(queue_db), "stats", "--json")
    data = {q["name"]: q for q in json.loads(out)}
    assert data["billing"]["counts"] == {"completed": 1, "dead": 1, "processing": 0, "ready": 0, "scheduled": 0}


def test_peek_pages_with_a_cursor(capsys, queue_db) -> None:
    code, out, _ = run(capsys, "peek", "email", "--limit", "20", "--db", str(queue_db))
    assert code == 0 and out.count("user") == 20
    cursor = out.splitlines()[-1].split("--cursor ")[1].rstrip(")")
    code, out, _ = run(capsys, "peek", "email", "--limit", "20", "--cursor", cursor, "--db", str(queue_db))
    assert out.count("user") == 10 and "--cursor" not in out


def test_peek_filter_searches_payloads_and_errors(capsys, queue_db) -> None:
    _, out, _ = run(capsys, "peek", "all", "--state", "dead", "--filter", "DECLINED", "--json", "--db", str(queue_db))
    jobs = json.loads(out)["jobs"]
    assert len(jobs) == 1 and jobs[0]["last_error"].startswith("card declined")


def test_table_output_neutralises_control_characters(capsys, queue_db) -> None:
    _, out, _ = run(capsys, "peek", "billing", "--state", "dead", "--db", str(queue_db))
    assert "\x1b" not in out and "^[]0;owned^G" in out


def test_find_prints_the_job_or_exits_1(capsys, queue_db) -> None:
    code, out, _ = run(capsys, "find", "31", "--db", str(queue_db))
    assert code == 0 and '"invoice": 7' in out
    code, _, err = run(capsys, "find", "424242", "--db", str(queue_db))
    assert code == 1 and "no job with id '424242'" in err


def test_enqueue_validates_json(capsys, queue_db) -> None:
    code, out, _ = run(capsys, "enqueue", "sms", '{"to": "+1"}', "--db", str(queue_db))
    assert code == 0 and "enqueued job" in out
    code, _, err = run(capsys, "enqueue", "sms", "{oops", "--db", str(queue_db))
    assert code == 2 and "payload is not valid JSON" in err and "line 1 column 2" in err


def test_destructive_commands_need_yes_without_a_terminal(capsys, queue_db, monkeypatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, _, err = run(capsys, "purge", "email", "--db", str(queue_db))
    assert code == 4 and "pass --yes" in err
    code, _, _ = run(capsys, "stats", "--db", str(queue_db))
    code, out, _ = run(capsys, "purge", "email", "--yes", "--json", "--db", str(queue_db))
    assert code == 0 and json.loads(out) == {"purged": 30}


def test_requeue_by_filter_to_another_queue(capsys, queue_db) -> None:
    code, out, _ = run(capsys, "requeue", "--filter", "declined", "--to", "retry", "--yes", "--db", str(queue_db))
    assert code == 0 and out.strip() == "requeued 1 job"
    _, out, _ = run(capsys, "peek", "retry", "--json", "--db", str(queue_db))
    assert [j["state"] for j in json.loads(out)["jobs"]] == [JobState.READY.value]


def test_requeue_needs_a_selection(capsys, queue_db) -> None:
    code, _, err = run(capsys, "requeue", "--yes", "--db", str(queue_db))
    assert code == 2 and "say which dead jobs" in err


def test_read_only_refuses_changes(capsys, queue_db) -> None:
    code, _, err = run(capsys, "--read-only", "purge", "email", "--yes", "--db", str(queue_db))
    assert code == 4 and "read-only" in err
    code, _, err = run(capsys, "enqueue", "email", "{}", "--read-only", "--db", str(queue_db))
    assert code == 4


def test_unavailable_databases_exit_3_with_the_path(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "stats", "--db", str(tmp_path / "missing.db"))
    assert code == 3 and "missing.db" in err
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    code, _, err = run(capsys, "stats", "--db", str(corrupt))
    assert code == 3 and "corrupt.db" in err and "Traceback" not in err


def test_unknown_queue_exits_1(capsys, queue_db) -> None:
    code, _, err = run(capsys, "peek", "nosuch", "--db", str(queue_db))
    assert code == 1 and "nosuch" in err


def test_console_script_is_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "qtui", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("qtui ")


def test_tables_show_invisible_characters_in_names(capsys, tmp_path) -> None:
    import sqlite3

    from qtui.sqlite_queue import SQLiteQueue

    db = tmp_path / "names.db"
    with SQLiteQueue.open(db, create=True) as queue:
        for name in ("payroll", "b", "c"):
            queue.enqueue(name, {})
    # another program (or a Redis producer) wrote names qtui's own producers refuse
    with sqlite3.connect(db) as raw:
        for old, new in (("b", "pay\u200broll"), ("c", "\u202eevil")):
            for table, column in (("queues", "name"), ("jobs", "queue")):  # a trigger moves the counts
                raw.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))
    code, out, _ = run(capsys, "stats", "--db", str(db))
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert code == 0 and sorted(names) == ["<U+202E>evil", "pay<U+200B>roll", "payroll"]
