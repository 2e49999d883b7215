"""The clocks qtui reads: every component takes one from its caller, so tests can hold time still.

A *wall clock* is a callable giving seconds since the epoch: timestamps and the ages of things
stored with a date ("waiting 6m40s"). A *monotonic clock* is a callable giving seconds from an
arbitrary start that never go back: deadlines, rates and durations. A :class:`Clock` offers
both. Only the outermost layer (the command line, the console's launch, a benchmark) picks
:data:`SYSTEM_CLOCK`; everything below it is handed a clock.

Trio's sleeps and timeouts (plugin timers, the poll interval) follow the trio run's own clock,
which is chosen where the run starts (``trio.run(..., clock=...)``).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Protocol

#: Seconds since the epoch.
WallClock = Callable[[], float]
#: Seconds since an arbitrary start; never goes back.
MonotonicClock = Callable[[], float]


class Clock(Protocol):
    """A wall clock and a monotonic clock, for components that need timestamps and durations."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds since an arbitrary start; never goes back."""
        ...


class SystemClock:
    """The machine's clocks."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


#: The real clocks, for the outermost layer to hand down.
SYSTEM_CLOCK: Clock = SystemClock()


def utc_now(clock: Clock) -> datetime.datetime:
    """The clock's wall time as a timezone-aware UTC datetime (for audit and decision records)."""
    return datetime.datetime.fromtimestamp(clock.time(), datetime.UTC)
