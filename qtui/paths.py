"""Where qtui keeps its files, following the XDG base directory specification."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var, "")
    # The spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value) / "qtui"
    return Path.home() / default / "qtui"


def data_dir() -> Path:
    """$XDG_DATA_HOME/qtui: queue databases."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def config_dir() -> Path:
    """$XDG_CONFIG_HOME/qtui: user plugins, permission decisions."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """$XDG_STATE_HOME/qtui: audit log, logs."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def system_config_dir() -> Path:
    """The first of $XDG_CONFIG_DIRS (default /etc/xdg), plus /qtui: site policy, system plugins."""
    dirs = [d for d in os.environ.get("XDG_CONFIG_DIRS", "").split(":") if os.path.isabs(d)]
    return Path(dirs[0] if dirs else "/etc/xdg") / "qtui"


def default_database() -> Path:
    """The queue database used when no --db is given."""
    return data_dir() / "queue.db"


def demo_database() -> Path:
    """The database `qtui demo` fills."""
    return data_dir() / "demo.db"
