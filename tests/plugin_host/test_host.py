"""The plugin host with real Lua plugins on a real SQLite queue."""

from __future__ import annotations

import json
import time
from pathlib import Path

import attrs
import pytest
import trio

from qtui.events import SelectionChanged, StatsUpdated
from qtui.model import JobState
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime.host import PanelUpdated, PluginState
from qtui.plugins.runtime.instance import PluginRuntime, Render
from tests.support import settle

STATS_PANEL = """
    function activate(ctx)
      qtui.subscribe("stats")
      qtui.render({"waiting for stats"})
    end
    function on_event(e)
      if e.type == "stats" then
        local lines = {}
        for _, q in ipairs(e.queues) do
          lines[#lines + 1] = {{text = q.name, style = "bold"}, " ready=" .. q.ready .. " dead=" .. q.dead}
        end
        qtui.render(lines)
      end
    end
"""


async def publish_stats(h) -> None:
    snapshot = await trio.to_thread.run_sync(h.backend.snapshot)
    h.bus.publish(StatsUpdated(snapshot))


async def test_a_plugin_renders_live_stats(harness) -> None:
    handle = await harness.start(harness.plugin("panel", STATS_PANEL, permissions=["stats.read"]))
    assert handle.state is PluginState.RUNNING
    assert harness.text("panel") == ["waiting for stats"]
    await publish_stats(harness)
    lines = await harness.wait_text("panel", "email")
    assert lines == ["email ready=4 dead=1"]
    assert handle.panel[0][0].style == "bold"


COUNTER = """
    local stats = 0
    function activate() qtui.subscribe("stats") end
    function on_event(e)
      if e.type == "stats" then stats = stats + 1 end
      qtui.render({"stats " .. stats})
    end
"""


async def test_stats_are_held_back_while_stats_read_is_revoked_and_flow_again_once_granted(harness) -> None:
    handle = await harness.start(harness.plugin("counter", COUNTER, permissions=["stats.read"]))
    await publish_stats(harness)
    await harness.wait_text("counter", "stats 1")
    harness.host.decide(handle, deny=(Capability.STATS_READ,))
    await publish_stats(harness)
    await settle()
    assert harness.text("counter") == ["stats 1"]
    harness.host.decide(handle, grant=(Capability.STATS_READ,))
    await publish_stats(harness)
    await harness.wait_text("counter", "stats 2")


async def test_undecided_capabilities_keep_the_plugin_waiting(harness) -> None:
    plugin = harness.plugin("panel", STATS_PANEL, permissions=["stats.read"])
    handle = await harness.start(plugin, grant_all=False)
    assert handle.state is PluginState.WAITING and "stats.read" in handle.reason
    assert handle.runtime is None  # no plugin code ran
    harness.host.decide(handle, grant=(Capability.STATS_READ,))
    handle = await harness.host.start(plugin)
    assert handle.state is PluginState.RUNNING


async def test_an_ungranted_capability_is_refused_with_a_catchable_error_and_audited(harness) -> None:
    lua = """
        function activate()
          local ok, err = pcall(qtui.jobs.purge, "email", "dead")
          qtui.render({ok and "purged?!" or err})
        end
    """
    plugin = harness.plugin("sneaky", lua, permissions=["jobs.purge"])
    from qtui.plugins.bundles.bundle import bundle_hash

    harness.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), deny=(Capability.JOBS_PURGE,))
    await harness.host.start(plugin)
    (line,) = harness.text("sneaky")
    assert "qtui.jobs.purge: refused: capability jobs.purge is denied" in line
    assert harness.backend.stats()[0].count(JobState.DEAD) == 1
    request, refused = harness.audit()[-2:]
    assert (request.plugin, request.capability, request.outcome) == ("sneaky", "jobs.purge", "requested")
    assert (refused.outcome, refused.reason, refused.request) == ("refused", "denied", request.request)


async def test_a_capability_not_in_the_manifest_is_refused(harness) -> None:
    lua = """
        function activate()
          local ok, err = pcall(qtui.subscribe, "stats")
          qtui.render({tostring(ok), err})
        end
    """
    await harness.start(harness.plugin("nosy", lua))
    assert harness.text("nosy")[0] == "false"
    assert "not_requested" in harness.text("nosy")[1]


PEEK_AND_REQUEUE = """
    function activate()
      qtui.jobs.peek({queue = "email", state = "dead"})
    end
    function on_event(e)
      if e.type ~= "action" then return end
      if e.action == "peek" then
        local ids = {}
        for _, job in ipairs(e.result.jobs) do ids[#ids + 1] = job.id end
        qtui.render({"dead: " .. #ids})
        qtui.jobs.requeue({ids = ids, to = "email-retry"})
      else
        qtui.render({e.action .. " ok=" .. tostring(e.ok) .. " " .. (e.ok and e.result.count or e.error)})
      end
    end
"""


