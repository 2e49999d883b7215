"""The console with its plugin system, on a real queue, with plugins in a temporary user dir."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
import trio

from qtui.backends import open_backend
from qtui.console.app import Console
from qtui.console.plugin_control import PluginControl
from qtui.console.settings import ConsoleSettings
from qtui.sqlite_queue import SQLiteQueue
from tests.support import WAIT, HeldWallClock, screen_text, wait_until, write_plugin_folder


class Driver:
    def __init__(self, console: Console, plugin_dir: Path) -> None:
        self.console = console
        self.plugin_dir = plugin_dir

    @property
    def control(self) -> PluginControl:
        return self.console.plugins

    def write_plugin(self, name: str, lua: str, permissions=(), extra: str = "") -> Path:
        panel = f'\n[panel]\ntitle = "{name} panel"\n'
        return write_plugin_folder(self.plugin_dir / name, name, lua, permissions, extra=panel + textwrap.dedent(extra))

    async def save_until(self, path: Path, text: str, needle: str) -> str:
        """Write `text` to `path` until the screen shows `needle` (the watcher may still be starting)."""
        deadline = time.monotonic() + WAIT
        while True:
            path.write_text(text)
            try:
                return await self.wait_for(needle, timeout=1.0)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def press(self, *keys: str) -> None:
        for key in keys:
            self.console.handle_key(key)

    async def answer(self, *keys: str) -> None:
        """Press `keys` in the dialog on screen once it takes keys (a plugin's dialog waits a moment)."""
        await self.wait_for(lambda t: self.console.dialog_open and "keys wait a moment" not in t)
        self.press(*keys)

    def text(self) -> str:
        return screen_text(self.console)

    async def wait_for(self, needle, timeout: float = WAIT) -> str:
        check = (lambda t: needle in t) if isinstance(needle, str) else needle
        await wait_until(lambda: check(self.text()), lambda: f"{needle!r}; the screen is:\n{self.text()}", timeout)
        return self.text()


@pytest.fixture
async def make_console(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc"))
    db = tmp_path / "queue.db"
    clock = HeldWallClock()
    with SQLiteQueue.open(db, create=True, clock=clock) as q:
        q.enqueue("email", {"n": 1, "tenant": "acme"}, max_attempts=1)
        q.enqueue("email", {"n": 2, "tenant": "acme"})
        worker = q.worker(["email"], worker_id="w")
        worker.fail(worker.reserve(), "smtp down")
    backends = []
    # The consoles run in a nursery of this fixture's own, ended before their backends close:
    # a poll may be inside the backend in a worker thread until then.
    async with trio.open_nursery() as nursery:

        async def make(dev: Path | None = None, settings: ConsoleSettings | None = None, refresh: float = 0.2,
                       **control) -> Driver:
            """A console (with config.toml's `settings`, polling every `refresh` seconds); `control`
            goes to its PluginControl (with_enabled=, recorder=)."""
            backend = open_backend(db, clock=clock)
            backends.append(backend)
            console = Console(backend, clock=clock, refresh=refresh, plugins=lambda c: PluginControl(c, dev=dev, **control),
                              **({} if settings is None else {"settings": settings}))
            console.start_tasks(nursery)
            driver = Driver(console, tmp_path / "config" / "qtui" / "plugins")
            await driver.wait_for("email")
            await wait_until(lambda: console.plugins is not None, "the plugin side, made after the first poll")
            return driver

        yield make
        nursery.cancel_scope.cancel()
    for backend in backends:
        backend.close()
