"""Plugin costs: per event per plugin against lupa's floors, limit trips under load, idle console CPU.

    python -m qtui.bench plugins [--events 2000] [--repeat 3] [--jobs 1000000] [--rq-jobs 100000]
                                 [--idle-seconds 120] [--no-idle] [--long EVENTS]

1. A 20-queue stats event (StatsUpdated, as the poller publishes it) through a real PluginHost
   to 1, 5 and 20 plugins that sum a column, one event at a time so that every plugin handles
   every event: the process's CPU and the wall time per event per plugin, and per call the
   wall time against the calling thread's CPU time. Beside it the floors: a bare lupa call
   with a prebuilt table, one that builds the table from the same data, and one that loads
   the chunk qtui prepares for the event: what each plugin's Lua state of its own costs at
   the least, without limits, threads or Python around the call. The CPU per event
   is then split, by least squares over the plugin counts, into a part every plugin shares
   (publishing, preparing the event, waking a worker, and this benchmark's wait for idle) and
   a part per plugin; preparing the event is also timed alone.
2. Twenty plugins, each using half its CPU-time and instruction budget on every event: trips.
3. Sandbox overhead with the limits armed (same code in bare lupa, with a count hook, sandboxed).
4. CPU per minute of an idle console (80x24, --refresh 2) on a 1M-job SQLite database and on
   RQ data, with no plugins and with the four bundled plugins, and `rq info -i 2` on the same
   RQ data.

Figures are the minimum and median of the repeats.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import lupa.lua54 as lua54
import trio

from qtui.backends import open_backend
from qtui.bench import idle
from qtui.bench import sandbox as sandbox_bench
from qtui.bus import EventBus
from qtui.clock import SYSTEM_CLOCK
from qtui.events import StatsUpdated
from qtui.model import JobState, QueueStats, Snapshot
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import MAX_LIMITS
from qtui.plugins.bundles.manifest import Limits as ManifestLimits
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHost
from qtui.plugins.runtime.prepared import prepare
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy
from qtui.sqlite_queue import SQLiteQueue

HANDLER = """
local seen, ready = 0, 0
function activate() qtui.subscribe("stats") end
function on_event(e)
  seen = seen + 1
  for _, q in ipairs(e.queues) do ready = ready + q.ready end
end
"""

# Spins `iterations` times per event: the half-budget plugin of section 2.
BURNER = """
function activate() qtui.subscribe("stats") end
function on_event(e)
  local x = 0
  for i = 1, {iterations} do x = x + i % 7 end
  return x
