"""The ``[keys]`` table of ``$XDG_CONFIG_HOME/qtui/config.toml``: the operator's key for an action.

::

    [keys]
    "tenant-sla.late" = "Ctrl-L"            # a plugin's command, PLUGIN.COMMAND
    "dead-retry.retry" = ["R", "F6"]        # several keys

A key is written as :func:`qtui.keynames.parse_key` reads it. Only this table is read here, and
the console applies the bindings of plugin commands (actions with a dot); the rest of
config.toml, and the console's own actions, belong to their own readers. A problem is reported
as ``file:line: keys.ACTION: message`` and leaves that action with its default keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from qtui import paths
from qtui.files.tomlfile import FileProblems, Problem, Reporter, read_toml, type_name
from qtui.keynames import parse_key

CONFIG_FILE = "config.toml"
MAX_BYTES = 64 * 1024
MAX_ACTIONS = 500
MAX_KEYS = 10


def config_path() -> Path:
    """$XDG_CONFIG_HOME/qtui/config.toml."""
    return paths.config_dir() / CONFIG_FILE


@attrs.frozen
class KeyBindings:
    """The keys config.toml binds to each action (urwid's key names), and what was wrong."""

    keys: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    problems: tuple[Problem, ...] = ()


def load_key_bindings(path: Path | None = None) -> KeyBindings:
    """The ``[keys]`` table of config.toml (default :func:`config_path`); none if the file is missing."""
    path = path or config_path()
    if not path.exists():
        return KeyBindings()
    try:
        data, text = read_toml(path, max_bytes=MAX_BYTES)
    except FileProblems as e:
        return KeyBindings(problems=tuple(e.problems))
    table = data.get("keys", {})
    report = Reporter(path, text)
    if not isinstance(table, dict):
        report.error(("keys",), f"must be a table of actions and their keys, not {type_name(table)}")
        return KeyBindings(problems=tuple(report.problems))
    if len(table) > MAX_ACTIONS:
        report.error(("keys",), f"at most {MAX_ACTIONS} actions")
        return KeyBindings(problems=tuple(report.problems))
    found: dict[str, tuple[str, ...]] = {}
    for action, written in table.items():
        items = written if isinstance(written, list) else [written]
        if not 1 <= len(items) <= MAX_KEYS:
            report.error(("keys", action), f"give 1 to {MAX_KEYS} keys")
            continue
        keys = []
        for index, item in enumerate(items):
            where = ("keys", action, index) if isinstance(written, list) else ("keys", action)
            try:
                keys.append(parse_key(item))
            except ValueError as e:
                report.error(where, str(e))
        if len(keys) == len(items):
            found[action] = tuple(dict.fromkeys(keys))
    return KeyBindings(found, tuple(report.sorted_problems()))
