"""Fixtures for plugin metadata tests: every XDG location lives under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
import tomli_w


@pytest.fixture(autouse=True)
def xdg(isolated_home: Path) -> Path:
    """Every test here runs with HOME and the XDG variables in tmp_path."""
    return isolated_home


def _manifest_doc(name: str = "tenant-sla", version: str = "1.2.0", **fields: object) -> dict:
    doc: dict = {"name": name, "version": version, "description": "Tenant SLA panel", "api": "1"}
    doc.update(fields)
    return doc


@pytest.fixture
def manifest_doc() -> Callable[..., dict]:
    """manifest_doc(name=..., version=..., **fields): a minimal valid manifest document."""
    return _manifest_doc


MakePlugin = Callable[..., Path]


@pytest.fixture
def make_plugin() -> MakePlugin:
    """Write a plugin folder: make_plugin(parent, folder, doc=..., files={...}) -> folder path."""

    def make(
        parent: Path,
        folder: str,
        doc: Mapping[str, object] | None = None,
        files: Mapping[str, str] | None = None,
        permissions: Sequence[str] = (),
    ) -> Path:
        path = parent / folder
        path.mkdir(parents=True)
        document = dict(doc) if doc is not None else _manifest_doc(name=folder)
        if permissions:
            document["permissions"] = list(permissions)
        (path / "manifest.toml").write_text(tomli_w.dumps(document))
        for name, text in (files if files is not None else {"init.lua": "return {}\n"}).items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text)
        return path

    return make