end
"""

QUEUES = 20


def snapshot(serial: int) -> Snapshot:
    """A 20-queue snapshot whose numbers move with `serial` (a few queues change each time)."""
    queues = []
    for n in range(QUEUES):
        moving = serial if n % 4 == serial % 4 else 0
        counts = {JobState.READY: 100 * n + moving, JobState.SCHEDULED: n, JobState.PROCESSING: 2,
                  JobState.COMPLETED: 10_000 + n + serial, JobState.DEAD: 3}
        queues.append(QueueStats(f"queue-{n}", counts, 12.5 + n, 11.0, 0.5,
                                 oldest_ready_at=1_700_000_000.0 - n, history=()))
    return Snapshot(tuple(queues), (), 1_700_000_000.0 + serial)


def _plain(stats: Snapshot) -> dict:
    """The stats event as the plain data a plugin sees (for the lupa floors)."""
    return {"type": "stats", "workers_alive": 0, "workers_seen": 0, "taken_at": stats.taken_at, "queues": [
        {"name": q.name, **{s.value: q.count(s) for s in JobState}, "enqueued_per_min": q.enqueued_per_min,
         "completed_per_min": q.completed_per_min, "failed_per_min": q.failed_per_min,
         "oldest_ready_age": stats.taken_at - (q.oldest_ready_at or 0)} for q in stats.queues]}


def _stats(samples: list[float]) -> str:
    return f"{min(samples) * 1e6:8.1f} {statistics.median(samples) * 1e6:8.1f}"


# -- 1. per event per plugin ------------------------------------------------------------


def lupa_floors(calls: int) -> tuple[tuple[float, float], ...]:
    """(CPU, wall) seconds per call of a bare lupa on_event: with a prebuilt table, building it
    field by field, and loading it from the chunk qtui prepares for the event (what a separate
    Lua state per plugin costs at the least: no limits, no thread, no Python around the call)."""
    lua = lua54.LuaRuntime(register_eval=False, register_builtins=False)
    lua.execute(HANDLER.replace('function activate() qtui.subscribe("stats") end', ""))
    on_event = lua.globals().on_event
    event = _plain(snapshot(1))

    def to_lua(value):  # noqa: ANN001, ANN202
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    prebuilt = to_lua(event)

    def timed(call: Callable[[], object]) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            call()
        return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls

    chunks = [prepare(e, shared=True).chunk for e in EVENTS]
    from_chunk = lua.eval("function(chunk) on_event(load(chunk, '=event', 'b', {})()) end")
    serials = itertools.cycle(range(len(chunks)))
    return (timed(lambda: on_event(prebuilt)), timed(lambda: on_event(to_lua(event))),
            timed(lambda: from_chunk(chunks[next(serials)])))


def write_plugins(root: Path, count: int, *, lua: str = HANDLER, permissions: tuple[str, ...] = ("stats.read",),
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


async def _with_host(root: Path, plugins: list[Plugin], work: Callable) -> object:  # noqa: ANN401
    """Run `work(host, bus, handles)` with `plugins` started in a real host on an empty SQLite queue."""
    host, bus, backend = bench_host(root, plugins)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            handles = [await host.start(p) for p in plugins]
            result = await work(host, bus, handles)
            nursery.cancel_scope.cancel()
    finally:
        backend.close()
    return result


#: Stats events made before any measurement (what the poller publishes), used in turn.
EVENTS = [StatsUpdated(snapshot(serial)) for serial in range(64)]


async def _lockstep(host: PluginHost, bus: EventBus, events: int, first: int = 0) -> None:
    """Publish `events` stats events, each once every plugin handled the one before."""
    for serial in range(first, first + events):
        bus.publish(EVENTS[serial % len(EVENTS)])
        await host.idle()


def _usage_totals(handles: list) -> tuple[int, float, float]:
    """(calls, wall seconds inside calls, CPU seconds inside calls) over every plugin."""
    usages = [h.runtime.sandbox.usage() for h in handles]
    return (sum(u.calls for u in usages), sum(u.busy_seconds for u in usages), sum(u.cpu_seconds for u in usages))


async def _host_run(host: PluginHost, bus: EventBus, handles: list, events: int) -> tuple[float, float, float, float]:
    await _lockstep(host, bus, 50)  # warm up: templates compiled, caches filled
    calls0, busy0, cpu0 = _usage_totals(handles)
    cpu, wall = time.process_time(), time.perf_counter()
    await _lockstep(host, bus, events, first=50)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    calls, busy, call_cpu = (a - b for a, b in zip(_usage_totals(handles), (calls0, busy0, cpu0), strict=True))
    deliveries = events * len(handles)
    assert calls == deliveries, f"{calls} calls for {deliveries} deliveries"
    return cpu / deliveries, wall / deliveries, busy / calls, call_cpu / calls


def host_costs(count: int, events: int) -> tuple[float, float, float, float]:
    """Per event per plugin: (process CPU, wall), and per call: (wall, thread CPU), with `count` plugins."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plugins = write_plugins(root / "plugins", count)
        return trio.run(_with_host, root, plugins,
                        lambda host, bus, handles: _host_run(host, bus, handles, events))


