"""tenant-sla: per-tenant waits and pace read from real ready jobs, against the SLA threshold."""

from __future__ import annotations

import json

from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime.host import PluginState

from .conftest import PANEL_WIDTH, columns, set_raw_payload

NAME = "tenant-sla"


def enqueue_at(h, age: float, queue: str, payloads: list) -> list[str]:
    """Enqueue `payloads` as if `age` seconds ago."""
    h.producer.offset = -age
    try:
        return h.queue.enqueue_many(queue, payloads)
    finally:
        h.producer.offset = 0.0


def queue_row(h, queue: str) -> str:
    """The queue section's line for `queue`."""
    return next(line for line in h.text(NAME) if line.startswith(queue + " "))


def tenant_rows(h) -> list[list[str]]:
    """The tenant table as lists of cells, in the panel's order."""
    lines = h.text(NAME)
    start = next(i for i, line in enumerate(lines) if line.startswith("TENANT"))
    name_columns = lines[start].index("READY") - 2  # a space between columns, READY right-aligned in 6
    rows = []
    for line in lines[start + 1:]:
        if not line or line.startswith(("partial", "…", "could not", "no ready")) or "payloads" in line:
            break
        rows.append([line[:name_columns].strip(), *line[name_columns:].split()])
    return rows


async def test_tenants_are_ranked_by_oldest_wait_and_judged_against_the_threshold(harness) -> None:
    h = harness
    enqueue_at(h, 400, "email", [{"tenant": "acme", "n": 1}])
    enqueue_at(h, 250, "email", [{"tenant": "globex"}, {"meta": {"tenant": "acme"}, "tenant": "acme"}])
    enqueue_at(h, 10, "email", [{"tenant": "initech"}, {"other": 1}, '"just a string"', [1, 2]])
    handle = await h.start(NAME, settings={"threshold_seconds": 300})
    assert handle.state is PluginState.RUNNING
    await h.publish_stats()
    await h.wait_text(NAME, "TENANT")
    rows = tenant_rows(h)
    assert [(r[0], r[1], r[-1]) for r in rows] == [
        ("acme", "2", "late"), ("globex", "1", "warn"), ("(no tenant)", "3", "ok"), ("initech", "1", "ok"),
    ]
    assert rows[0][2] == "6m40s" and rows[1][2] == "4m10s"
    assert "error" in h.styles(NAME, "acme") and "warn" in h.styles(NAME, "globex")
    # the queue line comes from the stats alone: 7 ready, the oldest 400 s old
    assert queue_row(h, "email").split()[:4] == ["email", "7", "6m40s", "0"]
    assert "error" in h.styles(NAME, "email")
    assert all(columns(line) <= PANEL_WIDTH for line in h.text(NAME))
    assert handle.errors == 0


async def test_the_pace_of_each_tenant_comes_from_jobs_taken_between_two_readings(harness) -> None:
    h = harness
    enqueue_at(h, 100, "email", [{"tenant": "acme"}] * 4)
    enqueue_at(h, 90, "email", [{"tenant": "globex"}] * 2)
    await h.start(NAME, settings={"threshold_seconds": 3600, "refresh_seconds": 30})
    first = await h.publish_stats()
    await h.wait_text(NAME, "TENANT")
    assert [r[3] for r in tenant_rows(h)] == ["-", "-"]  # one reading: no pace yet
    worker = h.queue.worker(["email"], worker_id="w1")
    for _ in range(2):
        worker.ack(worker.reserve(timeout=0))
    await h.publish_stats(taken_at=first.taken_at + 15)  # sooner than refresh_seconds: no reading
    await h.publish_stats(taken_at=first.taken_at + 60)
    await h.wait_text(NAME, "stalled")
    rows = {r[0]: r for r in tenant_rows(h)}
    assert rows["acme"][1:] == ["2", "2m40s", "2", "1m00s", "ok"]  # 2 taken in a minute, 2 left
    assert rows["globex"][1:] == ["2", "2m30s", "0", "-", "stalled"]
    assert "warn" in h.styles(NAME, "globex")


