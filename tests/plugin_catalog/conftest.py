"""Fixtures for the plugin catalog tests: every XDG location, plugin and archive lives under tmp_path."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from qtui.cli.main import main
from qtui.plugins.bundles import discovery


@pytest.fixture(autouse=True)
def xdg(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG variables into tmp_path; no bundled plugins unless a test adds them."""
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(discovery, "bundled_dir", lambda: None)
    return isolated_home


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder standing in for qtui's bundled plugins."""
    folder = tmp_path / "lua_plugins"
    folder.mkdir()
    monkeypatch.setattr(discovery, "bundled_dir", lambda: folder)
    return folder


Member = tuple[str, bytes] | tarfile.TarInfo
MakeTar = Callable[[Sequence[Member]], bytes]


@pytest.fixture
def make_tar() -> MakeTar:
    """make_tar(members): a .tar.gz of (name, content) files and TarInfo headers (links, devices)."""

    def make(members: Sequence[Member]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for member in members:
                if isinstance(member, tarfile.TarInfo):
                    tar.addfile(member)
                else:
                    name, content = member
                    info = tarfile.TarInfo(name)
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()

    return make


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on 127.0.0.1 serving a folder: (folder, base URL ending in /)."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """run(*argv): qtui's exit status, stdout and stderr."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
