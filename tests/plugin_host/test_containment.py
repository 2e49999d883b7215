"""Containment through the real host: whatever a plugin does, its neighbour keeps working.

Each test runs an attacking plugin beside a benign neighbour that renders on a timer and
reads stats. The neighbour must keep receiving events and rendering, the host (and so the
console) must stay up, and the attacker must end refused, errored or quarantined with a
message that says why.
"""

from __future__ import annotations

import math

import pytest
import trio

from qtui.events import StatsUpdated
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime import instance
from qtui.plugins.runtime.host import PluginState
from qtui.plugins.runtime.sandbox import Limits

#: For plugins that do a lot in one call: this machine may be busy with other work.
GENEROUS_TIME = "[limits]\nwall_ms_per_call = 1000\ninstructions_per_call = 50000000\n"


@pytest.fixture
def generous_guards(monkeypatch):
    """Library guards that let a pattern match of a second or so through, as an estimate that missed would."""
    limits = instance.sandbox_limits

    def with_generous_guards(manifest):
        base = limits(manifest)
        return Limits(memory_bytes=base.memory_bytes, instructions=base.instructions,
                      cpu_seconds=base.cpu_seconds, wall_seconds=base.wall_seconds, c_steps=10**15)

    monkeypatch.setattr(instance, "sandbox_limits", with_generous_guards)


STUCK_IN_C = """
    function activate() qtui.subscribe("stats") end
    function on_event(e)
      if e.type == "stats" then return ("a"):rep(15000):find(".-b") end
    end
"""


async def test_a_call_stuck_in_c_past_its_deadline_is_abandoned(harness, generous_guards) -> None:
    await harness.start_neighbour()
    attacker = await harness.start(harness.plugin("stuck", STUCK_IN_C, permissions=["stats.read"]))
    harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
    await harness.wait(lambda: attacker.state is PluginState.QUARANTINED)
    assert "stuck in one library call" in attacker.reason and "abandoned" in attacker.reason
    audit = [(e.plugin, e.capability, e.outcome) for e in harness.audit()]
    assert ("stuck", "limits.wall_time", "violation") in audit
    await harness.assert_neighbour_works()
    with trio.fail_after(1):  # the thread is still inside find(): nothing waits for it
        await harness.host.stop("stuck")


LOOPS_EVERYWHERE = """
    function activate() qtui.subscribe("stats") end
    function on_event(e) while true do end end
    function deactivate() while true do end end
"""


async def test_stop_and_reload_never_wait_for_a_busy_plugin(harness) -> None:
    await harness.start_neighbour()
    extra = "[limits]\nwall_ms_per_call = 1000\ninstructions_per_call = 50000000\n"
    plugin = harness.plugin("busy", LOOPS_EVERYWHERE, permissions=["stats.read"], extra=extra)
    await harness.start(plugin)
    harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
    await harness.wait(lambda: harness.host.plugins["busy"].runtime.sandbox.busy)
    with trio.fail_after(0.5):  # the call and deactivate each have a second: stop waits for neither
        await harness.host.stop("busy")
    assert harness.host.plugins["busy"].state is PluginState.STOPPED
    await harness.assert_neighbour_works()


# -- 1. One boundary: a value that cannot cross is the plugin's error, never the host's ---------


DEEP_PUBLISHER = """
    function activate()
      local deep = "bottom"
      for i = 1, 32 do deep = {deep} end  -- 32 levels here, 33 in a listener's message event
      local ok, err = pcall(qtui.publish, "plugin.deep.news", deep)
      qtui.render({tostring(ok), err})
      qtui.publish("plugin.deep.news", {shallow = true})
    end
"""
LISTENER = """
    local got = 0
    function activate() qtui.listen("plugin.") end
    function on_event(e) got = got + 1; qtui.render({"got " .. got}) end
"""


async def test_a_message_listeners_could_not_take_is_refused_to_its_sender(harness) -> None:
    await harness.start_neighbour()
    await harness.start(harness.plugin("listener", LISTENER, permissions=["bus.subscribe"]))
    await harness.start(harness.plugin("deep", DEEP_PUBLISHER))
    ok, error = harness.text("deep")
    assert ok == "false"
    assert "qtui.publish: message data cannot be sent: " in error and "nested deeper than 31 levels" in error
    assert await harness.wait_text("listener", "got 1")  # the shallow one arrived
    await harness.assert_neighbour_works()