def per_event(events: int, repeat: int) -> None:
    print(f"1. A {QUEUES}-queue stats event, per event per plugin (µs; min and median of {repeat} runs)")
    print(f"   {'':34}{'CPU':>17}{'wall':>18}{'call wall':>18}{'call CPU':>18}{'wall/CPU':>9}")
    print(f"   {'':34}{'min  median':>17}{'min  median':>18}{'min  median':>18}{'min  median':>18}")
    floors = [lupa_floors(max(events, 2000)) for _ in range(repeat)]
    for label, index in (("floor: lupa call, prebuilt table", 0), ("floor: lupa call building the table", 1),
                         ("floor: lupa call loading qtui's chunk", 2)):
        print(f"   {label:34}{_stats([f[index][0] for f in floors]):>17}{_stats([f[index][1] for f in floors]):>18}")
    per_plugin: dict[int, list[float]] = {}
    for count in PLUGIN_COUNTS:
        runs = [host_costs(count, events) for _ in range(repeat)]
        per_plugin[count] = [r[0] for r in runs]
        ratio = statistics.median(r[2] / r[3] for r in runs)
        print(f"   {f'qtui host, {count} plugin(s)':34}{_stats([r[0] for r in runs]):>17}"
              f"{_stats([r[1] for r in runs]):>18}{_stats([r[2] for r in runs]):>18}"
              f"{_stats([r[3] for r in runs]):>18}{ratio:9.2f}")
    print("   CPU: the whole process (host, bus, workers, Lua) over events x plugins; call wall/CPU:")
    print("   one on_event call, timed by the sandbox on the wall clock and on the thread's CPU clock.")
    for label, pick in (("min", min), ("median", statistics.median)):
        fixed, each = _split_fixed({count: pick(samples) for count, samples in per_plugin.items()})
        print(f"   CPU per event = fixed + plugins x per plugin (least squares over {len(PLUGIN_COUNTS)} counts, "
              f"{label}s): {fixed * 1e6:.0f} + n x {each * 1e6:.1f} µs")
    prepares = [prepare_cost(events) for _ in range(repeat)]
    print(f"   The fixed part is shared by every plugin: publishing, preparing the event ({min(prepares) * 1e6:.1f}"
          f" µs min, {statistics.median(prepares) * 1e6:.1f} median, timed alone), waking the workers, and this")
    print("   benchmark's own wait for the plugins to be idle after each event (so that none coalesces).")
    print()


#: Plugin counts of section 1.
PLUGIN_COUNTS = (1, 5, 20)


def _split_fixed(per_plugin: dict[int, float]) -> tuple[float, float]:
    """(fixed, per plugin) seconds of CPU per event, fitted to `per_plugin` (plugin count -> CPU
    per event per plugin) by least squares on the CPU per event."""
    xs = list(per_plugin)
    ys = [per_plugin[n] * n for n in xs]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
             / sum((x - mean_x) ** 2 for x in xs))
    return mean_y - slope * mean_x, slope


def prepare_cost(events: int) -> float:
    """CPU seconds to prepare one stats event for plugins (once per event, however many receive it)."""
    start = time.process_time()
    for serial in range(events):
        prepare(EVENTS[serial % len(EVENTS)], shared=True)
    return (time.process_time() - start) / events


# -- 2. limit trips at half the budget ---------------------------------------------------


async def _trip_run(host: PluginHost, bus: EventBus, handles: list, events: int) -> tuple[int, float, float, float, float]:
    """(trips, the median and the worst plugin's mean CPU per call, the worst's wall, instructions per call)."""
    before = [h.runtime.sandbox.usage() for h in handles]  # after loading and activating
    await _lockstep(host, bus, events)
    after = [h.runtime.sandbox.usage() for h in handles]
    pairs = list(zip(before, after, strict=True))
    cpu = [(a.cpu_seconds - b.cpu_seconds) / events for b, a in pairs]
    worst_wall = max((a.busy_seconds - b.busy_seconds) / events for b, a in pairs)
    instructions = statistics.median((a.instructions - b.instructions) / events for b, a in pairs)
    return sum(a.violations for _, a in pairs), statistics.median(cpu), max(cpu), worst_wall, instructions


