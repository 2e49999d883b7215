"""Starting the console on a real terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import trio
import urwid

from qtui import paths
from qtui.backends.base import Backend
from qtui.clock import SYSTEM_CLOCK
from qtui.console.app import Console
from qtui.console.glyphs import for_encoding, locale_encoding
from qtui.console.plugin_control import PluginControl
from qtui.console.terminal import QuietScreen


def _log_to_file() -> None:
    """Log to $XDG_STATE_HOME/qtui/qtui.log: nothing may write to the terminal urwid owns."""
    directory = paths.state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(directory / "qtui.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def run_console(backend: Backend, *, refresh: float, mouse: bool, plugins: bool = True,
                dev: Path | None = None) -> None:
    """Run the interactive console until the operator quits; the terminal is restored after.

    With `plugins`, the enabled plugins run in their panels; `dev` is a plugin folder
    to load as well and reload on every save (qtui plugin dev).
    """
    _log_to_file()
    encoding = locale_encoding()
    urwid.set_encoding("utf-8" if encoding == "utf-8" else "ascii")
    control = (lambda console: PluginControl(console, dev=dev)) if plugins else None
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=refresh, glyphs=for_encoding(encoding), mouse=mouse, plugins=control)
    trio.run(console.run, QuietScreen())