async def test_requeue_through_the_api_is_confirmed_by_the_operator(harness) -> None:
    await harness.start(harness.plugin("helper", PEEK_AND_REQUEUE, permissions=["jobs.peek", "jobs.requeue"]))
    await harness.wait_text("helper", "requeue ok=true 1")
    dead = harness.backend.peek("email-retry", JobState.READY).jobs[0]
    assert harness.confirmations == [f"helper: requeue 1 dead job on email to email-retry: {dead.id}"]
    assert json.loads(dead.payload) == {"n": 99}
    outcomes = [(e.capability, e.outcome, e.jobs) for e in harness.audit()]
    assert outcomes == [
        ("jobs.peek", "requested", None), ("jobs.peek", "done", 1),
        ("jobs.requeue", "requested", None), ("jobs.requeue", "confirmed", 1), ("jobs.requeue", "done", 1),
    ]
    assert len({e.request for e in harness.audit()}) == 2  # one id per request, on each of its entries


async def test_a_declined_confirmation_touches_nothing(harness) -> None:
    harness.answer = False
    await harness.start(harness.plugin("helper", PEEK_AND_REQUEUE, permissions=["jobs.peek", "jobs.requeue"]))
    await harness.wait_text("helper", "requeue ok=false the operator declined")
    assert harness.backend.stats()[0].count(JobState.DEAD) == 1


async def test_timers_storage_and_settings(harness, mock_clock) -> None:
    lua = """
        local ticks = 0
        function activate(ctx)
          ticks = qtui.storage.get("ticks") or 0
          qtui.every("tick", 0.1)
        end
        function on_event(e)
          if e.type == "timer" then
            ticks = ticks + 1
            qtui.storage.set("ticks", ticks)
            qtui.render({"ticks " .. ticks, "limit " .. qtui.setting("limit")})
            if ticks >= 3 then qtui.cancel("tick") end
          elseif e.type == "settings" then
            qtui.render({"limit now " .. e.settings.limit})
          end
        end
    """
    extra = """
        [settings.limit]
        type = "number"
        default = 10
        description = "a limit"
    """
    plugin = harness.plugin("ticker", lua, permissions=["timers", "storage"], extra=extra)
    await harness.start(plugin)
    await settle()
    for ticks in range(1, 4):  # trio's clock moves only here; each tick is handled before the next
        mock_clock.jump(0.1)
        await settle()
        assert harness.text("ticker")[0] == f"ticks {ticks}"
    mock_clock.jump(0.3)
    await settle()
    assert harness.text("ticker")[0] == "ticks 3"  # cancelled
    await harness.host.change_settings("ticker", {"limit": 42})
    await settle()
    assert harness.text("ticker") == ["limit now 42"]
    with pytest.raises(ValueError, match="limit"):
        await harness.host.change_settings("ticker", {"limit": "lots"})
    # storage survives a restart
    await harness.host.stop("ticker")
    await harness.host.start(plugin)
    await settle()
    mock_clock.jump(0.1)
    await settle()
    assert harness.text("ticker")[0] == "ticks 4"


async def test_plugins_see_the_hosts_clock(harness, mock_clock) -> None:
    lua = """
        function activate() qtui.after("once", 5) end
        function on_event(e)
          if e.type == "timer" then
            qtui.render({"fired at " .. e.at, "now " .. os.time() .. " " .. os.date("!%H:%M:%S")})
          end
        end
    """
    await harness.start(harness.plugin("dated", lua, permissions=["timers"]))
    await settle()
    mock_clock.jump(4.9)
    await settle()
    assert harness.text("dated") == []  # not due yet
    harness.clock.advance(60)  # the host's wall time; the timer waits on trio's clock
    mock_clock.jump(0.2)
    await settle()
    assert harness.text("dated") == ["fired at 1700000060.0", "now 1700000060 22:14:20"]
    assert harness.host.plugins["dated"].panel_at == 1_700_000_060.0


async def test_plugins_talk_over_the_bus(harness) -> None:
    sender = """
        function activate() qtui.every("send", 0.1) end
        function on_event(e) qtui.publish("plugin.sender.news", {n = 7}) end
    """
    listener = """
        function activate() qtui.listen("plugin.sender.") end
        function on_event(e)
          if e.type == "message" then qtui.render({e.sender .. " " .. e.topic .. " " .. e.data.n}) end
        end
    """
    await harness.start(harness.plugin("sender", sender, permissions=["timers"]))
    await harness.start(harness.plugin("listener", listener, permissions=["bus.subscribe"]))
    assert await harness.wait_text("listener", "sender plugin.sender.news 7")


