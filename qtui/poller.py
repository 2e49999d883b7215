"""The trio task that polls a backend and publishes what it sees on the bus."""

from __future__ import annotations

import logging

import trio

from qtui.backends.base import Backend
from qtui.bus import EventBus
from qtui.clock import WallClock
from qtui.events import BackendStatus, StatsUpdated
from qtui.model import BackendError

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Poller:
    """Polls `backend.snapshot()` off the UI thread every `interval` seconds.

    With `interval` 0 it polls once and then only when asked (`refresh()`), so an
    idle console never wakes up. After a failure it publishes BackendStatus
    (disconnected) and retries with exponential backoff. `clock` dates what it publishes;
    the interval and backoff wait on the trio run's clock.
    """

    def __init__(self, backend: Backend, bus: EventBus, interval: float, *, clock: WallClock) -> None:
        self._backend = backend
        self._bus = bus
        self._clock = clock
        self.interval = interval
        self._wake = trio.Event()
        self.connected: bool | None = None
        self.last_success: float | None = None

    def refresh(self) -> None:
        """Poll as soon as possible."""
        self._wake.set()

    async def run(self) -> None:
        backoff = 1.0
        while True:
            self._wake = trio.Event()
            try:
                # Not abandoned on cancel: a thread left inside the backend at exit can take the
                # interpreter down. Quitting waits for the poll in flight (its timeout at worst).
                snapshot = await trio.to_thread.run_sync(self._backend.snapshot)
            except BackendError as exc:
                self._failed(str(exc))
                delay = backoff
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception as exc:  # a backend bug must not take the console down
                log.exception("polling %s failed", self._backend.display_name)
                self._failed(f"unexpected error: {exc}")
                delay = backoff
                backoff = min(backoff * 2, MAX_BACKOFF)
            else:
                backoff = 1.0
                self.last_success = self._clock()
                if self.connected is not True:
                    self.connected = True
                    self._bus.publish(BackendStatus(True, None, self.last_success))
                self._bus.publish(StatsUpdated(snapshot))
                delay = self.interval if self.interval > 0 else float("inf")
            with trio.move_on_after(delay):
                await self._wake.wait()

    def _failed(self, message: str) -> None:
        self.connected = False
        self._bus.publish(BackendStatus(False, message, self._clock()))
