"""What the test folders share: clocks the tests move by hand, waiting for a condition, reading text.

Waits poll for a condition and give up after a generous cap in real seconds: the cap only
stops a broken test, so it is long enough for a loaded machine. Nothing here sleeps and then
asserts.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import trio

from qtui.authoring._spec_driver import settle  # no thread or task busy: all that was sent is handled
from qtui.bus import EventBus
from qtui.events import StatsUpdated
from qtui.model import Snapshot
from qtui.events import Event
from qtui.plugins.runtime.host import Confirmer, PluginHandle, PluginHost
from qtui.plugins.runtime.prepared import prepare, stats_changes
from qtui.plugins.runtime.sandbox import EVENT_TABLE, LuaSandbox
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy

#: The wall time a ManualClock starts at (2023-11-14 22:13:20 UTC).
START = 1_700_000_000.0
#: Longest wait for a condition, in real seconds.
WAIT = 60.0
#: How often a wait looks again.
POLL = 0.01


class ManualClock:
    """Wall and monotonic time that move only when the test calls advance().

    Also a plain wall-clock callable, for the SQLite queue and the backends. `now` may be set
    to date what a producer writes in the past; the monotonic time never goes back.
    """

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.elapsed = 0.0

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "time does not go back"
        self.now += seconds
        self.elapsed += seconds


class HeldWallClock(ManualClock):
    """Wall time the test moves by hand; durations (a plugin call's deadline) on the real clock.

    For hosts whose tests assert on dates and ages but also let plugins run away, where the
    deadline is what stops them.
    """

    def monotonic(self) -> float:
        return time.monotonic()


def _fail(what: str | Callable[[], str], timeout: float) -> None:
    raise AssertionError(f"gave up after {timeout:g} s waiting for {what() if callable(what) else what}")


async def wait_until(check: Callable[[], object], what: str | Callable[[], str] = "a condition",
                     timeout: float = WAIT) -> None:
    """Poll `check` from a trio task until it is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            _fail(what, timeout)
        await trio.sleep(POLL)


def wait_until_sync(check: Callable[[], object], what: str | Callable[[], str] = "a condition",
                    timeout: float = WAIT, poll: float = 0.05) -> None:
    """Poll `check` from a plain thread until it is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            _fail(what, timeout)
        time.sleep(poll)


def panel_lines(handle: PluginHandle) -> list[str]:
    """A plugin panel's lines as plain text."""
    return ["".join(span.text for span in line) for line in handle.panel]


async def wait_panel(host: PluginHost, name: str, needle: str, timeout: float = WAIT) -> list[str]:
    """The panel of plugin `name` once a line of it holds `needle`."""
    def shown() -> bool:
        return any(needle in line for line in panel_lines(host.plugins[name]))

    await wait_until(shown, lambda: f"{needle!r} in {name}'s panel {panel_lines(host.plugins[name])}", timeout)
    return panel_lines(host.plugins[name])


def screen_text(console, size: tuple[int, int] = (80, 24)) -> str:  # noqa: ANN001 - a Console
    """What the console draws at `size`, one line a row."""
    rows = console.root.render(size, focus=True).text
    assert len(rows) == size[1]
    return "\n".join(row.decode("utf-8") for row in rows)


def write_plugin_folder(folder: Path, name: str, lua: str, permissions=(), *,  # noqa: ANN001
                        version: str = "1.0.0", extra: str = "") -> Path:
    """A plugin in `folder`: a manifest requesting `permissions` (plus `extra` TOML) and init.lua."""
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
    return folder


async def publish_stats(backend, bus: EventBus, *, taken_at: float | None = None) -> Snapshot:  # noqa: ANN001
    """Poll `backend` like the console does and publish what it saw; `taken_at` redates it."""
    snapshot = await trio.to_thread.run_sync(backend.snapshot)
    if taken_at is not None:
        snapshot = Snapshot(snapshot.queues, snapshot.workers, taken_at)
    bus.publish(StatsUpdated(snapshot))
    return snapshot


def new_plugin_host(tmp_path: Path, backend, bus: EventBus, *, clock, confirmer: Confirmer | None,  # noqa: ANN001
                policy: SitePolicy | None = None) -> PluginHost:
    """A PluginHost keeping its decisions, audit log, settings and storage under `tmp_path`."""
    return PluginHost(
        backend, bus, clock=clock,
        store=PermissionStore(tmp_path / "config" / "permissions.toml"),
        policy=policy or SitePolicy(),
        audit=AuditLog(tmp_path / "state" / "audit.jsonl"),
        settings=SettingsStore(tmp_path / "config" / "plugin-settings.toml"),
        storage_dir=tmp_path / "data" / "plugin-data",
        confirmer=confirmer,
    )


def received(*events: Event, shared: bool = True) -> dict:
    """What a plugin's on_event gets for the last of `events` (the ones before it received first)."""
    sandbox = LuaSandbox("receiver", clock=ManualClock())
    try:
        sandbox.load("function on_event(e) seen = e end function last() return seen end", "receiver.lua")
        before = None
        for event in events:
            prepared = prepare(event, shared=shared)
            changed, removed = stats_changes(before, prepared) if prepared.rows is not None else ((), ())
            before = prepared if prepared.rows is not None else before
            sandbox.deliver(prepared.kind, prepared.plain if prepared.kind == EVENT_TABLE else prepared.chunk,
                            changed, removed)
        return sandbox.call("last")
    finally:
        sandbox.close()