async def test_errors_name_the_lua_file_and_line_and_stay_contained(harness) -> None:
    broken = harness.plugin("broken", "function activate()\n  local x = nil\n  return x.field\nend\n")
    handle = await harness.start(broken)
    assert handle.state is PluginState.ERRORED
    assert "init.lua:3:" in handle.reason
    flaky = """
        function activate() qtui.subscribe("stats") end
        function on_event(e) error("bad event handler") end
    """
    handle = await harness.start(harness.plugin("flaky", flaky, permissions=["stats.read"]))
    await harness.start(harness.plugin("panel", STATS_PANEL, permissions=["stats.read"]))
    await publish_stats(harness)
    await harness.wait_text("panel", "email")
    await harness.wait(lambda: handle.errors == 1)
    assert handle.state is PluginState.RUNNING
    assert "init.lua:3: bad event handler" in str(handle.error)


async def test_a_runaway_plugin_is_quarantined_while_others_keep_working(harness) -> None:
    runaway = """
        function activate() qtui.subscribe("stats") end
        function on_event(e) while true do end end
    """
    handle = await harness.start(harness.plugin("runaway", runaway, permissions=["stats.read"]))
    await harness.start(harness.plugin("panel", STATS_PANEL, permissions=["stats.read"]))
    for _ in range(4):
        await publish_stats(harness)
        await trio.sleep(0.1)
    await harness.wait(lambda: handle.state is PluginState.QUARANTINED)
    assert "limit" in handle.reason
    assert await harness.wait_text("panel", "email")


async def test_require_loads_the_plugins_own_modules_only(harness) -> None:
    lua = """
        local fmt = require("lib.fmt")
        function activate()
          local ok, err = pcall(require, "os")
          qtui.render({fmt.shout("hi"), tostring(ok)})
        end
    """
    plugin = harness.plugin("modular", lua, files={"lib/fmt.lua": "return {shout = function(s) return s:upper() end}"})
    await harness.start(plugin)
    assert harness.text("modular") == ["HI", "false"]


async def test_render_neutralises_control_characters_and_checks_styles(harness) -> None:
    lua = """
        function activate()
          local ok, err = pcall(qtui.render, {{{text = "x", style = "blink"}}})
          local ok2, err2 = pcall(qtui.render, {{{text = 42}}})
          qtui.render({"\\27]0;owned\\7", err, err2})
        end
    """
    await harness.start(harness.plugin("painter", lua))
    first, second, third = harness.text("painter")
    assert first == "^[]0;owned^G"
    assert "unknown style 'blink'" in second
    assert third.endswith("line 1 text must be a string, not number")  # Lua's words, not Python's


async def test_a_slow_plugin_gets_the_latest_stats_never_a_backlog(harness) -> None:
    slow = """
        local seen = {}
        function activate() qtui.subscribe("stats") end
        function on_event(e)
          local t = os.clock() + 0.02
          while os.clock() < t do end
          seen[#seen + 1] = e.taken_at
          qtui.render({"taken " .. e.taken_at, table.concat(seen, " ")})
        end
    """
    handle = await harness.start(harness.plugin("slow", slow, permissions=["stats.read"]))
    snapshot = await trio.to_thread.run_sync(harness.backend.snapshot)
    from qtui.model import Snapshot

    for n in range(1, 301):
        harness.bus.publish(StatsUpdated(Snapshot(snapshot.queues, snapshot.workers, float(n))))
    await harness.wait_text("slow", "taken 300")
    seen = [float(t) for t in harness.text("slow")[1].split()]
    assert seen == sorted(seen) and seen[-1] == 300.0
    assert len(seen) <= 5  # the one or two it was handling, then the newest: never the 300 in turn
    assert handle.mailbox.coalesced >= 297 - len(seen) and handle.mailbox.dropped == 0


