"""Plugins inside the console: prompt, panels, focus, confirmations, manager, settings, live reload."""

from __future__ import annotations

from qtui.model import JobState
from qtui.plugins.runtime.host import PluginState

PANEL = """
    local dead, key = "?", "nothing"
    function activate(ctx)
      qtui.subscribe("stats", "key")
      qtui.render({"starting"})
    end
    function on_event(e)
      if e.type == "stats" then dead = tostring(e.queues[1].dead) end
      if e.type == "key" then key = e.key end
      qtui.render({{{text = "dead on email: ", style = "bold"}, dead}, "pressed " .. key})
    end
"""

PURGER = """
    function activate() qtui.command("purge-dead", "purge the dead letter queue") end
    function on_event(e)
      if e.type == "command" then qtui.jobs.purge("all", "dead")
      elseif e.type == "action" then qtui.render({"purge ok=" .. tostring(e.ok) .. " " .. tostring(e.error or e.result.count)})
      end
    end
"""


async def test_enabling_a_plugin_prompts_then_shows_its_panel_and_takes_keys(make_console) -> None:
    d = await make_console()
    d.write_plugin("panel", PANEL, ["stats.read", "selection.read"])
    d.console.execute("view plugins")
    text = await d.wait_for("panel")
    d.console.execute("plugin enable panel")
    text = await d.wait_for("Permissions: panel 1.0.0")
    assert "[ ] stats.read" in text and "low risk" in text
    assert d.control.host.plugins["panel"].runtime is None  # nothing runs before the decision
    await d.answer("a", "enter")
    text = await d.wait_for("dead on email: 1")
    assert "panel panel" in text
    d.press("tab")
    assert "keys go to panel" in d.text()
    d.press("z")
    await d.wait_for("pressed z")
    d.press("esc")
    assert "keys go to" not in d.text()
    d.press("z")  # back in the main view: not for the plugin
    assert "z does nothing here" in d.text()


async def test_destructive_plugin_actions_are_confirmed_or_refused(make_console) -> None:
    d = await make_console()
    d.write_plugin("purger", PURGER, ["commands", "jobs.purge"])
    d.console.execute("plugin enable purger")
    await d.wait_for("Permissions: purger")
    assert "DESTRUCTIVE" in d.text()
    await d.answer("a", "j", " ", "y", "enter")  # jobs.purge takes a second step
    await d.wait_for(lambda t: d.control.host.plugins["purger"].state is PluginState.RUNNING)
    d.console.execute("purger.purge-dead")
    text = await d.wait_for("Plugin purger 1.0.0 wants to:")
    dead = d.console.backend.peek(None, JobState.DEAD).jobs[0].id
    assert "delete 1 dead job on every queue" in text and f"jobs {dead}" in text
    assert "keys wait a moment" in text
    d.press("y")  # before the question has been on screen for a moment: dropped
    await d.wait_for("Esc cancel")
    assert "wants to:" in d.text()
    d.press("n")
    await d.wait_for("purge ok=false the operator declined")
    assert d.console.backend.stats()[0].count(JobState.DEAD) == 1
    d.console.execute("purger.purge-dead")
    await d.wait_for("Esc cancel")
    d.press("a")  # yes, and don't ask again for this version
    await d.wait_for("purge ok=true 1")
    assert d.console.backend.stats()[0].count(JobState.DEAD) == 0
    d.console.execute("purger.purge-dead")
    await d.wait_for("purge ok=true 0")  # no second question


async def test_a_denied_capability_refuses_the_action(make_console) -> None:
    d = await make_console()
    lua = PURGER.replace("qtui.jobs.purge(\"all\", \"dead\")",
                         "local ok, err = pcall(qtui.jobs.purge, 'all', 'dead'); qtui.render({err})")
    d.write_plugin("purger", lua, ["commands", "jobs.purge"])
    d.console.execute("plugin enable purger")
    await d.wait_for("Permissions: purger")
    await d.answer(" ", "enter")  # approve commands only (the cursor is on the first capability)
    await d.wait_for(lambda t: d.control.host.plugins["purger"].state is PluginState.RUNNING)
    d.console.execute("purger.purge-dead")
    await d.wait_for("capability jobs.purge is denied")
    assert d.console.backend.stats()[0].count(JobState.DEAD) == 1


