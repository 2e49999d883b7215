"""Soak: 10 plugins, a million stats events and a thousand hot reloads. Does the host hold steady?

    python -m qtui.bench soak [--plugins 10] [--events 1000000] [--reloads 1000] [--every 100000]

Stats events (a 10-queue snapshot, new every time) are published in bursts, as a fast poller
would; a plugin that falls behind gets the latest one (stats coalesce), as in the console.
Every plugin renders a line per queue. Spread over the run, plugins are hot reloaded in turn
with changed code (a new runtime, its syntax check, deactivate and activate with the state).
Every `--every` events the table shows the process's RSS, open file descriptors and threads,
and each plugin's Lua heap. Target: after warm-up (the first row) RSS grows by at most 2 MiB,
and descriptors and threads stay flat. There is no other tool to compare with: the floor is
the first row.
"""

from __future__ import annotations

import argparse
import collections
import gc
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import trio

from qtui.bench.plugins import bench_host, write_plugins
from qtui.events import StatsUpdated
from qtui.model import JobState, QueueStats, Snapshot
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest

PANEL = """
local seen = 0
function activate(ctx)
  seen = (ctx.state and ctx.state.seen) or 0
  qtui.subscribe("stats")
end
function on_event(e)
  seen = seen + 1
  local lines = {"seen " .. seen}
  for _, q in ipairs(e.queues) do
    lines[#lines + 1] = {{text = q.name, style = "bold"}, string.format(" ready=%d dead=%d %.1f/min",
                                                                           q.ready, q.dead, q.enqueued_per_min)}
  end
  qtui.render(lines)
end
function deactivate() return {seen = seen} end
"""
QUEUES = 10
BURST = 500


class WarningCount(logging.Handler):
    """Counts the host's warnings by their first words instead of printing them in the table."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        _, _, what = message.partition(": ")  # "soak-3: deactivate did not finish ..." -> what happened
        self.counts[" ".join((what or message).split()[:5])] += 1


def status(field: str) -> int:
    """A number from /proc/self/status (VmRSS in KiB, Threads)."""
    with open(f"/proc/{os.getpid()}/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field + ":"))


def open_fds() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


def snapshot(n: int) -> Snapshot:
    queues = tuple(QueueStats(f"queue-{q}", {JobState.READY: (n + q) % 997, JobState.DEAD: q},
                              enqueued_per_min=float(n % 60)) for q in range(QUEUES))
    return Snapshot(queues, (), float(n))


async def soak(plugin_count: int, events: int, reloads: int, every: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plugins = write_plugins(root / "plugins", plugin_count, lua=PANEL, permissions=("stats.read",),
                                prefix="soak")
        host, bus, backend = bench_host(root, plugins)
        reload_every = max(events // max(reloads, 1), 1)
        reloaded = 0
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            for plugin in plugins:
                await host.start(plugin)
            for n in range(1, events + 1):
                bus.publish(StatsUpdated(snapshot(n)))
                if n % BURST == 0:
                    await trio.sleep(0.001)  # the plugins' threads run meanwhile; the slow ones coalesce
                if reloads and n % reload_every == 0 and reloaded < reloads:
                    plugin = plugins[reloaded % plugin_count]
                    (plugin.folder / "init.lua").write_text(PANEL + f"\n-- reload {reloaded}\n")
                    await host.reload(Plugin(load_manifest(plugin.folder), plugin.folder, Source.USER),
                                      carry_decisions=True)
                    reloaded += 1
                if n % every == 0:
                    await trio.sleep(0.2)  # let the plugins catch up before measuring
                    gc.collect()
                    handles = [host.plugins[p.manifest.name] for p in plugins]
                    rows.append({
                        "events": n, "reloads": reloaded, "rss": status("VmRSS"), "fds": open_fds(),
                        "threads": status("Threads"), "python_threads": threading.active_count(),
                        "heaps": [h.runtime.sandbox.memory_used() if h.runtime else 0 for h in handles],
                        "states": {str(h.state) for h in handles},
                    })
            nursery.cancel_scope.cancel()
        backend.close()
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench soak", description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=10)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reloads", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100_000, help="events between rows")
    args = parser.parse_args(argv)
    warnings = WarningCount()
    qtui_log = logging.getLogger("qtui")
    qtui_log.addHandler(warnings)
    qtui_log.propagate = False
    started = time.perf_counter()
    rows = trio.run(soak, args.plugins, args.events, args.reloads, args.every)
    print(f"Soak: {args.plugins} plugins, {args.events:,} stats events, {args.reloads:,} hot reloads "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"{'events':>10}{'reloads':>9}{'RSS KiB':>10}{'fds':>6}{'threads':>9}  Lua heap KiB per plugin")
    for row in rows:
        heaps = " ".join(f"{heap // 1024}" for heap in row["heaps"])
        print(f"{row['events']:10,}{row['reloads']:9,}{row['rss']:10,}{row['fds']:6}{row['threads']:9}  {heaps}")
    first, last = rows[0], rows[-1]
    growth = (last["rss"] - first["rss"]) / 1024
    print(f"\nafter warm-up: RSS {growth:+.1f} MiB (target at most +2), fds {last['fds'] - first['fds']:+d}, "
          f"threads {last['threads'] - first['threads']:+d} (targets 0); plugin states at the end: "
          f"{', '.join(sorted(last['states']))}")
    for what, count in warnings.counts.most_common():
        print(f"warnings: {count:,} x {what} ...")
    return 0
