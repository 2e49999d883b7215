"""Run in a child process by test_no_panic.py: push values of every kind and size into runtimes
near their memory cap. Lua aborts the whole process (PANIC) when an allocation outside a
protected call fails, so the parent only checks that this process ends normally.

    python no_panic_child.py sandbox CAP_MIB    # sandbox-level pushes at one cap
    python no_panic_child.py host               # through the real host, beside a neighbour
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import trio
from host_testkit import write_plugin  # the same plugin folders as the tests

from qtui.clock import SYSTEM_CLOCK
from qtui.plugins.runtime.sandbox import HostError, Limits, LuaSandbox, PluginError, ViolationPolicy

MIB = 2**20

FILLER = """
kept = {}
function fill(share, cap)
  kept = {}
  collectgarbage("count")
  local target = cap * share
  -- Allocation errors are caught: the heap ends as close to the cap as it can get.
  pcall(function()
    local i = 0
    while true do
      local left = target - collectgarbage("count") * 1024
      if left <= 0 then break end
      i = i + 1
      kept[i] = ("f"):rep(left > 2^20 and 65536 or 997)
    end
  end)
end
function take(...) return select("#", ...) end
function ask(what, n) local v = host[what](n) return type(v) end
function needs(name) return type(require(name)) end
function fail(n) local ok, err = pcall(host.fail, n) return #tostring(err) end
function shout(n) print(("p"):rep(n)) end
"""


def values(cap: int) -> list[object]:
    """Values of every kind, from nothing to more than the cap (or than the value bound, 4 MiB)."""
    sizes = sorted({0, 1, 1024, 64 * 1024, MIB} | {min(size, 8 * MIB) for size in (cap // 2, cap, 2 * cap)})
    out: list[object] = [None, True, 2**63 - 1, -(2**63), 1.5, float("inf"), [], {}]
    out += ["s" * size for size in sizes]
    out += [list(range(n)) for n in (10, 10_000, 200_000)]
    out += [{f"k{i}": "v" * 16 for i in range(n)} for n in (10, 10_000, 60_000)]
    deep: object = "bottom"
    for _ in range(31):
        deep = [deep]
    out += [deep, [deep], [["x" * 60_000] * 500]]
    return out


def sandbox_run(cap_mib: int) -> int:
    cap = cap_mib * MIB
    pushed = 0
    sandbox = LuaSandbox(f"cap{cap_mib}", clock=SYSTEM_CLOCK, limits=Limits(memory_bytes=cap, instructions=10**9, wall_seconds=30),
                         policy=ViolationPolicy(max_violations=10**9),
                         resolver=lambda name: ("return {" + "1," * int(name[1:]) + "}", f"{name}.lua"),
                         output=lambda line: None)
    pool = values(cap)

    def big(n: int) -> object:
        return pool[n % len(pool)]

    def fail(n: int) -> None:
        raise HostError("e" * min(n, 4000))

    for name, func in (("host.big", big), ("host.fail", fail)):
        sandbox.expose(name, func)
    sandbox.load(FILLER, "filler.lua")
    for share in (0.0, 0.5, 0.9, 0.97, 2.0):
        try:
            sandbox.call("fill", share, cap)  # 2.0: full to the last byte
        except PluginError:
            pass
        for index, value in enumerate(pool):
            for attempt in (
                lambda: sandbox.call("take", value, value),
                lambda: sandbox.call("ask", "big", index),
                lambda: sandbox.call("needs", f"m{min(cap // 4, 200_000) * (index % 3)}"),
                lambda: sandbox.call("fail", index * 997),
                lambda: sandbox.call("shout", index * 10_000),
            ):
                try:
                    attempt()
                except PluginError:
                    pass
                pushed += 1
    sandbox.close()
    return pushed


ATTACKER = """
    kept = {}
    function activate()
      qtui.subscribe("stats")
      qtui.listen("plugin.")
      qtui.jobs.peek({queue = "big", limit = 500})
      pcall(function() for i = 1, 1e9 do kept[i] = ("a"):rep(1000) .. i end end)
    end
    function on_event(e)
      pcall(function() for i = #kept + 1, 1e9 do kept[i] = ("b"):rep(1000) .. i end end)
    end
"""
PUBLISHER = """
    function activate() qtui.every("send", 0.1) end
    function on_event(e)
      pcall(qtui.publish, "plugin.pub.blob", ("m"):rep(200000))
      pcall(qtui.publish, "plugin.pub.blob", ("m"):rep(20 * 2^20))
    end
"""
NEIGHBOUR = """
    local ticks = 0
    function activate() qtui.every("tick", 0.1) end
    function on_event(e) ticks = ticks + 1 qtui.render({"ticks " .. ticks}) end
"""


async def _host_with(*specs: tuple[str, str, list[str], str]):  # noqa: ANN202
    from qtui.backends import open_backend
    from qtui.bus import EventBus
    from qtui.plugins.bundles.bundle import bundle_hash
    from qtui.plugins.runtime.host import PluginHost
    from qtui.plugins.runtime.settings import SettingsStore
    from qtui.plugins.trust.audit import AuditLog
    from qtui.plugins.trust.permissions import PermissionStore
    from qtui.plugins.trust.policy import SitePolicy
    from qtui.sqlite_queue import SQLiteQueue

    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    with SQLiteQueue.open(root / "queue.db", create=True, clock=SYSTEM_CLOCK.time) as queue:
        queue.enqueue("email", {"n": 1})
    backend = open_backend(root / "queue.db", clock=SYSTEM_CLOCK.time)
    bus = EventBus()
    store = PermissionStore(root / "permissions.toml")
    host = PluginHost(backend, bus, clock=SYSTEM_CLOCK, store=store, policy=SitePolicy(), audit=AuditLog(root / "audit.jsonl"),
                      settings=SettingsStore(root / "settings.toml"), storage_dir=root / "data")
    plugins = []
    for name, lua, permissions, extra in specs:
        plugin = write_plugin(root / "plugins", name, lua, permissions=permissions, extra=extra)
        store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
        plugins.append(plugin)
    return host, bus, backend, tmp, plugins




async def host_run() -> dict[str, object]:
    from qtui.events import StatsUpdated

    host, bus, backend, tmp, plugins = await _host_with(
        ("neighbour", NEIGHBOUR, ["timers"], ""),
        ("attacker", ATTACKER, ["stats.read", "jobs.peek", "bus.subscribe"], "[limits]\nmemory_mib = 1\n"),
        ("pub", PUBLISHER, ["timers"], "[limits]\nmemory_mib = 64\n"),
    )
    payload = json.dumps({"blob": "x" * 60_000})
    await trio.to_thread.run_sync(lambda: [backend.enqueue("big", payload) for _ in range(500)])
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            handles = [await host.start(plugin) for plugin in plugins]
            snapshot = await trio.to_thread.run_sync(backend.snapshot)
            for _ in range(20):
                bus.publish(StatsUpdated(snapshot))
                await trio.sleep(0.1)
            result = {h.name: {"state": str(h.state), "reason": h.reason, "errors": h.errors,
                               "panel": ["".join(s.text for s in line) for line in h.panel]} for h in handles}
            nursery.cancel_scope.cancel()
    finally:
        backend.close()
        tmp.cleanup()
    return result


STUCK = """
    function activate() qtui.subscribe("stats") end
    function on_event(e) return ("a"):rep(60000):find(".-b") end  -- seconds inside one C call
"""
LOOPING = """
    function activate() qtui.subscribe("stats") end
    function on_event(e) while true do end end
    function deactivate() while true do end end
"""


async def quit_run() -> dict[str, object]:
    """Quit (cancel the host) while one plugin is inside a C call and another loops in Lua."""
    import time

    from qtui.events import StatsUpdated
    from qtui.plugins.runtime import instance

    limits = instance.sandbox_limits

    def generous(manifest):  # as if an estimate had missed: the guards let a slow match through
        base = limits(manifest)
        return Limits(memory_bytes=base.memory_bytes, instructions=base.instructions,
                      cpu_seconds=base.cpu_seconds, wall_seconds=base.wall_seconds, c_steps=10**15)

    instance.sandbox_limits = generous
    host, bus, backend, tmp, plugins = await _host_with(
        ("stuck", STUCK, ["stats.read"], ""),
        # Loops for up to a second (not the default million instructions, a few milliseconds):
        # the pool starts it on a second worker once the stuck call has run for a while.
        ("looping", LOOPING, ["stats.read"], "[limits]\nwall_ms_per_call = 1000\ninstructions_per_call = 50000000\n"),
    )
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            handles = [await host.start(plugin) for plugin in plugins]
            bus.publish(StatsUpdated(await trio.to_thread.run_sync(backend.snapshot)))
            while not all(h.runtime.sandbox.busy for h in handles):
                await trio.sleep(0.005)
            started = time.monotonic()
            nursery.cancel_scope.cancel()
        return {"quit_seconds": time.monotonic() - started}
    finally:
        backend.close()
        tmp.cleanup()


def main(argv: list[str]) -> int:
    if argv[0] == "sandbox":
        print(json.dumps({"pushed": sandbox_run(int(argv[1]))}))
    elif argv[0] == "quit":
        print(json.dumps(trio.run(quit_run)), flush=True)
    else:
        print(json.dumps(trio.run(host_run)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