def _burners(plugins: int, iterations: int, instructions: int, events: int) -> tuple[int, float, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = f"\n[limits]\ninstructions_per_call = {instructions}\n"
        found = write_plugins(root / "plugins", plugins, lua=BURNER.replace("{iterations}", str(iterations)), extra=manifest)
        return trio.run(_with_host, root, found, lambda host, bus, handles: _trip_run(host, bus, handles, events))


def half_budget_trips(plugins: int, events: int) -> None:
    cpu_budget = ManifestLimits().cpu_ms_per_call / 1000
    # Calibrated in the same setting: the plugins' loop, as many at once, on this machine now.
    guess = 1_000_000
    _, cpu, _, _, instructions = _burners(plugins, guess, MAX_LIMITS.instructions_per_call, 1)
    iterations = int(guess * cpu_budget / 2 / cpu)
    used = int(instructions * iterations / guess)
    budget = min(MAX_LIMITS.instructions_per_call, 2 * used)
    start = time.perf_counter()
    trips, median_cpu, worst_cpu, worst_wall, _ = _burners(plugins, iterations, budget, events)
    elapsed = time.perf_counter() - start
    print(f"2. {plugins} plugins on {os.cpu_count()} cores, each spinning {iterations:,} iterations per event "
          f"({used:,} of {budget:,} instructions, about {cpu_budget / 2 * 1e3:.0f} of {cpu_budget * 1e3:.0f}"
          f" ms CPU), {events} events")
    print(f"   limit trips: {trips}   CPU per call: median plugin {median_cpu / cpu_budget:.0%} of the budget,"
          f" worst {worst_cpu / cpu_budget:.0%}"
          f"   mean wall per call, worst plugin: {worst_wall * 1e3:.0f} ms   ({elapsed:.1f} s)")
    print()


# -- memory over a long run ---------------------------------------------------------------


def _rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def _long_run(host: PluginHost, bus: EventBus, handles: list, events: int) -> list[tuple[int, int, int]]:
    samples = []
    step = max(events // 5, 1)
    for done in range(step, events + 1, step):
        await _lockstep(host, bus, step, first=done - step)
        samples.append((done, handles[0].runtime.sandbox.memory_used(), _rss_kib()))
    return samples


def long_run(events: int) -> None:
    """Lua heap and process RSS through `events` stats events to one plugin."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plugins = write_plugins(root / "plugins", 1)
        samples = trio.run(_with_host, root, plugins, lambda host, bus, handles: _long_run(host, bus, handles, events))
    print(f"Memory over {events:,} events to one plugin")
    print(f"   {'events':>12}{'Lua KiB':>10}{'RSS KiB':>10}")
    for done, lua_bytes, rss in samples:
        print(f"   {done:12,}{lua_bytes / 1024:10.0f}{rss:10,}")
    print()


# -- 4. idle console ----------------------------------------------------------------------


def idle_costs(jobs: int, rq_jobs: int, settle: float, seconds: float, repeat: int) -> None:
    print(f"4. Idle CPU per minute (s), 80x24, --refresh {idle.RQ_INFO_INTERVAL:g}; "
          f"{seconds:g} s measured after {settle:g} s, {repeat} repeats (python -m qtui.bench idle)")
    idle.print_rows(idle.measure_rows(jobs=jobs, db=None, rq_jobs=rq_jobs, settle=settle, seconds=seconds,
                                      repeat=repeat))
    print()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench plugins", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="stats events per host measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each per-event measurement")
    parser.add_argument("--trip-events", type=int, default=5, help="events to the 20 half-budget plugins")
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs in the SQLite database (idle console)")
    parser.add_argument("--rq-jobs", type=int, default=100_000, help="RQ jobs (idle console)")
    parser.add_argument("--idle-seconds", type=float, default=idle.MEASURE_SECONDS,
                        help="idle CPU measured over this long")
    parser.add_argument("--settle", type=float, default=idle.SETTLE_SECONDS,
                        help="seconds a console runs before measuring")
    parser.add_argument("--idle-repeat", type=int, default=3, help="measurements of each idle console row")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle console measurements")
    parser.add_argument("--long", type=int, default=0, help="events for a memory-growth run (0: skip)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1 or args.trip_events < 1:
        parser.error("--events, --repeat and --trip-events must be at least 1")
    if not args.no_idle:
        idle.check_arguments(parser, jobs=args.jobs, db=None, rq_jobs=args.rq_jobs, seconds=args.idle_seconds,
                             repeat=args.idle_repeat)

    per_event(args.events, args.repeat)
    half_budget_trips(20, args.trip_events)
    print("3. Sandbox overhead with the limits armed (python -m qtui.bench sandbox, section 1)")
    sandbox_bench.overhead(args.repeat * 3)
    if not args.no_idle:
        idle_costs(args.jobs, args.rq_jobs, args.settle, args.idle_seconds, args.idle_repeat)
    if args.long:
        long_run(args.long)
    print(f"{os.cpu_count()} CPUs; max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss:,} KiB")
    return 0
