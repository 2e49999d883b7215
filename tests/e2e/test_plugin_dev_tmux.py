"""`qtui plugin dev` in a real terminal: a new author's panel is fed live demo data at once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qtui.sqlite_queue import SQLiteQueue
from tests.support import wait_until_sync

from .conftest import QTUI, answer

pytestmark = pytest.mark.slow


def simulations_on(db: Path) -> list[int]:
    """Pids of the demo simulations running on `db`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # ended while we looked
        if b"qtui.simulation" in args and str(db).encode() in args:
            found.append(int(cmdline.parent.name))
    return found


def new_plugin(tmp_path: Path, env: dict[str, str]) -> Path:
    subprocess.run([*QTUI, "plugin", "new", "my-panel"], cwd=tmp_path, env=env, check=True, capture_output=True)
    return tmp_path / "my-panel"


def test_plugin_dev_opens_on_live_demo_data(tmux, qtui_env, tmp_path: Path) -> None:
    folder = new_plugin(tmp_path, qtui_env)
    demo = Path(qtui_env["XDG_DATA_HOME"]) / "qtui" / "demo.db"
    tmux.start([*QTUI, "plugin", "dev", str(folder)], qtui_env)
    tmux.wait_for("Permissions: my-panel")
    answer(tmux, "a", "Enter")
    screen = tmux.wait_for(lambda s: "email  ready" in s and "webhooks  ready" in s)  # the panel, fed
    assert "/data/qtui/demo.db" in screen and "live" in screen  # the status bar names the database
    assert simulations_on(demo), "the demo's producers and workers run while the console does"
    tmux.keys("Q")
    tmux.wait_for("exit=0")
    wait_until_sync(lambda: not simulations_on(demo), "the simulation to stop with the console")


def test_plugin_dev_with_db_opens_that_database(tmux, qtui_env, tmp_path: Path) -> None:
    folder = new_plugin(tmp_path, qtui_env)
    db = tmp_path / "mine.db"
    with SQLiteQueue.open(db, create=True) as queue:
        queue.enqueue("invoices", {"n": 1})
    tmux.start([*QTUI, "plugin", "dev", str(folder), "--db", str(db)], qtui_env)
    tmux.wait_for("Permissions: my-panel")
    answer(tmux, "a", "Enter")
    screen = tmux.wait_for("invoices  ready 1")
    assert "/mine.db" in screen and "email" not in screen
    tmux.keys("Q")
    tmux.wait_for("exit=0")
    assert not (Path(qtui_env["XDG_DATA_HOME"]) / "qtui" / "demo.db").exists()
