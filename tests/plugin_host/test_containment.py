"""Containment through the real host: whatever a plugin does, its neighbour keeps working.

Each test runs an attacking plugin beside a benign neighbour that renders on a timer and
reads stats. The neighbour must keep receiving events and rendering, the host (and so the
console) must stay up, and the attacker must end refused, errored or quarantined with a
message that says why.
"""

from __future__ import annotations

import pytest
import trio

from qtui.events import StatsUpdated
from qtui.plugins.runtime import instance
from qtui.plugins.runtime.host import PluginState
from qtui.plugins.runtime.sandbox import Limits

NEIGHBOUR = """
    local ticks, stats = 0, 0
    function activate()
      qtui.subscribe("stats")
      qtui.every("tick", 0.1)
    end
    function on_event(e)
      if e.type == "timer" then ticks = ticks + 1 end
      if e.type == "stats" then stats = stats + 1 end
      qtui.render({"ticks " .. ticks, "stats " .. stats})
    end
"""


async def start_neighbour(h):
    return await h.start(h.plugin("neighbour", NEIGHBOUR, permissions=["timers", "stats.read"]))


def neighbour_counts(h) -> tuple[int, int]:
    lines = h.text("neighbour")
    if len(lines) < 2:
        return 0, 0
    return int(lines[0].split()[1]), int(lines[1].split()[1])


async def assert_neighbour_works(h) -> None:
    """The neighbour renders new timer ticks and receives a new stats event."""
    ticks, stats = neighbour_counts(h)
    h.bus.publish(StatsUpdated(await trio.to_thread.run_sync(h.backend.snapshot)))
    await h.wait(lambda: neighbour_counts(h)[0] >= ticks + 2 and neighbour_counts(h)[1] > stats)
    assert h.host.plugins["neighbour"].state is PluginState.RUNNING


@pytest.fixture
def generous_guards(monkeypatch):
    """Library guards that let a 2-second pattern match through, as an estimate that missed would."""
    limits = instance.sandbox_limits

    def with_generous_guards(manifest):
        base = limits(manifest)
        return Limits(memory_bytes=base.memory_bytes, instructions=base.instructions,
                      wall_seconds=base.wall_seconds, c_steps=10**15)

    monkeypatch.setattr(instance, "sandbox_limits", with_generous_guards)


STUCK_IN_C = """
    function activate() qtui.subscribe("stats") end
    function on_event(e)
      if e.type == "stats" then return ("a"):rep(30000):find(".-b") end
    end
"""


async def test_a_call_stuck_in_c_past_its_deadline_is_abandoned(harness, generous_guards) -> None:
    await start_neighbour(harness)
    attacker = await harness.start(harness.plugin("stuck", STUCK_IN_C, permissions=["stats.read"]))
    harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
    await harness.wait(lambda: attacker.state is PluginState.QUARANTINED)
    assert "stuck in one library call" in attacker.reason and "abandoned" in attacker.reason
    audit = [(e.plugin, e.capability, e.outcome) for e in harness.audit()]
    assert ("stuck", "limits.wall_time", "violation") in audit
    await assert_neighbour_works(harness)
    with trio.fail_after(1):  # the thread is still inside find(): nothing waits for it
        await harness.host.stop("stuck")


LOOPS_EVERYWHERE = """
    function activate() qtui.subscribe("stats") end
    function on_event(e) while true do end end
    function deactivate() while true do end end
"""


async def test_stop_and_reload_never_wait_for_a_busy_plugin(harness) -> None:
    await start_neighbour(harness)
    extra = "[limits]\nwall_ms_per_call = 1000\ninstructions_per_call = 50000000\n"
    plugin = harness.plugin("busy", LOOPS_EVERYWHERE, permissions=["stats.read"], extra=extra)
    await harness.start(plugin)
    harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
    await harness.wait(lambda: harness.host.plugins["busy"].runtime.sandbox.busy)
    with trio.fail_after(0.5):  # the call and deactivate each have a second: stop waits for neither
        await harness.host.stop("busy")
    assert harness.host.plugins["busy"].state is PluginState.STOPPED
    await assert_neighbour_works(harness)
