"""bulk-requeue: preview dead jobs by queue, error and tenant, then requeue exactly those."""

from __future__ import annotations

import json

import trio

from qtui.model import JobState
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime.host import PluginState

from .conftest import PANEL_WIDTH, columns, make_dead, set_raw_payload

NAME = "bulk-requeue"


def ids_in(h, queue: str | None, state: JobState) -> set[str]:
    return {job.id for job in h.backend.peek(queue, state, limit=500).jobs}


def listed(lines: list[str], queues=("email", "sms")) -> list[str]:
    """The job ids in the preview list, top to bottom."""
    return [line.split()[0] for line in lines if len(line.split()) > 3 and line.split()[1] in queues]


def command(h, name: str, args: str = "") -> None:
    assert h.host.run_command(NAME, name, args), f"command {name} is not registered"


async def mixed_dead_jobs(h) -> dict[str, list[str]]:
    return {
        "acme_timeout": make_dead(h, "email", [{"tenant": "acme", "n": n} for n in range(3)],
                                  "SMTP Timeout after 30s"),
        "acme_refused": make_dead(h, "email", [{"tenant": "acme"}], "connection refused"),
        "globex_timeout": make_dead(h, "email", [{"tenant": "globex"}] * 2, "smtp timeout"),
        "sms_acme": make_dead(h, "sms", [{"tenant": "acme"}], "timeout"),
    }


async def test_the_previewed_jobs_and_only_those_move_after_the_operator_confirms(harness) -> None:
    h = harness
    dead = await mixed_dead_jobs(h)
    await h.start(NAME)
    command(h, "filter", 'queue=email error=timeout tenant=acme to=email-retry')
    lines = await h.wait_text(NAME, "dead jobs match")
    assert "3 dead jobs match (5 candidates read, none left)" in lines  # the backend narrowed by "timeout"
    assert "filter: queue=email error=timeout tenant=acme → email-retry" in lines
    assert listed(lines) == dead["acme_timeout"]
    assert all(columns(line) <= PANEL_WIDTH for line in lines)
    command(h, "run")
    await h.wait_text(NAME, "requeued 3 of 3 previewed jobs to email-retry")
    (asked,) = h.confirmations
    summary, _, ids = asked.partition(": requeue 3 dead jobs on email to email-retry: ")
    assert summary == "bulk-requeue" and set(ids.split(", ")) == set(dead["acme_timeout"])
    assert ids_in(h, "email-retry", JobState.READY) == set(dead["acme_timeout"])
    assert ids_in(h, None, JobState.DEAD) == set(dead["acme_refused"] + dead["globex_timeout"] + dead["sms_acme"])
    assert "ok" in h.styles(NAME, "requeued 3")
    # the preview was used up: a second run does nothing
    command(h, "run")
    await h.wait_text(NAME, "preview first")
    assert len(h.confirmations) == 1


async def test_declining_the_confirmation_moves_nothing_and_keeps_the_preview(harness) -> None:
    h = harness
    dead = await mixed_dead_jobs(h)
    await h.start(NAME)
    h.answer = False
    command(h, "filter", "tenant=acme")
    await h.wait_text(NAME, "5 dead jobs match")
    command(h, "run", "to=email")
    await h.wait_text(NAME, "requeue failed, nothing moved: the operator declined")
    assert "error" in h.styles(NAME, "the operator declined")
    assert len(ids_in(h, None, JobState.DEAD)) == 7
    h.answer = True
    command(h, "run")  # the same preview, to their own queues this time
    await h.wait_text(NAME, "requeued 5 of 5 previewed jobs to their own queues")
    assert ids_in(h, "email", JobState.READY) == set(dead["acme_timeout"] + dead["acme_refused"])
    assert ids_in(h, "sms", JobState.READY) == set(dead["sms_acme"])


