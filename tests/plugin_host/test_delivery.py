"""The delivery pool adds a worker for a plugin that waits, and for one that works only while a core is free."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import attrs
import pytest

from qtui.plugins.runtime.delivery import DeliveryPool, Mailbox
from tests.support import wait_until_sync


@attrs.frozen
class Ping:
    coalesce_key: ClassVar[str | None] = None
    label: str


@attrs.frozen
class Offer:
    event: Ping


@pytest.fixture
def pool() -> Iterator[DeliveryPool]:
    """One worker on one core: a plugin working on the CPU keeps that core busy."""
    pool = DeliveryPool(workers=1, cores=1, max_workers=2)
    pool.start()
    yield pool
    pool.stop()


@pytest.fixture
def two_cores() -> Iterator[DeliveryPool]:
    pool = DeliveryPool(workers=1, cores=2, max_workers=4)
    pool.start()
    yield pool
    pool.stop()


def mailbox(pool: DeliveryPool, name: str, handler: Callable[[list[Any]], None]) -> Mailbox:
    box = Mailbox(name, handler, capacity=8)
    pool.open(box)
    return box


def test_a_plugin_waiting_in_the_host_gets_its_neighbour_a_worker_of_its_own(pool: DeliveryPool) -> None:
    release, seen = threading.Event(), []
    waiter = mailbox(pool, "waiter", lambda batch: release.wait(60))
    neighbour = mailbox(pool, "neighbour", lambda batch: seen.append(batch[0].event.label))
    pool.offer(waiter, Offer(Ping("wait")))
    wait_until_sync(lambda: waiter.busy_since is not None, "the waiter's call to start")
    pool.offer(neighbour, Offer(Ping("hello")))
    try:
        wait_until_sync(lambda: seen == ["hello"], "the neighbour to be served while the waiter waits")
        assert waiter.busy_since is not None
    finally:
        release.set()


def test_a_plugin_working_on_the_cpu_gets_no_extra_worker(pool: DeliveryPool) -> None:
    # The worker spins for 0.5 s of its own CPU time, ten times what makes the pool grow when a
    # worker waits: with the one core busy, the neighbour is served after it, by the same worker.
    order: list[str] = []
    spinner_and_neighbour(pool, order)
    assert order == ["spinner done", "neighbour"]


def spinner_and_neighbour(pool: DeliveryPool, order: list[str]) -> None:
    """A plugin spinning for 0.5 s of its own CPU time, then a neighbour with an event waiting."""

    def spin(batch: list[Any]) -> None:
        start = time.thread_time()
        while time.thread_time() - start < 0.5:
            pass
        order.append("spinner done")

    spinner = mailbox(pool, "spinner", spin)
    neighbour = mailbox(pool, "neighbour", lambda batch: order.append("neighbour"))
    pool.offer(spinner, Offer(Ping("spin")))
    wait_until_sync(lambda: spinner.busy_since is not None, "the spinner's call to start")
    pool.offer(neighbour, Offer(Ping("hello")))
    wait_until_sync(lambda: len(order) == 2, "both to be served")


def test_a_plugin_working_on_the_cpu_gets_its_neighbour_the_free_core(two_cores: DeliveryPool) -> None:
    # One worker at first (short calls are mostly Python, which one thread at a time runs); a
    # long call while a plugin waits is Lua's work, which runs beside it on the second core.
    order: list[str] = []
    spinner_and_neighbour(two_cores, order)
    assert order == ["neighbour", "spinner done"]

