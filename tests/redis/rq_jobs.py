"""Job functions RQ workers run in the tests (importable with tests/redis on PYTHONPATH)."""

from __future__ import annotations

from pathlib import Path


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str) -> None:
    raise RuntimeError(message)


def fail_unless_marker(path: str) -> str:
    """Fail until the file `path` exists; lets a test make a requeued job succeed."""
    if not Path(path).exists():
        raise RuntimeError(f"marker {path} missing")
    return "ok"


def touch(path: str) -> None:
    Path(path).write_text("ran")


def wait_for(path: str, timeout: float = 20.0) -> str:
    """Run until the file `path` appears (or `timeout` passes); lets a test see a busy worker."""
    import time

    deadline = time.monotonic() + timeout
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "done"
