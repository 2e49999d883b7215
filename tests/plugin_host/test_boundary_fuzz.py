"""Random nested and oversized values through every API function, every event type and the bus.

Each example starts the real host with a benign neighbour and a fuzzing plugin that holds
every capability, then throws random values at the boundary: as the arguments of every API
function (values too big to send from Python are built inside the plugin), as the fields of
every event type, and as bus messages. Whatever happens, the host stays up, the neighbour
keeps working, and the fuzzing plugin either took each value or ended with an error of its
own (refused, errored or quarantined), never an exception of the host.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio
from host_testkit import build_harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.events import SelectionChanged, StatsUpdated
from qtui.model import JobState, QueueStats, Snapshot
from qtui.plugins.runtime import api
from qtui.plugins.runtime.events import (
    ActionResult,
    CommandInvoked,
    KeyPressed,
    MouseClicked,
    PanelResized,
    PluginLifecycle,
    PluginMessage,
    SettingsChanged,
    TimerFired,
)
from qtui.plugins.runtime.host import PluginState
from qtui.plugins.runtime.sandbox import PluginError

FUZZER = """
    local done = 0
    -- A value the test describes, built here: {["$"] = kind, n = size} or plain data.
    local function make(spec)
      if type(spec) ~= "table" or spec["$"] == nil then return spec end
      local kind, n = spec["$"], spec.n
      if kind == "nil" then return nil end
      if kind == "deep" then local t = {} for i = 1, n do t = {t} end return t end
      if kind == "wide" then local t = {} for i = 1, n do t[i] = i end return t end
      if kind == "text" then return ("x"):rep(n) end
      if kind == "refs" then local s = ("r"):rep(2^16) local t = {} for i = 1, n do t[i] = s end return t end
      if kind == "sparse" then local t = {x = 1} for i = 1, n do t[i * 3] = i end return t end
      if kind == "cycle" then local t = {} t.self = t return t end
      if kind == "function" then return print end
      return spec
    end
    function activate()
      qtui.listen("fuzz.")
      qtui.subscribe("stats", "selection", "key", "mouse", "lifecycle")
      qtui.command("fuzz", "fuzz the host")
    end
    function on_event(e)
      done = done + 1
      if e.type == "message" and e.topic == "fuzz.call" then
        local f = qtui
        for part in e.data.fn:gmatch("[^.]+") do f = f[part] end
        local args = {}
        for i, spec in ipairs(e.data.args) do args[i] = make(spec) end
        pcall(f, table.unpack(args, 1, #e.data.args))
      end
      if e.type == "message" and e.topic == "fuzz.end" then qtui.render({"ended " .. e.data}) end
    end
"""

CAPABILITIES = ["notify", "timers", "commands", "storage", "stats.read", "selection.read", "jobs.peek",
                "jobs.enqueue", "jobs.requeue", "jobs.purge", "bus.publish", "bus.subscribe"]

scalars = (
    st.none() | st.booleans() | st.floats() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=30) | st.sampled_from(["email", "dead", "ready", "all", "info", "stats", "plugin.fuzz.x"])
)
plain = st.recursive(
    scalars,
    lambda children: st.lists(children.filter(lambda v: v is not None), max_size=5)
    | st.dictionaries(st.text(max_size=8) | st.integers(-5, 5), children, max_size=5),
    max_leaves=25,
)
big_text = st.integers(min_value=0, max_value=6 * 2**20).map(lambda n: "t" * n)
values = plain | big_text
built = st.fixed_dictionaries({
    "$": st.sampled_from(["nil", "deep", "wide", "text", "refs", "sparse", "cycle", "function"]),
    "n": st.integers(min_value=0, max_value=200_000),
})
arguments = st.lists(plain.filter(lambda v: v is not None) | built, max_size=3)
calls = st.builds(lambda f, args: ("call", f, args), st.sampled_from([f.name for f in api.FUNCTIONS]), arguments)

snapshots = st.builds(
    lambda queues, taken: Snapshot(queues, (), taken),
    st.lists(st.builds(QueueStats, st.text(max_size=20), st.dictionaries(st.sampled_from(list(JobState)),
                                                                           st.integers(-(2**70), 2**70))),
             max_size=30).map(tuple) | st.integers(0, 15_000).map(
                 lambda n: tuple(QueueStats(f"q{i}", {}) for i in range(n))),
    st.floats(),
)
texts = st.text(max_size=50) | big_text
events = st.one_of(
    st.builds(StatsUpdated, snapshots),
    st.builds(SelectionChanged, texts, st.none() | texts, st.none() | st.sampled_from(list(JobState)),
              st.none() | texts),
    st.builds(KeyPressed, texts),
    st.builds(MouseClicked, texts, st.integers(-(2**70), 2**70), st.integers(), st.integers()),
    st.builds(PanelResized, st.integers(-(2**70), 2**70), st.integers()),
    st.builds(TimerFired, texts, st.floats()),
    st.builds(CommandInvoked, texts, texts),
    st.builds(PluginMessage, st.just("fuzz.bus"), texts, values),
    st.builds(PluginLifecycle, texts, texts, texts, st.none() | texts),
    st.builds(SettingsChanged, st.dictionaries(st.text(max_size=10), values, max_size=5)),
    st.builds(ActionResult, st.integers(-(2**70), 2**70), texts, st.booleans(), st.none() | texts, values),
).map(lambda event: ("event", event))
steps = st.lists(calls | events, min_size=1, max_size=6)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(steps=steps)
async def test_random_values_through_every_function_event_and_the_bus(plugin_home, steps) -> None:
    harness = build_harness(Path(tempfile.mkdtemp(dir=plugin_home)))  # a fresh host for each example
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(harness.host.run)
            await fuzz(harness, steps)
            nursery.cancel_scope.cancel()
    finally:
        harness.backend.close()


async def fuzz(harness, steps) -> None:
    await harness.start_neighbour()
    extra = "[limits]\nwall_ms_per_call = 1000\ninstructions_per_call = 50000000\nmemory_mib = 32\n"
    fuzzer = await harness.start(harness.plugin("fuzzer", FUZZER, permissions=CAPABILITIES, extra=extra))
    assert fuzzer.state is PluginState.RUNNING, fuzzer.reason
    for kind, *what in steps:
        if fuzzer.listener is None:
            break  # it ended: quarantined or errored by what it was sent
        if kind == "call":
            name, args = what
            harness.bus.publish(PluginMessage("fuzz.call", "fuzz", {"fn": name, "args": args}))
        else:
            fuzzer.listener.offer(what[0])  # as the bus would
        await trio.sleep(0.01)
    if fuzzer.listener is not None:
        harness.bus.publish(PluginMessage("fuzz.end", "fuzz", len(steps)))
    await harness.wait(lambda: fuzzer.state is not PluginState.RUNNING
                       or any(line.startswith("ended") for line in harness.text("fuzzer")), timeout=30)
    assert fuzzer.state in (PluginState.RUNNING, PluginState.QUARANTINED, PluginState.ERRORED)
    assert fuzzer.error is None or isinstance(fuzzer.error, PluginError)
    await harness.assert_neighbour_works()
