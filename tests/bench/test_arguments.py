"""The benchmarks refuse arguments they cannot measure with, naming the option, before any work."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("argv", "named"), [
    (["idle", "--jobs", "0"], "--jobs must be at least 1,000"),
    (["idle", "--db", "/nonexistent/jobs.db"], "--db /nonexistent/jobs.db: no such file"),
    (["idle", "--rq-jobs", "-1"], "--rq-jobs must be 0 or more"),
    (["idle", "--seconds", "0"], "--seconds must be more than 0"),
    (["idle", "--repeat", "0"], "--repeat must be at least 1"),
    (["plugins", "--jobs", "10"], "--jobs must be at least 1,000"),
    (["plugins", "--events", "0"], "--events, --repeat and --trip-events must be at least 1"),
])
def test_bad_arguments_exit_2_naming_the_option(argv: list[str], named: str) -> None:
    done = subprocess.run([sys.executable, "-m", "qtui.bench", *argv], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
