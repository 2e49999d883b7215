"""Timing commands as whole processes, for the benchmarks that compare qtui with other tools.

Each command is started, waited for and timed from outside (wall clock, and the CPU time the
operating system accounts to the finished child), several times and in turn (A B C A B C ...),
so a machine that slows down mid-run slows every command alike. Figures are min and median.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs


@attrs.frozen
class Runs:
    """Wall and CPU (user + system) seconds of each counted run of one command."""

    wall: tuple[float, ...]
    cpu: tuple[float, ...]


def command_path(name: str) -> str | None:
    """The executable `name` installed beside this Python (its virtual environment), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which(name)


def run_once(argv: Sequence[str], env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of `argv`; RuntimeError with its stderr if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(list(argv), input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=None if env is None else dict(env), check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.decode(errors='replace')[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(commands: Mapping[str, Sequence[str]], runs: int, *, warmup: int = 1,
                env: Mapping[str, str] | None = None) -> dict[str, Runs]:
    """Run every command `warmup` times uncounted, then `runs` rounds of each in turn."""
    for _ in range(warmup):
        for argv in commands.values():
            run_once(argv, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            samples[name].append(run_once(argv, env))
    return {name: Runs(tuple(w for w, _ in got), tuple(c for _, c in got)) for name, got in samples.items()}


def min_median(values: Sequence[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A titled table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (cells[i].ljust(w) if i == 0 else cells[i].rjust(w) for i, w in enumerate(widths))
        return "  ".join([first, *rest]).rstrip()

    print(f"\n{title}")
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    sys.stdout.flush()
