"""Live demo data for `qtui demo` and `qtui plugin dev`: a seeded database kept busy in the background."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs

from qtui import paths, simulation
from qtui.clock import SYSTEM_CLOCK
from qtui.model import InvalidInput


@attrs.frozen
class RunningDemo:
    """The simulation process filling `db`; it writes its log to `log`."""

    db: Path
    log: Path
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def running_demo(db: str | None) -> Iterator[RunningDemo]:
    """Seed `db` (default: the demo database) if it is new, and simulate producers and workers on it.

    The simulation is a child process that runs until the block ends (or qtui dies: it stops
    when its stdin closes).
    """
    path = Path(db) if db else paths.demo_database()
    if "://" in str(path):
        raise InvalidInput("live demo data needs a file path for --db, not a URL")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        simulation.seed(path, clock=SYSTEM_CLOCK.time)
    log_dir = paths.state_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "demo.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "qtui.simulation", "--db", str(path)],
            stdin=subprocess.PIPE, stdout=output, stderr=output,
        )
    try:
        yield RunningDemo(path, log, process)
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