async def test_a_partial_reading_says_so_and_bounds_the_waits_it_did_not_see(harness) -> None:
    h = harness
    enqueue_at(h, 500, "email", [{"tenant": "acme"}] * 50)
    enqueue_at(h, 100, "email", [{"tenant": "globex"}] * 20)
    await h.start(NAME, settings={"jobs_per_queue": 50})
    await h.publish_stats()
    await h.wait_text(NAME, "partial")
    assert [r[0] for r in tenant_rows(h)] == ["acme"]
    assert h.line(NAME, "partial") == "partial: read the 50 oldest ready jobs of email; the rest waited under 8m20s"
    assert "warn" in h.styles(NAME, "partial")
    assert queue_row(h, "email").split()[1] == "70"  # the queue line still counts every job


async def test_without_jobs_peek_the_panel_shows_the_refusal_and_keeps_the_queue_view(harness) -> None:
    h = harness
    enqueue_at(h, 50, "email", [{"tenant": "acme"}])
    handle = await h.start(NAME, deny=(Capability.JOBS_PEEK,))
    assert handle.state is PluginState.RUNNING
    await h.publish_stats()
    lines = await h.wait_text(NAME, "per-tenant view off")
    assert any("jobs.peek is denied" in line for line in lines)
    assert "error" in h.styles(NAME, "jobs.peek is denied")
    assert queue_row(h, "email").split()[:3] == ["email", "1", "50s"]
    assert not any(line.startswith("TENANT") for line in lines)


async def test_hostile_payloads_neither_break_the_panel_nor_the_plugins_limits(harness) -> None:
    h = harness
    escape = "\x1b]52;c;ZXZpbA==\x07\x1b[2J"
    enqueue_at(h, 300, "email", [{"tenant": escape + "evil"}, {"tenant": "\u202eemag" + "x" * 500}])
    enqueue_at(h, 250, "email", [[1, 2]])
    ids = enqueue_at(h, 200, "email", [{"tenant": "raw"}] * 2)
    set_raw_payload(h.tmp_path / "queue.db", ids[0], "\x00\xff{not json")
    set_raw_payload(h.tmp_path / "queue.db", ids[1], json.dumps({"pad": "x" * 2_000_000, "tenant": "far"}))
    nested = {"a": [[{"b": [1, "}", {"c": "]"}]}]] * 200, "tenant": "deep"}
    many_keys = {f"k{i}": i for i in range(400)} | {"tenant": "late-key"}
    enqueue_at(h, 100, "email", [nested, many_keys] * 50)
    handle = await h.start(NAME)
    await h.publish_stats()
    await h.wait_text(NAME, "TENANT")
    lines = h.text(NAME)
    assert handle.errors == 0 and handle.state is PluginState.RUNNING, handle.where()
    assert all(columns(line) <= PANEL_WIDTH for line in lines)
    assert not any("\x1b" in line or "\u202e" in line or "\x07" in line for line in lines)
    rows = [r[0] for r in tenant_rows(h)]
    assert rows[0] == "?]52;c;ZXZpbA==??[2Jevil" and rows[1].startswith("?emagxxx") and rows[1].endswith("…")
    assert "(unreadable)" in rows and "(no tenant)" in rows
    assert any(line.startswith("2 payloads not JSON or too long to read") for line in lines)


async def test_the_queue_filter_and_a_settings_change_take_effect(harness) -> None:
    h = harness
    enqueue_at(h, 30, "email", [{"tenant": "acme"}])
    enqueue_at(h, 30, "sms", [{"tenant": "globex"}])
    enqueue_at(h, 30, "email-bulk", [{"tenant": "initech"}])
    await h.start(NAME, settings={"queues": "email*"})
    await h.publish_stats()
    await h.wait_text(NAME, "TENANT")
    assert {r[0] for r in tenant_rows(h)} == {"acme", "initech"}
    assert not any(line.startswith("sms") for line in h.text(NAME))
    await h.host.change_settings(NAME, {"queues": "sms", "tenant_field": "missing"})
    await h.publish_stats()
    await h.wait(lambda: any(line.startswith("sms") for line in h.text(NAME)))
    await h.wait_text(NAME, "(no tenant)")
    assert [r[0] for r in tenant_rows(h)] == ["(no tenant)"]
