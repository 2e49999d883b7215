"""Stopping the host while a plugin's batch is still running in its worker thread."""

from __future__ import annotations

import trio

from qtui.events import StatsUpdated
from qtui.model import JobState
from qtui.plugins.trust.audit import Outcome
from tests.support import wait_until

from host_testkit import build_harness

# Asks to enqueue, then keeps its worker busy until qtui interrupts it.
ENQUEUE_THEN_SPIN = """
    function activate() qtui.subscribe("stats") end
    function on_event(e)
      if e.type == "stats" then
        qtui.jobs.enqueue("email", {late = true})
        while true do end
      end
    end
"""


async def test_a_request_from_a_batch_that_ends_after_the_host_stopped_is_audited_not_a_crash(plugin_home) -> None:
    # The worker's callback runs on trio after the host's nursery closed: it used to try to start
    # the request there, which is a TrioInternalError that ends the whole console.
    harness = build_harness(plugin_home)
    extra = "[limits]\nwall_ms_per_call = 1000\ninstructions_per_call = 50000000\n"
    try:
        async with trio.open_nursery() as outer:
            async with trio.open_nursery() as nursery:
                await nursery.start(harness.host.run)
                plugin = harness.plugin("spinner", ENQUEUE_THEN_SPIN, permissions=["stats.read", "jobs.enqueue"],
                                        extra=extra)  # fmt: skip
                handle = await harness.start(plugin)
                harness.bus.publish(StatsUpdated(harness.backend.snapshot()))
                await wait_until(lambda: handle.runtime.sandbox.busy, "the plugin to spin")
                nursery.cancel_scope.cancel()  # the host stops; its finally interrupts the spinner
            await wait_until(lambda: any(entry.capability == "jobs.enqueue" and entry.outcome is Outcome.FAILED
                                         for entry in harness.audit()), "the request's outcome")  # fmt: skip
            outer.cancel_scope.cancel()
    finally:
        harness.backend.close()
    (outcome,) = [e for e in harness.audit() if e.capability == "jobs.enqueue" and e.outcome is Outcome.FAILED]
    assert outcome.detail == "not made: qtui was stopping"


async def test_a_request_waiting_for_the_operator_when_qtui_stops_is_audited_as_not_made(plugin_home) -> None:
    harness = build_harness(plugin_home)
    harness.hold = trio.Event()  # the operator never answers
    purger = """
        function activate() qtui.subscribe("stats") end
        function on_event(e) if e.type == "stats" then qtui.jobs.purge("email", "dead") end end
    """
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(harness.host.run)
            await harness.start(harness.plugin("purger", purger, permissions=["stats.read", "jobs.purge"]))
            harness.bus.publish(StatsUpdated(harness.backend.snapshot()))
            await wait_until(lambda: harness.confirmations, "the confirmation prompt")
            nursery.cancel_scope.cancel()  # qtui stops with the prompt open
        assert harness.backend.snapshot().queues[0].count(JobState.DEAD) == 1  # nothing purged
    finally:
        harness.backend.close()
    entries = [(e.outcome, e.detail) for e in harness.audit() if e.capability == "jobs.purge"]
    assert entries[0][0] is Outcome.REQUESTED
    assert entries[-1] == (Outcome.FAILED, "not made: qtui was stopping")