async def test_an_event_too_big_for_a_plugin_is_its_violation(harness) -> None:
    from qtui.model import QueueStats, Snapshot

    await harness.start_neighbour(stats=False)  # stats are the attack here
    reader = await harness.start(harness.plugin("reader", """
        function activate() qtui.subscribe("stats") end
        function on_event(e) qtui.render({"queues " .. #e.queues}) end
    """, permissions=["stats.read"]))
    snapshot = await trio.to_thread.run_sync(harness.backend.snapshot)
    queues = tuple(QueueStats(f"q{n}", {}) for n in range(12_000))  # about 10 entries each
    harness.bus.publish(StatsUpdated(Snapshot(queues, snapshot.workers, snapshot.taken_at)))
    await harness.wait(lambda: reader.errors == 1)
    assert "cannot hand the arguments of on_event to the plugin" in str(reader.error)
    assert "more than 100000 entries in all" in str(reader.error)
    assert reader.runtime.sandbox.usage().violations == 1
    harness.bus.publish(StatsUpdated(snapshot))  # a sane one still arrives
    await harness.wait_text("reader", "queues 1")
    await harness.assert_neighbour_works(stats=False)


async def test_a_peek_too_big_to_hand_over_fails_as_a_request(harness) -> None:
    await harness.start_neighbour()
    payload = '{"blob": "' + "x" * 60_000 + '"}'
    for _ in range(100):
        harness.backend.enqueue("bulk", payload)
    lua = """
        function activate() qtui.jobs.peek({queue = "bulk", limit = 100}) end
        function on_event(e) qtui.render({tostring(e.ok), e.error or ""}) end
    """
    handle = await harness.start(harness.plugin("peeker", lua, permissions=["jobs.peek"]))
    ok, error = await harness.wait_text("peeker", "false")
    assert "the result cannot be handed to the plugin" in error and "ask for fewer jobs" in error
    assert handle.state is PluginState.RUNNING and handle.errors == 0
    await harness.assert_neighbour_works()


async def test_a_state_too_deep_to_hand_over_on_reload_is_dropped_with_an_error(harness) -> None:
    deep_state = """
        function activate(ctx) qtui.render({ctx.state == nil and "no state" or "state"}) end
        function deactivate()
          local t = {}
          for i = 1, 31 do t = {t} end
          return t
        end
    """
    plugin = harness.plugin("keeper", deep_state)
    await harness.start_neighbour()
    await harness.start(plugin)
    (plugin.folder / "init.lua").write_text(deep_state + "\n-- v2\n")
    reread = Plugin(load_manifest(plugin.folder), plugin.folder, Source.USER)
    old = harness.host.plugins["keeper"]
    handle = await harness.host.reload(reread, carry_decisions=True)
    assert handle is not old and handle.state is PluginState.RUNNING
    assert harness.text("keeper") == ["no state"]  # activate of the new code ran, without the state
    assert "deactivate returned a state that cannot be handed over (ctx.state)" in str(old.error)
    assert "nested deeper than 32 levels" in str(old.error)
    await harness.assert_neighbour_works()


async def test_a_state_deeper_than_the_sandbox_hands_out_is_the_old_codes_error(harness) -> None:
    deeper_state = """
        function activate(ctx) qtui.render({ctx.state == nil and "no state" or "state"}) end
        function deactivate()
          local t = {}
          for i = 1, 40 do t = {t} end
          return t
        end
    """
    plugin = harness.plugin("deeper", deeper_state)
    await harness.start_neighbour()
    old = await harness.start(plugin)
    (plugin.folder / "init.lua").write_text(deeper_state + "\n-- v2\n")
    handle = await harness.host.reload(Plugin(load_manifest(plugin.folder), plugin.folder, Source.USER),
                                       carry_decisions=True)
    assert handle.state is PluginState.RUNNING and harness.text("deeper") == ["no state"]
    assert old.errors == 1 and "tables nested deeper than 32 levels" in str(old.error)
    audit = [(e.plugin, e.capability, e.outcome) for e in harness.audit()]
    assert ("deeper", "limits.value", "violation") in audit
    await harness.assert_neighbour_works()


# -- 3. C work is bounded: guards refuse it, and the host never waits on it -----------------

async def test_a_plugin_calling_costly_c_functions_is_refused_and_then_quarantined(harness) -> None:
    await harness.start_neighbour()
    lua = """
        function activate() qtui.subscribe("stats") end
        function on_event(e) return (""):rep(1e15) end
    """
    attacker = await harness.start(harness.plugin("repeater", lua, permissions=["stats.read"]))
    for _ in range(3):
        harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
        await trio.sleep(0.05)
    await harness.wait(lambda: attacker.state is PluginState.QUARANTINED)
    assert "string.rep: 1e+15 repetitions" in attacker.reason
    await harness.assert_neighbour_works()


