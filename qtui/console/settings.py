"""What the console takes from config.toml: keymap, theme, clipboard and dock layout."""

from __future__ import annotations

import attrs

from collections.abc import Sequence
from pathlib import Path

from qtui.config import Config, load
from qtui.console.keymap import DEFAULT_KEYMAP, Keymap
from qtui.console.palette import DEFAULT_THEME
from qtui.files.tomlfile import FileProblems


@attrs.frozen
class ConsoleSettings:
    """The console's look and keys; the defaults are qtui's own."""

    keymap: Keymap = DEFAULT_KEYMAP
    theme: str = DEFAULT_THEME
    clipboard: str = "file"  # or "osc52": copy through the terminal
    dock_position: str | None = None
    dock_size: int | None = None


def check_keys(keys: Sequence[tuple[str, tuple[str, ...]]]) -> list[tuple[str, str]]:
    """The bindings of config.toml the keymap refuses, as (action, problem)."""
    return DEFAULT_KEYMAP.with_overrides(dict(keys))[1]


def load_config(path: Path | None = None) -> Config:
    """config.toml with its key bindings checked too; raises FileProblems listing every problem."""
    return load(path, check_keys=check_keys)


def console_settings(config: Config) -> ConsoleSettings:
    """The settings `config` gives; raises FileProblems (file:line: field) for bindings the keymap refuses."""
    keymap, problems = DEFAULT_KEYMAP.with_overrides(dict(config.keys))
    if problems:
        found = [config.problem(("keys", action), message) for action, message in problems]
        raise FileProblems(sorted(found, key=lambda p: p.line or 0))
    return ConsoleSettings(keymap=keymap, theme=config.theme, clipboard=config.clipboard,
                           dock_position=config.dock_position, dock_size=config.dock_size)
