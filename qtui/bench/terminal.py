"""What the console costs a slow link and a cold start: `python -m qtui.bench terminal [options]`.

Bytes per second: 20 RQ queues (a throwaway redis-server on loopback) each get a job every
second; `qtui --refresh 1` and RQ's `rq info -i 1` watch them at the same time, each in its
own tmux pane of the same size, and everything each program writes to its terminal is
counted once per second after a warm-up (min, median and mean of those seconds).
Target: qtui writes at most a fifth of what `rq info -i 1` writes.

Time to first frame: the console on a SQLite queue in a pseudo-terminal of the same size,
timed from its start until the terminal (emulated by pyte) shows the frame's bottom line,
and until it shows the queues, with no plugins and with 10 enabled, against a process that
only imports urwid, trio and lupa and prints a line (timed the same way, until that line shows).
Wall and CPU time (what the program had used by then). `--frames-only` skips bytes per second.
Target: the first frame within 400 ms with 10 plugins.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pyte
import redis

from qtui.bench.processes import command_path, min_median, ms, print_table
from qtui.bench.redis import LocalRedisServer, load_rq
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.discovery import PLUGINS_FOLDER, bundled_dir
from qtui.plugins.bundles.manifest import load_manifest
from qtui.plugins.trust.enabled import ENABLED_FILE, EnabledStore
from qtui.plugins.trust.permissions import PERMISSIONS_FILE, PermissionStore
from qtui.sqlite_queue import SQLiteQueue

SIZE = (80, 24)
QUEUES = 20
FLOOR = 'python3 -c "import urwid, trio, lupa; print(...)"'
#: The bundled plugins copied (under new names) to make ten: each reads statistics and draws a panel.
SAMPLE_PLUGINS = ("queue-alert", "throughput", "tenant-sla")
#: The console's key hints, on the bottom line of every frame.
BOTTOM_LINE = "? help"


#: Left out of the programs' environment: they run as for a user (bytecode kept, colours on).
UNSET = ("PYTHONDONTWRITEBYTECODE", "NO_COLOR")


def settings(root: Path) -> dict[str, str]:
    """A plain xterm with its own XDG folders under `root`."""
    return {"TERM": "xterm", "LANG": "C.UTF-8", "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"), "XDG_STATE_HOME": str(root / "state"),
            "XDG_CONFIG_DIRS": str(root / "site")}


def environment(root: Path) -> dict[str, str]:
    """This process's environment with :func:`settings`, without UNSET."""
    return {**{k: v for k, v in os.environ.items() if k not in UNSET}, **settings(root)}


# -- bytes per second -----------------------------------------------------------------------


class Pane:
    """A tmux server of its own running one command at SIZE; what the command writes goes to a file."""

    def __init__(self, tmux: str, output: Path) -> None:
        self.tmux = tmux
        self.socket = f"qtui-bench-{uuid.uuid4().hex[:8]}"
        self.output = output

    def _run(self, *args: str) -> None:
        subprocess.run([self.tmux, "-L", self.socket, *args], check=True, capture_output=True)

    def start(self, argv: Sequence[str], env: dict[str, str]) -> None:
        """Start `argv` with `env` added to tmux's environment, once the copy of its output is in place."""
        ready = self.output.with_suffix(".go")
        unset = " ".join(f"-u {name}" for name in UNSET)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = (f"while [ ! -e {shlex.quote(str(ready))} ]; do sleep 0.05; done; "
                  f"exec env {unset} {exports} {shlex.join(argv)}")
        self._run("-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", str(SIZE[0]), "-y", str(SIZE[1]),
                  "sh", "-c", script)
        self._run("pipe-pane", "-o", "-t", "b", f"cat >> {shlex.quote(str(self.output))}")
        self.output.touch()
        ready.touch()

    def screen(self) -> str:
        return subprocess.run([self.tmux, "-L", self.socket, "capture-pane", "-p", "-t", "b"], check=True,
                              capture_output=True, text=True).stdout

    def wait_for_queue_rows(self, name: str, timeout: float = 5.0) -> None:
        """Check the program shows queue rows (rq info clears its screen each second: look again)."""
        deadline = time.monotonic() + timeout
        while not re.search(r"^q\d\d ", screen := self.screen(), re.MULTILINE):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} does not show the queues; its screen:\n{screen}")
            time.sleep(0.1)

    def written(self) -> int:
        return self.output.stat().st_size

    def stop(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], check=False, capture_output=True)


