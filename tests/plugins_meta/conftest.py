"""Fixtures for plugin metadata tests: every XDG location lives under tmp_path."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
import tomli_w

from qtui.files import inotify


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


def _no_watch_left(self, folder: Path, mask: int = 0) -> int:
    raise OSError(errno.ENOSPC, f"cannot watch {folder}: No space left on device")


def _no_instance_left(self) -> None:
    raise OSError(errno.EMFILE, "inotify: Too many open files")


@pytest.fixture(params=["no watch left", "no inotify instance left"])
def file_event_limit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The system's limit of inotify watches, or of inotify instances, reached (skipped without inotify)."""
    if not inotify.available():
        pytest.skip("no inotify")
    if request.param == "no watch left":
        monkeypatch.setattr(inotify.Inotify, "watch", _no_watch_left)
    else:
        monkeypatch.setattr(inotify.Inotify, "__init__", _no_instance_left)
    return request.param
