"""A plugin host on a real SQLite queue, with its files in tmp_path."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest
import trio

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHost, PluginState
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy
from qtui.sqlite_queue import SQLiteQueue


def write_plugin(root: Path, name: str, lua: str, *, permissions=(), extra: str = "", version="1.0.0",
                 files: dict[str, str] | None = None) -> Plugin:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    perms = ", ".join(f'"{p}"' for p in permissions)
    (folder / "manifest.toml").write_text(textwrap.dedent(f"""\
        name = "{name}"
        version = "{version}"
        description = "test plugin {name}"
        api = "1"
        permissions = [{perms}]
        """) + textwrap.dedent(extra))
    (folder / "init.lua").write_text(textwrap.dedent(lua))
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(textwrap.dedent(text))
    return Plugin(load_manifest(folder), folder, Source.USER)


class ManualClock:
    """The host's wall clock (audit times, rates): it moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


class Harness:
    def __init__(self, tmp_path: Path, backend, host: PluginHost, bus: EventBus, clock: ManualClock) -> None:
        self.tmp_path = tmp_path
        self.backend = backend
        self.host = host
        self.bus = bus
        self.clock = clock
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
        return ["".join(span.text for span in line) for line in self.host.plugins[name].panel]

    async def wait(self, predicate, timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await trio.sleep(0.01)

    async def wait_text(self, name: str, needle: str, timeout: float = 10.0) -> list[str]:
        await self.wait(lambda: any(needle in line for line in self.text(name)), timeout)
        return self.text(name)

    def audit(self) -> list:
        return list(self.host.audit.read().entries)


@pytest.fixture
async def harness(tmp_path: Path, nursery, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = tmp_path / "queue.db"
    with SQLiteQueue.open(db, create=True) as q:
        q.enqueue("email", {"n": 99}, max_attempts=1)
        for n in range(5):
            q.enqueue("email", {"n": n, "tenant": "acme"})
        worker = q.worker(["email"], worker_id="w")
        for _ in range(2):  # n=99 goes dead, n=0 waits for a retry
            worker.fail(worker.reserve(), "smtp down")
    backend = open_backend(db)
    bus = EventBus()
    clock = ManualClock()
    harness = None

    async def confirm(handle, confirmation):
        harness.confirmations.append(f"{handle.name}: {confirmation}")
        return harness.answer

    host = PluginHost(
        backend, bus,
        store=PermissionStore(tmp_path / "config" / "permissions.toml"),
        policy=SitePolicy(),
        audit=AuditLog(tmp_path / "state" / "audit.jsonl"),
        settings=SettingsStore(tmp_path / "config" / "plugin-settings.toml"),
        storage_dir=tmp_path / "data" / "plugin-data",
        confirmer=confirm,
        clock=clock,
    )
    harness = Harness(tmp_path, backend, host, bus, clock)
    await nursery.start(host.run)
    yield harness
    backend.close()


__all__ = ["Harness", "ManualClock", "PluginState", "write_plugin"]
