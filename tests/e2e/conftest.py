"""Driving the real qtui in tmux at 80x24."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import WAIT, wait_until_sync

QTUI = [sys.executable, "-m", "qtui"]


class Tmux:
    """One tmux server (own socket) running one command in an 80x24 window."""

    def __init__(self, tmux: str, workdir: Path) -> None:
        self._tmux = tmux
        self.socket = f"qtui-test-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir

    def _run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([self._tmux, "-L", self.socket, *args], capture_output=True, text=True,
                                check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (80, 24)) -> None:
        """Start `argv`; when it exits the pane prints its status and terminal modes, then waits."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # The trap keeps the shell alive when Ctrl-C reaches the whole foreground group (the
        # program gets the default handling back: a trap does not survive exec).
        script = (f"trap true INT; env {exports} {shlex.join(argv)}; echo \"exit=$?\"; stty -a | tr ';' '\\n' | "
                  "grep -E -o -- '-?(icanon|echo)\\b' | tr '\\n' ' '; echo; sleep 600")
        self._run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(size[0]), "-y", str(size[1]),
                  "sh", "-c", script)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self._run("send-keys", "-t", "t", key)
            # a lone Esc followed at once by a key reads as Meta+key, as on any terminal
            time.sleep(0.3 if key == "Escape" else 0.05)

    def type(self, text: str) -> None:
        self._run("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "t")

    def wait_for(self, predicate: Callable[[str], bool] | str, timeout: float = WAIT) -> str:
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        wait_until_sync(lambda: check(self.screen()), lambda: f"the screen; it is:\n{self.screen()}", timeout, 0.1)
        return self.screen()

    def pipe_output(self, path: Path) -> None:
        """Copy everything the program writes to the terminal into `path` from now on."""
        self._run("pipe-pane", "-o", "-t", "t", f"cat >> {shlex.quote(str(path))}")

    def program_pid(self) -> int:
        """The pid of the program the pane runs (the child of the pane's shell)."""
        shell = int(self._run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())
        children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
        return int(children[0])

    def kill(self) -> None:
        self._run("kill-server", check=False)


def command(tmux: Tmux, line: str) -> None:
    """Run `line` on the console's command line."""
    tmux.keys(":")
    tmux.type(line)
    tmux.keys("Enter")


def answer(tmux: Tmux, *keys: str) -> str:
    """Press `keys` in a plugin's dialog once it takes them (its keys show in place of the wait)."""
    screen = tmux.wait_for(lambda s: "Enter save" in s or "y yes" in s)
    tmux.keys(*keys)
    return screen


@pytest.fixture
def tmux(system_tool, tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(system_tool("tmux", "tmux"), tmp_path)
    yield session
    session.kill()


@pytest.fixture
def qtui_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a qtui under test: its own XDG dirs, a plain xterm."""
    env = {
        "TERM": "xterm",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    return env
