"""Fixtures for `qtui plugin ...` tests: every XDG location and plugin folder lives under tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from qtui.cli.main import main
from qtui.plugins.bundles import discovery


@pytest.fixture(autouse=True)
def xdg(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG variables into tmp_path, and leave out qtui's own bundled plugins."""
    monkeypatch.setattr(discovery, "bundled_dir", lambda: None)
    return isolated_home


@pytest.fixture
def policy(tmp_path: Path) -> Callable[[str], Path]:
    """policy(text): write the site policy.toml."""

    def write(text: str) -> Path:
        path = tmp_path / "etc/xdg/qtui/policy.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """run(*argv): qtui's exit status, stdout and stderr."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def run_json(run: Run) -> Callable[..., object]:
    """run_json(*argv): the parsed JSON output of a command that must succeed."""

    def invoke(*argv: str) -> object:
        code, out, err = run(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    return invoke