async def test_unchanged_stats_come_while_a_plugin_has_other_events_to_handle(harness) -> None:
    """qtui.unchanged_stats answers what the plugin was given: stats published while it is still
    busy with another event reach it, so what it asks in answer to that event counts."""
    lua = """
        local stats = 0
        function activate() qtui.subscribe("stats", "selection"); qtui.unchanged_stats(3600) end
        function on_event(e)
          if e.type == "selection" then  -- busy for a while
            local x = 0
            for i = 1, 100000 do x = x + i % 7 end
          else
            stats = stats + 1
          end
          qtui.render({"stats " .. stats})
        end
    """
    handle = await harness.start(harness.plugin("asker", lua, permissions=["stats.read", "selection.read"]))
    snapshot = await trio.to_thread.run_sync(harness.backend.snapshot)
    harness.bus.publish(StatsUpdated(snapshot))
    await harness.wait_text("asker", "stats 1")
    harness.bus.publish(StatsUpdated(attrs.evolve(snapshot, taken_at=snapshot.taken_at + 2)))
    await harness.host.idle()
    assert harness.text("asker") == ["stats 1"]  # only time passed: held back
    harness.bus.publish(SelectionChanged("queues", "email"))  # waiting or being handled when the stats come
    harness.bus.publish(StatsUpdated(attrs.evolve(snapshot, taken_at=snapshot.taken_at + 4)))
    await harness.wait_text("asker", "stats 2")
    assert handle.errors == 0


async def test_an_event_the_host_fails_to_prepare_costs_that_event_not_its_batch(harness, monkeypatch) -> None:
    from qtui.plugins.runtime import prepared

    real = prepared.prepare

    def failing(event, *, shared):  # noqa: ANN001, ANN202 - prepare's signature
        if isinstance(event, SelectionChanged):
            raise RuntimeError("a host bug")
        return real(event, shared=shared)

    monkeypatch.setattr(prepared, "prepare", failing)
    lua = """
        local seen = {}
        function activate() qtui.subscribe("stats", "selection") end
        function on_event(e) seen[#seen + 1] = e.type; qtui.render({table.concat(seen, " ")}) end
    """
    handle = await harness.start(harness.plugin("both", lua, permissions=["stats.read", "selection.read"]))
    snapshot = await trio.to_thread.run_sync(harness.backend.snapshot)
    harness.bus.publish(SelectionChanged("queues", "email"))  # one batch: the selection, then the stats
    harness.bus.publish(StatsUpdated(snapshot))
    await harness.host.idle()
    assert harness.text("both") == ["stats"]
    assert handle.errors == 1 and "internal error preparing an event (RuntimeError)" in handle.where()


async def test_only_renders_that_change_what_is_shown_are_drawn(harness, monkeypatch) -> None:
    drawn: list[tuple[str, ...]] = []
    real = PluginRuntime._emit

    def emit(self, effect):  # noqa: ANN001, ANN202 - the runtime's own signature
        if isinstance(effect, Render):
            drawn.append(tuple("".join(span.text for span in line) for line in effect.lines))
        real(self, effect)

    monkeypatch.setattr(PluginRuntime, "_emit", emit)
    lua = """
        function activate()
          qtui.render({"a", {"b", {text = "c", style = "bold"}}})
          qtui.render({"a", {"b", {text = "c", style = "bold"}}})           -- the very same lines
          qtui.render({{{text = "a"}}, {{text = "b"}, {text = "c", style = "bold"}}})  -- written otherwise
          assert(not pcall(qtui.render, {"a", {{text = "c", style = "blink"}}}))  -- refused: nothing shown
          qtui.render({"a", {"b", {text = "c", style = "bold"}}})
          qtui.render({"a", {"b", {text = "c", style = "dim"}}})            -- a style is a change
          qtui.render({"a", {"b", {text = "c", style = "bold"}}})           -- and so is changing back
        end
    """
    await harness.start(harness.plugin("redrawn", lua))
    assert drawn == [("a", "bc"), ("a", "bc"), ("a", "bc")]
    assert [[span.style for span in line] for line in harness.host.plugins["redrawn"].panel] == [["normal"],
                                                                                             ["normal", "bold"]]


async def test_rendering_the_same_lines_again_redraws_nothing(harness) -> None:
    # A panel that shows the ready count: forty stats events with the same numbers, then a change.
    lua = """
        function activate() qtui.subscribe("stats") end
        function on_event(e)
          local ready = 0
          for _, q in ipairs(e.queues) do ready = ready + q.ready end
          qtui.render({"ready " .. ready})
        end
    """
    await harness.start(harness.plugin("steady", lua, permissions=["stats.read"]))
    snapshot = await trio.to_thread.run_sync(harness.backend.snapshot)
    ready = sum(q.count(JobState.READY) for q in snapshot.queues)
    from qtui.model import Snapshot

    harness.bus.publish(StatsUpdated(snapshot))
    await harness.wait_text("steady", f"ready {ready}")
    await harness.host.idle()
    updates = harness.bus.subscribe("test", (PanelUpdated,))
    for n in range(1, 41):
        harness.bus.publish(StatsUpdated(Snapshot(snapshot.queues, snapshot.workers, float(n))))
        await harness.host.idle()
    harness.backend.enqueue("email", "{}")
    await publish_stats(harness)
    await harness.wait_text("steady", f"ready {ready + 1}")
    drawn = []
    while True:
        try:
            drawn.append(updates.receive_nowait())
        except trio.WouldBlock:
            break
    assert drawn == [PanelUpdated("steady")]  # only the frame that changed


