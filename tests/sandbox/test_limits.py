"""Runaway plugin code is stopped, recorded and logged; the host and other plugins carry on."""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref

import pytest
from sandbox_testkit import TEST_LIMITS, assert_fresh_sandbox_works, assert_works

from qtui.plugins.runtime.sandbox import (
    LimitExceeded,
    LimitKind,
    Limits,
    LuaSandbox,
    PluginError,
    PluginQuarantined,
    ViolationPolicy,
)
from tests.support import HeldWallClock, ManualClock

INSTRUCTIONS = LimitKind.INSTRUCTIONS

# name -> (Lua body of `run`, the limit it must run into)
RUNAWAYS = {
    "plain loop": ("while true do end", INSTRUCTIONS),
    "loop in coroutine.wrap": ("coroutine.wrap(function() while true do end end)()", INSTRUCTIONS),
    "loop in a resumed coroutine": (
        "coroutine.resume(coroutine.create(function() while true do end end))", INSTRUCTIONS
    ),
    "pcall swallowing the limit error": (
        "while true do pcall(function() while true do end end) end", INSTRUCTIONS
    ),
    "resume swallowing the limit error": (
        "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
        INSTRUCTIONS,
    ),
    "returning pcall's result after the trip": (
        "return pcall(function() while true do end end)", INSTRUCTIONS
    ),
    "loop in an xpcall message handler": (
        "xpcall(error, function() while true do end end)", INSTRUCTIONS
    ),
    "error in every xpcall handler": (
        "while true do xpcall(error, function(m) while true do end end) end", INSTRUCTIONS
    ),
    "loop in a __close handler": (
        "do local x <close> = setmetatable({}, {__close = function() while true do end end}) end",
        INSTRUCTIONS,
    ),
    "loop in __index": (
        "local t = setmetatable({}, {__index = function() while true do end end}) return t.x",
        INSTRUCTIONS,
    ),
    "loop in __tostring via print": (
        "print(setmetatable({}, {__tostring = function() while true do end end}))", INSTRUCTIONS
    ),
    "loop in a gsub callback": (
        "return ('abc'):gsub('%w', function() while true do end end)", INSTRUCTIONS
    ),
    "hostile sort comparator": (
        "local t = {} for i = 1, 100 do t[i] = i end "
        "table.sort(t, function(a, b) while true do end end)", INSTRUCTIONS
    ),
    "recursion where every level swallows errors": (
        "local function f() pcall(f) while true do end end f()", INSTRUCTIONS
    ),
    "memory balloon": (
        "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end", LimitKind.MEMORY
    ),
    "memory balloon that catches allocation errors": (
        "local t = {} while true do pcall(function() t[#t + 1] = ('y'):rep(1000) .. #t end) end",
        LimitKind.MEMORY,
    ),
    "one huge string": ("return ('x'):rep(2^21):rep(16)", LimitKind.MEMORY),
    "one huge concatenation": (
        "local t = {} for i = 1, 64 do t[i] = ('z'):rep(2^18) end "
        "return table.concat(t) .. table.concat(t)", LimitKind.MEMORY
    ),
    "pattern backtracking (many lazy items)": (
        "return ('a'):rep(200):find('.-.-.-.-b$')", LimitKind.GUARD
    ),
    "pattern backtracking (long subject)": (
        "return ('a'):rep(1e5):find('.-b')", LimitKind.GUARD
    ),
    "pattern backtracking on a short subject": (
        "return ('a'):rep(24):match(('a*'):rep(30) .. 'b')", LimitKind.GUARD
    ),
    "pattern backtracking in gmatch": (
        "for x in ('a'):rep(5000):gmatch('(a*)a*a*b') do end", LimitKind.GUARD
    ),
    "pattern backtracking in gsub via method call": (
        "local s = ('a'):rep(3000) return s:gsub('a-a-a-b', '')", LimitKind.GUARD
    ),
    "plain find with a long needle": (
        "local hay = ('a'):rep(2^22) return hay:find(('a'):rep(2^20) .. 'b', 1, true)",
        LimitKind.GUARD,
    ),
    "string.rep of empty-ish pieces a billion times": (
        "return ('x'):rep(1e9, '')", LimitKind.GUARD
    ),
    "table.move over a billion slots": ("table.move({}, 1, 1e9, 2)", LimitKind.GUARD),
    "table.concat over a billion indexes": (
        "local t = setmetatable({}, {__index = function() return '' end}) "
        "return table.concat(t, '', 1, 1e9)", LimitKind.GUARD
    ),
    "table.concat sized by __len": (
        "local t = setmetatable({}, {__len = function() return 1e12 end}) "
        "return table.concat(t)", LimitKind.GUARD
    ),
    "string.rep of an empty string a quadrillion times": ("return (''):rep(1e15)", LimitKind.GUARD),
    "string.rep of an empty string with an empty separator": (
        "return string.rep('', 1e15, '')", LimitKind.GUARD
    ),
    "a pattern set thousands of characters long": (
        "local set = '[' .. ('%w'):rep(20000) .. ']' "
        "return ('-'):rep(2^20):find(set .. '+x')", LimitKind.GUARD
    ),
    "a frontier pattern with a long set": (
        "local set = '%f[' .. ('%w'):rep(20000) .. ']' "
        "return ('-'):rep(2^20):find(set)", LimitKind.GUARD
    ),
    "gsub with an amplifying replacement": (
        "return ('x'):rep(2^20):gsub('x', ('y'):rep(1000))", LimitKind.GUARD
    ),
    "string.pack padding a fixed-size field": (
        "return string.pack('c99999999', '')", LimitKind.GUARD
    ),
    "table.unpack over a billion slots": ("return table.unpack({}, 1, 1e9)", LimitKind.GUARD),
    "load of a chunk with tens of thousands of gotos": (
        "return load('do ' .. ('goto done '):rep(30000) .. '::done:: end')", LimitKind.GUARD
    ),
}