async def test_reloading_a_file_that_takes_minutes_to_compile_never_stalls_the_console(harness) -> None:
    await harness.start_neighbour()
    plugin = harness.plugin("slowparse", "function activate() qtui.render({'v1'}) end")
    await harness.start(plugin)
    (plugin.folder / "init.lua").write_text("return x" + " or x" * 200_000)  # minutes for Lua's parser
    reread = Plugin(load_manifest(plugin.folder), plugin.folder, Source.USER)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(harness.assert_neighbour_works)  # while the check runs in a thread
        handle = await harness.host.reload(reread, carry_decisions=True)
    assert handle.state is PluginState.RUNNING and harness.text("slowparse") == ["v1"]
    assert "took longer than 2 s to compile" in str(handle.error)


# -- 4. Host work and memory are bounded per plugin -----------------------------------------

async def test_arguments_over_the_byte_budget_are_refused_before_the_host_converts_them(harness) -> None:
    await harness.start_neighbour()
    lua = """
        function activate()
          local mib = ("x"):rep(2^20)
          local refs = {}
          for i = 1, 20000 do refs[i] = mib end
          qtui.log("info", refs)
        end
    """
    extra = "[limits]\nmemory_mib = 32\nwall_ms_per_call = 1000\n"
    handle = await harness.start(harness.plugin("hoarder", lua, extra=extra))
    assert handle.state is PluginState.ERRORED
    assert "qtui.log: bad argument #2: [4]: more than 4194304 bytes of text in all" in handle.reason
    await harness.assert_neighbour_works()


FLOODER = """
    function activate()
      for i = 1, 1000 do qtui.log("info", "line " .. i) end
      for i = 1, 50 do qtui.notify("notice " .. i) end
      for i = 1, 1000 do pcall(qtui.jobs.purge, "email", "dead") end
      qtui.render({"flooded"})
    end
"""


async def test_floods_of_logs_notices_and_audit_entries_are_summed_up(harness) -> None:
    from qtui.events import Notice
    from qtui.plugins.runtime.instance import LOG_BURST, LOG_BYTES, LOG_RATE, NOTIFY_BURST
    from qtui.plugins.trust.audit import FLOOD_ENTRIES

    def suppressed(texts, what: str) -> int:
        return sum(int(text.split(f" {what} ")[0].split()[-1]) for text in texts if f" {what} " in text)

    await harness.start_neighbour()
    notices = harness.bus.subscribe("test", (Notice,), capacity=1000)
    handle = await harness.start(harness.plugin("flooder", FLOODER, permissions=["notify"], extra=GENEROUS_TIME))
    assert harness.text("flooder") == ["flooded"]
    seconds = handle.runtime.sandbox.usage().last_call_seconds
    # Once the floods are over, each is summed up in one line, though the plugin is not called again.
    def kept() -> list[str]:
        return [line for line in handle.log_lines if line.startswith("info: line ")]

    await harness.wait(lambda: len(kept()) + suppressed(handle.log_lines, "log lines") == 1000)
    assert kept()[:3] == ["info: line 1", "info: line 2", "info: line 3"]
    assert len(kept()) <= LOG_BURST + LOG_RATE * seconds + 1
    assert len([line for line in handle.log_lines if "log lines suppressed" in line]) <= 1 + seconds
    assert handle.runtime.kept.log <= LOG_BYTES

    shown = [notices.receive_nowait().text for _ in range(NOTIFY_BURST)]
    assert shown == [f"flooder: notice {i}" for i in range(1, NOTIFY_BURST + 1)]
    summary = (await notices.receive()).text
    assert summary == f"flooder: {50 - NOTIFY_BURST} notifications suppressed"

    # 50 notices and 1000 refused calls make 2100 entries (requested, then done or refused): the
    # first FLOOD_ENTRIES are written, the rest counted in one summary when the plugin stops.
    await harness.assert_neighbour_works()
    await harness.host.stop("flooder")
    entries = [e for e in harness.audit() if e.plugin == "flooder"]
    *written, summary = entries
    assert len(written) == FLOOD_ENTRIES and summary.outcome == "suppressed"
    assert summary.detail.startswith(f"{2100 - FLOOD_ENTRIES} entries held back")


async def test_once_floods_are_summed_up_the_host_sets_no_timer_until_the_next_one(harness) -> None:
    handle = await harness.start(harness.plugin("flooder", FLOODER, permissions=["notify"], extra=GENEROUS_TIME))
    await harness.wait(lambda: any("log lines suppressed" in line for line in handle.log_lines))

    def no_timer() -> bool:  # asked while the test's own wait is awake: other tasks' timers
        return trio.lowlevel.current_statistics().seconds_to_next_deadline == math.inf

    await harness.wait(no_timer)  # an idle console wakes for nothing
    handle = await harness.host.reload(handle.plugin)  # floods again: the task summing up wakes again
    await harness.wait(lambda: any("log lines suppressed" in line for line in handle.log_lines))
    await harness.wait(no_timer)


