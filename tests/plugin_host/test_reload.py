"""Hot reload in the host: swap on success, keep the old plugin on failure, hand state over."""

from __future__ import annotations

from qtui.events import StatsUpdated
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginState

V1 = """
    local count = 0
    function activate(ctx)
      count = (ctx.state and ctx.state.count) or 0
      qtui.subscribe("stats")
      qtui.render({"v1 count " .. count})
    end
    function on_event(e) count = count + 1; qtui.render({"v1 count " .. count}) end
    function deactivate() return {count = count} end
"""
V2 = V1.replace("v1 count", "v2 count")


def reread(plugin: Plugin) -> Plugin:
    return Plugin(load_manifest(plugin.folder), plugin.folder, Source.USER)


async def test_reload_swaps_code_and_hands_state_over(harness) -> None:
    plugin = harness.plugin("live", V1, permissions=["stats.read"])
    await harness.start(plugin)
    snapshot = harness.backend.snapshot()
    harness.bus.publish(StatsUpdated(snapshot))
    await harness.wait_text("live", "v1 count 1")
    (plugin.folder / "init.lua").write_text(V2)
    handle = await harness.host.reload(reread(plugin), carry_decisions=True)
    assert handle.state is PluginState.RUNNING
    # the state came across, and the latest stats were delivered again to the new code
    assert await harness.wait_text("live", "v2 count 2")


async def test_a_syntax_error_keeps_the_old_code_running_and_shows_where(harness) -> None:
    plugin = harness.plugin("live", V1, permissions=["stats.read"])
    await harness.start(plugin)
    (plugin.folder / "init.lua").write_text("function activate(\n")
    handle = await harness.host.reload(reread(plugin), carry_decisions=True)
    assert handle.state is PluginState.RUNNING
    assert "init.lua:1" in str(handle.error) or "init.lua:2" in str(handle.error)
    harness.bus.publish(StatsUpdated(harness.backend.snapshot()))
    assert await harness.wait_text("live", "v1 count 1")


async def test_a_failing_activate_reactivates_the_old_code_with_its_state(harness) -> None:
    plugin = harness.plugin("live", V1, permissions=["stats.read"])
    await harness.start(plugin)
    harness.bus.publish(StatsUpdated(harness.backend.snapshot()))
    await harness.wait_text("live", "v1 count 1")
    (plugin.folder / "init.lua").write_text(V2.replace("qtui.subscribe", "error('no'); qtui.subscribe"))
    handle = await harness.host.reload(reread(plugin), carry_decisions=True)
    assert handle.runtime is not None and "no" in str(handle.error)
    assert harness.text("live") == ["v1 count 1"]


async def test_changed_code_asks_again_unless_decisions_are_carried(harness) -> None:
    plugin = harness.plugin("live", V1, permissions=["stats.read"])
    await harness.start(plugin)
    (plugin.folder / "init.lua").write_text(V2)
    handle = await harness.host.reload(reread(plugin))
    assert handle.state is PluginState.WAITING
    assert harness.host.plugins["live"].state is PluginState.RUNNING  # the old code still runs
    assert harness.text("live") == ["v1 count 0"]


async def test_new_capabilities_are_never_carried_over(harness) -> None:
    plugin = harness.plugin("live", V1, permissions=["stats.read"])
    await harness.start(plugin)
    plugin = harness.plugin("live", V2, permissions=["stats.read", "jobs.purge"])
    handle = await harness.host.reload(plugin, carry_decisions=True)
    assert handle.state is PluginState.WAITING and "jobs.purge" in handle.reason


async def test_state_survives_every_restart_the_host_makes(harness) -> None:
    plugin = harness.plugin("live", V1, permissions=["stats.read"])
    await harness.start(plugin)
    harness.bus.publish(StatsUpdated(harness.backend.snapshot()))
    await harness.wait_text("live", "v1 count 1")
    assert await harness.host.stop("live") == {"count": 1}
    await harness.host.start(reread(plugin))  # a restart (disable and enable, or a decision) without a handoff
    assert harness.text("live") == ["v1 count 1"]

    # new code that waits for a decision keeps the state until it can start
    (plugin.folder / "init.lua").write_text(V2)
    handed = await harness.host.stop("live")  # (it may have counted the latest stats again on start)
    waiting = await harness.host.start(reread(plugin))
    assert waiting.state is PluginState.WAITING and waiting.kept_state == handed
    await harness.start(reread(plugin))  # decided: it starts where the old code stopped
    version, _, count = harness.text("live")[0].split()
    assert version == "v2" and int(count) >= handed["count"]  # counting on, not from 0
    assert harness.host.plugins["live"].kept_state is None
