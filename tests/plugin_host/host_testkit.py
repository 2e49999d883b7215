"""Helpers for the plugin host tests (imported by name; conftest puts this folder on sys.path)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import trio

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.events import StatsUpdated
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHost, PluginState
from qtui.sqlite_queue import SQLiteQueue
from tests.support import (
    WAIT,
    HeldWallClock,
    new_plugin_host,
    panel_lines,
    wait_panel,
    wait_until,
    write_plugin_folder,
)


def write_plugin(root: Path, name: str, lua: str, *, permissions=(), extra: str = "", version="1.0.0",
                 files: dict[str, str] | None = None) -> Plugin:
    folder = write_plugin_folder(root / name, name, lua, permissions, version=version, extra=extra)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(textwrap.dedent(text))
    return Plugin(load_manifest(folder), folder, Source.USER)


#: A benign plugin beside an attacker: it renders timer ticks and the stats events it gets.
NEIGHBOUR = """
    local ticks, stats = 0, 0
    function activate()
      qtui.subscribe("stats")
      qtui.every("tick", 0.1)
    end
    function on_event(e)
      if e.type == "timer" then ticks = ticks + 1 end
      if e.type == "stats" then stats = stats + 1 end
      qtui.render({"ticks " .. ticks, "stats " .. stats})
    end
"""


class Harness:
    """A host on a queue with an email backlog; its clock's wall time moves only when a test says."""

    def __init__(self, tmp_path: Path, clock: HeldWallClock, backend, host: PluginHost, bus: EventBus) -> None:
        self.tmp_path = tmp_path
        self.clock = clock
        self.backend = backend
        self.host = host
        self.bus = bus
        self.confirmations: list[str] = []
        self.answer = True
        self.hold: trio.Event | None = None  # when set, the operator answers once it fires

    def plugin(self, name: str, lua: str, **kwargs) -> Plugin:
        return write_plugin(self.tmp_path / "plugins", name, lua, **kwargs)

    async def start(self, plugin: Plugin, *, grant_all: bool = True):
        if grant_all and plugin.manifest.permissions:
            from qtui.plugins.bundles.bundle import bundle_hash

            self.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
        return await self.host.start(plugin)

    def text(self, name: str) -> list[str]:
        return panel_lines(self.host.plugins[name])

    async def wait(self, predicate, timeout: float = WAIT) -> None:
        await wait_until(predicate, timeout=timeout)

    async def wait_text(self, name: str, needle: str, timeout: float = WAIT) -> list[str]:
        return await wait_panel(self.host, name, needle, timeout)

    def audit(self) -> list:
        return list(self.host.audit.read().entries)

    async def start_neighbour(self, *, stats: bool = True):
        if stats:
            return await self.start(self.plugin("neighbour", NEIGHBOUR, permissions=["timers", "stats.read"]))
        lua = NEIGHBOUR.replace('qtui.subscribe("stats")', "")
        return await self.start(self.plugin("neighbour", lua, permissions=["timers"]))

    def neighbour_counts(self) -> tuple[int, int]:
        """(timer ticks, stats events) the neighbour has rendered."""
        lines = self.text("neighbour")
        if len(lines) < 2:
            return 0, 0
        return int(lines[0].split()[1]), int(lines[1].split()[1])

    async def assert_neighbour_works(self, *, stats: bool = True) -> None:
        """The neighbour renders new timer ticks (and receives a new stats event)."""
        ticks, seen = self.neighbour_counts()
        if stats:
            self.bus.publish(StatsUpdated(await trio.to_thread.run_sync(self.backend.snapshot)))
        await self.wait(lambda: self.neighbour_counts()[0] >= ticks + 2
                        and (not stats or self.neighbour_counts()[1] > seen))
        assert self.host.plugins["neighbour"].state is PluginState.RUNNING


def build_harness(root: Path) -> Harness:
    """A host on a fresh SQLite queue with its files in `root` (start it with host.run)."""
    db = root / "queue.db"
    clock = HeldWallClock()
    with SQLiteQueue.open(db, create=True, clock=clock) as q:
        q.enqueue("email", {"n": 99}, max_attempts=1)
        for n in range(5):
            q.enqueue("email", {"n": n, "tenant": "acme"})
        worker = q.worker(["email"], worker_id="w")
        for _ in range(2):  # n=99 goes dead, n=0 waits for a retry
            worker.fail(worker.reserve(), "smtp down")
    backend = open_backend(db, clock=clock)
    bus = EventBus()
    harness = None

    async def confirm(handle, confirmation):
        harness.confirmations.append(f"{handle.name}: {confirmation}")
        if harness.hold is not None:
            await harness.hold.wait()
        return harness.answer

    host = new_plugin_host(root, backend, bus, clock=clock, confirmer=confirm)
    harness = Harness(root, clock, backend, host, bus)
    return harness


__all__ = ["NEIGHBOUR", "Harness", "PluginState", "build_harness", "write_plugin"]
