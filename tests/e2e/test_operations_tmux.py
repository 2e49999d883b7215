"""Bulk operations in the real console and CLI at 80x24: progress, cancel, resume offers.

The server is paused for writes (CLIENT PAUSE WRITE) right after the operation is
journaled, so it is caught in flight however fast the machine is; unpausing lets
the chunk in flight finish, after which the cancel takes effect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from qtui.bench.redis import LocalRedisServer, load_gowork

from .conftest import QTUI

pytestmark = pytest.mark.slow

JOBS = 20_000
OPS = "jobqueue:qtui:ops"


@pytest.fixture
def server(system_tool, tmp_path: Path):
    server = LocalRedisServer(tmp_path / "redis", executable=system_tool("redis-server", "redis-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: LocalRedisServer):
    client = server.client()
    load_gowork(client, JOBS, JOBS)
    yield client
    client.close()


def pause_once_journaled(client: redis.Redis) -> None:
    """Wait for the operation's journal entry, then hold every write until unpaused."""
    deadline = time.monotonic() + 20
    while not client.zcard(OPS):
        assert time.monotonic() < deadline, "the operation never reached the journal"
        time.sleep(0.0005)
    client.client_pause(4000, all=False)


def places(client: redis.Redis) -> tuple[int, int]:
    dead = client.llen("jobqueue:dead_letter")
    return dead, client.llen("jobqueue:high_priority") + client.llen("jobqueue:low_priority")


def test_console_shows_progress_and_c_cancels_after_the_chunk_in_flight(tmux, qtui_env, server, client) -> None:
    tmux.start([*QTUI, "--db", server.url(), "--no-plugins"], qtui_env)
    tmux.wait_for(lambda s: "live" in s and "high" in s)
    tmux.keys("3")  # the dead letter of the queue under the cursor, high
    tmux.wait_for("queue high")
    tmux.keys("A")
    tmux.wait_for("Requeue ALL dead jobs on queue high")
    tmux.keys("y")
    pause_once_journaled(client)
    try:
        screen = tmux.wait_for(lambda s: "requeue [" in s and f"/~{JOBS:,}" in s)
        assert "%" in screen and "requeue running: C cancels it after the current chunk" in screen
        tmux.keys("C")
        tmux.wait_for("cancelling requeue after the current chunk")
    finally:
        client.client_unpause()
    screen = tmux.wait_for("requeue cancelled after")
    dead, ready = places(client)
    assert 0 < ready < JOBS * 2 // 5 and dead + ready == JOBS  # some of high's 8,000 moved
    assert f"{ready:,} moved" in screen
    assert "requeue [" not in screen  # the status bar is back to normal
    assert client.zcard(OPS) == 0  # a cancelled operation leaves the journal
    tmux.keys("Q")


def test_cli_progress_line_on_a_terminal_and_ctrl_c_cancels(tmux, qtui_env, server, client) -> None:
    tmux.start([*QTUI, "requeue", "--all", "--yes", "--db", server.url()], qtui_env)
    pause_once_journaled(client)
    try:
        tmux.wait_for(lambda s: "[" in s and f"of ~{JOBS:,} examined" in s)
        # Ctrl-C as the terminal delivers it to qtui (to the pane's whole group, it would end tmux's shell too)
        os.kill(tmux.program_pid(), signal.SIGINT)
        tmux.wait_for("qtui: cancelling after the current chunk (Ctrl-C again interrupts it now)")
    finally:
        client.client_unpause()
    screen = tmux.wait_for("exit=")
    assert "exit=130" in screen and "qtui: cancelled after" in screen
    dead, ready = places(client)
    assert 0 < ready < JOBS and dead + ready == JOBS and f"requeued {ready} jobs" in screen
    assert client.zcard(OPS) == 0


def test_cli_a_second_ctrl_c_interrupts_at_once_and_leaves_the_operation_unfinished(
    tmux, qtui_env, server, client
) -> None:
    tmux.start([*QTUI, "requeue", "--all", "--yes", "--db", server.url()], qtui_env)
    pause_once_journaled(client)
    try:
        tmux.wait_for(lambda s: f"of ~{JOBS:,} examined" in s)
        os.kill(tmux.program_pid(), signal.SIGINT)
        tmux.wait_for("qtui: cancelling after the current chunk")
        os.kill(tmux.program_pid(), signal.SIGINT)  # while the chunk in flight still waits on the server
        screen = tmux.wait_for("exit=")
    finally:
        client.client_unpause()
    assert "exit=130" in screen and "qtui: interrupted" in screen
    assert client.zcard(OPS) == 1  # unfinished: qtui ops lists it for resuming or abandoning


def test_console_offers_an_interrupted_operation_at_start_and_on_ops(tmux, qtui_env, server, client) -> None:
    from qtui.backends import open_backend

    backend = open_backend(server.url(), clock=time.time)
    operation = backend.start_purge("low", "dead")
    exited = subprocess.Popen(["true"])  # as if the process that started it had died
    exited.wait()
    client.hset(f"jobqueue:qtui:op:{operation.id}", "owner", f"{operation.owner.rpartition(':')[0]}:{exited.pid}")
    tmux.start([*QTUI, "--db", server.url(), "--no-plugins"], qtui_env)
    tmux.wait_for("An operation was left unfinished:")
    screen = tmux.wait_for("purge all dead jobs of low")
    assert "r resume" in screen and "a abandon" in screen
    tmux.keys("n")
    screen = tmux.wait_for("left for later: :ops asks again")
    assert "1 unfinished op (:ops)" in screen.splitlines()[-2]  # the status bar keeps saying so
    tmux.keys(":")
    tmux.type("ops")
    tmux.keys("Enter")
    tmux.wait_for("An operation was left unfinished:")
    tmux.keys("r")
    tmux.wait_for(lambda screen: "purge finished:" in screen and "unfinished op" not in screen)
    assert client.zcard(OPS) == 0
    tmux.keys(":")
    tmux.type("ops")
    tmux.keys("Enter")
    tmux.wait_for("no unfinished operations")
    assert places(client) == (JOBS * 2 // 5, 0)  # the high jobs stay dead, the low ones are gone
    tmux.keys("Q")
    backend.close()
