"""Sentinel failover under a running console with a requeue in flight: real processes throughout."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import rq
import trio

from qtui.backends import open_backend
from qtui.backends.redis_common import _no_master
from qtui.bench.redis import load_gowork
from qtui.clock import SYSTEM_CLOCK
from qtui.console.app import Console
from qtui.model import BackendUnavailable, JobState
from tests.support import screen_text, wait_until

from .test_console_faults import wait_for

pytestmark = pytest.mark.slow

JOBS = 20_000


async def test_the_console_follows_a_failover_and_the_requeue_finishes_with_nothing_lost(
    sentinel_group, monkeypatch
) -> None:
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 200)  # 100 chunks: in flight when the master dies
    master = sentinel_group.master.client()
    ids = load_gowork(master, JOBS, JOBS)
    assert master.wait(1, 5000) == 1  # the replica has every job
    backend = open_backend(sentinel_group.url(), clock=SYSTEM_CLOCK.time)
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=0.2)
    old, new = sentinel_group.master.port, sentinel_group.replica.port
    async with trio.open_nursery() as nursery:  # ended before the backend closes
        console.start_tasks(nursery)
        await wait_for(console, lambda t: "live" in t and f"@ 127.0.0.1:{old}" in t)

        console.execute("view dead")
        console.execute("queue all")
        console.execute("requeue-all")
        await wait_for(console, lambda t: "Requeue ALL dead jobs on every queue" in t)
        console.handle_key("y")
        messages: list[str] = []
        shown = console.message
        monkeypatch.setattr(console, "message",
                            lambda text, level="info": messages.append(text) or shown(text, level))
        await wait_until(lambda: console.operations.running and int(
            master.hget(f"jobqueue:qtui:op:{console.operations.running.id}", "done") or 0),
            "the requeue's first chunks")  # fmt: skip
        sentinel_group.master.kill()  # mid-operation
        master.close()

        await wait_for(console, lambda t: f"@ 127.0.0.1:{new}" in t)
        assert sentinel_group.master_port() == new
        # The requeue's "requeued" and the poller's "master switched" may come in either order
        # (the later one takes the message line): wait for the message, not for the screen.
        await wait_until(lambda: any(m.startswith("requeued") for m in messages) and "live" in screen_text(console),
                         lambda: f"the requeue to finish; messages: {messages}")
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
        nursery.cancel_scope.cancel()
    promoted.close()
    backend.close()


def _counts(backend) -> dict[str, tuple[int, int]]:
    return {q.name: (q.count(JobState.READY), q.count(JobState.DEAD)) for q in backend.snapshot().queues}


def test_passwords_and_tls_reach_sentinels_and_master_and_survive_a_failover(secured_sentinel_group) -> None:
    group = secured_sentinel_group
    master = group.master.client()
    load_gowork(master, 500, 100)
    assert master.wait(1, 5000) == 1
    master.close()
    backend = open_backend(group.url(), clock=SYSTEM_CLOCK.time)
    try:
        before = _counts(backend)
        assert before == {"high": (160, 40), "low": (240, 60)}
        assert backend.server() == f"127.0.0.1:{group.master_port_for_clients}"  # the TLS port
        group.master.kill()
        group.wait_for(lambda: group.master_port() == group.replica_port_for_clients, "the failover")

        def follows() -> bool:
            try:
                return _counts(backend) == before
            except BackendUnavailable:
                return False

        group.wait_for(follows, "the backend to reach the new master")
        assert backend.server() == f"127.0.0.1:{group.replica_port_for_clients}"
    finally:
        backend.close()


def test_rq_layout_through_secured_sentinels(shared_secured_sentinel_group) -> None:
    group = shared_secured_sentinel_group
    master = group.master.client()
    master.flushall()
    queue = rq.Queue("emails", connection=master)
    for n in range(3):
        queue.enqueue("rq_jobs.add", n, 1)
    master.close()
    backend = open_backend("rq+" + group.url(), clock=SYSTEM_CLOCK.time)
    try:
        assert _counts(backend)["emails"] == (3, 0)
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda url: url.replace("m%40ster", "wrong"), "authentication failed|invalid username-password"),
        (lambda url: url.replace("sentinel-pw", "wrong"),
         (r"no Sentinel named a master for 'qtuimaster': AuthenticationError(: [^;]+)? "
          r"\(check the URL's sentinel_password\)$")),
        (lambda url: url.partition("&ssl_ca_certs")[0],
         (r"no Sentinel named a master for 'qtuimaster': ConnectionError[^;]* \(check the Sentinels' hosts and ports "
          r"and, with TLS, that ssl_ca_certs names their CA\)$")),
    ],
    ids=["master password", "sentinel password", "untrusted certificate"],
)
def test_a_wrong_password_or_an_untrusted_certificate_is_a_clear_error(
    shared_secured_sentinel_group, change, message
) -> None:
    backend = open_backend(change(shared_secured_sentinel_group.url()), clock=SYSTEM_CLOCK.time)
    try:
        with pytest.raises(BackendUnavailable, match=message) as caught:
            backend.snapshot()
        assert len(str(caught.value)) < 400  # what went wrong, not the clients' internals
    finally:
        backend.close()


def _sentinel_reply(port: int, answer: str) -> str:
    return (f"<redis.client.Redis(<redis.connection.ConnectionPool(<redis.connection.SSLConnection("
            f"host=127.0.0.1,port={port},db=0)>)>)> - {answer}")


@pytest.mark.parametrize(
    ("answers", "shown"),
    [
        # redis-py before 8.2 named the error's class only
        (["auth:AuthenticationError"] * 3, "AuthenticationError (check the URL's sentinel_password)"),
        # since 8.2 its text too, with the address each Sentinel was reached at
        ([(f"network:ConnectionError: Error 1 connecting to 127.0.0.1:{port}. [SSL: CERTIFICATE_VERIFY_FAILED] "
           "certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006).")
          for port in (26379, 26380, 26381)],
         ("ConnectionError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in "
          "certificate chain (_ssl.c:1006). (check the Sentinels' hosts and ports and, with TLS, that ssl_ca_certs "
          "names their CA)")),
        (["network:ConnectionError: Error 111 connecting to 127.0.0.1:1. Connection refused.",
          "auth:AuthenticationError: invalid username-password pair or user is disabled."],
         ("AuthenticationError: invalid username-password pair or user is disabled.; ConnectionError: Connection "
          "refused. (check the URL's sentinel_password)")),
    ],
    ids=["class only", "one failure three times", "two failures"],
)
def test_what_the_sentinels_answered_is_said_once_for_each_kind_of_failure(answers: list[str], shown: str) -> None:
    text = "No master found for 'qtuimaster' : " + ", ".join(
        _sentinel_reply(26379 + n, answer) for n, answer in enumerate(answers))
    assert _no_master(text) == f"no Sentinel named a master for 'qtuimaster': {shown}"
