"""The sample plugins of lua_plugins/, each run in a real PluginHost on a real SQLite queue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio
from urwid.str_util import calc_width

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.events import StatsUpdated
from qtui.model import Snapshot
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHandle, PluginHost
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy
from qtui.sqlite_queue import SQLiteQueue

CATALOG = Path(__file__).resolve().parents[2] / "lua_plugins"
#: Every sample plugin keeps its lines within this many columns (an 80-column terminal, framed).
PANEL_WIDTH = 78


def bundled(name: str) -> Plugin:
    """The sample plugin `name` as discovery finds it in the repository's catalog."""
    folder = CATALOG / name
    return Plugin(load_manifest(folder), folder, Source.BUNDLED)


class Clock:
    """Wall time shifted by `offset` seconds, so jobs can be made in the past."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Harness:
    """A host, its bus, the queue behind its backend and an operator who answers confirmations."""

    def __init__(self, tmp_path: Path, queue: SQLiteQueue, clock: Clock, backend, host: PluginHost,
                 bus: EventBus) -> None:
        self.tmp_path = tmp_path
        self.queue = queue
        self.clock = clock
        self.backend = backend
        self.host = host
        self.bus = bus
        self.confirmations: list[str] = []
        self.answer = True
        self.hold: trio.Event | None = None  # when set, the operator answers once it fires

    async def start(self, name: str, *, deny: tuple[Capability, ...] = (), settings: dict | None = None,
                    no_confirm: tuple[Capability, ...] = ()) -> PluginHandle:
        """Start sample plugin `name` with every requested capability granted except `deny`."""
        plugin = bundled(name)
        grant = tuple(c for c in plugin.manifest.permissions if c not in deny)
        self.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=grant, deny=deny,
                               confirm={c: False for c in no_confirm})
        if settings:
            self.host.settings.save(plugin.manifest, settings)
        return await self.host.start(plugin)

    def text(self, name: str) -> list[str]:
        return ["".join(span.text for span in line) for line in self.host.plugins[name].panel]

    def styles(self, name: str, needle: str) -> set[str]:
        """Styles of the spans on the first line holding `needle`."""
        for line in self.host.plugins[name].panel:
            if needle in "".join(span.text for span in line):
                return {span.style for span in line if span.text.strip()}
        raise AssertionError(f"no line with {needle!r} in {self.text(name)}")

    def line(self, name: str, needle: str) -> str:
        return next(line for line in self.text(name) if needle in line)

    async def wait(self, predicate, timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await trio.sleep(0.01)

    async def wait_text(self, name: str, needle: str, timeout: float = 10.0) -> list[str]:
        try:
            await self.wait(lambda: any(needle in line for line in self.text(name)), timeout)
        except trio.TooSlowError:
            raise AssertionError(f"{needle!r} never showed; the panel is {self.text(name)}") from None
        return self.text(name)

    async def publish_stats(self, *, taken_at: float | None = None) -> Snapshot:
        """Poll the backend like the console does; `taken_at` dates the snapshot (to skip ahead)."""
        snapshot = await trio.to_thread.run_sync(self.backend.snapshot)
        if taken_at is not None:
            snapshot = Snapshot(snapshot.queues, snapshot.workers, taken_at)
        self.bus.publish(StatsUpdated(snapshot))
        return snapshot

    def audit(self) -> list:
        return list(self.host.audit.read().entries)


def columns(line: str) -> int:
    """Terminal columns a rendered line takes."""
    return calc_width(line, 0, len(line))


@pytest.fixture
async def harness(tmp_path: Path, nursery, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = tmp_path / "queue.db"
    clock = Clock()
    queue = SQLiteQueue.open(db, create=True, clock=clock, durable=False)  # no fsync per test write
    backend = open_backend(db)
    bus = EventBus()
    harness = None

    async def confirm(handle, confirmation):
        harness.confirmations.append(f"{handle.name}: {confirmation}")
        if harness.hold is not None:
            await harness.hold.wait()
        return harness.answer

    host = PluginHost(
        backend, bus,
        store=PermissionStore(tmp_path / "config" / "permissions.toml"),
        policy=SitePolicy(),
        audit=AuditLog(tmp_path / "state" / "audit.jsonl"),
        settings=SettingsStore(tmp_path / "config" / "plugin-settings.toml"),
        storage_dir=tmp_path / "data" / "plugin-data",
        confirmer=confirm,
    )
    harness = Harness(tmp_path, queue, clock, backend, host, bus)
    await nursery.start(host.run)
    yield harness
    backend.close()
    queue.close()


def set_raw_payload(db: Path, job_id: str, payload: str) -> None:
    """Store `payload` as is, the way a producer that skips qtui's JSON check would."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET payload = ? WHERE id = ?", (payload, int(job_id)))
    conn.close()


def make_dead(h: Harness, queue: str, payloads: list, error: str) -> list[str]:
    """Enqueue `payloads` on `queue` (which must have no other ready jobs) and fail each for good."""
    ids = h.queue.enqueue_many(queue, payloads, max_attempts=1)
    worker = h.queue.worker([queue], worker_id=f"killer-{queue}")
    for _ in ids:
        worker.fail(worker.reserve(timeout=0), error)
    worker.close()
    return ids
