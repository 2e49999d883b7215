"""The console draws first and loads the plugin side after: the operator sees it at once."""

from __future__ import annotations

import subprocess
import sys

from qtui.bench.reload import RecordingScreen
from qtui.console.app import Console
from qtui.console.plugin_control import PluginControl
from tests.support import wait_until

PLUGIN_SYSTEM = ("qtui.plugins", "qtui.authoring.docs", "lupa", "cattrs")


async def test_the_first_frame_and_the_queues_are_drawn_before_the_plugin_side_is_made(
        backend, clock, nursery, isolated_home) -> None:
    screen = RecordingScreen()
    frames_when_made: list[list[str]] = []

    def plugin_side(console: Console) -> PluginControl:
        frames_when_made.append([text for _, text in screen.frames])
        return PluginControl(console)

    console = Console(backend, clock=clock, refresh=0, plugins=plugin_side)
    nursery.start_soon(console.run, screen)
    await wait_until(lambda: console.plugins is not None, "the plugin side")
    (frames,) = frames_when_made
    assert "1 Queues" in frames[0] and "5 Plugins" in frames[0] and "email" not in frames[0]  # before any poll
    assert "email" in frames[-1] and "live" in frames[-1]  # the first poll, on screen
    console.execute("view plugins")
    await wait_until(lambda: "bulk-requeue" in screen.frames[-1][1], "the plugin manager's list")
    console.quit()


async def test_a_plugin_command_given_while_the_plugins_load_runs_once_they_have(
        backend, clock, nursery, isolated_home) -> None:
    screen = RecordingScreen()
    console = Console(backend, clock=clock, refresh=0, plugins=PluginControl)
    nursery.start_soon(console.run, screen)
    console.execute("plugin enable tenant-sla")  # before the first poll: the plugin side is not made yet
    assert console.plugins is None
    await wait_until(lambda: screen.frames and "Permissions: tenant-sla" in screen.frames[-1][1], "the prompt")
    assert "plugins are loading: plugin enable tenant-sla runs when they are" in screen.frames[0][1]
    console.quit()


async def test_without_plugins_the_plugins_tab_says_they_are_off(backend, clock, nursery) -> None:
    screen = RecordingScreen()
    console = Console(backend, clock=clock, refresh=0)
    nursery.start_soon(console.run, screen)
    console.execute("view plugins")
    await wait_until(lambda: screen.frames and "Plugins are off." in screen.frames[-1][1], "the plugins tab")
    console.quit()


def test_the_console_modules_do_not_load_the_plugin_system() -> None:
    """Loaded only when the console makes its plugin side, after its first frame."""
    code = "import sys, qtui.console.launch; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "urwid" in loaded and "qtui.console.app" in loaded
    assert [m for m in loaded if m.startswith(PLUGIN_SYSTEM)] == []
