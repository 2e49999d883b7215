"""Sentinel failover under a running console with a requeue in flight: real processes throughout."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import trio

from qtui.backends import open_backend
from qtui.bench.redis import load_gowork
from qtui.console.app import Console

from .test_console_faults import screen_text, wait_for

pytestmark = pytest.mark.slow

JOBS = 20_000


async def test_the_console_follows_a_failover_and_the_requeue_finishes_with_nothing_lost(
    sentinel_group, nursery, monkeypatch
) -> None:
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 200)  # 100 chunks: in flight when the master dies
    master = sentinel_group.master.client()
    ids = load_gowork(master, JOBS, JOBS)
    assert master.wait(1, 5000) == 1  # the replica has every job
    backend = open_backend(sentinel_group.url())
    console = Console(backend, refresh=0.2)
    console.start_tasks(nursery)
    old, new = sentinel_group.master.port, sentinel_group.replica.port
    await wait_for(console, lambda t: "live" in t and f"@ 127.0.0.1:{old}" in t)

    console.execute("view dead")
    console.execute("queue all")
    console.execute("requeue-all")
    await wait_for(console, lambda t: "Requeue ALL dead jobs on every queue" in t)
    console.handle_key("y")
    messages: list[str] = []
    shown = console.message
    monkeypatch.setattr(console, "message", lambda text, level="info": messages.append(text) or shown(text, level))
    with trio.fail_after(20):
        while True:  # until the first chunks are done
            running = console.operations.running
            if running and int(master.hget(f"jobqueue:qtui:op:{running.id}", "done") or 0):
                break
            await trio.sleep(0.001)
    sentinel_group.master.kill()  # mid-operation
    master.close()

    text = await wait_for(console, lambda t: f"@ 127.0.0.1:{new}" in t, timeout=40)
    assert sentinel_group.master_port() == new
    text = await wait_for(console, lambda t: "requeued" in t and "live" in t, timeout=40)
    promoted = sentinel_group.replica.client()
    queued = Counter(json.loads(raw)["id"] for key in ("jobqueue:high_priority", "jobqueue:low_priority")
                     for raw in promoted.lrange(key, 0, -1))  # fmt: skip
    assert promoted.llen("jobqueue:dead_letter") == 0 and promoted.zcard("jobqueue:qtui:ops") == 0
    assert queued == Counter(ids)  # every job exactly once, none lost
    console.execute("view queues")
    text = await wait_for(console, lambda t: any(line.split()[:2] == ["high", "8000"] for line in t.splitlines()))
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()[:1] in (["high"], ["low"])}
    assert rows["low"][1] == "12000" and rows["high"][4] == rows["low"][4] == "0"  # ready, dead
    assert f"Redis master switched: 127.0.0.1:{old} -> 127.0.0.1:{new}" in messages
    assert any(m.startswith("requeue paused: ") and m.endswith("resuming when it answers") for m in messages)
    assert messages[-1].startswith("requeued") or "requeued" in screen_text(console)
    promoted.close()
    backend.close()
