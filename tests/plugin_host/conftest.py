"""A plugin host on a real SQLite queue, with its files in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHost, PluginState
from qtui.sqlite_queue import SQLiteQueue
from tests.support import HeldWallClock, new_plugin_host, panel_lines, wait_panel, wait_until, write_plugin_folder


def write_plugin(root: Path, name: str, lua: str, *, permissions=(), extra: str = "", version="1.0.0",
                 files: dict[str, str] | None = None) -> Plugin:
    folder = write_plugin_folder(root / name, name, lua, permissions, version=version, extra=extra)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(textwrap.dedent(text))
    return Plugin(load_manifest(folder), folder, Source.USER)


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

    def plugin(self, name: str, lua: str, **kwargs) -> Plugin:
        return write_plugin(self.tmp_path / "plugins", name, lua, **kwargs)

    async def start(self, plugin: Plugin, *, grant_all: bool = True):
        if grant_all and plugin.manifest.permissions:
            from qtui.plugins.bundles.bundle import bundle_hash

            self.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
        return await self.host.start(plugin)

    def text(self, name: str) -> list[str]:
        return panel_lines(self.host.plugins[name])

    async def wait(self, predicate) -> None:
        await wait_until(predicate)

    async def wait_text(self, name: str, needle: str) -> list[str]:
        return await wait_panel(self.host, name, needle)

    def audit(self) -> list:
        return list(self.host.audit.read().entries)


@pytest.fixture
async def harness(tmp_path: Path, nursery, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = tmp_path / "queue.db"
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
        return harness.answer

    host = new_plugin_host(tmp_path, backend, bus, clock=clock, confirmer=confirm)
    harness = Harness(tmp_path, clock, backend, host, bus)
    await nursery.start(host.run)
    yield harness
    backend.close()


__all__ = ["Harness", "PluginState", "write_plugin"]
