"""The plugin platform in the real console at 80x24 through tmux: command keys, several panels,
catalog search, and a recording of the demo replayed into a bundled plugin's spec."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtui.plugins.bundles.catalog import pack

from .conftest import QTUI

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def qtui(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run qtui as the operator would in a shell (not in the tmux pane)."""
    return subprocess.run([*QTUI, *argv], env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Path]:
    """A demo database kept busy by the simulation (as qtui demo runs it) while the test runs."""
    db = tmp_path / "demo.db"
    subprocess.run([sys.executable, "-m", "qtui.simulation", "--db", str(db), "--seed-only"], cwd=REPO, check=True)
    simulation = subprocess.Popen([sys.executable, "-m", "qtui.simulation", "--db", str(db)], cwd=REPO,
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield db
    assert simulation.stdin is not None
    simulation.stdin.close()  # it stops when its stdin closes
    simulation.wait(timeout=30)


def test_a_recorded_demo_console_replays_into_a_bundled_plugins_spec_the_same_twice(
        tmux, qtui_env, tmp_path: Path, demo: Path) -> None:
    for argv in (("plugin", "enable", "throughput"), ("plugin", "grant", "throughput", "--all", "--yes")):
        assert qtui(qtui_env, *argv).returncode == 0
    recording = tmp_path / "operator.jsonl"
    tmux.start([*QTUI, "record", "--out", str(recording), "--db", str(demo), "--refresh", "1"], qtui_env)
    tmux.wait_for(lambda s: "Throughput" in s and "email        done" in s)
    tmux.keys("3")
    tmux.wait_for("Dead letter")
    tmux.keys("j", "1")
    tmux.wait_for("5 queues")
    tmux.keys("Q")
    screen = tmux.wait_for("exit=0")
    recorded = int(screen.split("recorded ")[1].split()[0])
    assert screen.split("recorded ")[1].split()[1:3] == ["events", "to"] and recording.is_file()

    runs = [qtui(qtui_env, "plugin", "test", "lua_plugins/throughput", "--replay", str(recording)) for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], [run.stdout + run.stderr for run in runs]
    assert runs[0].stdout == runs[1].stdout
    lines = runs[0].stdout.splitlines()
    replayed = int(lines[0].split()[0])
    assert 0 < replayed < recorded  # the statistics; throughput subscribes to nothing else
    assert lines[1] == "jobs per minute, last 30 minutes (one column a minute)"
    assert any(line.startswith("email        done") for line in lines)
    assert lines[-1].endswith("passed, 0 failed")


COMMANDS_PLUGIN = """
local opened = 0
function activate()
  qtui.subscribe("key")
  qtui.render({"main panel: press o to open panels"})
end
function on_event(e)
  if e.type == "command" then
    local row = e.row or {}
    qtui.render({"ran " .. e.name .. " on " .. (row.queue or "-") .. " " .. (row.state or "-")})
  elseif e.type == "key" and e.key == "o" then
    opened = opened + 1
    qtui.panel.open("extra" .. opened, {title = "Extra " .. opened, rows = 3})
    qtui.render({"extra panel " .. opened}, "extra" .. opened)
  elseif e.type == "key" and e.key == "x" and e.panel ~= "main" then
    qtui.panel.close(e.panel)
  end
end
"""
COMMANDS_MANIFEST = """name = "tools"
version = "1.0.0"
description = "commands on keys and panels opened at run time"
api = "1"
permissions = ["commands", "selection.read"]

[panel]
title = "Tools"
rows = 3

[commands.retry]
help = "retry the job under the cursor"
key = "Ctrl-T"
view = "dead"
"""


def command(tmux, line: str) -> None:
    tmux.keys(":")
    tmux.type(line)
    tmux.keys("Enter")


def test_command_keys_panels_and_catalog_search_in_the_real_console(tmux, qtui_env, tmp_path: Path,
                                                                      demo: Path) -> None:
    tools = Path(qtui_env["XDG_CONFIG_HOME"]) / "qtui" / "plugins" / "tools"
    tools.mkdir(parents=True)
    (tools / "manifest.toml").write_text(COMMANDS_MANIFEST)
    (tools / "init.lua").write_text(COMMANDS_PLUGIN)
    shop = tmp_path / "shop"
    shop.mkdir()
    source = tmp_path / "src" / "tenant-board"
    source.mkdir(parents=True)
    (source / "manifest.toml").write_text(
        'name = "tenant-board"\nversion = "2.0.0"\ndescription = "late tenants at a glance"\napi = "1"\n')
    (source / "init.lua").write_text("function activate() end")
    (shop / "index.toml").write_text(pack(source, shop).index_entry())
    (Path(qtui_env["XDG_CONFIG_HOME"]) / "qtui" / "catalogs.toml").write_text(f'catalogs = ["{shop / "index.toml"}"]\n')
    for argv in (("plugin", "enable", "tools"), ("plugin", "grant", "tools", "--all", "--yes")):
        assert qtui(qtui_env, *argv).returncode == 0

    tmux.start([*QTUI, "--db", str(demo)], qtui_env)
    tmux.wait_for("main panel: press o to open panels")

    # the manifest's key runs the command on the dead letter screen, with the row under the cursor
    tmux.keys("3")
    tmux.wait_for("Dead letter")
    tmux.keys("C-t")
    screen = tmux.wait_for("ran retry on ")
    assert "dead" in screen.split("ran retry on ")[1].split("\n")[0]
    tmux.keys("?")
    tmux.wait_for("help")
    command(tmux, "help keys")
    tmux.keys("G")
    screen = tmux.wait_for("plugin commands")
    assert "Ctrl-T  tools: retry the job under the cursor  (on dead)" in screen
    tmux.keys("Escape")
    tmux.keys("1")

    # two more panels, opened by the plugin at run time, each a zone of its own
    tmux.keys("Tab")
    tmux.wait_for("keys go to tools")
    tmux.keys("o", "o")
    screen = tmux.wait_for(lambda s: "extra panel 1" in s and "extra panel 2" in s)
    assert "Extra 1" in screen and "Extra 2" in screen
    tmux.keys("Tab")
    tmux.wait_for("keys go to tools/extra1")
    tmux.keys("x")  # closes the panel with the focus
    screen = tmux.wait_for(lambda s: "extra panel 1" not in s and "extra panel 2" in s)
    assert "keys go to" not in screen  # the focus went back to the console with its panel

    # the catalog, searched with /
    tmux.keys("5")
    tmux.wait_for("tenant-board")
    tmux.keys("/")
    tmux.type("glance")
    tmux.keys("Enter")
    screen = tmux.wait_for("search 'glance': 1 of")
    rows = screen.split("PLUGIN", 1)[1].split("search 'glance'")[0].splitlines()[1:]
    assert [row.split()[0] for row in rows if row.strip()] == ["tenant-board"]
    tmux.keys("Q")
    tmux.wait_for("exit=0")