@pytest.mark.parametrize("name", RUNAWAYS)
def test_runaway_is_stopped_and_recorded(make_sandbox, caplog, name):
    body, kind = RUNAWAYS[name]
    sandbox = make_sandbox(f"function run()\n{body}\nend")
    with caplog.at_level(logging.WARNING, logger="qtui.plugins.runtime.sandbox"):
        with pytest.raises(LimitExceeded) as info:
            sandbox.call("run")
    assert info.value.kind == kind
    assert info.value.plugin == sandbox.name
    assert sandbox.usage().violations == 1
    assert any(str(info.value) in record.getMessage() for record in caplog.records)
    assert_works(sandbox)
    assert_fresh_sandbox_works()


@pytest.mark.parametrize("how", ["load", "require"])
def test_a_compile_that_would_take_minutes_stops_at_the_deadline(how):
    # 200,000 `or` in one expression: Lua's parser needs minutes (its work grows with the
    # square of the chain), all of it in C where no count hook runs. The deadline is real time.
    chain = "return x" + " or x" * 200_000
    limits = Limits(memory_bytes=64 * 2**20, instructions=10**9, wall_seconds=0.5)
    sandbox = LuaSandbox("compiler", clock=HeldWallClock(), limits=limits, resolver=lambda name: (chain, "chain.lua"))
    sandbox.load("""
        function run(how, source)
          if how == "load" then return load(source) end
          return require("chain")
        end
    """, "main.lua")
    outcome: list = []

    def call() -> None:
        try:
            sandbox.call("run", how, chain)
        except PluginError as error:
            outcome.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the compile was not stopped"
    (error,) = outcome
    assert isinstance(error, LimitExceeded) and error.kind == LimitKind.WALL_TIME
    sandbox.close()


def test_limit_errors_point_at_the_plugin_line(make_sandbox):
    sandbox = make_sandbox("function run()\n  local n = 0\n  while true do n = n + 1 end\nend")
    with pytest.raises(LimitExceeded) as info:
        sandbox.call("run")
    assert (info.value.file, info.value.line) == ("main.lua", 3)
    assert "instruction limit" in info.value.message