async def test_huge_payloads_reach_plugins_cut_and_marked(harness) -> None:
    harness.backend.enqueue("big", '{"blob": "' + "x" * 200_000 + '"}')
    lua = """
        function activate() qtui.jobs.peek({queue = "big"}) end
        function on_event(e)
          local job = e.result.jobs[1]
          qtui.render({tostring(#job.payload), tostring(job.payload_truncated)})
        end
    """
    await harness.start(harness.plugin("reader", lua, permissions=["jobs.peek"]))
    assert await harness.wait_text("reader", "65536") == ["65536", "true"]


async def test_storage_that_lua_cannot_hold_is_a_clear_error(harness) -> None:
    storage = harness.tmp_path / "data" / "plugin-data" / "keeper.json"
    storage.parent.mkdir(parents=True, exist_ok=True)
    storage.write_text('{"list": [1, null, 3]}')
    lua = """
        function activate()
          local ok, err = pcall(qtui.storage.get, "list")
          qtui.render({err})
        end
    """
    await harness.start(harness.plugin("keeper", lua, permissions=["storage"]))
    assert "has null inside a list" in harness.text("keeper")[0]


async def test_an_unreadable_site_policy_forbids_everything_and_says_so(harness, tmp_path, monkeypatch) -> None:
    from qtui.events import Notice

    policy = tmp_path / "etc" / "qtui" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text("forbid = [\n")
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc"))
    harness.host.policy = None  # read it from the system config dir
    notices = harness.bus.subscribe("test", (Notice,))
    handle = await harness.start(harness.plugin("panel", STATS_PANEL, permissions=["stats.read"]))
    assert "site policy unreadable" in notices.receive_nowait().text
    assert handle.state is PluginState.ERRORED and "forbidden by the site policy" in handle.reason


async def test_an_entry_file_missing_from_the_bundle_errors_the_plugin_not_the_host(harness) -> None:
    plugin = harness.plugin("gone", "function activate() qtui.render({'hi'}) end")
    (plugin.folder / "init.lua").unlink()  # after the manifest was read: the bundle lacks the entry
    handle = await harness.start(plugin)
    assert handle.state is PluginState.ERRORED
    assert "init.lua: the entry file is not among the plugin's files" in handle.reason


async def test_waiting_for_the_disk_in_a_storage_write_is_not_charged_to_the_plugin(harness, monkeypatch) -> None:
    # A slow disk: every fsync takes 50 ms. Ten writes wait a second in a call whose CPU-time
    # budget is 100 ms; then the plugin works long enough for the budget to be checked.
    from qtui.files import atomic

    real_fsync = atomic.os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", slow_fsync)
    lua = """
        function activate()
          for i = 1, 10 do qtui.storage.set("n", i) end
          local sum = 0
          for i = 1, 300000 do sum = sum + i end
          qtui.render({"stored " .. qtui.storage.get("n"), "sum " .. sum})
        end
    """
    handle = await harness.start(harness.plugin("keeper", lua, permissions=["storage"],
                                                extra="[limits]\ncpu_ms_per_call = 100\n"))
    assert harness.text("keeper") == ["stored 10", "sum 45000150000"]
    usage = handle.runtime.sandbox.usage()
    assert usage.violations == 0 and usage.last_call_instructions >= 300_000
    assert usage.last_call_cpu_seconds < 0.1 < 1.0 <= usage.last_call_seconds


def test_a_call_that_blocks_is_stopped_at_ten_times_its_cpu_budget_and_never_before_5_seconds() -> None:
    from qtui.plugins.bundles.manifest import Limits as ManifestLimits
    from qtui.plugins.bundles.manifest import parse_manifest
    from qtui.plugins.runtime.instance import sandbox_limits

    def limits(cpu_ms: int):  # noqa: ANN202
        doc = f'name = "x"\nversion = "1.0.0"\ndescription = "d"\napi = "1"\n[limits]\ncpu_ms_per_call = {cpu_ms}\n'
        return sandbox_limits(parse_manifest(doc, file=Path("manifest.toml")))

    assert (limits(250).cpu_seconds, limits(250).wall_seconds) == (0.25, 5.0)
    assert (limits(1000).cpu_seconds, limits(1000).wall_seconds) == (1.0, 10.0)
    assert ManifestLimits().cpu_ms_per_call == 250
