"""Operators' values for plugin settings, persisted in one TOML file.

    # $XDG_CONFIG_HOME/qtui/plugin-settings.toml
    [tenant-sla]
    threshold_seconds = 120

Values are validated against the plugin's manifest schema: a stored value the
schema no longer accepts is reported (file, line, field) and the default is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from qtui import paths
from qtui.files.atomic import locked, replace_file
from qtui.files.tomlfile import FileProblems, KeyLines, Problem, read_toml
from qtui.plugins.bundles.manifest import Manifest, Setting, SettingType

SETTINGS_FILE = "plugin-settings.toml"
MAX_FILE_BYTES = 1024 * 1024


def settings_path() -> Path:
    return paths.config_dir() / SETTINGS_FILE


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def from_text(setting: Setting, text: str) -> object:
    """The value typed as `text` (in the console's editor or on the command line) for `setting`.

    Numbers are read as integers when they look like one, else as decimals; booleans accept
    true/false, yes/no, on/off and 1/0. The value is not validated yet (see Setting.validate).
    Raises ValueError saying the text is not of the setting's type.
    """
    match setting.type:
        case SettingType.NUMBER:
            stripped = text.strip()
            try:
                return int(stripped) if stripped.lstrip("+-").isdigit() else float(stripped)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
        case SettingType.BOOLEAN:
            folded = text.strip().lower()
            if folded in _TRUE or folded in _FALSE:
                return folded in _TRUE
            raise ValueError(f"{text!r} is not true or false")
    return text


class SettingsStore:
    """Reads and writes the settings file; every write is locked and atomic."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_path()

    def _read(self) -> tuple[dict[str, Any], str]:
        if not self.path.exists():
            return {}, ""
        return read_toml(self.path, max_bytes=MAX_FILE_BYTES)

    def values(self, manifest: Manifest) -> tuple[dict[str, Any], list[Problem]]:
        """The plugin's settings (defaults overlaid with valid stored values) and any problems."""
        values = {s.name: s.default for s in manifest.settings}
        try:
            data, text = self._read()
        except FileProblems as exc:
            return values, list(exc.problems)
        stored = data.get(manifest.name, {})
        lines = KeyLines(text) if text else None
        problems = []
        if not isinstance(stored, dict):
            return values, [Problem(self.path, self._line(lines, (manifest.name,)), manifest.name, "must be a table")]
        for name, value in stored.items():
            setting = manifest.setting(name)
            where = (manifest.name, name)
            if setting is None:
                problems.append(Problem(self.path, self._line(lines, where), f"{manifest.name}.{name}",
                                        "not a setting of this plugin (ignored)"))
                continue
            try:
                values[name] = setting.validate(value)
            except ValueError as exc:
                problems.append(Problem(self.path, self._line(lines, where), f"{manifest.name}.{name}",
                                        f"{exc} (using the default)"))
        return values, problems

    @staticmethod
    def _line(lines: KeyLines | None, path: tuple[str, ...]) -> int | None:
        return lines.line(path) if lines is not None else None

    def forget(self, plugin: str) -> bool:
        """Drop every stored value of `plugin`; True if there were any."""
        with locked(self.path):
            data, _text = self._read()
            if plugin not in data:
                return False
            del data[plugin]
            replace_file(self.path, tomli_w.dumps(data))
        return True

    def save(self, manifest: Manifest, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate and store `changes`; returns the plugin's full settings. ValueError names the field."""
        validated = {}
        for name, value in changes.items():
            setting = manifest.setting(name)
            if setting is None:
                raise ValueError(f"{name}: {manifest.name} has no such setting")
            try:
                validated[name] = setting.validate(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        with locked(self.path):
            data, _text = self._read()
            data.setdefault(manifest.name, {}).update(validated)
            replace_file(self.path, tomli_w.dumps(data))
        return self.values(manifest)[0]
