"""A real plugin host on a real SQLite queue, to run the documented plugins and check the documented shapes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import trio

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.events import Notice
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHost
from qtui.sqlite_queue import SQLiteQueue
from tests.support import HeldWallClock, new_plugin_host, panel_lines, publish_stats, wait_panel


def write_plugin(folder: Path, manifest: str, lua: str) -> Plugin:
    """A plugin folder with these two files, loaded as the user's."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.toml").write_text(textwrap.dedent(manifest))
    (folder / "init.lua").write_text(textwrap.dedent(lua))
    return Plugin(load_manifest(folder), folder, Source.USER)


class Host:
    """A started PluginHost with everything it writes under tmp_path; grants what plugins request."""

    def __init__(self, tmp_path: Path, backend, host: PluginHost, bus: EventBus) -> None:
        self.tmp_path = tmp_path
        self.backend = backend
        self.host = host
        self.bus = bus
        self.confirmations: list[str] = []
        self.answer = True  # what the operator answers each confirmation
        self.notices = bus.subscribe("test notices", (Notice,), capacity=100)

    def plugin(self, name: str, manifest: str, lua: str) -> Plugin:
        return write_plugin(self.tmp_path / "plugins" / name, manifest, lua)

    async def start(self, plugin: Plugin, handoff=None):
        if plugin.manifest.permissions:
            self.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
        return await self.host.start(plugin, handoff=handoff)

    def text(self, name: str) -> list[str]:
        return panel_lines(self.host.plugins[name])

    async def wait_text(self, name: str, needle: str) -> list[str]:
        return await wait_panel(self.host, name, needle)

    async def publish_stats(self) -> None:
        await publish_stats(self.backend, self.bus)

    def notices_so_far(self) -> list[Notice]:
        found = []
        while True:
            try:
                found.append(self.notices.receive_nowait())
            except trio.WouldBlock:
                return found


@pytest.fixture
async def plugin_host(tmp_path: Path, nursery, monkeypatch) -> Host:
    """Queue email: 4 ready, 1 scheduled, 1 dead ("smtp down")."""
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    db = tmp_path / "queue.db"
    clock = HeldWallClock()
    with SQLiteQueue.open(db, create=True, clock=clock) as q:
        q.enqueue("email", {"n": 99}, max_attempts=1)
        for n in range(5):
            q.enqueue("email", {"n": n})
        worker = q.worker(["email"], worker_id="w")
        for _ in range(2):  # n=99 goes dead, n=0 waits for a retry
            worker.fail(worker.reserve(), "smtp down")
    backend = open_backend(db, clock=clock)
    bus = EventBus()
    harness: Host | None = None

    async def confirm(handle, confirmation):
        harness.confirmations.append(f"{handle.name}: {confirmation}")
        return harness.answer

    host = new_plugin_host(tmp_path, backend, bus, clock=clock, confirmer=confirm)
    harness = Host(tmp_path, backend, host, bus)
    await nursery.start(host.run)
    yield harness
    backend.close()
