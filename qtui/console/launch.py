"""Starting the console on a real terminal."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import trio
import urwid

from qtui import paths
from qtui.backends.base import Backend
from qtui.clock import SYSTEM_CLOCK
from qtui.config import Config
from qtui.console.app import Console, PluginPanels
from qtui.console.glyphs import for_encoding, locale_encoding
from qtui.console.settings import ConsoleSettings, console_settings, load_config
from qtui.console.terminal import QuietScreen
from qtui.plugins.service import Recorder
from qtui.files.tomlfile import FileProblems
from qtui.model import InvalidInput
from qtui.sanitize import LogFormatter

#: Exit status after Ctrl-C, as a shell reports it (128 + SIGINT).
EXIT_INTERRUPTED = 130


def _log_to_file() -> None:
    """Log to $XDG_STATE_HOME/qtui/qtui.log: nothing may write to the terminal urwid owns."""
    directory = paths.state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(directory / "qtui.log", encoding="utf-8")
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _require_terminal() -> None:
    """Refuse to start without a terminal on standard input and output (a pipe, /dev/null)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InvalidInput("the console needs a terminal on standard input and output; "
                           "for scripts use qtui stats, workers, peek or find (with --json)")


def _refused(problems: FileProblems) -> InvalidInput:
    return InvalidInput(f"{problems}\n(the console does not start with an invalid configuration; "
                        "see qtui(5), check it with: qtui config check)")


def read_config() -> Config:
    """config.toml; InvalidInput listing its problems (file:line: field: message) if it has any."""
    try:
        return load_config()
    except FileProblems as exc:
        raise _refused(exc) from None


def _settings(config: Config | None) -> ConsoleSettings:
    """The console's settings from config.toml; InvalidInput listing its problems if it has any."""
    try:
        return console_settings(config if config is not None else load_config())
    except FileProblems as exc:
        raise _refused(exc) from None


def run_console(backend: Backend, *, refresh: float, mouse: bool, plugins: bool = True,
                dev: Path | None = None, config: Config | None = None, with_enabled: bool = False,
                recorder: Recorder | None = None) -> int:
    """Run the interactive console until the operator quits; the terminal is restored after.

    With `plugins`, the enabled plugins run in their panels; `dev` is a plugin folder to load
    and reload on every save (qtui plugin dev), alone unless `with_enabled`; `recorder` writes
    what plugins see to a recording (qtui record). `config` defaults to config.toml. Returns
    the exit status: 0, or 128 + the signal that ended the console (130 for Ctrl-C, 143 for
    SIGTERM, 129 for SIGHUP).
    """
    _require_terminal()
    settings = _settings(config)
    _log_to_file()
    encoding = locale_encoding()
    urwid.set_encoding("utf-8" if encoding == "utf-8" else "ascii")

    def control(console: Console) -> PluginPanels:
        # Imported here: the console calls this after its first frame and first poll, so the
        # plugin system (Lua, the catalog) loads while the operator already sees the queues.
        from qtui.console.plugin_control import PluginControl

        return PluginControl(console, dev=dev, with_enabled=with_enabled, recorder=recorder)

    console = Console(backend, clock=SYSTEM_CLOCK, refresh=refresh, glyphs=for_encoding(encoding), mouse=mouse,
                      plugins=control if plugins else None, settings=settings)
    interrupted = False
    try:
        trio.run(console.run, QuietScreen())
    except* KeyboardInterrupt:  # Ctrl-C before the console could catch it as a signal
        interrupted = True
    return EXIT_INTERRUPTED if interrupted else console.exit_status
