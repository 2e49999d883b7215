"""Lua sandbox costs: limits overhead, call cost, time to stop runaways, memory per plugin.

    python -m qtui.bench sandbox [--repeat N]

Sections (memory first, while the process heap is small):
1. The same Lua code in a bare lupa Lua 5.4 runtime, in a bare runtime with only a count
   hook, and in a LuaSandbox (hook, guards, read-only libraries): realistic string/table
   work and a tight loop. Any count hook puts the Lua 5.4 VM in trap mode (every
   instruction goes through luaG_traceexec): that, not the checks, is most of the cost.
2. What one call costs: lupa with a prebuilt table, LuaSandbox.call with conversion, a
   host function called from Lua, and two of qtui's library natives (qtui.text) beside the
   Lua library doing similar work.
3. Time from a runaway starting to being stopped, per kind, with a 0.2 s CPU-time limit.
4. Lua heap, process memory and creation time per loaded sandbox.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import threading
import time
from collections.abc import Callable

from lupa import lua54

from qtui.clock import SYSTEM_CLOCK
from qtui.plugins.runtime.sandbox import LimitExceeded, Limits, LuaSandbox, ViolationPolicy

# Formats rows from a stats table: string.format, padding, sort, concat, gsub, match.
REALISTIC = """
function render(n)
  local stats = {}
  for i = 1, n do
    stats[i] = {name = "queue." .. i, pending = (i * 7919) % 5000, active = i % 17,
                failed = (i * 31) % 23, rate = i / 7}
  end
  table.sort(stats, function(a, b) return a.pending > b.pending end)
  local rows = {}
  for i, s in ipairs(stats) do
    local name = s.name:gsub("%.", "/")
    local label = name:match("^(%a+)") or "?"
    rows[#rows + 1] = string.format("%-14s %-6s %8d %6d %6d %9.2f/s",
                                    name, label, s.pending, s.active, s.failed, s.rate)
  end
  return #table.concat(rows, "\\n")
end
"""

TIGHT = """
function spin(n)
  local x = 0
  for i = 1, n do x = x + i % 7 end
  return x
end
"""

CALLS = """
function take(t) return t.pending end
function host_calls(n) local f = host.noop for i = 1, n do f(i) end end
"""

# qtui's library in the sandbox, and the Lua library doing similar work.
TEXT_CALLS = """
local text = require("qtui.text")
function fits(n) local fit = text.fit for i = 1, n do fit("queue-name-with-a-long-tail", 12) end end
function widths(n) local width = text.width for i = 1, n do width("queue-name") end end
function formats(n) local format = string.format for i = 1, n do format("%-12.12s", "queue-name") end end
"""

# name -> Lua body of `run`
RUNAWAYS = {
    "plain loop": "while true do end",
    "loop in coroutine": "coroutine.wrap(function() while true do end end)()",
    "pcall-swallow loop": "while true do pcall(function() while true do end end) end",
    "xpcall handler loop": "xpcall(error, function() while true do end end)",
    "slow instructions (2 MB concat)": "local s = ('x'):rep(2^20) while true do local t = s .. s end",
    "pattern backtrack": "return ('a'):rep(200):find('.-.-.-.-b$')",
    "memory balloon": "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end",
}

PLUGIN_FOR_MEMORY = REALISTIC + TIGHT + """
local panel = {title = "Queues", columns = {"name", "pending", "active", "failed"}}
function activate() return panel.title end
"""


def _best_and_median(samples: list[float]) -> tuple[float, float]:
    return min(samples), statistics.median(samples)


def _time(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _interleaved(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Time each run `repeat` times, interleaved so machine noise hits all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for func in runs.values():
        func()  # warm up
    for _ in range(repeat):
        for name, func in runs.items():
            samples[name].append(_time(func))
    return samples


def _bare_runtime(source: str) -> lua54.LuaRuntime:
    runtime = lua54.LuaRuntime(encoding=None, unpack_returned_tuples=True)
    runtime.execute(source)
    return runtime


def _sandbox(source: str, limits: Limits | None = None) -> LuaSandbox:
    sandbox = LuaSandbox("bench", clock=SYSTEM_CLOCK, limits=limits or Limits(memory_bytes=256 * 2**20,
                                                          instructions=10**12, cpu_seconds=600,
                                                          wall_seconds=600),
                         policy=ViolationPolicy(max_violations=10**9))
    sandbox.expose("host.noop", lambda value: None)
    sandbox.load(source, "bench.lua")
    return sandbox


def _hooked_runtime(source: str) -> lua54.LuaRuntime:
    """A bare runtime with only a count hook like the sandbox's (Lua hook calling Python)."""
    runtime = _bare_runtime(source)
    runtime.execute(
        "local tick = ... debug.sethook(function() local _, _, n = debug.gethook() tick(n) end,"
        " '', 1000000)",
        lambda count: None,
    )
    return runtime