def keep_changing(client: redis.Redis, template: dict[bytes, bytes], stop: threading.Event) -> None:
    """Once a second, a new job on each RQ queue, so every queue's count changes."""
    tick = 0
    while not stop.wait(1.0):
        tick += 1
        with client.pipeline(transaction=False) as pipe:
            for q in range(QUEUES):
                job_id = f"tick-{tick}-{q}"
                pipe.hset(f"rq:job:{job_id}", mapping={**template, b"origin": f"q{q:02d}".encode()})
                pipe.rpush(f"rq:queue:q{q:02d}", job_id)
            pipe.execute()


def bytes_per_second(root: Path, tmux: str, qtui: str, rq: str, seconds: int, warmup: int) -> dict[str, list[int]]:
    """Bytes each program wrote in each second of the measured window."""
    server = LocalRedisServer(root / "redis")
    server.start()
    stop = threading.Event()
    panes = {"qtui --refresh 1": Pane(tmux, root / "qtui.out"), "rq info -i 1": Pane(tmux, root / "rq.out")}
    try:
        client = redis.Redis(port=server.port)
        ids = load_rq(client, 2_000, QUEUES, 0)
        template = client.hgetall(f"rq:job:{ids[-1]}")
        changer = threading.Thread(target=keep_changing, args=(client, template, stop), daemon=True)
        changer.start()
        env = settings(root)
        panes["qtui --refresh 1"].start([qtui, "--db", f"rq+{server.url()}", "--refresh", "1"], env)
        panes["rq info -i 1"].start([rq, "info", "-i", "1", "--url", server.url()], env)
        time.sleep(warmup)
        samples: dict[str, list[int]] = {name: [] for name in panes}
        before = {name: pane.written() for name, pane in panes.items()}
        for _ in range(seconds):
            time.sleep(1.0)
            for name, pane in panes.items():
                now = pane.written()
                samples[name].append(now - before[name])
                before[name] = now
        for name, pane in panes.items():
            pane.wait_for_queue_rows(name)
        return samples
    finally:
        stop.set()
        for pane in panes.values():
            pane.stop()
        server.stop()


# -- time to first frame --------------------------------------------------------------------


def sample_database(path: Path) -> None:
    """A queue database with QUEUES queues of a few jobs each."""
    with SQLiteQueue.open(path, create=True) as queue:
        for q in range(QUEUES):
            queue.enqueue_many(f"q{q:02d}", [{"n": n} for n in range(q + 1)])