def test_a_coroutine_kept_between_calls_is_still_limited(make_sandbox):
    sandbox = make_sandbox("""
        function start() worker = coroutine.create(function() coroutine.yield() while true do end end)
          coroutine.resume(worker) end
        function continue() return coroutine.resume(worker) end
    """)
    sandbox.call("start")
    with pytest.raises(LimitExceeded):
        sandbox.call("continue")
    assert_works(sandbox)


def test_the_cpu_time_budget_stops_slow_instructions(make_sandbox):
    # Each concatenation copies two megabytes: few instructions (a check every 100,000 would come
    # after seconds), so the collector's sentinel makes the hook look at the CPU clock.
    limits = Limits(memory_bytes=64 * 2**20, instructions=10**12, cpu_seconds=0.05, wall_seconds=600)
    sandbox = make_sandbox("function run() local s = ('x'):rep(2^20) while true do local t = s .. s end end",
                           limits=limits)
    with pytest.raises(LimitExceeded) as info:
        sandbox.call("run")
    assert info.value.kind == LimitKind.CPU_TIME
    assert str(info.value).endswith("time limit exceeded (0.05 s of CPU time per call)")
    assert 0.05 <= sandbox.usage().last_call_cpu_seconds < 0.5  # within a few checks past the budget
    assert_works(sandbox)


def test_time_waiting_in_a_host_function_is_not_charged_to_the_cpu_budget(make_sandbox, clock):
    # A host function that waits (here for 20 ms, on the machine's clock and the sandbox's; a
    # storage write syncing to disk, a lock) leaves the thread's CPU clock where it was: ten of
    # them fit in a 50 ms budget.
    limits = Limits(memory_bytes=16 * 2**20, instructions=10**9, cpu_seconds=0.05, wall_seconds=600)
    sandbox = make_sandbox("function run() for i = 1, 10 do host.wait() end return 'done' end", limits=limits)

    def wait() -> None:
        time.sleep(0.02)
        clock.advance(0.02)

    sandbox.expose("host.wait", wait)
    assert sandbox.call("run") == "done"
    usage = sandbox.usage()
    assert usage.last_call_cpu_seconds < 0.05
    assert usage.last_call_seconds == pytest.approx(0.2)


def test_cpu_time_is_the_budget_not_the_wall_clock(make_sandbox, clock):
    # The sandbox's clock jumps a second for every host call (a machine so loaded that the
    # thread waits between its steps): with the CPU well inside its budget, nothing trips.
    limits = Limits(memory_bytes=16 * 2**20, instructions=10**9, cpu_seconds=0.5, wall_seconds=30)
    sandbox = make_sandbox("function run() for i = 1, 20 do host.pause() end return 'done' end", limits=limits)
    sandbox.expose("host.pause", lambda: clock.advance(1.0))
    assert sandbox.call("run") == "done"
    assert sandbox.usage().last_call_seconds == pytest.approx(20.0)


def test_the_wall_clock_backstop_stops_a_call_that_keeps_waiting(make_sandbox, clock):
    # Every host call blocks for a second of the sandbox's clock; the backstop stops the loop
    # at the first host call past it (pcall cannot hide it), however little CPU it used.
    limits = Limits(memory_bytes=16 * 2**20, instructions=10**12, cpu_seconds=600, wall_seconds=5)
    sandbox = make_sandbox("function run() while true do pcall(host.block) end end", limits=limits)
    sandbox.expose("host.block", lambda: clock.advance(1.0))
    with pytest.raises(LimitExceeded) as info:
        sandbox.call("run")
    assert info.value.kind == LimitKind.WALL_TIME
    assert str(info.value).endswith("time limit exceeded (5 s of wall-clock time per call)")
    assert sandbox.usage().last_call_seconds == pytest.approx(5.0)
    assert_works(sandbox)


def test_deep_recursion_is_a_clean_error(make_sandbox):
    sandbox = make_sandbox("""
        function lua_recursion() local function f() return f() + 1 end return f() end
        function c_recursion() local function f() return select(2, pcall(string.gsub, 'x', 'x', f)) end
          return f() end
        function metamethod_recursion()
          local t = setmetatable({}, {}) getmetatable(t).__index = function(s, k) return s[k] end
          return t.x end
    """)
    for function in ("lua_recursion", "c_recursion", "metamethod_recursion"):
        try:
            sandbox.call(function)
        except PluginError as error:
            assert "overflow" in error.message or "memory" in error.message, error
        assert_works(sandbox)


