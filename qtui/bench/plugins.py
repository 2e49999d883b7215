"""Plugin host costs: per event per plugin against a raw lupa call, memory per plugin and over time.

    python -m qtui.bench plugins [--events 20000] [--long 1000000]

Events are bus messages carrying a stats-sized table (20 queues), published in
bursts no larger than a plugin's channel so nothing is dropped or coalesced:
every event reaches every plugin, converted and handed to real Lua.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import textwrap
import time
from pathlib import Path

import lupa.lua54 as lua54
import trio

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.clock import SYSTEM_CLOCK
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.events import PluginMessage, to_plain
from qtui.plugins.runtime.host import CHANNEL_CAPACITY, PluginHost
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy
from qtui.sqlite_queue import SQLiteQueue

HANDLER = """
local seen, ready = 0, 0
function activate() qtui.listen("bench.") end
function on_event(e)
  seen = seen + 1
  for _, q in ipairs(e.data.queues) do ready = ready + q.ready end
end
"""

SAMPLE = {
    "queues": [
        {"name": f"queue-{n}", "ready": n, "scheduled": 0, "processing": 2, "completed": 1000 + n, "dead": 3,
         "enqueued_per_min": 12.5, "completed_per_min": 11.0, "failed_per_min": 0.5}
        for n in range(20)
    ]
}


def raw_lupa_cost(calls: int) -> tuple[float, float]:
    """Seconds per call: (prebuilt table, table built from the same Python data each call)."""
    lua = lua54.LuaRuntime(register_eval=False, register_builtins=False)
    lua.execute(HANDLER.replace('function activate() qtui.listen("bench.") end', ""))
    on_event = lua.globals().on_event
    event = {"type": "message", "topic": "bench.x", "sender": "bench", "data": SAMPLE}

    def to_lua(value):  # noqa: ANN001, ANN202
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    prebuilt = to_lua(event)
    start = time.perf_counter()
    for _ in range(calls):
        on_event(prebuilt)
    prebuilt_cost = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        on_event(to_lua(event))
    return prebuilt_cost, (time.perf_counter() - start) / calls


def write_plugins(root: Path, count: int, *, lua: str = HANDLER, permissions: tuple[str, ...] = ("bus.subscribe",),
                  extra: str = "", prefix: str = "bench") -> list[Plugin]:
    """`count` plugin folders PREFIX-0... under `root`, each running `lua`."""
    plugins = []
    for n in range(count):
        folder = root / f"{prefix}-{n}"
        folder.mkdir(parents=True)
        (folder / "manifest.toml").write_text(textwrap.dedent(f"""\
            name = "{prefix}-{n}"
            version = "1.0.0"
            description = "benchmark plugin"
            api = "1"
            permissions = [{", ".join(f'"{p}"' for p in permissions)}]
            """) + extra)
        (folder / "init.lua").write_text(lua)
        plugins.append(Plugin(load_manifest(folder), folder, Source.USER))
    return plugins


def bench_host(root: Path, plugins: list[Plugin], backend=None):  # noqa: ANN001, ANN201 - (host, bus, backend)
    """A plugin host on an empty SQLite queue (or `backend`) in `root`, `plugins` granted what they ask."""
    if backend is None:
        db = root / "queue.db"
        SQLiteQueue.open(db, create=True).close()
        backend = open_backend(db, clock=SYSTEM_CLOCK.time)
    bus = EventBus()
    store = PermissionStore(root / "permissions.toml")
    host = PluginHost(backend, bus, clock=SYSTEM_CLOCK, store=store, policy=SitePolicy(),
                      audit=AuditLog(root / "audit.jsonl"),
                      settings=SettingsStore(root / "settings.toml"), storage_dir=root / "data")
    for plugin in plugins:
        store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
    return host, bus, backend


async def _host(root: Path, count: int):  # noqa: ANN202 - (host, bus, plugins, backend)
    plugins = write_plugins(root / "plugins", count)
    host, bus, backend = bench_host(root, plugins)
    return host, bus, plugins, backend


async def _pump(bus: EventBus, handles: list, events: int) -> float:
    """Publish `events` messages in channel-sized bursts; seconds until every plugin handled all."""
    subscriptions = [h.subscription for h in handles]
    start = time.perf_counter()
    sent = 0
    while sent < events:
        burst = min(CHANNEL_CAPACITY, events - sent)
        for _ in range(burst):
            bus.publish(PluginMessage("bench.stats", "bench", SAMPLE))
        sent += burst
        while any(s.delivered < sent for s in subscriptions):
            await trio.sleep(0.0005)  # not sleep(0): a spinning loop would take the GIL from the plugins
    elapsed = time.perf_counter() - start
    assert all(s.dropped == 0 and s.coalesced == 0 for s in subscriptions)
    return elapsed


async def host_cost(count: int, events: int) -> tuple[float, int]:
    """(seconds per event per plugin, Lua bytes per plugin) with `count` plugins."""
    with tempfile.TemporaryDirectory() as tmp:
        host, bus, plugins, backend = await _host(Path(tmp), count)
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            handles = [await host.start(p) for p in plugins]
            await _pump(bus, handles, min(events, 1000))  # warm up
            for h in handles:
                h.subscription.delivered = 0
            elapsed = await _pump(bus, handles, events)
            memory = sum(h.runtime.sandbox.memory_used() for h in handles) // count
            nursery.cancel_scope.cancel()
        backend.close()
    return elapsed / (events * count), memory


def _rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def long_run(events: int) -> list[tuple[int, int, int]]:
    """(events so far, Lua bytes, process RSS KiB) through `events` events to one plugin."""
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        host, bus, plugins, backend = await _host(Path(tmp), 1)
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            handle = await host.start(plugins[0])
            step = max(events // 5, 1)
            done = 0
            while done < events:
                await _pump(bus, [handle], step)
                done += step
                handle.subscription.delivered = 0
                samples.append((done, handle.runtime.sandbox.memory_used(), _rss_kib()))
            nursery.cancel_scope.cancel()
        backend.close()
    return samples


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench plugins", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per host measurement")
    parser.add_argument("--long", type=int, default=1_000_000, help="events for the memory-growth run (0: skip)")
    args = parser.parse_args(argv)

    prebuilt, built = raw_lupa_cost(20_000)
    start = time.perf_counter()
    for _ in range(5_000):
        to_plain(PluginMessage("bench.stats", "bench", SAMPLE))
    conversion = (time.perf_counter() - start) / 5_000

    print("Plugin host cost per event per plugin (event: 20-queue stats table)")
    print(f"{'':28}{'µs/event/plugin':>16}{'x raw (built)':>15}{'Lua KiB/plugin':>16}")
    print(f"{'raw lupa call, prebuilt':28}{prebuilt * 1e6:16.1f}{'':>15}{'':>16}")
    print(f"{'raw lupa call + table build':28}{built * 1e6:16.1f}{1.0:15.1f}{'':>16}")
    print(f"{'cattrs to_plain (per event)':28}{conversion * 1e6:16.1f}{'':>15}{'':>16}")
    for count in (1, 5, 20):
        cost, memory = trio.run(host_cost, count, args.events)
        print(f"{f'host, {count} plugin(s)':28}{cost * 1e6:16.1f}{cost / built:15.1f}{memory / 1024:16.0f}")

    if not args.long:
        return 0
    print(f"\nMemory over {args.long:,} events to one plugin")
    print(f"{'events':>12}{'Lua KiB':>10}{'RSS KiB':>10}")
    for done, lua_bytes, rss in trio.run(long_run, args.long):
        print(f"{done:12,}{lua_bytes / 1024:10.0f}{rss:10,}")
    print(f"\nmax RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss:,} KiB")
    return 0
