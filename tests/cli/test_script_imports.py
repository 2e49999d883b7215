"""Script commands start fast: they load neither the console nor the plugin system.

Each command runs as `python -X importtime -m qtui ...` in its own process; the modules it
imported are read from that report, so nothing already loaded by the test run hides one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qtui.sqlite_queue import SQLiteQueue

#: Loaded only by the console, the plugin system or the Redis backends.
HEAVY = ("urwid", "trio", "lupa", "cattrs", "redis", "rq", "qtui.plugins", "qtui.authoring",
         "qtui.poller", "qtui.bus")
#: The console's modules a script command may use: plain text helpers, no widgets.
CONSOLE_TEXT = {"qtui.console", "qtui.console.format", "qtui.console.job_detail"}


def imported(*argv: str, stdin: str = "", cwd: Path) -> set[str]:
    """The modules `qtui argv...` imports; fails if the command fails."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "qtui", *argv], input=stdin,
                            capture_output=True, text=True, cwd=cwd, env=env, check=False)
    report = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    errors = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert result.returncode == 0, errors
    return {re.split(r"\|\s*", line)[-1].strip() for line in report[1:]}


def heavy(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules
        if any(m == h or m.startswith(h + ".") for h in HEAVY)
        or (m.startswith("qtui.console") and m not in CONSOLE_TEXT)
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.db"
    with SQLiteQueue.open(path, create=True) as queue:
        queue.enqueue("email", {"to": "ops@example.com"})
        worker = queue.worker(["email"], worker_id="w-1")
        worker.fail(worker.reserve(), "smtp down")
        queue.enqueue("email", {"to": "dev@example.com"}, max_attempts=1)
        worker.fail(worker.reserve(), "smtp down")
    return path


@pytest.mark.parametrize("command", [
    ["stats", "--json"],
    ["stats"],
    ["workers", "--json"],
    ["peek", "email", "--state", "dead"],
    ["find", "2", "--json"],
    ["find", "2"],
    ["enqueue", "email", '{"to": "x@example.com"}'],
    ["enqueue", "email", "--batch", "-"],
    ["requeue", "--all", "--yes"],
    ["purge", "all", "--state", "completed", "--yes"],
], ids=" ".join)
def test_script_commands_load_neither_console_nor_plugins(command: list[str], db: Path, tmp_path: Path) -> None:
    modules = imported("--db", str(db), *command, stdin='{"n": 1}\n{"n": 2}\n', cwd=tmp_path)
    assert "qtui.sqlite_queue" in modules and "argparse" in modules  # the report is read right
    assert heavy(modules) == []


def test_help_lists_the_plugin_commands_without_loading_them(tmp_path: Path) -> None:
    modules = imported("--help", cwd=tmp_path)
    assert "qtui.cli.plugins" not in modules and heavy(modules) == []


def test_the_plugin_group_loads_its_commands_when_used(tmp_path: Path) -> None:
    modules = imported("plugin", "--help", cwd=tmp_path)
    assert "qtui.cli.plugins" in modules and "lupa" in modules
