"""Events to plugins through a few worker threads, and mailboxes that keep the newest state.

Each plugin has a :class:`Mailbox`: events wait there until a worker hands them to the plugin's
Lua, in order. An event that stands for a state (its class has a ``coalesce_key``: stats,
selection, the panel's size, settings) replaces the one of its kind still waiting, so a
plugin that was busy gets the newest state when it is free, never a backlog. Other events wait
their turn, at most `capacity` of them; past that they are dropped and counted.

The :class:`DeliveryPool` starts with one worker thread. A worker takes a plugin with waiting
events, hands it what waits (up to a batch), puts it back at the end of the line if more came
meanwhile, and takes the next. Most calls are short (tens of microseconds), and the Python work
around each one holds the GIL: a second worker would mostly wait for the first one's GIL,
stretching every call's wall time far past its CPU time. Should every worker be held up in one
call for a while (GROW_AFTER) while plugins wait, the calls are long enough for Lua, which runs
without the GIL, to be the work: the pool adds a worker, up to one per CPU core. Past that it
adds one only when a worker is waiting rather than working (a plugin in a host call that waits:
its thread's CPU clock stands still), up to a limit: workers busy running Lua get no company,
since more threads than cores would only stretch every call's wall time. Extra workers leave
when they idle. A supervisor thread, asleep while nothing runs, does that and reports calls
that run long (a plugin's panel goes stale then).

Everything here runs on plain threads; the host hears back through the callbacks it gives.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

#: Events handed to a plugin in one turn of a worker.
BATCH = 64
#: A call running this long is reported (the plugin's panel shows an older frame meanwhile).
STALE_AFTER = 0.5
#: When every worker has been in one call this long and plugins wait, the pool adds a worker
#: (past one per core, only if a worker is waiting rather than working).
GROW_AFTER = 0.05
#: A worker whose thread used less CPU than this share of the time since the supervisor's last
#: look is waiting (a CPU-bound thread on a loaded machine still gets a good part of a core).
WAITING_CPU_SHARE = 0.05
#: Extra workers leave after idling this long.
IDLE_EXIT = 10.0
#: How often the supervisor looks while something runs.
_LOOK_EVERY = 0.025


def core_count() -> int:
    """CPU cores this process may run on: the number of workers that can run Lua at once."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Mailbox:
    """The events waiting for one plugin; `handler(batch)` runs in a worker to hand them over.

    Offers come from any thread. Events are objects with an ``event`` attribute (the bus event,
    whose class says whether it coalesces).
    """

    def __init__(self, name: str, handler: Callable[[list[Any]], None], *, capacity: int, owner: Any = None) -> None:
        self.name = name
        self.handler = handler
        self.capacity = capacity
        self.owner = owner  # what the host keeps with the mailbox
        self.abandoned = False  # the host gave up on the running batch's call (stuck in C)
        self.delivered = 0
        self.dropped = 0
        self.coalesced = 0
        self.busy_since: float | None = None  # when the running batch started (time.monotonic)
        self.worker_clock: int | None = None  # the CPU clock of the thread running the batch
        self.stale_reported = False
        self._lock = threading.Lock()
        self._waiting: dict[object, Any] = {}  # coalesce key or a serial number -> offer, in order
        self._queued = 0  # waiting offers that do not coalesce
        self._serial = itertools.count()
        self._scheduled = False  # in the pool's line or running
        self._open = False  # a paused mailbox keeps offers until it is opened
        self._closed = False
        self._on_drained: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"<Mailbox {self.name}>"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def settled(self) -> bool:
        """Whether nothing waits here and no batch of it runs (the plugin handled all it was given)."""
        return not self._scheduled and not self._waiting

    def put(self, offer: Any) -> bool:
        """Keep `offer`; True when the mailbox should now be scheduled."""
        key = type(offer.event).coalesce_key
        with self._lock:
            if self._closed:
                self.dropped += 1
                return False
            if key is None:
                if self._queued >= self.capacity:
                    self.dropped += 1
                    return False
                self._queued += 1
                self._waiting[next(self._serial)] = offer
            else:
                if self._waiting.pop(key, None) is not None:
                    self.coalesced += 1
                self._waiting[key] = offer  # now the newest
            return self._claim()

    def _claim(self) -> bool:
        if self._open and not self._scheduled and self._waiting:
            self._scheduled = True
            return True
        return False

    def open(self) -> bool:
        """Start handing events over; True when the mailbox should now be scheduled."""
        with self._lock:
            self._open = True
            return self._claim()

    def take(self) -> list[Any]:
        """Up to BATCH waiting offers, oldest first (called by the worker that runs the mailbox)."""
        with self._lock:
            batch = []
            for key in itertools.islice(list(self._waiting), BATCH):
                offer = self._waiting.pop(key)
                if type(key) is int:
                    self._queued -= 1
                batch.append(offer)
            return batch

    def done(self) -> tuple[bool, Callable[[], None] | None]:
        """A turn ended: (whether more waits and it goes back in line, what to call if it was closed)."""
        with self._lock:
            if self._waiting and not self._closed:
                return True, None
            self._scheduled = False
            drained, self._on_drained = self._on_drained, None
            return False, drained

    def close(self, on_drained: Callable[[], None]) -> bool:
        """Take no more events and drop those waiting.

        Returns False when nothing of this mailbox runs or waits for a worker; else True, and
        `on_drained` is called (from the worker) once its last batch has ended.
        """
        with self._lock:
            self._closed = True
            self._waiting.clear()
            self._queued = 0
            if self._scheduled:
                self._on_drained = on_drained
            return self._scheduled