class TestGuardsAllowOrdinaryWork:
    """The guards refuse only costly calls: everyday plugin code on real-sized text passes."""

    TEXT = ("mail.outbound  pending=120 active=3 failed=0\n" * 1500)  # ~70 KB

    def test_common_patterns_on_large_text(self, make_sandbox):
        sandbox = make_sandbox("""
            function run(text)
              local n = 0
              for key, value in text:gmatch("(%w+)=(%w+)") do n = n + 1 end
              local first = text:match("^%s*(.-)%s*\\n")
              local count = select(2, text:gsub("\\n", "\\n"))
              local at = text:find("failed=0", 1, true)
              local words = 0
              for word in text:gmatch("%S+") do words = words + 1 end
              return {n, first, count, at, words}
            end
        """)
        assert sandbox.call("run", self.TEXT) == [
            4500, "mail.outbound  pending=120 active=3 failed=0", 1500, 37, 6000
        ]

    def test_trimming_and_splitting_lines(self, make_sandbox):
        sandbox = make_sandbox("""
            function run(text)
              local out = {}
              for line in text:gmatch("[^\\n]+") do
                out[#out + 1] = line:match("^%s*(.-)%s*$"):upper():sub(1, 4)
              end
              return #out, out[1]
            end
        """)
        assert sandbox.call("run", self.TEXT) == 1500

    def test_sorting_and_moving_thousands_of_items(self, make_sandbox):
        sandbox = make_sandbox("""
            function run()
              local t = {}
              for i = 1, 50000 do t[i] = (i * 7919) % 50000 end
              table.sort(t)
              local copy = table.move(t, 1, #t, 1, {})
              table.sort(copy, function(a, b) return a > b end)
              return t[1], copy[1], ("ab"):rep(1e6):len()
            end
        """)
        assert sandbox.call("run") == 0

    def test_a_reader_walking_a_big_text_from_init_is_judged_on_what_it_reads(self, make_sandbox):
        # A tokenizer over a 5 MB text: an anchored read of a token and a search for the next
        # quote cost what they read, not a pass over the whole text each.
        sandbox = make_sandbox("""
            function run(n)
              local text = ("12345 \\"abc\\" "):rep(n)
              local at, tokens = 1, 0
              for _ = 1, 1000 do
                local _, last = text:find("^[%d%s]+", at)
                local close = text:find('["\\\\]', last + 2)
                at, tokens = close + 2, tokens + 2
              end
              return tokens
            end
            function long_run(n)
              return #(("7"):rep(n) .. "x"):match("^[%d%s]+")
            end
            function far_search(n)
              return (("a"):rep(n) .. '"'):find('["\\\\]', 2)
            end
        """)
        assert sandbox.call("run", 400_000) == 2000
        assert sandbox.call("long_run", 1000) == 1000
        for function in ("long_run", "far_search"):  # a read of 5 MB in one C call is still refused
            with pytest.raises(LimitExceeded) as info:
                sandbox.call(function, 5_000_000)
            assert info.value.kind == LimitKind.GUARD and "pattern too costly" in info.value.message

    def test_sort_without_a_comparator_is_refused_past_the_step_limit(self, make_sandbox):
        limits = Limits(memory_bytes=16 * 2**20, instructions=10**9, c_steps=1_000_000)
        sandbox = make_sandbox("""
            function run(n)
              local t = {}
              for i = 1, n do t[i] = n - i end
              table.sort(t)
              return t[1]
            end
        """, limits=limits)
        assert sandbox.call("run", 10000) == 0
        with pytest.raises(LimitExceeded) as info:
            sandbox.call("run", 100000)
        assert info.value.kind == LimitKind.GUARD and "table.sort" in info.value.message

    def test_len_metamethods_are_refused_where_c_would_loop_on_them(self, make_sandbox):
        sandbox = make_sandbox("""
            function run(fname)
              local t = setmetatable({}, {__len = function() return 2^40 end})
              return {pcall(table[fname], t, 1)}
            end
        """)
        for fname in ("insert", "remove", "sort"):
            ok, message = sandbox.call("run", fname)
            assert ok is False and "__len" in message


