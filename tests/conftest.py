"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, settings

# The suite must pass on a machine busy with other work: hypothesis judges no example by how
# long it took (deadlines and the too-slow health check read the real clock).
settings.register_profile("qtui", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("qtui")

_apt_updated = False


def _install_with_apt(package: str) -> None:
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
        _apt_updated = True
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env, capture_output=True)


@pytest.fixture(scope="session")
def system_tool() -> Callable[[str, str], str]:
    """`require(command, debian_package)`: the command's path, installing it when missing.

    Installs with apt-get when running as root; otherwise skips the test, except
    under CI (CI=true), where a missing tool fails the run instead of hiding tests.
    """

    def require(command: str, package: str) -> str:
        path = shutil.which(command)
        if path:
            return path
        if os.geteuid() == 0 and shutil.which("apt-get"):
            try:
                _install_with_apt(package)
            except subprocess.CalledProcessError as exc:
                pytest.fail(f"could not install {package} with apt-get: {exc.stderr!r}")
            path = shutil.which(command)
            if path:
                return path
        message = f"{command} is not installed (Debian package {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    return require


MakePlugin = Callable[..., Path]


@pytest.fixture
def make_plugin() -> MakePlugin:
    """make_plugin(parent, folder, name=folder, version=..., permissions=[...], files={...}, **fields)."""

    def make(
        parent: Path,
        folder_name: str,
        *,
        name: str | None = None,
        version: str = "1.0.0",
        permissions: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        **fields: object,
    ) -> Path:
        folder = parent / folder_name
        folder.mkdir(parents=True)
        name = name or folder_name
        doc = {"name": name, "version": version, "description": f"{name} panel", "api": "1",
               "permissions": list(permissions), **fields}
        (folder / "manifest.toml").write_text(tomli_w.dumps(doc))
        for path, text in (files if files is not None else {"init.lua": "return {}\n"}).items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text)
        return folder

    return make


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG variables into tmp_path, so no test touches the real home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "etc/xdg"))
    return home


@pytest.fixture
def user_plugins(isolated_home: Path) -> Path:
    return isolated_home / ".config/qtui/plugins"


@pytest.fixture
def system_plugins(tmp_path: Path) -> Path:
    return tmp_path / "etc/xdg/qtui/plugins"


@pytest.fixture
def enqueuer_lua() -> str:
    """A plugin's init.lua that adds a job to queue reports every 0.2 s (timers, jobs.enqueue).

    Its panel shows "sent N", then the error of its latest refused call.
    """
    return (
        'local sent, last = 0, "nothing refused"\n'
        'function activate() qtui.every("send", 0.2) end\n'
        "function on_event(e)\n"
        '  if e.type == "timer" then\n'
        '    local ok, err = pcall(qtui.jobs.enqueue, "reports", {n = sent})\n'
        "    if ok then sent = sent + 1 else last = err end\n"
        "  end\n"
        '  qtui.render({"sent " .. sent, last})\n'
        "end\n"
    )
