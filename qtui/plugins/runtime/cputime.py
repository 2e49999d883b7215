"""The CPU time a plugin's call is charged: its thread's, less the thread's Python garbage collections.

CPython collects garbage in whichever thread allocates when a threshold is crossed, often
a plugin's worker building a value for Lua or decoding JSON for it. A full collection walks
the whole host's heap (a tenth of a second or more in a large process): the host's work,
not the plugin's. A thread's collections are counted from the first :func:`this_thread`
call made in it.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any


class ThreadCPU:
    """One thread's CPU clock with its garbage collections left out."""

    __slots__ = ("clock_id", "collected", "collecting_since", "ident")

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        try:
            self.clock_id: int | None = time.pthread_getcpuclockid(self.ident)
        except (AttributeError, OSError):
            self.clock_id = None
        self.collecting_since: float | None = None  # the thread's CPU time when a collection began
        self.collected = 0.0  # CPU seconds its ended collections took

    def seconds(self) -> float:
        """The thread's CPU seconds without its collections; any thread may ask.

        During a collection the answer stands still at its start. Another thread gets 0
        where the system has no clock for a given thread, or once the thread has ended.
        """
        since = self.collecting_since
        if since is None:
            since = self.now()
        return since - self.collected

    def now(self) -> float:
        """The thread's CPU seconds, collections included."""
        if self.clock_id is None:
            return time.thread_time() if threading.get_ident() == self.ident else 0.0
        try:
            return time.clock_gettime(self.clock_id)
        except OSError:  # the thread has ended
            return 0.0


_threads = threading.local()


def this_thread() -> ThreadCPU:
    """The calling thread's clock, counting its collections from the first call."""
    try:
        clock: ThreadCPU = _threads.clock
    except AttributeError:
        clock = _threads.clock = ThreadCPU()
    return clock


def thread_seconds() -> float:
    """The calling thread's CPU seconds without its garbage collections."""
    return this_thread().seconds()


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    clock = getattr(_threads, "clock", None)
    if clock is None:
        return
    if phase == "start":
        clock.collecting_since = clock.now()
    elif clock.collecting_since is not None:
        clock.collected += clock.now() - clock.collecting_since
        clock.collecting_since = None


gc.callbacks.append(_on_collection)
