"""A rate limit that counts what it refuses, for floods summed up in one "N suppressed" line.

    limit = RateLimit(per_second=20, burst=100, clock=clock.monotonic)
    go, missed = limit.admit()
    if missed:
        write(f"{missed} lines suppressed")
    if go:
        write(line)

A token bucket: `burst` items pass at once, then `per_second` on average. What it refused is
reported `report_every` seconds after the flood began, with an item that goes or by
:meth:`RateLimit.settle` when no item comes: a short flood sums up in one line, one that lasts
in a line every `report_every` seconds. The clock comes from the caller (seconds, monotonic).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from qtui.clock import MonotonicClock


class RateLimit:
    """A token bucket that counts the items it refuses until one passes again. Thread-safe."""

    def __init__(self, per_second: float, burst: int, *, report_every: float = 1.0,
                 clock: MonotonicClock, on_flood: Callable[[], None] | None = None) -> None:
        """`on_flood()` is called (in the thread that met the limit) when a flood begins."""
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self.per_second = per_second
        self.burst = burst
        self.report_every = report_every
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._refused = 0
        self._reported_at = 0.0  # when the flood being counted began, or was last reported
        self._lock = threading.Lock()
        self._on_flood = on_flood

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_second)
        self._at = now

    def _report(self) -> int:
        if not self._refused or self._at - self._reported_at < self.report_every:
            return 0
        missed, self._refused = self._refused, 0
        self._reported_at = self._at
        return missed

    def admit(self) -> tuple[bool, int]:
        """(whether this item may go, how many were refused and not reported yet).

        The count comes with an item that goes `report_every` seconds after the flood began
        or was last reported.
        """
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return True, self._report()
            began = not self._refused
            if began:
                self._reported_at = self._at
            self._refused += 1
        if began and self._on_flood is not None:
            self._on_flood()
        return False, 0

    def settle(self) -> int:
        """The count of refused items not reported yet, once items may go again (else 0):
        for the summary line of a flood that stopped with no further item to carry it."""
        with self._lock:
            self._refill()
            return self._report() if self._tokens >= 1 else 0

    @property
    def refused(self) -> int:
        """Items refused and not yet reported."""
        return self._refused
