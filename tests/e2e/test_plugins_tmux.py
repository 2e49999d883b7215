"""Plugins in the real console at 80x24, on live demo data, through tmux."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from .conftest import QTUI, answer, command

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]




def test_plugins_prompt_render_reload_refuse_and_quarantine(tmux, qtui_env, tmp_path: Path) -> None:
    user_plugins = Path(qtui_env["XDG_CONFIG_HOME"]) / "qtui" / "plugins"
    sla = user_plugins / "tenant-sla"
    shutil.copytree(REPO / "lua_plugins" / "tenant-sla", sla)  # user copies shadow the bundled ones
    shutil.copytree(REPO / "lua_plugins" / "bulk-requeue", user_plugins / "bulk-requeue")
    spin = user_plugins / "spin"
    spin.mkdir()
    (spin / "manifest.toml").write_text(
        'name = "spin"\nversion = "1.0.0"\ndescription = "loops"\napi = "1"\npermissions = ["stats.read"]\n')
    (spin / "init.lua").write_text(
        'function activate() qtui.subscribe("stats") end\nfunction on_event(e) while true do end end\n')

    tmux.start([*QTUI, "demo", "--db", str(tmp_path / "demo.db")], qtui_env)
    tmux.wait_for(lambda s: "live" in s and "email" in s)

    # enable a sample plugin: the permission prompt comes first, then its panel fills from live data
    command(tmux, "plugin enable tenant-sla")
    version = tomllib.loads((sla / "manifest.toml").read_text())["version"]
    screen = tmux.wait_for(f"Permissions: tenant-sla {version}")
    assert "stats.read" in screen and "jobs.peek" in screen
    answer(tmux, "a", "Enter")
    screen = tmux.wait_for(lambda s: "Tenant SLA" in s and "SLA 5m" in s)

    # edit the plugin on disk: changed code asks again, then the panel changes without a restart
    source = (sla / "init.lua").read_text()
    (sla / "init.lua").write_text(source.replace('local head = "SLA "', 'local head = "EDITED SLA "'))
    tmux.wait_for("Its code changed")
    answer(tmux, "a", "Enter")  # nothing carries over to new code
    tmux.wait_for("EDITED SLA")

    # break it: the error (file:line) shows on the panel, the old code keeps running, the console works
    (sla / "init.lua").write_text(source + "\nthis is not lua (\n")
    screen = tmux.wait_for("init.lua:")
    assert "EDITED SLA" in screen
    tmux.keys("3")
    tmux.wait_for("LAST ERROR")
    tmux.keys("1")

    # deny a capability: the plugin's action is refused and nothing moves
    command(tmux, "plugin enable bulk-requeue")
    tmux.wait_for("Permissions: bulk-requeue")
    answer(tmux, "a", "Enter")  # approve all but jobs.requeue, which takes a second step
    tmux.wait_for("bulk-requeue: granted 3, denied 1")
    command(tmux, "bulk-requeue.filter")
    command(tmux, "plugin open bulk-requeue")  # full screen: the whole panel
    tmux.wait_for(lambda s: "none left" in s or "(max_" in s)  # the preview has read every dead job
    tmux.keys("Escape")
    command(tmux, "bulk-requeue.run")
    command(tmux, "plugin open bulk-requeue")
    tmux.wait_for(lambda s: "jobs.requeue is denied" in " ".join(s.split()))  # may wrap
    tmux.keys("Escape")

    # a plugin that loops forever is quarantined while the console stays responsive
    command(tmux, "plugin enable spin")
    tmux.wait_for("Permissions: spin")
    answer(tmux, "a", "Enter")
    tmux.keys("2")
    tmux.wait_for("state ready")
    tmux.wait_for("quarantined")
    tmux.keys("Q")
    screen = tmux.wait_for(lambda s: "exit=" in s and "icanon" in s)
    assert screen.split("exit=")[1].split()[0] == "0"