async def test_the_panel_is_driven_with_keys(harness) -> None:
    h = harness
    ids = make_dead(h, "email", [{"tenant": "acme", "n": n} for n in range(12)], "boom")
    await h.start(NAME)
    h.host.key(NAME, "r")
    await h.wait_text(NAME, "preview first")
    h.host.key(NAME, "p")
    lines = await h.wait_text(NAME, "12 dead jobs match")
    assert "rows 1-8 of 12 (↑↓ to scroll)" in lines
    assert any(line.startswith("r requeue these 12") for line in lines)
    for _ in range(3):
        h.host.key(NAME, "down")
    lines = await h.wait_text(NAME, "rows 4-11 of 12")
    assert listed(lines) == ids[3:11]
    h.host.key(NAME, "end")
    await h.wait_text(NAME, "rows 5-12 of 12")
    h.host.key(NAME, "r")
    await h.wait_text(NAME, "requeued 12 of 12")
    assert ids_in(h, "email", JobState.READY) == set(ids)
    h.host.key(NAME, "c")
    await h.wait_text(NAME, "cleared")


async def test_max_jobs_bounds_a_run_to_the_oldest_matches(harness) -> None:
    h = harness
    ids = make_dead(h, "email", [{"n": n} for n in range(7)], "boom")
    await h.start(NAME, settings={"max_jobs": 3})
    command(h, "filter", "queue=email")
    await h.wait_text(NAME, "3 match (stopped at max_jobs; 3 dead jobs read)")
    command(h, "run")
    await h.wait_text(NAME, "requeued 3 of 3")
    assert ids_in(h, "email", JobState.READY) == set(ids[:3])
    assert ids_in(h, "email", JobState.DEAD) == set(ids[3:])


async def test_jobs_that_changed_since_the_preview_are_reported_and_new_ones_left_alone(harness) -> None:
    h = harness
    ids = make_dead(h, "email", [{"tenant": "acme"}] * 3, "boom")
    await h.start(NAME)
    command(h, "filter", "queue=email")
    await h.wait_text(NAME, "3 dead jobs match")
    h.backend.requeue(ids=[ids[0]])  # someone else got there first
    worker = h.queue.worker(["email"], worker_id="w")
    worker.ack(worker.reserve(timeout=0))
    newcomer = make_dead(h, "email", [{"tenant": "acme"}], "boom")  # died after the preview
    command(h, "run")
    await h.wait_text(NAME, "requeued 2 of 3 previewed jobs to their own queues (1 no longer dead)")
    assert "warn" in h.styles(NAME, "requeued 2 of 3")
    assert ids_in(h, "email", JobState.DEAD) == set(newcomer)


async def test_without_jobs_requeue_the_refusal_is_shown_and_nothing_moves(harness) -> None:
    h = harness
    make_dead(h, "email", [{"tenant": "acme"}] * 2, "boom")
    handle = await h.start(NAME, deny=(Capability.JOBS_REQUEUE,))
    assert handle.state is PluginState.RUNNING
    command(h, "filter", "")
    await h.wait_text(NAME, "2 dead jobs match")
    command(h, "run")
    lines = await h.wait_text(NAME, "cannot requeue")
    shown = " ".join(lines)
    assert "cannot requeue: qtui.jobs.requeue" in shown and "capability jobs.requeue is denied" in shown
    assert "error" in h.styles(NAME, "cannot requeue")
    assert len(ids_in(h, "email", JobState.DEAD)) == 2 and h.confirmations == []


async def test_bad_commands_are_explained(harness) -> None:
    h = harness
    make_dead(h, "email", [{"tenant": "acme"}], "connection reset by peer")
    await h.start(NAME)
    command(h, "filter", "queue=email colour=red")
    await h.wait_text(NAME, "filter: unknown key 'colour' (use queue=, error=, tenant= or to=)")
    command(h, "filter", 'error="reset by')
    await h.wait_text(NAME, 'filter: missing closing " after error=')
    command(h, "filter", 'error="reset by" queue=email')
    await h.wait_text(NAME, "1 dead job matches")
    assert 'filter: queue=email error="reset by" → their own queues' in h.text(NAME)
    command(h, "run", "queue=sms")
    await h.wait_text(NAME, "run: only to=QUEUE goes with run")
    command(h, "run", "to=no/such")
    await h.wait_text(NAME, "cannot requeue: ")
    assert "invalid queue name" in h.line(NAME, "cannot requeue")
    command(h, "filter", "queue=nosuch")
    await h.wait_text(NAME, "preview failed: ")
    assert h.confirmations == []


