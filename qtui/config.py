"""The operator's configuration, $XDG_CONFIG_HOME/qtui/config.toml (see qtui(5)).

Every field is optional; the command line and $QTUI_DB win over it. A value that is
wrong is reported as ``file:line: field: message`` and the console refuses to start
rather than guess. Key bindings are parsed here; whether each names an action and
clashes with no other is checked against the console's keymap by the `check_keys` the
console passes in (:func:`qtui.console.settings.load_config`). Reading the database
setting alone (`configured_database`), as the script commands do, parses the file but
checks nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from qtui import paths
from qtui.keynames import BadKey, parse_key
from qtui.console.palette import DEFAULT_THEME, THEMES
from qtui.files.tomlfile import FieldPath, FileProblems, Problem, Reporter, read_toml, show, type_name

MAX_BYTES = 64 * 1024
MAX_BINDINGS = 500
MAX_REFRESH = 3600.0
DOCK_POSITIONS = ("bottom", "right")
DOCK_SIZES = {"bottom": (3, 60), "right": (20, 200)}  # rows at the bottom, columns at the right
CLIPBOARDS = ("file", "osc52")
FIELDS = ("database", "refresh", "theme", "mouse", "clipboard", "dock", "keys")


def config_path() -> Path:
    """$XDG_CONFIG_HOME/qtui/config.toml."""
    return paths.config_dir() / "config.toml"


@attrs.frozen
class Config:
    """What config.toml says; None where it says nothing."""

    path: Path | None = None
    database: str | None = None
    refresh: float | None = None
    theme: str = DEFAULT_THEME
    mouse: bool | None = None
    clipboard: str = "file"
    dock_position: str | None = None
    dock_size: int | None = None
    keys: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (action as written, urwid key names)
    text: str = attrs.field(default="", eq=False, repr=False)  # the source, to locate later problems

    def problem(self, path: FieldPath, message: str) -> Problem:
        """A problem found after loading (a key binding the keymap refuses), at its line."""
        reporter = Reporter(self.path or config_path(), self.text)
        reporter.error(path, message)
        return reporter.problems[0]


#: Checks key bindings (action, keys) against a keymap: (action, problem) for each one refused.
KeyCheck = Callable[[Sequence[tuple[str, tuple[str, ...]]]], list[tuple[str, str]]]


def load(path: Path | None = None, *, check_keys: KeyCheck | None = None) -> Config:
    """Read config.toml (default: `config_path()`); a missing file gives the defaults.

    Raises FileProblems listing everything wrong with the file, the bindings `check_keys`
    refuses included.
    """
    path = path or config_path()
    if not os.path.exists(path):
        return Config(path=path)
    data, text = read_toml(path, max_bytes=MAX_BYTES)
    report = Reporter(path, text)
    document = report.table(data, (), FIELDS)
    fields: dict[str, Any] = {"path": path, "text": text}
    if "database" in document:
        fields["database"] = _database(report, document["database"])
    if "refresh" in document:
        fields["refresh"] = _refresh(report, document["refresh"])
    if "theme" in document:
        fields["theme"] = _choice(report, ("theme",), document["theme"], tuple(THEMES)) or DEFAULT_THEME
    if "mouse" in document:
        fields["mouse"] = _boolean(report, ("mouse",), document["mouse"])
    if "clipboard" in document:
        fields["clipboard"] = _choice(report, ("clipboard",), document["clipboard"], CLIPBOARDS) or "file"
    if "dock" in document:
        fields.update(_dock(report, document["dock"]))
    if "keys" in document:
        fields["keys"] = _keys(report, document["keys"])
        for action, message in check_keys(fields["keys"]) if check_keys is not None else ():
            report.error(("keys", action), message)
    if report.problems:
        raise FileProblems(report.sorted_problems())
    return Config(**fields)


def configured_database(path: Path | None = None) -> str | None:
    """The `database` setting of config.toml, or None; raises FileProblems when it cannot be read."""
    path = path or config_path()
    if not os.path.exists(path):
        return None
    data, text = read_toml(path, max_bytes=MAX_BYTES)
    if "database" not in data:
        return None
    report = Reporter(path, text)
    database = _database(report, data["database"])
    if report.problems:
        raise FileProblems(report.problems)
    return database


def _database(report: Reporter, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        report.error(("database",), f"must be a file path or URL, not {show(value)}")
        return None
    if "\x00" in value or len(value) > 4096:
        report.error(("database",), "must be a file path or URL of at most 4096 characters")
        return None
    return os.path.expanduser(value) if "://" not in value else value


def _refresh(report: Reporter, value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_REFRESH:
        report.error(("refresh",), f"must be a number of seconds from 0 to {MAX_REFRESH:g}, not {show(value)}")
        return None
    return float(value)


def _boolean(report: Reporter, path: FieldPath, value: object) -> bool | None:
    if not isinstance(value, bool):
        report.error(path, f"must be true or false, not {type_name(value)}")
        return None
    return value


def _choice(report: Reporter, path: FieldPath, value: object, choices: tuple[str, ...]) -> str | None:
    if value not in choices:
        report.error(path, f"must be one of {', '.join(choices)}, not {show(value)}")
        return None
    return str(value)


def _dock(report: Reporter, value: object) -> dict[str, Any]:
    dock = report.table(value, ("dock",), ("position", "size"))
    fields: dict[str, Any] = {}
    position = dock.get("position", "bottom")
    if "position" in dock:
        position = _choice(report, ("dock", "position"), position, DOCK_POSITIONS)
        fields["dock_position"] = position
    if "size" in dock and position is not None:
        low, high = DOCK_SIZES[position]
        size = dock["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= high:
            what = "rows" if position == "bottom" else "columns"
            report.error(("dock", "size"), f"must be {low} to {high} ({what}, dock at the {position}), "
                                           f"not {show(size)}")
        else:
            fields["dock_size"] = size
    return fields


def _keys(report: Reporter, value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        report.error(("keys",), f"must be a table of actions and their keys, not {type_name(value)}")
        return ()
    if len(value) > MAX_BINDINGS:
        report.error(("keys",), f"at most {MAX_BINDINGS} actions")
        return ()
    keys = []
    for action, written in value.items():
        path: FieldPath = ("keys", action)
        if len(action) > 200 or not action.strip():
            report.error(path, "an action is a command line of 1 to 200 characters")
            continue
        items = written if isinstance(written, list) else [written]
        if len(items) > 10:
            report.error(path, "at most 10 keys for one action")
            continue
        parsed = []
        for index, item in enumerate(items):
            where = path + (index,) if isinstance(written, list) else path
            if not isinstance(item, str):
                report.error(where, f"a key is a string such as \"j\", \"PgDn\" or \"Ctrl-R\", not {type_name(item)}")
                continue
            try:
                parsed.append(parse_key(item))
            except BadKey as exc:
                report.error(where, str(exc))
        keys.append((action, tuple(dict.fromkeys(parsed))))
    return tuple(keys)
