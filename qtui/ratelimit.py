"""A rate limit that counts what it refuses, for floods summed up in one "N suppressed" line.

    limit = RateLimit(per_second=20, burst=100)
    go, missed = limit.admit()
    if missed:
        write(f"{missed} lines suppressed")
    if go:
        write(line)

A token bucket: `burst` items pass at once, then `per_second` on average. The clock comes from
the caller (seconds, monotonic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class RateLimit:
    """A token bucket that counts the items it refuses until one passes again. Thread-safe."""

    def __init__(self, per_second: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._refused = 0
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_second)
        self._at = now

    def admit(self) -> tuple[bool, int]:
        """(whether this item may go, how many were refused since the last one that went).

        The count is returned once, with the first item that goes after a flood.
        """
        with self._lock:
            self._refill()
            if self._tokens < 1:
                self._refused += 1
                return False, 0
            self._tokens -= 1
            missed, self._refused = self._refused, 0
            return True, missed

    def settle(self) -> int:
        """The refused count if items may go again (then reset), else 0: for a summary line
        when the flood stopped and no further item came to carry it."""
        with self._lock:
            self._refill()
            if not self._refused or self._tokens < 1:
                return 0
            missed, self._refused = self._refused, 0
            return missed

    @property
    def refused(self) -> int:
        """Items refused and not yet reported."""
        return self._refused
