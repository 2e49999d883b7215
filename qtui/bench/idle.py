"""CPU an idle console costs per minute, against the tool an operator would leave running instead.

    python -m qtui.bench idle [--jobs 1000000] [--rq-jobs 100000] [--seconds 120] [--settle 30]
                              [--repeat 3] [--db PATH]

The console runs as a real process on a pseudo-terminal of 80x24 with its own XDG folders,
polling the backend; nobody presses a key. After it settles, its CPU time (user + system,
from /proc) over a window is scaled to a minute. `rq info -i 2` is measured the same way on
the same RQ data. The console runs at `--refresh 2` (its default), the interval `rq info -i 2`
polls at; with no plugins and with the four bundled ones, on a 1M-job SQLite database and on
RQ data, both made over the day before (an idle backlog: nothing moves, the oldest jobs wait
for hours). Each row gives the min and the median of the repeats, which run interleaved so
that load on the machine spreads over all rows.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import statistics
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import redis
import tomli_w

import qtui
from qtui.bench.redis import LocalRedisServer, load_rq
from qtui.bench.sqlite import QUEUE_NAMES
from qtui.bench.sqlite import _build as build_sqlite

#: The plugins qtui ships (lua_plugins/), enabled and granted for the "four plugins" rows.
BUNDLED_PLUGINS = ("bulk-requeue", "queue-alert", "tenant-sla", "throughput")


#: Seconds a console runs before it is measured: past its start-up, which includes the plugins'
#: first work (tenant-sla counts every queue's tenants once; on a loaded machine that reading
#: can still be running 10 s after the start).
SETTLE_SECONDS = 30.0
#: Seconds of CPU time measured: whole minutes, since plugins that follow the time alone while
#: the queues stand still (a chart's new minute, an alert held a minute longer) work once a
#: minute, and a shorter window would take that work in or leave it out by chance. Two minutes:
#: the kernel counts CPU time in ticks (10 ms here), which is then 0.005 s a minute.
MEASURE_SECONDS = 120.0


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


#: The interval `rq info -i 2` polls at: the console is compared with it at the same refresh.
RQ_INFO_INTERVAL = 2.0


def console_argv(db: str, plugins: Sequence[str], refresh: float = RQ_INFO_INTERVAL) -> list[str]:
    """The console on backend `db` polling every `refresh` seconds, without plugins when `plugins` is empty."""
    return [sys.executable, "-m", "qtui", "--db", db, *([] if plugins else ["--no-plugins"]),
            "--refresh", f"{refresh:g}"]


#: RQ queues of the benchmark's data.
RQ_QUEUES = 20
#: The RQ jobs are made over the day before the run, as the SQLite database's are: an idle
#: backlog whose oldest jobs wait for hours (panels show such waits to the minute or hour).
RQ_SPREAD_SECONDS = 86_400.0


def _row_label(backend: str, plugins: Sequence[str]) -> str:
    return f"qtui, {backend}, {len(plugins) or 'no'} plugins, --refresh {RQ_INFO_INTERVAL:g}"


def _measure(rows: dict[str, list[float]], label: str, argv: list[str], env: dict[str, str], *,
             settle: float, seconds: float) -> None:
    rows.setdefault(label, []).append(idle_cpu_per_minute(argv, env, settle=settle, seconds=seconds))
    print(f"   ... {label}: {rows[label][-1]:.2f}", file=sys.stderr, flush=True)


def measure_rows(*, jobs: int, db: Path | None, rq_jobs: int, settle: float, seconds: float,
                 repeat: int) -> dict[str, list[float]]:
    """Row label -> CPU seconds per minute of each repeat: the console with no plugins and with
    the four bundled ones on SQLite (`db`, or a database of `jobs` built here) and on `rq_jobs`
    RQ jobs (0: none), and `rq info -i 2` on the same RQ data. Repeats run interleaved."""
    rows: dict[str, list[float]] = {}
    measure = {"settle": settle, "seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="qtui-bench-idle-") as tmp:
        root = Path(tmp)
        sqlite_label = f"SQLite {jobs:,} jobs" if db is None else f"SQLite {db.name}"
        if db is None:
            db = root / "jobs.db"
            build_sqlite(db, jobs, QUEUE_NAMES)
        envs = {plugins: console_env(root / f"home-{len(plugins)}", plugins) for plugins in ((), BUNDLED_PLUGINS)}
        server = None
        if rq_jobs:
            server = LocalRedisServer(root / "redis")
            server.start()
        try:
            if server is not None:
                client = redis.Redis(host="127.0.0.1", port=server.port)
                load_rq(client, rq_jobs, RQ_QUEUES, rq_jobs // 10, spread=RQ_SPREAD_SECONDS)
                client.close()
            for _ in range(repeat):
                for plugins, env in envs.items():
                    _measure(rows, _row_label(sqlite_label, plugins), console_argv(str(db), plugins), env,
                             **measure)
                    if server is not None:
                        _measure(rows, _row_label(f"RQ {rq_jobs:,} jobs", plugins),
                                 console_argv("rq+" + server.url(), plugins), env, **measure)
                if server is not None:
                    rq = shutil.which("rq", path=os.path.dirname(sys.executable)) or "rq"
                    _measure(rows, f"rq info -i {RQ_INFO_INTERVAL:g}, same RQ data",
                             [rq, "info", "-i", f"{RQ_INFO_INTERVAL:g}", "--url", server.url()], envs[()], **measure)
        finally:
            if server is not None:
                server.stop()
    return rows


def print_rows(rows: dict[str, list[float]], indent: str = "   ") -> None:
    """The rows of :func:`measure_rows`, min and median, with the ratio of each console with
    plugins to the same console without."""
    print(f"{indent}{'':64}{'min':>8}{'median':>8}{'x none':>8}")
    for label, values in rows.items():
        base = rows.get(label.replace(f"{len(BUNDLED_PLUGINS)} plugins", "no plugins"))
        ratio = f"{min(values) / min(base):7.2f}x" if base is not None and base is not values and min(base) else ""
        print(f"{indent}{label:64}{min(values):8.2f}{statistics.median(values):8.2f}{ratio}")


#: The fewest jobs a built SQLite database holds (the rare search term is in a few of them).
MIN_JOBS = 1000


def check_arguments(parser: argparse.ArgumentParser, *, jobs: int, db: Path | None, rq_jobs: int, seconds: float,
                    repeat: int) -> None:
    """Exit through `parser` naming the option, when the idle rows cannot be measured with these."""
    if db is None and jobs < MIN_JOBS:
        parser.error(f"--jobs must be at least {MIN_JOBS:,}")
    if db is not None and not db.is_file():
        parser.error(f"--db {db}: no such file")
    if rq_jobs < 0:
        parser.error("--rq-jobs must be 0 or more")
    if not seconds > 0:
        parser.error("--seconds must be more than 0")
    if repeat < 1:
        parser.error("--repeat must be at least 1")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench idle", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs in the SQLite database")
    parser.add_argument("--db", type=Path, help="an existing SQLite queue to use instead of building one")
    parser.add_argument("--rq-jobs", type=int, default=100_000, help="RQ jobs (0: skip the RQ rows)")
    parser.add_argument("--seconds", type=float, default=MEASURE_SECONDS, help="CPU measured over this long")
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS, help="seconds a process runs before measuring")
    parser.add_argument("--repeat", type=int, default=3, help="measurements of each row")
    args = parser.parse_args(argv)
    check_arguments(parser, jobs=args.jobs, db=args.db, rq_jobs=args.rq_jobs, seconds=args.seconds,
                    repeat=args.repeat)

    rows = measure_rows(jobs=args.jobs, db=args.db, rq_jobs=args.rq_jobs, settle=args.settle, seconds=args.seconds,
                        repeat=args.repeat)
    print(f"Idle CPU per minute (s), 80x24; {args.seconds:g} s measured after {args.settle:g} s, "
          f"{args.repeat} repeats. Targets: with the four plugins at most 1.5x no plugins,")
    print(f"and at most `rq info -i {RQ_INFO_INTERVAL:g}`.")
    print_rows(rows)
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    return 0