async def test_manager_lists_plugins_with_state_and_resources(make_console) -> None:
    d = await make_console()
    d.write_plugin("panel", PANEL, ["stats.read", "selection.read"])
    d.write_plugin("idle", "function activate() end")
    d.console.execute("view plugins")
    d.console.execute("plugin enable panel")
    await d.wait_for("Permissions: panel")
    await d.answer("a", "enter")
    await d.wait_for("dead on email")
    d.console.execute("view plugins")
    text = await d.wait_for(lambda t: "running" in t and "2/2" in t)
    row = next(line for line in text.splitlines() if line.startswith("panel"))
    assert "user" in row and "k" in row  # memory in KiB
    assert next(line for line in text.splitlines() if line.startswith("idle")).split()[3] == "off"


async def test_settings_editor_validates_and_reaches_the_plugin(make_console) -> None:
    d = await make_console()
    lua = """
        function activate() qtui.render({"limit " .. qtui.setting("limit")}) end
        function on_event(e) if e.type == "settings" then qtui.render({"limit " .. e.settings.limit}) end end
    """
    extra = """
        [settings.limit]
        type = "number"
        default = 5
        min = 1
        description = "how many"
    """
    d.write_plugin("tuned", lua, extra=extra)
    d.console.execute("plugin enable tuned")
    await d.wait_for("limit 5")
    d.console.execute("plugin settings tuned")
    await d.wait_for("Settings: tuned")
    d.press("backspace", "0", "enter")
    assert "0 is below the minimum 1" in d.text()
    d.press("backspace", "4", "2", "enter")
    await d.wait_for("limit 42")
    assert "limit = 42" in (d.plugin_dir.parent / "plugin-settings.toml").read_text()


async def test_saving_the_plugin_file_reloads_it_and_a_broken_save_keeps_the_old_code(make_console) -> None:
    d = await make_console()
    folder = d.write_plugin("live", 'function activate() qtui.render({"version one"}) end', ["stats.read"])
    d.console.execute("plugin enable live")
    await d.wait_for("Permissions: live")
    await d.answer("a", "enter")
    await d.wait_for("version one")
    text = await d.save_until(folder / "init.lua", "function activate() qtui.render({'version two'}) end",
                              "Its code changed")  # changed code asks again (not a dev folder)
    assert "then granted: stats.read" in text
    old = d.control.host.plugins["live"]
    assert old.state is PluginState.RUNNING and old.panel[0][0].text == "version one"  # the old code still runs
    assert "[ ] stats.read" in text  # nothing carries over
    assert "Changed since the code you granted: init.lua (changed, +1 -1)" in text
    await d.answer("a", "enter")
    await d.wait_for("version two")
    (folder / "init.lua").write_text("function activate(\n")
    await d.wait_for("init.lua:")
    assert "version two" in d.text()
    assert d.control.host.plugins["live"].state is PluginState.RUNNING


async def test_plugin_dev_reloads_without_asking_and_shows_the_log(make_console, tmp_path) -> None:
    folder = tmp_path / "work" / "devplug"
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(
        'name = "devplug"\nversion = "0.1.0"\ndescription = "d"\napi = "1"\npermissions = ["stats.read"]\n')
    (folder / "init.lua").write_text('function activate() print("hello from v1"); qtui.render({"v1"}) end')
    d = await make_console(dev=folder)
    await d.wait_for("Permissions: devplug")
    await d.answer("a", "enter")
    text = await d.wait_for("hello from v1")
    assert "log: devplug" in text
    await d.save_until(folder / "init.lua",
                       'function activate() print("hello from v2"); qtui.render({"v2"}) end', "hello from v2")
    assert "Permissions" not in d.text()


async def test_a_runaway_plugin_is_quarantined_and_the_console_stays_responsive(make_console) -> None:
    d = await make_console()
    d.write_plugin("spin", """
        function activate() qtui.subscribe("stats") end
        function on_event(e) while true do end end
    """, ["stats.read"])
    d.console.execute("plugin enable spin")
    await d.wait_for("Permissions: spin")
    await d.answer("a", "enter")
    d.console.execute("view dead")
    await d.wait_for("smtp down")  # the console keeps answering while the plugin spins
    await d.wait_for("quarantined")



