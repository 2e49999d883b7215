"""A plugin is not charged for the host's Python garbage collections that run in its thread."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from qtui.plugins.runtime import cputime
from qtui.plugins.runtime.sandbox import Limits


@pytest.fixture
def big_heap():
    """A few hundred thousand tracked objects: a full collection takes milliseconds."""
    heap = [[i] for i in range(300_000)]
    yield heap
    del heap


def _collect_timed() -> float:
    """Run a full collection; the thread's CPU seconds it took, collections included."""
    before = time.thread_time()
    gc.collect()
    return time.thread_time() - before


def test_a_collection_is_left_out_of_the_threads_cpu_seconds(big_heap):
    clock = cputime.this_thread()
    before = clock.seconds()
    spent = _collect_timed()
    charged = clock.seconds() - before
    assert spent > 0.001  # the collection itself took real CPU time
    assert charged < spent / 4
    assert clock.seconds() <= time.thread_time()


def test_another_thread_reads_a_threads_clock_without_its_collections(big_heap):
    ready, done = threading.Event(), threading.Event()
    found: dict[str, float] = {}

    def worker() -> None:
        found["clock"] = cputime.this_thread()
        found["before"] = found["clock"].seconds()
        found["spent"] = _collect_timed()
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    assert ready.wait(10)
    charged = found["clock"].seconds() - found["before"]  # read from this thread
    done.set()
    thread.join()
    assert found["spent"] > 0.001
    assert charged < found["spent"] / 4


def test_work_other_than_collections_is_charged():
    clock = cputime.this_thread()
    before_cpu, before = time.thread_time(), clock.seconds()
    end = before_cpu + 0.02
    while time.thread_time() < end:
        pass
    assert clock.seconds() - before >= 0.02 * 0.9


def test_collections_in_a_host_function_do_not_trip_the_cpu_budget(make_sandbox, big_heap):
    # Each collection walks the whole heap (the host's, not the plugin's): together they take
    # longer than the budget, and the plugin's call still fits it.
    limits = Limits(memory_bytes=16 * 2**20, instructions=10**9, cpu_seconds=0.02, wall_seconds=600)
    sandbox = make_sandbox("function run() for i = 1, 30 do host.collect() end return 'done' end", limits=limits)
    spent = []
    sandbox.expose("host.collect", lambda: spent.append(_collect_timed()))
    assert sandbox.call("run") == "done"
    assert sum(spent) > 0.02
    assert sandbox.usage().last_call_cpu_seconds < 0.02
