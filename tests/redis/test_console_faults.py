"""The console on Redis: live data, a server that dies and comes back, nothing crashes."""

from __future__ import annotations

import pytest
import redis
import trio
from rq import Queue

from qtui.backends import open_backend
from qtui.clock import SYSTEM_CLOCK
from qtui.console.app import Console
from tests.support import screen_text, wait_until

pytestmark = pytest.mark.slow


async def wait_for(console: Console, check) -> str:
    await wait_until(lambda: check(screen_text(console)), lambda: f"the screen to change; it is:\n{screen_text(console)}")
    return screen_text(console)


async def test_console_survives_redis_going_away_and_reconnects(own_redis_server) -> None:
    client = redis.Redis(host="127.0.0.1", port=own_redis_server.port)
    queue = Queue("emails", connection=client)
    for n in range(3):
        queue.enqueue("rq_jobs.add", n, 1)
    backend = open_backend(own_redis_server.url(scheme="rq+redis"), clock=SYSTEM_CLOCK.time)  # RQ's stamps are real
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=0.2)
    async with trio.open_nursery() as nursery:  # ended before the backend closes
        console.start_tasks(nursery)
        text = await wait_for(console, lambda t: "live" in t and "emails" in t)
        row = next(line for line in text.splitlines() if line.startswith("emails"))
        assert row.split()[1] == "3"

        own_redis_server.stop()
        text = await wait_for(console, lambda t: "disconnected" in t)
        assert "emails" in text and "stale: data" in text  # the last data stays on screen, marked stale
        assert "cannot reach the Redis server" in text
        console.handle_key("3")  # the console keeps answering keys
        await wait_for(console, lambda t: "Dead letter" in t)

        own_redis_server.start()
        client = redis.Redis(host="127.0.0.1", port=own_redis_server.port)
        Queue("emails", connection=client).enqueue("rq_jobs.add", 9, 1)
        console.handle_key("1")
        # Fresh data from the restarted (empty, then refilled) server. The connection shows
        # "live" an event before the first new stats replace the rows kept from before.
        await wait_for(console, lambda t: "live" in t and any(
            line.split()[:2] == ["emails", "1"] for line in t.splitlines()))
        nursery.cancel_scope.cancel()
    backend.close()


async def test_an_operation_whose_server_comes_back_without_it_is_reported_not_retried(
    own_redis_server, monkeypatch
) -> None:
    import gowork_sim as sim

    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 50)
    client = redis.Redis(host="127.0.0.1", port=own_redis_server.port)
    client.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", "low", retries=4) for i in range(20_000)])
    backend = open_backend(own_redis_server.url(), clock=SYSTEM_CLOCK.time)
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=0.2)
    async with trio.open_nursery() as nursery:  # ended before the backend closes
        console.start_tasks(nursery)
        await wait_for(console, lambda t: "live" in t)
        console.execute("view dead")
        console.execute("queue all")
        console.execute("requeue-all")
        await wait_for(console, lambda t: "Requeue ALL dead jobs" in t)
        console.handle_key("y")
        await wait_for(console, lambda t: "requeue [" in t)
        own_redis_server.stop()  # no persistence: it comes back empty, without the operation
        await wait_for(console, lambda t: "requeue paused" in t)
        own_redis_server.start()
        text = await wait_for(console, lambda t: "left the journal while the backend was unreachable" in t)
        assert console.operations.running is None and "requeue [" not in text
        nursery.cancel_scope.cancel()
    backend.close()


def _interrupted_purge(server) -> str:
    """A purge of queue low's dead jobs whose process died before its first chunk; its id."""
    import gowork_sim as sim

    client = redis.Redis(host="127.0.0.1", port=server.port)
    client.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", "low", retries=4) for i in range(30)])
    backend = open_backend(server.url(), clock=SYSTEM_CLOCK.time)
    operation = backend.start_purge("low", "dead")
    client.hset(f"jobqueue:qtui:op:{operation.id}", mapping={"owner": "elsewhere:1", "updated_at": "0"})
    backend.close()
    client.close()
    return operation.id


def status_bar(console: Console) -> str:
    return screen_text(console).splitlines()[-2]


async def test_a_read_only_console_shows_an_unfinished_operation_in_the_status_bar(own_redis_server) -> None:
    _interrupted_purge(own_redis_server)
    backend = open_backend(own_redis_server.url(), clock=SYSTEM_CLOCK.time, read_only=True)
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=0.2)
    async with trio.open_nursery() as nursery:
        console.start_tasks(nursery)
        await wait_until(lambda: "1 unfinished op" in status_bar(console), lambda: screen_text(console))
        assert "(:ops)" not in status_bar(console)  # read-only: nothing to offer, only to know
        assert "An operation was left unfinished" not in screen_text(console)
        nursery.cancel_scope.cancel()
    backend.close()


async def test_the_status_bar_count_goes_when_the_operation_is_abandoned(own_redis_server) -> None:
    op_id = _interrupted_purge(own_redis_server)
    backend = open_backend(own_redis_server.url(), clock=SYSTEM_CLOCK.time)
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=0.2)
    async with trio.open_nursery() as nursery:
        console.start_tasks(nursery)
        await wait_for(console, lambda t: "An operation was left unfinished" in t)
        assert "1 unfinished op (:ops)" in status_bar(console)
        console.handle_key("a")
        await wait_for(console, lambda t: f"abandoned {op_id}" in t)
        await wait_until(lambda: "unfinished op" not in status_bar(console), lambda: screen_text(console))
        nursery.cancel_scope.cancel()
    backend.close()
