"""What `qtui plugin ...` changes reaches a running console, and what the console runs shows in the CLI."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
import trio

from qtui.cli.main import main
from qtui.plugins.bundles.catalog import pack
from qtui.plugins.runtime.host import PluginState
from qtui.plugins.runtime.storage import PluginStorage
from qtui.plugins.trust.permissions import PermissionStore
from tests.support import wait_until

COUNTER = """
    local starts, n, limit = 0, 0, 0
    local function show() qtui.render({"starts " .. starts .. " n " .. n .. " limit " .. limit}) end
    function activate(ctx)
      if ctx.state then starts, n = ctx.state.starts, ctx.state.n end
      starts = starts + 1
      limit = ctx.settings.limit
      qtui.subscribe("stats")
      show()
    end
    function on_event(e)
      if e.type == "stats" then n = n + 1 end
      if e.type == "settings" then limit = e.settings.limit end
      show()
    end
    function deactivate() return {starts = starts, n = n} end
"""
LIMIT = """
    [settings.limit]
    type = "number"
    default = 5
    min = 1
"""


@pytest.fixture
def cli(capsys):
    """cli(*argv): run qtui in a worker thread (as another process would); exit status and stdout."""

    async def run(*argv: str) -> tuple[int, str]:
        code = await trio.to_thread.run_sync(main, list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out

    return run


async def test_what_the_cli_changes_reaches_the_running_console(make_console, cli) -> None:
    d = await make_console()
    d.write_plugin("counter", COUNTER, ["stats.read"], extra=LIMIT)
    assert (await cli("plugin", "grant", "counter", "--all"))[0] == 0

    assert await cli("plugin", "enable", "counter") == (0, "counter is now enabled; every console starts it\n")
    await d.wait_for("limit 5")  # started without anyone touching the console
    code, _ = await cli("plugin", "settings", "counter", "limit=9")
    assert code == 0
    await d.wait_for("limit 9")  # delivered as a settings event to the running plugin
    assert "counter: settings changed elsewhere" in d.text()

    code, out = await cli("plugin", "list", "--json")
    (counter,) = [p for p in json.loads(out)["plugins"] if p["name"] == "counter"]
    assert (counter["enabled"], counter["state"], counter["consoles"]) == (True, "running", 1)
    assert counter["settings"] == {"limit": 9}

    await cli("plugin", "disable", "counter")
    await d.wait_for(lambda t: "limit 9" not in t)
    assert d.control.host.plugins["counter"].state is PluginState.STOPPED
    await wait_until(lambda: json.loads(main_json("counter"))["state"] == "stopped", "the state file to say stopped")


async def test_the_cli_reaches_a_console_that_does_not_poll_meanwhile(make_console, cli) -> None:
    d = await make_console(refresh=3600)  # polled once at the start, then not for an hour
    d.write_plugin("counter", COUNTER, ["stats.read"], extra=LIMIT)
    assert (await cli("plugin", "grant", "counter", "--all"))[0] == 0
    assert (await cli("plugin", "enable", "counter"))[0] == 0
    await d.wait_for("limit 5")  # the file's change, not a poll, started it
    assert (await cli("plugin", "settings", "counter", "limit=9"))[0] == 0
    await d.wait_for("limit 9")


def main_json(name: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["plugin", "info", name, "--json"])
    return out.getvalue()


async def test_the_cli_sees_a_quarantined_plugin(make_console, cli) -> None:
    d = await make_console()
    d.write_plugin("spin", """
        function activate() qtui.subscribe("stats") end
        function on_event(e) while true do end end
    """, ["stats.read"])
    await cli("plugin", "grant", "spin", "--all")
    d.console.execute("plugin enable spin")
    await d.wait_for("quarantined")
    await wait_until(lambda: json.loads(main_json("spin"))["state"] == "quarantined", "spin quarantined in the CLI")
    _, out = await cli("plugin", "info", "spin")
    assert "state:       quarantined in 1 console: " in out


async def counting(make_console, polls: int):  # noqa: ANN001, ANN201 - (fixture, driver)
    """A console running the counter plugin, enabled and granted by the operator, once it counted `polls`."""
    d = await make_console()
    d.write_plugin("counter", COUNTER, ["stats.read", "notify"], extra=LIMIT)
    d.console.execute("plugin enable counter")
    await d.wait_for("Permissions: counter")
    await d.answer("a", "enter")
    # at least that many: on a busy machine more polls may come before the screen is looked at
    await d.wait_for(lambda t: (m := re.search(r"starts 1 n (\d+) ", t)) is not None and int(m[1]) >= polls)
    return d


async def test_state_survives_a_stop_and_start_by_the_host(make_console) -> None:
    d = await counting(make_console, 2)
    d.console.execute("plugin disable counter")
    await d.wait_for(lambda t: d.control.host.plugins["counter"].state is PluginState.STOPPED)
    d.console.execute("plugin enable counter")  # decided already: it starts at once
    text = await d.wait_for("starts 2 n ")  # its deactivate's state reached the new activate
    assert int(text.split("starts 2 n ")[1].split()[0]) >= 2  # counting on, not from 0


async def test_a_stale_read_of_plugins_toml_does_not_undo_the_consoles_own_enable(make_console) -> None:
    # The console follows plugins.toml as it changes. Its look at the file after a disable may
    # end after the operator enabled the plugin again: what it read then is older than the
    # console's own write, and must not stop the plugin as "disabled elsewhere".
    d = await counting(make_console, 1)
    service = d.control.service
    store = service.enabled_store
    read_by_watcher, release = threading.Event(), threading.Event()
    real_load = store.load

    def load():  # noqa: ANN202 - EnabledStore.load
        names = real_load()
        if threading.current_thread() is not threading.main_thread() and not read_by_watcher.is_set():
            read_by_watcher.set()
            release.wait(30)  # the console's own enable runs meanwhile
        return names

    store.load = load
    applied = []
    real_apply = service._apply_enabled

    async def apply_enabled() -> None:
        await real_apply()
        applied.append(True)

    service._apply_enabled = apply_enabled
    d.console.execute("plugin disable counter")
    await trio.to_thread.run_sync(read_by_watcher.wait, 30)
    d.console.execute("plugin enable counter")
    await d.wait_for("starts 2 n ")
    release.set()
    await wait_until(lambda: applied, "the console's look at plugins.toml to end")
    assert d.control.host.plugins["counter"].state is PluginState.RUNNING
    assert "disabled elsewhere" not in d.text()


async def test_a_catalog_index_that_changes_is_read_again_and_searched_with_slash(make_console, tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    entries = []
    for name, description in (("greeter", "says hi"), ("tenant-board", "late tenants at a glance")):
        source = tmp_path / "src" / name
        source.mkdir(parents=True)
        (source / "manifest.toml").write_text(
            f'name = "{name}"\nversion = "2.0.0"\ndescription = "{description}"\napi = "1"\n')
        (source / "init.lua").write_text("function activate() end")
        entries.append(pack(source, shop).index_entry())
    index = shop / "index.toml"
    index.write_text(entries[0])
    (tmp_path / "config" / "qtui").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "qtui" / "catalogs.toml").write_text(f'catalogs = ["{index}"]\n')

    d = await make_console()
    d.console.execute("view plugins")
    await d.wait_for("greeter")
    assert "tenant-board" not in d.text()
    index.write_text("\n".join(entries))  # a new version of the index, while the console runs
    await d.wait_for("tenant-board")
    d.press("/")
    for key in "TENANT":
        d.press(key)
    d.press("enter")
    text = await d.wait_for("search 'TENANT': 3 of 6 plugins")
    rows = text.split("PLUGIN", 1)[1].split("search 'TENANT'")[0].splitlines()[1:]
    # the catalog's new entry, the bundled tenant-sla, and bulk-requeue, whose description says tenant
    assert [row.split()[0] for row in rows if row.strip()] == ["bulk-requeue", "tenant-board", "tenant-sla"]
    d.press("/", "enter")  # nothing: every plugin again
    await d.wait_for(lambda t: "greeter" in t and "search '" not in t)
    d.console.execute("filter tenant")
    await d.wait_for("search 'tenant'")
    d.press("esc")  # Esc clears the search, as it clears a list's filter
    await d.wait_for(lambda t: "greeter" in t and "search '" not in t)


async def test_uninstalling_in_the_console_forgets_the_plugin(make_console, tmp_path: Path, cli) -> None:
    source = tmp_path / "src" / "keeper"
    source.mkdir(parents=True)
    (source / "manifest.toml").write_text(
        'name = "keeper"\nversion = "1.0.0"\ndescription = "keeps"\napi = "1"\npermissions = ["storage"]\n'
        + LIMIT.replace("    ", ""))
    (source / "init.lua").write_text('function activate() qtui.storage.set("k", 1); qtui.render({"kept"}) end')
    assert (await cli("plugin", "install", str(source)))[0] == 0
    assert (await cli("plugin", "grant", "keeper", "--all"))[0] == 0
    assert (await cli("plugin", "settings", "keeper", "limit=3"))[0] == 0

    d = await make_console()
    d.console.execute("plugin enable keeper")
    await d.wait_for("kept")
    assert PluginStorage("keeper").get("k") == 1
    d.console.execute("plugin uninstall keeper")
    await d.wait_for("Uninstall keeper 1.0.0?")
    d.press("y")
    await d.wait_for("uninstalled keeper")
    assert PluginStorage("keeper").get("k") is None
    assert PermissionStore().records("keeper") == ()
    assert "keeper" not in (tmp_path / "config" / "qtui" / "plugin-settings.toml").read_text()
    assert "keeper" not in (tmp_path / "config" / "qtui" / "plugins.toml").read_text()
    assert "keeper" not in d.control.host.plugins
