"""API 1.1 in the console: command keys (declared, rebound, taken), several panels, console-wide keys."""

from __future__ import annotations

from pathlib import Path

from qtui.console.settings import console_settings, load_config
from qtui.plugins.runtime.host import PluginState

RETRY = """
    function on_event(e)
      if e.type == "command" then
        local row = e.row or {}
        qtui.render({e.name .. " " .. (row.screen or "-") .. " " .. (row.queue or "-") .. " "
                     .. (row.state or "-") .. " " .. (row.job_id and "job" or "-")})
      end
    end
"""
COMMANDS = """
    [commands.retry]
    help = "retry the job under the cursor"
    key = "Ctrl-T"
    view = "dead"
    [commands.recount]
    help = "count again"
    key = "r"
"""


async def enable(d, name: str) -> None:
    """Enable plugin `name`, approve all it asks, and wait until it runs."""
    d.console.execute(f"plugin enable {name}")
    await d.wait_for(f"Permissions: {name}")
    await d.answer("a", "enter")
    await d.wait_for(lambda t: name in d.control.host.plugins
                     and d.control.host.plugins[name].state is PluginState.RUNNING)


def config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config" / "qtui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def test_a_manifest_key_runs_the_command_on_the_row_under_the_cursor(make_console) -> None:
    d = await make_console()
    d.write_plugin("retrier", RETRY, ["commands"], extra=COMMANDS)
    await enable(d, "retrier")
    # r is the console's refresh key everywhere: the plugin's default is refused, and says so
    await d.wait_for("retrier.recount: r is not bound: on queues it is qtui's (refresh)")
    d.press("ctrl t")  # on the queues screen the key does nothing: it is bound on dead only
    assert "retry dead" not in d.text()
    d.press("3")
    await d.wait_for("smtp down")
    d.press("ctrl t")
    await d.wait_for("retry dead email dead job")
    d.press("?")
    assert d.console.current is d.console.help
    d.console.execute("help keys")
    d.press("G")  # the plugins' keys close the list of keys
    text = await d.wait_for("plugin commands")
    assert "  Ctrl-T  retrier: retry the job under the cursor  (on dead)" in text
    assert "  r       retrier: count again  (everywhere)  not bound: on queues it is qtui's" in text


async def test_the_operator_rebinds_a_plugin_command_in_config_toml(make_console, tmp_path: Path) -> None:
    config(tmp_path, '[keys]\n"retrier.recount" = "F6"\n"retrier.retry" = ["Ctrl-Y"]\n')
    d = await make_console(settings=console_settings(load_config()))
    d.write_plugin("retrier", RETRY, ["commands"], extra=COMMANDS)
    await enable(d, "retrier")
    d.press("f6")
    await d.wait_for("recount queues email - -")
    d.press("3")
    await d.wait_for("smtp down")
    d.press("ctrl t")  # the manifest's default no longer applies
    assert "retry dead" not in d.text()
    d.press("ctrl y")
    await d.wait_for("retry dead email dead job")
    d.console.execute("help keys")
    d.press("G")
    text = await d.wait_for("plugin commands")
    assert "F6" in text and "Ctrl-Y" in text and "not bound" not in text


async def test_several_panels_each_a_zone_with_its_own_keys(make_console) -> None:
    d = await make_console()
    d.write_plugin("multi", """
        local keys = {main = "", side = ""}
        function activate()
          qtui.subscribe("key")
          qtui.panel.open("side", {title = "Side panel"})
          qtui.render({"main body"})
          qtui.render({"side body"}, "side")
        end
        function on_event(e)
          if e.type ~= "key" then return end
          keys[e.panel] = keys[e.panel] .. e.key
          qtui.render({"main keys " .. keys.main})
          qtui.render({"side keys " .. keys.side}, "side")
          if keys.side == "xc" then qtui.panel.close("side") end
        end
    """, ["selection.read"])
    await enable(d, "multi")
    text = await d.wait_for("side body")
    assert "multi panel" in text and "Side panel" in text and "main body" in text
    d.press("tab")
    assert "keys go to multi " in d.text()
    d.press("m")
    d.press("tab")
    assert "keys go to multi/side" in d.text()
    d.press("x")
    text = await d.wait_for("side keys x")
    assert "main keys m" in text
    d.press("c")  # the plugin closes its side panel: the zone leaves the dock
    await d.wait_for(lambda t: "Side panel" not in t)
    assert "keys go to" not in d.text()
    assert d.control.focus_order() == ["multi"]


async def test_console_wide_keys_reach_a_plugin_granted_keys_read(make_console) -> None:
    d = await make_console()
    d.write_plugin("watcher", """
        local seen = {}
        function activate() qtui.subscribe("console_key") end
        function on_event(e)
          if e.type == "console_key" then
            seen[#seen + 1] = e.key .. "@" .. e.screen
            qtui.render({table.concat(seen, " ")})
          end
        end
    """, ["keys.read"])
    d.console.execute("plugin enable watcher")
    text = await d.wait_for("Permissions: watcher")
    assert "see every key you press in the console" in text  # the dialog says what it allows
    await d.answer("a", "enter")
    await d.wait_for(lambda t: d.control.host.plugins["watcher"].state is PluginState.RUNNING)
    d.press("2", "j", ":")
    for key in "refresh":
        d.press(key)  # typed on the command line: not for plugins
    d.press("enter")
    await d.wait_for("2@queues j@jobs :@jobs")
    assert "r@" not in d.text()
