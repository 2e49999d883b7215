"""Which plugins the operator enabled in the console, kept in one small TOML file.

    # $XDG_CONFIG_HOME/qtui/plugins.toml
    enabled = ["tenant-sla", "queue-alert"]
"""

from __future__ import annotations

from pathlib import Path

import tomli_w

from qtui import paths
from qtui.files.atomic import locked, replace_file
from qtui.files.tomlfile import FileProblems, KeyLines, Problem, read_toml

ENABLED_FILE = "plugins.toml"


class EnabledStore:
    """The set of enabled plugin names; writes are locked and atomic."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.config_dir() / ENABLED_FILE

    def load(self) -> list[str]:
        """Enabled names in the order they were enabled; FileProblems names a bad file or line."""
        if not self.path.exists():
            return []
        data, text = read_toml(self.path, max_bytes=256 * 1024)
        unknown = sorted(set(data) - {"enabled"})
        if unknown:
            raise FileProblems([Problem(self.path, KeyLines(text).line((unknown[0],)), unknown[0], "unknown field")])
        names = data.get("enabled", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise FileProblems([Problem(self.path, KeyLines(text).line(("enabled",)), "enabled",
                                        "must be an array of plugin names")])
        return list(dict.fromkeys(names))

    def set(self, name: str, enabled: bool) -> None:
        with locked(self.path):
            names = [n for n in self.load() if n != name] + ([name] if enabled else [])
            replace_file(self.path, tomli_w.dumps({"enabled": names}))