def overhead(repeat: int) -> None:
    print("1. Same Lua code: bare lupa Lua 5.4, bare + a count hook, LuaSandbox (limits armed)")
    print(f"   {'workload':<30} {'bare':>9} {'+hook':>9} {'sandbox':>9} {'hook extra':>11}"
          f" {'sandbox extra':>14}")
    bare = _bare_runtime(REALISTIC + TIGHT)
    hooked = _hooked_runtime(REALISTIC + TIGHT)
    sandbox = _sandbox(REALISTIC + TIGHT)
    workloads = [
        ("rows from stats (5000 queues)", "render", 5000),
        ("tight arithmetic loop (10M)", "spin", 10**7),
    ]
    for label, function, argument in workloads:
        bare_function = bare.globals()[function.encode()]
        hooked_function = hooked.globals()[function.encode()]
        samples = _interleaved(
            {
                "bare": lambda: bare_function(argument),
                "hook": lambda: hooked_function(argument),
                "sandbox": lambda: sandbox.call(function, argument),
            },
            repeat,
        )
        best = {name: min(values) for name, values in samples.items()}
        median = {name: statistics.median(values) for name, values in samples.items()}
        print(f"   {label:<30} {best['bare'] * 1e3:7.1f}ms {best['hook'] * 1e3:7.1f}ms"
              f" {best['sandbox'] * 1e3:7.1f}ms {best['hook'] / best['bare'] - 1:+11.1%}"
              f" {best['sandbox'] / best['bare'] - 1:+14.1%}")
        print(f"   {'  (medians)':<30} {median['bare'] * 1e3:7.1f}ms {median['hook'] * 1e3:7.1f}ms"
              f" {median['sandbox'] * 1e3:7.1f}ms {median['hook'] / median['bare'] - 1:+11.1%}"
              f" {median['sandbox'] / median['bare'] - 1:+14.1%}")
    sandbox.close()
    print()


