"""Start-up of the real console at 80x24: it draws before the plugin system loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.bench.terminal import enable_plugins
from qtui.sqlite_queue import SQLiteQueue
from tests.support import wait_until_sync

from .conftest import QTUI

pytestmark = pytest.mark.slow

#: Put first on the console's PYTHONPATH: the first import of the plugin system (or Lua) waits
#: until the test creates the gate file, so the plugins cannot load until the test lets them.
GATE_HOOK = '''\
import os, sys, time

GATE = os.environ["QTUI_TEST_PLUGIN_GATE"]


class PluginSystemGate:
    def find_spec(self, name, path=None, target=None):
        if name in ("lupa", "qtui.plugins") or name.startswith(("lupa.", "qtui.plugins.")):
            sys.meta_path.remove(self)
            open(GATE + ".reached", "w").close()
            while not os.path.exists(GATE):
                time.sleep(0.01)
        return None


sys.meta_path.insert(0, PluginSystemGate())
'''


def test_the_frame_and_the_queues_show_while_ten_plugins_cannot_load(tmux, qtui_env, tmp_path: Path) -> None:
    with SQLiteQueue.open(tmp_path / "q.db", create=True) as queue:
        queue.enqueue_many("email", [{"n": n} for n in range(3)])
    enable_plugins(Path(qtui_env["XDG_CONFIG_HOME"]), 10)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(GATE_HOOK)
    gate = tmp_path / "gate"
    env = {**qtui_env, "PYTHONPATH": str(hook), "QTUI_TEST_PLUGIN_GATE": str(gate)}

    tmux.start([*QTUI, "--db", str(tmp_path / "q.db")], env)
    # The plugin system is held at its first import; the operator already has the console.
    wait_until_sync(Path(f"{gate}.reached").exists, "the console importing the plugin system")
    screen = tmux.wait_for(lambda s: "email" in s and "live" in s)
    assert screen.splitlines()[-1].startswith("? help") and "5 Plugins" in screen

    gate.touch()  # the plugins load now, into their panels
    tmux.wait_for(lambda s: "SLA 5m" in s)
    tmux.keys("5")
    tmux.wait_for(lambda s: "queue-alert-0" in s and "tenant-sla-8" in s)
