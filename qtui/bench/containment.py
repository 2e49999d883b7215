"""Containment: hostile plugins, one kind at a time, each beside a benign neighbour.

    python -m qtui.bench containment [--repeats 3] [--only NAME ...]

Each attack runs in a process of its own (a plugin that could crash the host would end it,
and is counted): a host on an SQLite queue runs a neighbour that renders on a 100 ms timer
and an attacking plugin. Once the neighbour is rendering, one stats event (or a reload, or a
stop) sets the attacker off. The table shows, per attack:

  stop ms     from the trigger to the attacker refused, errored, quarantined or done (min and
              median), against its budget (its time per call; a call stuck in C gets the
              backstop's grace on top); target: within budget + 50 ms
  stop() ms   how long host.stop() of the attacker took afterwards (target: under 100 ms)
  gap ms      the neighbour's longest time between two renders from the trigger until the
              attacker stopped (median); target: at most twice its timer interval
  RSS MiB     the process before the trigger, at its peak, and after the attacker stopped and
              was collected (medians); target: after within 5 MiB of before
  exits       runs whose process did not end normally (target: 0)

There is no other tool to compare with: the floor is the budget.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

from qtui.backends import open_backend
from qtui.bench.plugins import bench_host, write_plugins
from qtui.bench.soak import status
from qtui.clock import SYSTEM_CLOCK
from qtui.events import StatsUpdated
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime import instance
from qtui.plugins.runtime.host import BACKSTOP_GRACE, PluginHandle, PluginHost, PluginState
from qtui.sanitize import visible
from qtui.sqlite_queue import SQLiteQueue

#: The neighbour's timer interval; its renders should never be further apart than twice this.
TICK = 0.1
NEIGHBOUR = f"""
local ticks = 0
function activate() qtui.every("tick", {TICK}) end
function on_event(e) ticks = ticks + 1 qtui.render({{"ticks " .. ticks}}) end
"""
#: Longest wait for an attacker to stop before the run counts as not stopped.
GIVE_UP = 20.0
BIG_BUDGET = "[limits]\nmemory_mib = 64\ninstructions_per_call = 50000000\nwall_ms_per_call = 1000\n"


@attrs.frozen
class Attack:
    """One kind of hostile plugin: `body` runs when the trigger comes."""

    what: str
    body: str
    permissions: tuple[str, ...] = ()
    limits: str = ""
    trigger: str = "stats"  # stats: one stats event; reload: a hot reload; stop: host.stop while busy
    seed_jobs: int = 0  # 60 KB jobs in queue "bulk" before the run
    guards_off: bool = False  # library guards let anything through, as an estimate that missed would
    deactivate: str = ""  # the body of deactivate()

    def lua(self) -> str:
        return f"""
function activate() qtui.subscribe("stats") end
function on_event(e)
  if e.type == "action" then error("refused: " .. tostring(e.error)) end
  if e.type ~= "stats" then return end
  {self.body}
  qtui.render({{"done"}})