async def test_manager_installs_from_the_catalog_and_uninstalls(make_console, tmp_path) -> None:
    from qtui.plugins.bundles.catalog import pack

    source = tmp_path / "src" / "greeter"
    source.mkdir(parents=True)
    (source / "manifest.toml").write_text(
        'name = "greeter"\nversion = "2.0.0"\ndescription = "says hi"\napi = "1"\n')
    (source / "init.lua").write_text('function activate() qtui.render({"hi from greeter"}) end')
    shop = tmp_path / "shop"
    shop.mkdir()
    packed = pack(source, shop)
    (shop / "index.toml").write_text(packed.index_entry())
    (tmp_path / "config" / "qtui").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "qtui" / "catalogs.toml").write_text(f'catalogs = ["{shop / "index.toml"}"]\n')

    d = await make_console()
    d.console.execute("view plugins")
    text = await d.wait_for("available")
    assert next(line for line in text.splitlines() if line.startswith("greeter")).split()[1:4] == [
        "2.0.0", "catalog", "available"]
    d.console.execute("plugin install greeter")
    await d.wait_for("Install greeter 2.0.0 from")
    d.press("y")
    await d.wait_for("installed greeter 2.0.0")
    assert (tmp_path / "config" / "qtui" / "plugins" / "greeter" / "init.lua").exists()
    d.console.execute("plugin enable greeter")
    await d.wait_for("hi from greeter")
    d.console.execute("plugin uninstall greeter")
    await d.wait_for("Uninstall greeter 2.0.0?")
    d.press("y")
    await d.wait_for("uninstalled greeter")
    assert not (tmp_path / "config" / "qtui" / "plugins" / "greeter").exists()
    assert "hi from greeter" not in d.text()


async def test_permissions_can_be_revoked_from_the_console(make_console) -> None:
    from qtui.plugins.bundles.capabilities import Capability
    from qtui.plugins.trust.permissions import Verdict

    d = await make_console()
    d.write_plugin("panel", PANEL, ["stats.read", "selection.read"])
    d.console.execute("plugin enable panel")
    await d.wait_for("Permissions: panel")
    await d.answer("a", "enter")
    await d.wait_for("dead on email: 1")
    d.console.execute("plugin allow panel")
    text = await d.wait_for("may do (untick to revoke)")
    assert "[x] stats.read" in text and "[x] selection.read" in text
    await d.answer(" ", "enter")  # untick stats.read
    await d.wait_for("panel: stats.read denied (decided here)")
    handle = d.control.host.plugins["panel"]
    assert handle.grants.check(Capability.STATS_READ).verdict is Verdict.DENIED
    assert handle.state is PluginState.RUNNING and handle.errors == 0  # held to it at once, not restarted
    # its stats stop: a change on the queue no longer reaches its panel, its keys still do
    d.console.backend.requeue(queue="email")
    await d.wait_for(lambda t: "0 dead" in t or " 0 " in t.split("\n")[3])
    d.press("tab", "z")
    text = await d.wait_for("pressed z")
    assert "dead on email: 1" in text


async def test_mouse_clicks_in_a_panel_reach_the_plugin(make_console) -> None:
    d = await make_console()
    d.write_plugin("clicky", """
        function activate() qtui.subscribe("mouse"); qtui.render({"click me"}) end
        function on_event(e)
          if e.type ~= "mouse" then return end  -- it is also told its panel's size
          qtui.render({e.action .. " " .. e.button .. " at " .. e.column .. "," .. e.row})
        end
    """, ["selection.read"])
    d.console.execute("plugin enable clicky")
    await d.wait_for("Permissions: clicky")
    await d.answer("a", "enter")
    text = await d.wait_for("click me")
    row = text.splitlines().index(next(line for line in text.splitlines() if "click me" in line))
    d.console.root.mouse_event((80, 24), "mouse press", 1, 3, row, True)
    await d.wait_for("press 1 at 3,0")


async def test_a_plugin_learns_its_panel_size_from_the_dock_and_full_screen(make_console) -> None:
    d = await make_console()
    d.write_plugin("sized", """
        function on_event(e)
          if e.type == "resize" then qtui.render({"size " .. e.width .. "x" .. e.height}) end
        end
    """)
    d.console.execute("plugin enable sized")
    await d.wait_for("size 80x7")  # the bottom dock: 8 rows, one for the title
    d.console.execute("dock grow")
    await d.wait_for("size 80x9")
    d.console.execute("plugin open sized")
    await d.wait_for("size 80x19")  # full screen: all rows between the header and the footer


async def test_an_enabled_plugin_whose_entry_is_under_spec_is_reported_at_start(make_console, tmp_path) -> None:
    d = await make_console()
    folder = d.write_plugin("tested", "function activate() end")
    manifest = (folder / "manifest.toml").read_text()
    (folder / "manifest.toml").write_text('entry = "spec/init.lua"\n' + manifest)
    (folder / "spec").mkdir()
    (folder / "spec" / "init.lua").write_text("function activate() qtui.render({'from spec'}) end\n")
    (tmp_path / "config" / "qtui" / "plugins.toml").write_text('enabled = ["tested"]\n')
    d2 = await make_console()
    text = await d2.wait_for("enabled plugin tested cannot be loaded: manifest.toml:1: entry: 'spec/init.lua'")
    assert "from spec" not in text
    d2.console.execute("view plugins")
    await d2.wait_for("tested")