class DeliveryPool:
    """Worker threads running mailboxes; see the module docstring.

    `workers` run from the start; while calls run long, more are added up to `cores` (by
    default the CPU cores this process may run on), and past that only for workers that wait,
    up to `max_workers`.
    `on_stale(mailbox)` is called (from the supervisor thread) when a batch has run for
    STALE_AFTER; `on_idle()` when nothing waits or runs any more, while someone asked for it
    with :meth:`want_idle`. `on_running(mailbox)` is called at each look of the supervisor for
    each running batch; True means the host gave up on its call (stuck inside C): another
    worker takes the stuck one's place, and the stuck one leaves when its call returns.
    """

    def __init__(self, *, workers: int = 1, cores: int | None = None, max_workers: int | None = None,
                 on_stale: Callable[[Mailbox], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 on_running: Callable[[Mailbox], bool] | None = None) -> None:
        self.base_workers = workers
        self.cores = cores or core_count()  # workers that may run Lua at once
        self.max_workers = max(self.base_workers, self.cores, max_workers or 4 * self.cores)
        self._on_stale = on_stale
        self._on_idle = on_idle
        self._on_running = on_running
        self._line: queue.SimpleQueue[Mailbox | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the supervisor sleeps on it
        self._workers = 0
        self._idle_workers = 0
        self._running: set[Mailbox] = set()
        self._scheduled = 0  # mailboxes in line or running
        self._idle_waiters = 0
        self._ran_since_look = False
        self._supervisor_asleep = False
        self._stopping = False
        self._names = itertools.count(1)
        self._supervisor: threading.Thread | None = None

    # -- the host's side --------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            for _ in range(self.base_workers):
                self._add_worker()
        self._supervisor = threading.Thread(target=self._supervise, name="qtui plugin supervisor", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        """Let the workers finish their batch and leave (the host interrupts long calls first)."""
        with self._lock:
            self._stopping = True
            workers = self._workers
            self._wake.notify_all()
        for _ in range(workers):
            self._line.put(None)

    def offer(self, mailbox: Mailbox, offer: Any) -> None:
        """Put an event in `mailbox` and schedule it if it was not already."""
        if mailbox.put(offer):
            self._schedule(mailbox)

    def open(self, mailbox: Mailbox) -> None:
        """Start delivering what `mailbox` holds and what comes later."""
        if mailbox.open():
            self._schedule(mailbox)

    @property
    def busy(self) -> bool:
        """Whether a mailbox waits or runs."""
        return self._scheduled > 0

    def want_idle(self) -> None:
        """Call on_idle the next time nothing waits or runs (at once if that is now)."""
        with self._lock:
            if self._scheduled == 0:
                idle_now = True
            else:
                idle_now = False
                self._idle_waiters += 1
        if idle_now and self._on_idle is not None:
            self._on_idle()

    # -- workers ----------------------------------------------------------------------------

    def _schedule(self, mailbox: Mailbox) -> None:
        with self._lock:
            self._scheduled += 1
        self._line.put(mailbox)

    def _add_worker(self) -> None:  # with self._lock held
        self._workers += 1
        thread = threading.Thread(target=self._work, name=f"qtui plugins {next(self._names)}", daemon=True)
        thread.start()

    def _work(self) -> None:
        while True:
            mailbox = self._next()
            if mailbox is None or self._run(mailbox):
                return

    def _next(self) -> Mailbox | None:
        """The next mailbox in line, or None when this worker should leave."""
        extra = False
        with self._lock:
            self._idle_workers += 1
            extra = self._workers > self.base_workers
        try:
            return self._line.get(timeout=IDLE_EXIT if extra else None)
        except queue.Empty:
            with self._lock:
                if self._workers > self.base_workers:
                    self._workers -= 1
                    return None
            return self._next()
        finally:
            with self._lock:
                self._idle_workers -= 1

    def _run(self, mailbox: Mailbox) -> bool:
        """Run one turn of `mailbox`; True when this worker was replaced and must leave."""
        leave = False
        batch = mailbox.take()
        if batch:
            mailbox.abandoned = False
            mailbox.busy_since = time.monotonic()
            mailbox.worker_clock = self._thread_clock()
            mailbox.stale_reported = False
            with self._lock:
                self._running.add(mailbox)
                self._ran_since_look = True
                if self._supervisor_asleep:
                    self._wake.notify()
            try:
                mailbox.handler(batch)
            except Exception:  # the host's handler reports plugin errors; this is a host bug
                log.exception("delivering events to plugin %s failed", mailbox.name)
            finally:
                mailbox.delivered += len(batch)
                mailbox.busy_since = None
                with self._lock:
                    self._running.discard(mailbox)
                    if mailbox.abandoned:  # a worker took this one's place meanwhile
                        self._workers -= 1
                        leave = True
        again, drained = mailbox.done()
        if again:
            self._line.put(mailbox)  # more came meanwhile: back to the end of the line
            return leave
        if drained is not None:
            drained()
        with self._lock:
            self._scheduled -= 1
            idle = self._scheduled == 0 and self._idle_waiters > 0
            if idle:
                self._idle_waiters = 0
        if idle and self._on_idle is not None:
            self._on_idle()
        return leave

    @staticmethod
    def _thread_clock() -> int | None:
        try:
            return time.pthread_getcpuclockid(threading.get_ident())
        except (AttributeError, OSError):
            return None

    # -- the supervisor ---------------------------------------------------------------------

    def _waiting_worker(self, running: list[Mailbox], now: float, seen: dict[int, tuple[float, float]]) -> bool:
        """Whether a running batch's thread used (almost) no CPU since the last look.

        `seen` maps thread CPU clocks to their (CPU seconds, time) at the last look; it is
        updated, and forgets the threads no longer running.
        """
        waiting = False
        current = {}
        for mailbox in running:
            clock = mailbox.worker_clock
            if clock is None:
                continue
            try:
                cpu = time.clock_gettime(clock)
            except OSError:  # the thread just ended
                continue
            current[clock] = (cpu, now)
            before = seen.get(clock)
            if before is not None and now > before[1] and cpu - before[0] < WAITING_CPU_SHARE * (now - before[1]):
                waiting = True
        seen.clear()
        seen.update(current)
        return waiting

    @staticmethod
    def _long_calls(running: list[Mailbox], now: float) -> bool:
        """Whether every running batch has run for GROW_AFTER."""
        return all(started is not None and now - started >= GROW_AFTER
                   for started in (mailbox.busy_since for mailbox in running))

    def _supervise(self) -> None:
        stuck_since: float | None = None
        seen: dict[int, tuple[float, float]] = {}
        while True:
            with self._lock:
                if self._stopping:
                    return
                if not self._running and not self._ran_since_look:
                    self._supervisor_asleep = True
                    self._wake.wait()
                    self._supervisor_asleep = False
                    continue
                self._ran_since_look = False
                self._wake.wait(_LOOK_EVERY)
                now = time.monotonic()
                running = list(self._running)
                everyone_busy = self._idle_workers == 0 and len(running) >= self._workers
                waiting = self._scheduled > len(running)
                if everyone_busy and waiting and self._workers < self.cores and self._long_calls(running, now):
                    self._add_worker()  # Lua's work: a free core can run it beside them
                    stuck_since = None
                elif everyone_busy and waiting and self._waiting_worker(running, now, seen):
                    stuck_since = stuck_since or now
                    if now - stuck_since >= GROW_AFTER and self._workers < self.max_workers:
                        self._add_worker()
                        stuck_since = None
                else:
                    stuck_since = None
            for mailbox in running:
                if self._on_running is not None and not mailbox.abandoned and self._on_running(mailbox):
                    with self._lock:
                        if mailbox in self._running:  # its call has not returned meanwhile
                            mailbox.abandoned = True
                            self._add_worker()
                started = mailbox.busy_since
                if started is not None and now - started >= STALE_AFTER and not mailbox.stale_reported:
                    mailbox.stale_reported = True
                    if self._on_stale is not None:
                        self._on_stale(mailbox)