async def test_a_flood_of_confirmation_prompts_asks_a_few_times_and_declines_the_rest(harness) -> None:
    from qtui.plugins.runtime.host import CONFIRM_BURST

    await harness.start_neighbour()
    lua = """
        local answers = {}
        function activate() for i = 1, 50 do qtui.jobs.purge("email", "dead") end end
        function on_event(e)
          if e.type == "action" then answers[#answers + 1] = e.error or "done" end
          qtui.render(answers)
        end
    """
    harness.answer = False
    await harness.start(harness.plugin("nagger", lua, permissions=["jobs.purge"]))
    await harness.wait(lambda: len(harness.text("nagger")) == 50)
    assert len(harness.confirmations) == CONFIRM_BURST
    refused = [a for a in harness.text("nagger") if a.startswith("refused: too many confirmation prompts")]
    assert len(refused) == 50 - CONFIRM_BURST
    await harness.assert_neighbour_works()


async def test_a_sender_cannot_pile_up_messages_for_a_listener_that_is_behind(harness) -> None:
    from qtui.plugins.runtime.instance import MESSAGE_BYTES_WAITING

    await harness.start_neighbour()
    slow = """
        function activate() qtui.listen("plugin.sender.") end
        function on_event(e) local t = os.clock() + 0.05 while os.clock() < t do end end
    """
    sender = """
        function activate() qtui.every("send", 0.1) end
        function on_event(e)
          local sent = 0
          for i = 1, 40 do
            if pcall(qtui.publish, "plugin.sender.blob", ("b"):rep(200000)) then sent = sent + 1 end
          end
          qtui.render({"sent " .. sent})
        end
    """
    await harness.start(harness.plugin("slow", slow, permissions=["bus.subscribe"], extra=GENEROUS_TIME))
    handle = await harness.start(harness.plugin("sender", sender, permissions=["timers"], extra=GENEROUS_TIME))
    await harness.wait_text("sender", "sent")
    assert handle.runtime.kept.messages <= MESSAGE_BYTES_WAITING
    sent = int(harness.text("sender")[0].split()[1])
    assert 0 < sent < 40
    await harness.host.stop("sender")
    assert harness.host.plugins["sender"].panel == ()
    await harness.assert_neighbour_works()


async def test_an_enqueue_bigger_than_the_queue_takes_is_refused_in_the_call(harness) -> None:
    harness.backend.max_payload_bytes = 1000
    lua = """
        function activate()
          local ok, err = pcall(qtui.jobs.enqueue, "email", {blob = ("x"):rep(2000)})
          qtui.render({tostring(ok), err})
        end
    """
    await harness.start(harness.plugin("enqueuer", lua, permissions=["jobs.enqueue"]))
    ok, error = harness.text("enqueuer")
    assert ok == "false" and error.endswith("qtui.jobs.enqueue: the payload is 2012 bytes as JSON; the queue takes at most 1000")


async def test_a_stopped_plugin_leaves_nothing_of_its_runtime_behind(harness) -> None:
    import gc
    import weakref

    lua = """
        function activate() qtui.subscribe("stats") end
        function on_event(e) local big = ("x"):rep(2^20):rep(4) error("failed holding " .. #big) end
    """
    handle = await harness.start(harness.plugin("failing", lua, permissions=["stats.read"]))
    sandbox = weakref.ref(handle.runtime.sandbox)
    harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
    await harness.wait(lambda: handle.errors == 1)
    await harness.host.stop("failing")
    assert "failed holding 4194304" in str(handle.error)  # the error stays for the operator to read
    gc.collect()
    assert sandbox() is None  # ... but not the runtime its traceback ran through


# -- 5. Plugin text is hostile text ------------------------------------------------------------

async def test_plugin_errors_and_logs_reach_screen_and_log_sanitised(harness, caplog) -> None:
    from qtui.console.panels import status_lines

    await harness.start_neighbour()
    lua = """
        function activate()
          qtui.subscribe("stats")
          qtui.log("warning", "\\27]52;c;ZXZpbA==\\7log \\u{202E}evil")
          print("\\27[2Jprinted \\xff")
        end
        function on_event(e) error("\\27[31mred \\u{202E}reversed \\xfe") end
    """
    handle = await harness.start(harness.plugin("shouty", lua, permissions=["stats.read"]))
    harness.bus.publish(StatsUpdated(await trio.to_thread.run_sync(harness.backend.snapshot)))
    await harness.wait(lambda: handle.errors == 1)
    shown = [str(handle.error), handle.where(), *handle.log_lines,
             *[text for _, text in status_lines(handle)], caplog.text]
    for text in shown:
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text, text
    assert "^[[31mred <U+202E>reversed \ufffd" in str(handle.error)
    assert any("^[]52;c;ZXZpbA==^Glog <U+202E>evil" in line for line in handle.log_lines)
    assert any("^[[2Jprinted \ufffd" in line for line in handle.log_lines)
    await harness.assert_neighbour_works()