class TestStickyTrips:
    def test_code_after_a_swallowed_trip_never_runs(self, make_sandbox):
        sandbox = make_sandbox("""
            after = 0
            function run()
              pcall(function() while true do end end)
              after = after + 1
            end
            function read() return after end
        """)
        with pytest.raises(LimitExceeded):
            sandbox.call("run")
        assert sandbox.call("read") == 0

    def test_a_guard_refusal_cannot_be_swallowed(self, make_sandbox):
        sandbox = make_sandbox("""
            function run()
              local ok = pcall(string.find, ('a'):rep(200), '.-.-.-.-b$')
              return "carried on"
            end
        """)
        with pytest.raises(LimitExceeded) as info:
            sandbox.call("run")
        assert info.value.kind == LimitKind.GUARD

    def test_the_next_call_starts_with_a_fresh_budget(self, make_sandbox):
        sandbox = make_sandbox("""
            function spin(n) local x = 0 for i = 1, n do x = x + i end return x end
        """)
        with pytest.raises(LimitExceeded):
            sandbox.call("spin", 10**9)
        assert sandbox.call("spin", 1_000_000) == 500000500000


def test_the_instruction_budget_is_exact_to_a_step_whatever_the_machine_speed(make_sandbox):
    # One FORLOOP instruction per turn. The budget of 1,000,000 is counted in steps of 10,000:
    # a call 3% under it never trips, one 3% over it always does.
    limits = Limits(memory_bytes=16 * 2**20, instructions=1_000_000, cpu_seconds=60, wall_seconds=60)
    sandbox = make_sandbox("function turns(n) for i = 1, n do end return n end", limits=limits)
    for _ in range(20):
        assert sandbox.call("turns", 970_000) == 970_000
        assert 960_000 <= sandbox.usage().last_call_instructions <= 970_100
    with pytest.raises(LimitExceeded) as info:
        sandbox.call("turns", 1_030_000)
    assert info.value.kind == LimitKind.INSTRUCTIONS
    assert 1_000_000 < sandbox.usage().last_call_instructions <= 1_010_000


class TestInterrupt:
    def test_another_thread_stops_a_running_call(self, make_sandbox):
        limits = Limits(memory_bytes=16 * 2**20, instructions=10**15, cpu_seconds=120, wall_seconds=120)
        sandbox = make_sandbox("function run() while true do end end", limits=limits)
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                sandbox.call("run")
            except BaseException as error:  # noqa: BLE001 - handed to the test thread
                outcome.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        while not sandbox.interrupt("killed by the operator"):
            time.sleep(0.005)  # until the call is running
        thread.join(30)
        assert not thread.is_alive()
        [error] = outcome
        assert isinstance(error, LimitExceeded) and error.kind == LimitKind.INTERRUPTED
        assert "killed by the operator" in error.message
        assert sandbox.usage().violations == 0  # the host's doing, not the plugin's
        assert_works(sandbox)

    def test_interrupt_without_a_running_call_does_nothing(self, make_sandbox):
        sandbox = make_sandbox()
        assert sandbox.interrupt("nothing to stop") is False
        assert_works(sandbox)