async def test_tenants_are_matched_exactly_however_the_payload_spells_them(harness) -> None:
    h = harness
    ids = make_dead(h, "email", [{"tenant": "x"}] * 6, "boom")
    set_raw_payload(h.tmp_path / "queue.db", ids[0], '{"tenant":"a\\/b"}')  # a/b, escaped
    set_raw_payload(h.tmp_path / "queue.db", ids[1], '{"tenant":"a/b"}')
    set_raw_payload(h.tmp_path / "queue.db", ids[2], '{"tenant":"a/bc"}')
    set_raw_payload(h.tmp_path / "queue.db", ids[3], '{"note":"tenant a/b", "tenant":"other"}')
    set_raw_payload(h.tmp_path / "queue.db", ids[4], "\x1b[2J not json a/b")
    set_raw_payload(h.tmp_path / "queue.db", ids[5], json.dumps({"pad": "x" * 100_000, "tenant": "a/b"}))
    await h.start(NAME)
    command(h, "filter", "tenant=a/b")
    lines = await h.wait_text(NAME, "dead jobs match")
    assert "2 dead jobs match (6 candidates read, none left)" in lines
    assert "2 payloads could not be read for the tenant and were left out" in lines  # not JSON, or cut
    command(h, "run")
    await h.wait_text(NAME, "requeued 2 of 2")
    assert ids_in(h, "email", JobState.READY) == {ids[0], ids[1]}


async def test_the_filter_survives_a_hot_reload(harness) -> None:
    h = harness
    make_dead(h, "email", [{"tenant": "acme"}], "boom")
    plugin_handle = await h.start(NAME)
    command(h, "filter", "queue=email tenant=acme to=retry")
    await h.wait_text(NAME, "1 dead job matches")
    handoff = await h.host.stop(NAME)
    await h.host.start(plugin_handle.plugin, handoff=handoff)
    await h.wait_text(NAME, "filter: queue=email tenant=acme → retry")
    h.host.key(NAME, "p")
    await h.wait_text(NAME, "1 dead job matches")


async def test_a_large_run_is_one_request_within_the_plugins_limits(harness) -> None:
    h = harness
    ids = make_dead(h, "email", [{"tenant": "acme" if n % 2 else "globex", "n": n} for n in range(2400)], "boom")
    handle = await h.start(NAME, settings={"max_jobs": 1000})
    command(h, "filter", "tenant=acme")
    await h.wait_text(NAME, "1000 match (stopped at max_jobs; 1000 dead jobs read)", timeout=60)
    command(h, "run", "to=replay")
    await h.wait_text(NAME, "requeued 1000 of 1000 previewed jobs to replay", timeout=60)
    assert ids_in_all(h, "replay") == set(ids[1:2000:2])
    (asked,) = h.confirmations
    assert asked.startswith("bulk-requeue: requeue 1000 dead jobs on ") and asked.endswith(" and 995 more")
    assert handle.errors == 0


def ids_in_all(h, queue: str) -> set[str]:
    found, cursor = set(), None
    while True:
        page = h.backend.peek(queue, JobState.READY, cursor=cursor, limit=500)
        found |= {job.id for job in page.jobs}
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def test_while_the_operator_decides_the_preview_and_filter_stay_put(harness) -> None:
    h = harness
    ids = make_dead(h, "email", [{"tenant": "acme"}] * 2, "boom")
    await h.start(NAME)
    command(h, "filter", "queue=email")
    await h.wait_text(NAME, "2 dead jobs match")
    h.hold = trio.Event()
    h.host.key(NAME, "r")
    await h.wait_text(NAME, "requeueing 2 jobs to their own queues; waiting for confirmation")
    h.host.key(NAME, "p")
    await h.wait_text(NAME, "a requeue is waiting for its result; preview after it")
    command(h, "filter", "queue=sms")
    await h.wait_text(NAME, "change the filter after it")
    h.hold.set()
    await h.wait_text(NAME, "requeued 2 of 2 previewed jobs")
    assert ids_in(h, "email", JobState.READY) == set(ids)
    assert h.text(NAME)[0] == "filter: queue=email → their own queues"
