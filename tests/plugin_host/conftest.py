"""A plugin host on a real SQLite queue, with its files in tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # for `import host_testkit` in the tests
    sys.path.insert(0, str(TESTS_DIR))

from host_testkit import NEIGHBOUR, Harness, PluginState, build_harness, write_plugin  # noqa: E402


@pytest.fixture
def plugin_home(tmp_path: Path, monkeypatch) -> Path:
    """XDG folders in tmp_path, so nothing a test runs touches the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
async def harness(plugin_home: Path, nursery):
    harness = build_harness(plugin_home)
    await nursery.start(harness.host.run)
    yield harness
    harness.backend.close()


__all__ = ["NEIGHBOUR", "Harness", "PluginState", "build_harness", "write_plugin"]
