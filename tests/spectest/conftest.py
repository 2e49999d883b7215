"""Helpers for the spec runner tests: spec files and plugin folders in tmp_path, the CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from qtui.authoring import spectest
from qtui.authoring.spectest import SpecResult
from qtui.cli.main import main

WriteSpec = Callable[..., Path]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def write_spec(tmp_path: Path) -> WriteSpec:
    """write_spec(text, name="x_spec.lua", folder=tmp_path/"spec"): a spec file (text dedented)."""

    def write(text: str, name: str = "x_spec.lua", folder: Path | None = None) -> Path:
        folder = folder or tmp_path / "spec"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def run_specs(*files: Path, plugin: Path | None = None) -> list[SpecResult]:
    """Run spec files; what they print is dropped."""
    return spectest.run_specs(list(files), plugin=plugin, output=lambda line: None)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """run(*argv): qtui's exit status, stdout and stderr, run from tmp_path."""
    monkeypatch.chdir(tmp_path)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def run_module(run: Run, capsys: pytest.CaptureFixture[str]) -> Run:
    """run_module(*argv): `python -m qtui.authoring.spectest ARGV` from tmp_path, as run() does."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = spectest.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
