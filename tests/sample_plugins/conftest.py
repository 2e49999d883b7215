"""The sample plugins of lua_plugins/, each run in a real PluginHost on a real SQLite queue."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from urwid.str_util import calc_width

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.model import Snapshot
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.runtime.host import PluginHandle, PluginHost
from qtui.sqlite_queue import SQLiteQueue
from tests.support import WAIT, ManualClock, new_plugin_host, panel_lines, publish_stats, wait_panel, wait_until

CATALOG = Path(__file__).resolve().parents[2] / "lua_plugins"
#: Every sample plugin keeps its lines within this many columns (an 80-column terminal, framed).
PANEL_WIDTH = 78


def bundled(name: str) -> Plugin:
    """The sample plugin `name` as discovery finds it in the repository's catalog."""
    folder = CATALOG / name
    return Plugin(load_manifest(folder), folder, Source.BUNDLED)


class ProducerClock:
    """The test's clock shifted by `offset` seconds, so the queue can make jobs in the past."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.offset = 0.0

    def __call__(self) -> float:
        return self.clock.now + self.offset


class Harness:
    """A host, its bus, the queue behind its backend and an operator who answers confirmations.

    The host and the backend read `clock`, which moves only when a test advances it; the queue
    producing the jobs reads `producer`, which may be set back to date jobs in the past.
    """

    def __init__(self, tmp_path: Path, queue: SQLiteQueue, clock: ManualClock, producer: ProducerClock,
                 backend, host: PluginHost, bus: EventBus) -> None:
        self.tmp_path = tmp_path
        self.queue = queue
        self.clock = clock
        self.producer = producer
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
        return panel_lines(self.host.plugins[name])

    def styles(self, name: str, needle: str) -> set[str]:
        """Styles of the spans on the first line holding `needle`."""
        for line in self.host.plugins[name].panel:
            if needle in "".join(span.text for span in line):
                return {span.style for span in line if span.text.strip()}
        raise AssertionError(f"no line with {needle!r} in {self.text(name)}")

    def line(self, name: str, needle: str) -> str:
        return next(line for line in self.text(name) if needle in line)

    async def wait(self, predicate, timeout: float = WAIT) -> None:
        await wait_until(predicate, timeout=timeout)

    async def wait_text(self, name: str, needle: str, timeout: float = WAIT) -> list[str]:
        return await wait_panel(self.host, name, needle, timeout)

    async def publish_stats(self, *, taken_at: float | None = None) -> Snapshot:
        """Poll the backend like the console does; `taken_at` dates the snapshot (to skip ahead)."""
        return await publish_stats(self.backend, self.bus, taken_at=taken_at)

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
    clock = ManualClock()
    producer = ProducerClock(clock)
    queue = SQLiteQueue.open(db, create=True, clock=producer, durable=False)  # no fsync per test write
    backend = open_backend(db, clock=clock)
    bus = EventBus()
    harness = None

    async def confirm(handle, confirmation):
        harness.confirmations.append(f"{handle.name}: {confirmation}")
        if harness.hold is not None:
            await harness.hold.wait()
        return harness.answer

    host = new_plugin_host(tmp_path, backend, bus, clock=clock, confirmer=confirm)
    harness = Harness(tmp_path, queue, clock, producer, backend, host, bus)
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