def enable_plugins(config: Path, count: int) -> None:
    """`count` copies of the bundled sample plugins, enabled and granted what they ask for."""
    bundled = bundled_dir()
    if bundled is None:
        raise RuntimeError("the bundled plugins are not installed")
    folder = config / "qtui" / PLUGINS_FOLDER
    enabled = EnabledStore(config / "qtui" / ENABLED_FILE)
    permissions = PermissionStore(config / "qtui" / PERMISSIONS_FILE)
    for n in range(count):
        source = SAMPLE_PLUGINS[n % len(SAMPLE_PLUGINS)]
        name = f"{source}-{n}"
        shutil.copytree(bundled / source, folder / name, ignore=shutil.ignore_patterns("spec"))
        manifest_file = folder / name / "manifest.toml"
        manifest_file.write_text(re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', manifest_file.read_text(), count=1))
        manifest = load_manifest(folder / name)
        permissions.decide(manifest, bundle_hash(folder / name), grant=manifest.permissions)
        enabled.set(name, True)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the running process `pid` has used so far (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def until_shown(argv: Sequence[str], env: dict[str, str], shown: dict[str, Callable[[list[str]], bool]],
                timeout: float = 20.0) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds from starting `argv` in a pseudo-terminal of SIZE until each condition
    holds on its screen; CPU is what the program has used by then, which a busy machine inflates
    less than the wall clock."""
    screen = pyte.Screen(*SIZE)
    stream = pyte.ByteStream(screen)
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal's size first, as a terminal emulator sets it
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
            os.execve(argv[0], list(argv), env)
        finally:
            os._exit(127)
    found: dict[str, tuple[float, float]] = {}
    try:
        while len(found) < len(shown) and time.perf_counter() - start < timeout:
            if not select.select([fd], [], [], 0.05)[0]:
                continue
            try:
                stream.feed(os.read(fd, 65536))
            except OSError:
                break  # the program ended
            now = time.perf_counter() - start
            for name, condition in shown.items():
                if name not in found and condition(screen.display):
                    found[name] = (now, cpu_seconds(pid))
    finally:
        stop_child(pid, fd)
    missing = sorted(set(shown) - set(found))
    if missing:
        raise RuntimeError(f"{shlex.join(argv)}: never showed {', '.join(missing)}; the screen:\n"
                           + "\n".join(screen.display))
    return found


def stop_child(pid: int, fd: int) -> None:
    """SIGTERM the program, reading what it still writes, SIGKILL it after 5 s; close its terminal."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        try:
            if select.select([fd], [], [], 0.05)[0]:
                os.read(fd, 65536)  # so its last writes do not block it
        except OSError:
            time.sleep(0.05)  # the terminal is closed on its side
    os.close(fd)


#: The floor: a program that imports what the console's first frame stands on, says so and waits.
FLOOR_PROGRAM = "import urwid, trio, lupa, sys, time; print('imported', flush=True); time.sleep(60)"


def first_frames(root: Path, qtui: str, runs: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds to the first frame and to the queues on screen, with 0 and 10 plugins,
    and to the floor's line, each timed the same way: in a pseudo-terminal until pyte shows it."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "frames.db"
    sample_database(db)
    homes = {0: root / "plain", 10: root / "plugins"}
    for count, home in homes.items():
        enable_plugins(home / "config", count)
    shown = {"first frame": lambda rows: rows[-1].startswith(BOTTOM_LINE),
             "queues shown": lambda rows: any(row.startswith("q00 ") for row in rows)}
    samples: dict[str, list[tuple[float, float]]] = {}
    floor = [sys.executable, "-c", FLOOR_PROGRAM]
    for round_ in range(runs + 1):  # the first round only warms up (bytecode, file cache)
        imported = until_shown(floor, environment(homes[0]), {"imported": lambda rows: rows[0].rstrip() == "imported"})
        if round_:
            samples.setdefault(FLOOR, []).append(imported["imported"])
        for count, home in homes.items():
            times = until_shown([qtui, "--db", str(db)], environment(home), shown)
            if round_:
                for what, seconds in times.items():
                    samples.setdefault(f"console, {count} plugins: {what}", []).append(seconds)
    return samples


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench terminal", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="seconds of output counted (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=5, help="seconds before counting (default %(default)s)")
    parser.add_argument("--runs", type=int, default=10, help="starts timed of each kind (default %(default)s)")
    parser.add_argument("--frames-only", action="store_true", help="time the first frames only, not bytes per second")
    args = parser.parse_args(argv)
    qtui, rq, tmux = command_path("qtui"), command_path("rq"), shutil.which("tmux")
    if qtui is None or rq is None or tmux is None or command_path("redis-server") is None:
        print("needs the qtui and rq commands (pip install -e '.[test]'), tmux and redis-server", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="qtui-bench-terminal-") as tmp:
        root = Path(tmp)
        if not args.frames_only:
            written = bytes_per_second(root / "link", tmux, qtui, rq, args.seconds, args.warmup)
            print_bytes(written, args.seconds, args.warmup)
        frames = first_frames(root / "start", qtui, args.runs)
    rows = []
    for name, times in frames.items():
        wall, cpu = min_median([w for w, _ in times]), min_median([c for _, c in times])
        rows.append((name, ms(wall[0]), ms(wall[1]), ms(cpu[0]), ms(cpu[1])))
    print_table(f"Time to first frame, pseudo-terminal {SIZE[0]}x{SIZE[1]}, {args.runs} starts each in turn "
                "(target: first frame within 400 ms with 10 plugins; CPU: what the program had used by then, "
                f"in steps of {1000 / os.sysconf('SC_CLK_TCK'):.0f} ms)",
                ("start", "min", "median", "CPU min", "CPU median"), rows)
    return 0


def print_bytes(written: dict[str, list[int]], seconds: int, warmup: int) -> None:
    rq_mean = statistics.mean(written["rq info -i 1"])
    rows = [(name, f"{min(per_second):,}", f"{statistics.median(per_second):,.0f}",
             f"{statistics.mean(per_second):,.0f}", f"{statistics.mean(per_second) / rq_mean:.2f}")
            for name, per_second in written.items()]
    print_table(f"Terminal bytes per second, {QUEUES} RQ queues each changing every second, "
                f"tmux {SIZE[0]}x{SIZE[1]}, {seconds} s after {warmup} s (target: x rq info <= 0.20)",
                ("program", "min", "median", "mean", "x rq info"), rows)
