"""The delivery pool adds a worker for a plugin that waits, never for one that works."""

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
    pool = DeliveryPool(workers=1, max_workers=2)
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
    # worker waits: the neighbour is served after it, by the same single worker.
    order = []

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
    assert order == ["spinner done", "neighbour"]