class TestConcurrency:
    def test_a_runaway_does_not_block_another_plugin(self, make_sandbox):
        limits = Limits(memory_bytes=16 * 2**20, instructions=10**15, cpu_seconds=120, wall_seconds=120)
        runaway = make_sandbox("function run() while true do end end", limits=limits)
        healthy = make_sandbox()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                runaway.call("run")
            except BaseException as error:  # noqa: BLE001 - handed to the test thread
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        while not runaway.busy:
            time.sleep(0.005)
        for _ in range(200):
            assert healthy.call("probe", 3) == "1,2,3"
        assert runaway.busy  # still spinning while the other plugin did all its work
        assert runaway.interrupt("test over")
        thread.join(30)
        assert not thread.is_alive()
        assert [type(error) for error in errors] == [LimitExceeded]

    def test_two_runaways_in_parallel_are_both_stopped(self, make_sandbox):
        sandboxes = [make_sandbox("function run() while true do end end") for _ in range(2)]
        errors: list[BaseException] = []

        def run(sandbox: LuaSandbox) -> None:
            try:
                sandbox.call("run")
            except BaseException as error:  # noqa: BLE001 - handed to the test thread
                errors.append(error)

        threads = [threading.Thread(target=run, args=(sandbox,)) for sandbox in sandboxes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert [type(error) for error in errors] == [LimitExceeded, LimitExceeded]
        for sandbox in sandboxes:
            assert_works(sandbox)


class TestQuarantine:
    def test_repeated_violations_quarantine_the_plugin(self, make_sandbox):
        sandbox = make_sandbox(
            "function run() while true do end end",
            policy=ViolationPolicy(max_violations=3, window_seconds=600),
        )
        for _ in range(3):
            with pytest.raises(LimitExceeded):
                sandbox.call("run")
        assert sandbox.quarantined and "3 limit violations" in sandbox.quarantined
        with pytest.raises(PluginQuarantined, match="instruction limit"):
            sandbox.call("probe", 1)
        with pytest.raises(PluginQuarantined):
            sandbox.load("x = 1", "later.lua")
        assert sandbox.usage().quarantined == sandbox.quarantined
        sandbox.lift_quarantine()
        assert_works(sandbox)

    def test_violations_outside_the_window_are_forgotten(self, make_sandbox, clock):
        sandbox = make_sandbox(
            "function run() while true do end end",
            policy=ViolationPolicy(max_violations=2, window_seconds=0.05),
        )
        for _ in range(3):
            with pytest.raises(LimitExceeded):
                sandbox.call("run")
            clock.advance(0.1)
        assert sandbox.quarantined is None
        assert sandbox.usage().violations == 3

    def test_ordinary_errors_are_not_violations(self, make_sandbox):
        sandbox = make_sandbox("function run() error('plain bug') end",
                               policy=ViolationPolicy(max_violations=1))
        for _ in range(3):
            with pytest.raises(PluginError) as info:
                sandbox.call("run")
            assert not isinstance(info.value, LimitExceeded)
        assert sandbox.quarantined is None


def test_usage_counts_calls_instructions_and_memory(make_sandbox, clock):
    sandbox = make_sandbox()
    sandbox.expose("host.pass_time", lambda: clock.advance(0.25))
    sandbox.load("""
        function spin(n) local x = 0 for i = 1, n do x = x + i end host.pass_time() return x end
        function hold(n) kept = ('k'):rep(n) end
    """, "main.lua")
    before = sandbox.usage()
    sandbox.call("spin", 5_000_000)
    after = sandbox.usage()
    assert after.calls == before.calls + 1
    assert after.instructions - before.instructions >= 5_000_000
    assert after.busy_seconds == before.busy_seconds + 0.25 == after.last_call_seconds + before.busy_seconds
    memory = sandbox.memory_used()
    sandbox.call("hold", 4 * 2**20)
    assert sandbox.memory_used() >= 4 * 2**20 > memory


def test_default_limits_are_sane():
    limits = Limits()
    assert limits.memory_bytes >= 2**20 and 0 < limits.cpu_seconds < limits.wall_seconds
    with pytest.raises(ValueError, match="at least 1 MiB"):
        Limits(memory_bytes=1000)
    with pytest.raises(ValueError, match="positive"):
        Limits(wall_seconds=0)
    with pytest.raises(ValueError, match="positive"):
        Limits(cpu_seconds=0)
    assert TEST_LIMITS.instructions < limits.instructions


def test_a_dropped_sandbox_frees_its_runtime_at_once():
    collector_was_on = gc.isenabled()
    gc.disable()  # no help from the cycle collector
    try:
        sandbox = LuaSandbox("dropped", clock=ManualClock(), limits=TEST_LIMITS)
        sandbox.expose("host.f", lambda: 1)
        sandbox.load("function f() return host.f() end", "main.lua")
        assert sandbox.call("f") == 1
        alive = weakref.ref(sandbox)
        del sandbox
        assert alive() is None
    finally:
        if collector_was_on:
            gc.enable()
