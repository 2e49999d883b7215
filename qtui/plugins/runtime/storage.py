"""Small persistent storage for each plugin: one JSON file, capped in size, replaced atomically."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from qtui import paths
from qtui.files.atomic import locked, replace_file

#: The most a plugin may keep, as compact JSON.
MAX_STORAGE_BYTES = 64 * 1024


class StorageError(Exception):
    """A storage file is unreadable, or a write would exceed the cap."""


def storage_dir() -> Path:
    """$XDG_DATA_HOME/qtui/plugin-data: one file per plugin."""
    return paths.data_dir() / "plugin-data"


class PluginStorage:
    """Key-value storage of one plugin; values are plain JSON data."""

    def __init__(self, plugin: str, directory: Path | None = None, *, cap: int = MAX_STORAGE_BYTES) -> None:
        self.path = (directory or storage_dir()) / f"{plugin}.json"
        self.cap = cap
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StorageError(f"{self.path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise StorageError(f"{self.path}:1: expected a JSON object of keys and values")
        return data

    def get(self, key: str) -> Any:
        with self._lock:
            return self._read().get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._read())

    def set(self, key: str, value: Any) -> None:
        """Store `value` under `key` (None deletes); refuses to grow past the cap."""
        with self._lock, locked(self.path):
            data = self._read()
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            size = len(text.encode("utf-8"))
            if size > self.cap:
                raise StorageError(f"storage full: {size} bytes would exceed the {self.cap}-byte cap")
            replace_file(self.path, text)

    def delete(self) -> bool:
        """Delete the plugin's whole storage; True if it had any."""
        if not self.path.exists():
            return False
        with self._lock, locked(self.path):
            existed = self.path.exists()
            self.path.unlink(missing_ok=True)
            self.path.with_name(self.path.name + ".lock").unlink()  # no trace is left
        return existed
