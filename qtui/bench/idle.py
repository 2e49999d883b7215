"""CPU an idle console costs per minute, against the tool an operator would leave running instead.

The console runs as a real process on a pseudo-terminal of 80x24 with its own XDG folders,
polling the backend at its default refresh; nobody presses a key. After it settles, its CPU
time (user + system, from /proc) over a window is scaled to a minute. `rq info -i 2` is
measured the same way on the same RQ data.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import tomli_w

import qtui

#: The plugins qtui ships (lua_plugins/), enabled and granted for the "four plugins" rows.
BUNDLED_PLUGINS = ("bulk-requeue", "queue-alert", "tenant-sla", "throughput")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def idle_cpu_per_minute(argv: Sequence[str], env: dict[str, str], *, settle: float, seconds: float) -> float:
    """CPU seconds per minute of `argv` on an 80x24 terminal, measured over `seconds` after `settle`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True, close_fds=True)
    os.close(slave)

    def drain() -> None:  # a terminal that is not read would stop the program at its next write
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        time.sleep(settle)
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with status {process.returncode} before the measurement")
        before, start = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = _cpu_seconds(process.pid) - before, time.monotonic() - start
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with status {process.returncode} during the measurement")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        os.close(master)
        reader.join(timeout=5)
    return used / elapsed * 60


def console_env(home: Path, plugins: Sequence[str]) -> dict[str, str]:
    """Environment for a console with its own folders under `home`, `plugins` enabled and granted."""
    env = {
        "TERM": "xterm",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(Path(qtui.__file__).resolve().parents[1]),  # this qtui, wherever it runs from
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    config = home / "config" / "qtui"
    config.mkdir(parents=True, exist_ok=True)
    (config / "plugins.toml").write_text(tomli_w.dumps({"enabled": list(plugins)}))
    for name in plugins:
        subprocess.run([sys.executable, "-m", "qtui", "plugin", "grant", "--all", "--yes", name],
                       env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return env


def console_argv(db: str, plugins: Sequence[str]) -> list[str]:
    """The console on backend `db`, without plugins when `plugins` is empty."""
    return [sys.executable, "-m", "qtui", "--db", db, *([] if plugins else ["--no-plugins"])]