def call_costs(repeat: int) -> None:
    print("2. Cost of one call (microseconds)")
    n = 20_000
    bare = _bare_runtime(CALLS.replace("host.noop", "function() end"))
    take = bare.globals()[b"take"]
    prebuilt = bare.table_from({b"name": b"mail", b"pending": 12, b"active": 3, b"failed": 0})
    fields = {"name": "mail", "pending": 12, "active": 3, "failed": 0}
    sandbox = _sandbox(CALLS + TEXT_CALLS)
    runs = {
        "lupa call, prebuilt table": lambda: [take(prebuilt) for _ in range(n)],
        "lupa call, table built per call": lambda: [
            take(bare.table_from({b"name": b"mail", b"pending": 12, b"active": 3, b"failed": 0}))
            for _ in range(n)
        ],
        "LuaSandbox.call, 4-field dict": lambda: [sandbox.call("take", fields) for _ in range(n)],
        "host function called from Lua": lambda: sandbox.call("host_calls", n),
        "qtui.text.fit (library native)": lambda: sandbox.call("fits", n),
        "qtui.text.width (library native)": lambda: sandbox.call("widths", n),
        "Lua string.format, for scale": lambda: sandbox.call("formats", n),
    }
    samples = _interleaved(runs, max(3, repeat // 3))
    for label, values in samples.items():
        best, median = _best_and_median(values)
        print(f"   {label:<34} {best / n * 1e6:8.2f} best {median / n * 1e6:8.2f} median")
    sandbox.close()
    print()


def _stop_time(body: str, cpu: float) -> tuple[str, float]:
    limits = Limits(memory_bytes=32 * 2**20, instructions=10**12, cpu_seconds=cpu, wall_seconds=100 * cpu)
    sandbox = _sandbox(f"function run()\n{body}\nend", limits)
    start = time.perf_counter()
    try:
        sandbox.call("run")
        outcome = "not stopped"
    except LimitExceeded as error:
        outcome = str(error.kind)
    elapsed = time.perf_counter() - start
    sandbox.close()
    return outcome, elapsed


def _interrupt_latency() -> float:
    sandbox = _sandbox("function run() while true do end end")
    thread = threading.Thread(target=lambda: _expect_limit(sandbox))
    thread.start()
    while not sandbox.busy:
        time.sleep(0.001)
    time.sleep(0.05)
    start = time.perf_counter()
    sandbox.interrupt("bench")
    thread.join()
    latency = time.perf_counter() - start
    sandbox.close()
    return latency


def _expect_limit(sandbox: LuaSandbox) -> None:
    try:
        sandbox.call("run")
    except LimitExceeded:
        pass


def _bare_memory_balloon() -> float:
    runtime = lua54.LuaRuntime(encoding=None, max_memory=32 * 2**20)
    start = time.perf_counter()
    try:
        runtime.execute(RUNAWAYS["memory balloon"])
    except lua54.LuaMemoryError:
        pass
    return time.perf_counter() - start


def stop_times(repeat: int) -> None:
    cpu = 0.2
    print(f"3. Runaways: wall time from start to stopped (CPU-time limit {cpu} s, 10 s for the"
          " balloon; 32 MiB heap; no instruction budget)")
    print(f"   {'runaway':<34} {'stopped by':<14} {'median':>9} {'worst':>9}")
    for label, body in RUNAWAYS.items():
        # filling the heap takes longer than `cpu`: give the balloon time to reach the cap
        limit = 10.0 if label == "memory balloon" else cpu
        results = [_stop_time(body, limit) for _ in range(max(3, repeat // 3))]
        kinds = sorted({kind for kind, _ in results})
        times = [elapsed for _, elapsed in results]
        print(f"   {label:<34} {'/'.join(kinds):<14} {statistics.median(times) * 1e3:7.1f}ms"
              f" {max(times) * 1e3:7.1f}ms")
    latencies = [_interrupt_latency() for _ in range(max(3, repeat // 3))]
    print(f"   {'interrupt() to stopped':<34} {'interrupted':<14}"
          f" {statistics.median(latencies) * 1e3:7.2f}ms {max(latencies) * 1e3:7.2f}ms")
    balloons = [_bare_memory_balloon() for _ in range(3)]
    print(f"   {'(bare lupa: balloon to LuaMemoryError)':<34} {'':<14}"
          f" {statistics.median(balloons) * 1e3:7.1f}ms {max(balloons) * 1e3:7.1f}ms")
    print()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def memory_per_sandbox(count: int = 100) -> None:
    print(f"4. Memory per loaded sandbox ({count} sandboxes, each with a small plugin loaded)")
    gc.collect()
    rss_before = _rss_bytes()
    start = time.perf_counter()
    sandboxes = []
    for _ in range(count):
        sandbox = _sandbox(PLUGIN_FOR_MEMORY)
        sandbox.call("activate")
        sandboxes.append(sandbox)
    created = (time.perf_counter() - start) / count
    gc.collect()
    rss_after = _rss_bytes()
    heap = statistics.mean(sandbox.memory_used() for sandbox in sandboxes)
    print(f"   Lua heap (memory_used)          {heap / 1024:8.0f} KiB")
    print(f"   process RSS growth              {(rss_after - rss_before) / count / 1024:8.0f} KiB")
    print(f"   create + expose + load + call   {created * 1e3:8.2f} ms")
    for sandbox in sandboxes:
        sandbox.close()
    print()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per measurement")
    args = parser.parse_args(argv)
    print(f"Lua sandbox benchmark (lupa {lua54.LuaRuntime().lua_implementation})\n")
    logging.getLogger("qtui.plugins").setLevel(logging.ERROR)  # violations are the point here
    memory_per_sandbox()  # first, while the process heap is still small
    overhead(args.repeat)
    call_costs(args.repeat)
    stop_times(args.repeat)
    return 0