end
function deactivate() {self.deactivate} end
"""


ATTACKS: dict[str, Attack] = {
    "instructions": Attack("an endless loop", "while true do end"),
    "wall time": Attack("a loop with a big instruction budget", "while true do end", limits=BIG_BUDGET),
    "memory": Attack("hoarding memory", "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end"),
    "deep message": Attack("publishing a 40-level table",
                           "local t = {} for i = 1, 40 do t = {t} end qtui.publish('plugin.attacker-0.deep', t)"),
    "20 MiB message": Attack("publishing a 20 MiB string",
                             "qtui.publish('plugin.attacker-0.big', ('x'):rep(2^20):rep(20))", limits=BIG_BUDGET),
    "big peek": Attack("peeking 500 jobs of 60 KB", "qtui.jobs.peek({queue = 'bulk', limit = 500})",
                       permissions=("jobs.peek",), seed_jobs=500),
    "string.rep": Attack("string.rep of 10^15", "local s = ('x'):rep(1e15)"),
    "pattern set": Attack("a 200-item set over a megabyte",
                          "local s = ('a'):rep(2^20):find('[' .. ('b'):rep(200) .. ']')"),
    "gsub": Attack("gsub with an amplifying replacement", "local s = ('a'):rep(1e5):gsub('.', ('x'):rep(1e4))"),
    "load": Attack("load of a chunk that takes minutes to compile", "load('return x' .. (' or x'):rep(200000))",
                   limits=BIG_BUDGET),
    "stuck in C": Attack("a find the guards let through (backstop)", "local s = ('a'):rep(15000):find('.-b')",
                         guards_off=True),
    "log refs": Attack("qtui.log of 20,000 references to 1 MiB",
                       "local m = ('x'):rep(2^20) local t = {} for i = 1, 20000 do t[i] = m end qtui.log('info', t)",
                       limits=BIG_BUDGET),
    "renders": Attack("10,000 renders of 32,000 cells",
                      "local l = {} for i = 1, 16 do l[i] = ('r'):rep(2000) end for i = 1, 1e4 do qtui.render(l) end",
                      limits=BIG_BUDGET),
    "log flood": Attack("100,000 log lines, prints and notices",
                        "for i = 1, 1e5 do qtui.log('info', 'line ' .. i) print(i) qtui.notify('n' .. i) end",
                        permissions=("notify",), limits=BIG_BUDGET),
    "audit flood": Attack("20,000 refused calls", "for i = 1, 20000 do pcall(qtui.jobs.purge, 'q', 'dead') end",
                          limits=BIG_BUDGET),
    "enqueue": Attack("enqueue of a 5 MiB payload", "qtui.jobs.enqueue('q', {blob = ('x'):rep(2^20):rep(5)})",
                      permissions=("jobs.enqueue",), limits=BIG_BUDGET),
    "hostile text": Attack("an error of ESC sequences and bidi overrides",
                           "qtui.log('warning', '\\27]52;c;ZXZpbA==\\7') error('\\27[2J\\u{202E}evil \\xff')"),
    "deep state": Attack("deactivate returning a 40-level table on reload", "",
                         deactivate="local t = {} for i = 1, 40 do t = {t} end return t", trigger="reload"),
    "busy stop": Attack("stop while on_event and deactivate loop", "while true do end",
                        deactivate="while true do end", limits=BIG_BUDGET, trigger="stop"),
}


def budget_seconds(attack: Attack, handle: PluginHandle) -> float:
    """What the attacker's stop is measured against: its time per call (plus the backstop's grace)."""
    seconds = handle.manifest.limits.wall_ms_per_call / 1000
    return seconds + (BACKSTOP_GRACE if attack.guards_off else 0.0)


def stopped(handle: PluginHandle) -> bool:
    return (handle.errors > 0 or handle.state in (PluginState.QUARANTINED, PluginState.ERRORED)
            or any("done" in "".join(span.text for span in line) for line in handle.panel))


def _guards_off() -> None:
    limits = instance.sandbox_limits

    def without_guards(manifest):  # noqa: ANN001, ANN202
        return attrs.evolve(limits(manifest), c_steps=10**15)

    instance.sandbox_limits = without_guards


async def _run(name: str) -> dict:
    attack = ATTACKS[name]
    if attack.guards_off:
        _guards_off()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "queue.db"
        with SQLiteQueue.open(db, create=True, clock=SYSTEM_CLOCK.time) as queue:
            for _ in range(attack.seed_jobs):
                queue.enqueue("bulk", '{"blob": "' + "x" * 60_000 + '"}')
        [neighbour] = write_plugins(root / "plugins", 1, lua=NEIGHBOUR, permissions=("timers",), prefix="neighbour")
        [attacker] = write_plugins(root / "plugins", 1, lua=attack.lua(), extra=attack.limits, prefix="attacker",
                                   permissions=("stats.read", *attack.permissions))
        host, bus, backend = bench_host(root, [neighbour, attacker], open_backend(db, clock=SYSTEM_CLOCK.time))
        try:
            return await _attack(attack, host, bus, backend, neighbour, attacker)
        finally:
            backend.close()


async def _attack(attack: Attack, host: PluginHost, bus, backend, neighbour: Plugin, attacker: Plugin) -> dict:  # noqa: ANN001
    renders: list[float] = []
    rss = [status("VmRSS")]
    result: dict = {}

    async def sample(task_status=trio.TASK_STATUS_IGNORED) -> None:  # noqa: ANN001
        seen = None
        task_status.started()
        while True:
            panel = host.plugins[neighbour.manifest.name].panel
            if panel != seen:
                seen = panel
                renders.append(trio.current_time())
            rss.append(status("VmRSS"))
            await trio.sleep(0.002)

    async with trio.open_nursery() as nursery:
        await nursery.start(host.run)
        await host.start(neighbour)
        handle = await host.start(attacker)
        await nursery.start(sample)
        while len(renders) < 4:
            await trio.sleep(0.01)
        gc.collect()
        before = status("VmRSS")
        rss.clear()
        snapshot = await trio.to_thread.run_sync(backend.snapshot)
        started = trio.current_time()
        if attack.trigger == "reload":
            (attacker.folder / "init.lua").write_text(attack.lua() + "\n-- v2\n")
            await host.reload(Plugin(load_manifest(attacker.folder), attacker.folder, Source.USER),
                              carry_decisions=True)
            done = trio.current_time()
            ok = handle.error is not None  # the old code's, which could not hand over its state
        else:
            bus.publish(StatsUpdated(snapshot))
            if attack.trigger == "stop":
                while not (handle.runtime and handle.runtime.sandbox.busy):
                    await trio.sleep(0.001)
                started = trio.current_time()
                await host.stop(handle.name)
                done = trio.current_time()
                ok = host.plugins[handle.name].state is PluginState.STOPPED
            else:
                with trio.move_on_after(GIVE_UP):
                    while not stopped(handle):
                        await trio.sleep(0.001)
                done = trio.current_time()
                ok = stopped(handle)
        await trio.sleep(0.3)  # the neighbour goes on meanwhile
        gaps = [b - a for a, b in zip(renders, renders[1:], strict=False) if b >= started - TICK and a <= done]
        result.update(
            ok=ok, stop=done - started, budget=budget_seconds(attack, handle), gap=max(gaps, default=float("nan")),
            outcome=str(handle.state), reason=visible(handle.reason or str(handle.error or "")),
        )
        stop_started = trio.current_time()
        await host.stop(handle.name)
        result["stop_call"] = trio.current_time() - stop_started
        peak = max(rss, default=before)
        gc.collect()
        await trio.sleep(0.3)
        gc.collect()
        result.update(rss_before=before, rss_peak=max(peak, status("VmRSS")), rss_after=status("VmRSS"))
        nursery.cancel_scope.cancel()
    return result


def child(name: str) -> int:
    """Run one attack and print its figures as one JSON line."""
    result = trio.run(_run, name)
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # a thread abandoned in C may still be running: nothing waits for it


def run_once(name: str) -> dict | None:
    """One attack in a child process: its figures, or None if the process did not end normally."""
    process = subprocess.run([sys.executable, "-m", "qtui.bench", "containment", "--child", name],
                             capture_output=True, text=True, timeout=120)
    if process.returncode != 0 or not process.stdout.strip():
        sys.stderr.write(f"{name}: exit {process.returncode}\n{process.stderr[-2000:]}\n")
        return None
    return json.loads(process.stdout.strip().splitlines()[-1])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench containment", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(ATTACKS), help="these attacks only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    names = args.only or list(ATTACKS)
    print(f"Containment: each attack beside a neighbour rendering every {_ms(TICK)} ms, "
          f"{args.repeats} runs each, a process per run")
    print(f"{'attack':<16}{'stop ms':>14}{'budget':>8}{'stop()':>8}{'gap ms':>8}"
          f"{'RSS MiB before/peak/after':>27}{'exits':>6}  outcome")
    misses: list[str] = []
    for name in names:
        runs = [run_once(name) for _ in range(args.repeats)]
        good = [r for r in runs if r is not None]
        exits = len(runs) - len(good)
        if not good:
            print(f"{name:<16}{'':>14}{'':>8}{'':>8}{'':>8}{'':>27}{exits:>6}")
            misses.append(f"{name}: every run exited")
            continue
        stops = [r["stop"] for r in good]
        median: Callable[[str], float] = lambda key: statistics.median(r[key] for r in good)  # noqa: E731
        budget = good[0]["budget"]
        rss = "/".join(_mib(median(key)) for key in ("rss_before", "rss_peak", "rss_after"))
        outcome = good[-1]["outcome"] + ("" if all(r["ok"] for r in good) else " (not stopped)")
        outcome += f": {good[-1]['reason'][:60]}" if good[-1]["reason"] else ""
        print(f"{name:<16}{_ms(min(stops)):>7}/{_ms(statistics.median(stops)):<6}{_ms(budget):>8}"
              f"{_ms(max(r['stop_call'] for r in good)):>8}{_ms(median('gap')):>8}{rss:>27}{exits:>6}  {outcome}")
        if max(stops) > budget + 0.05:
            misses.append(f"{name}: stopped after {_ms(max(stops))} ms (budget {_ms(budget)} + 50)")
        if max(r["stop_call"] for r in good) > 0.1:
            misses.append(f"{name}: host.stop took {_ms(max(r['stop_call'] for r in good))} ms")
        if median("gap") > 2 * TICK:
            misses.append(f"{name}: the neighbour went {_ms(median('gap'))} ms without a render")
        if median("rss_after") - median("rss_before") > 5 * 1024:
            misses.append(f"{name}: RSS {_mib(median('rss_after') - median('rss_before'))} MiB above before")
        if exits:
            misses.append(f"{name}: {exits} process exits")
        if not all(r["ok"] for r in good):
            misses.append(f"{name}: not stopped within {GIVE_UP:g} s")
    print(f"\ntargets missed: {len(misses)}")
    for miss in misses:
        print(f"  {miss}")
    return 0
