"""Starting the console on a real terminal."""

from __future__ import annotations

import logging

import trio
import urwid

from qtui import paths
from qtui.backends.base import Backend
from qtui.console.app import Console
from qtui.console.glyphs import for_encoding, locale_encoding
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


def run_console(backend: Backend, *, refresh: float, mouse: bool) -> None:
    """Run the interactive console until the operator quits; the terminal is restored after."""
    _log_to_file()
    encoding = locale_encoding()
    urwid.set_encoding("utf-8" if encoding == "utf-8" else "ascii")
    console = Console(backend, refresh=refresh, glyphs=for_encoding(encoding), mouse=mouse)
    trio.run(console.run, QuietScreen())
