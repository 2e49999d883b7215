"""The bundled plugins on an idle console: statistics that change nothing they show cost no work.

Each plugin tells the host, with qtui.unchanged_stats, when its panel would next change with time
alone (a new minute, a wait shown differently, a threshold passed, a reading due); polls in which
nothing changed before then do not reach it at all. Stats that do reach it mark the queues that
changed; a plugin that draws nothing new renders nothing, and tenant-sla does not ask the backend
to read the ready jobs again. Calls are counted on the plugin's sandbox, renders on its API calls.
"""

from __future__ import annotations

import time
from collections import Counter

import attrs
import pytest

from qtui.events import StatsUpdated
from qtui.model import Snapshot

from qtui.plugins.runtime.instance import PluginRuntime
from qtui.plugins.runtime.sandbox import LuaSandbox


@pytest.fixture
def renders(monkeypatch) -> Counter:
    """How many times each plugin called qtui.render (its API is bound when it starts)."""
    counts: Counter = Counter()
    real = PluginRuntime.api_render

    def counting(self, lines, panel=None):  # noqa: ANN001, ANN202 - the API's signature
        counts[self.manifest.name] += 1
        return real(self, lines, panel)

    monkeypatch.setattr(PluginRuntime, "api_render", counting)
    return counts


async def stats(h, name: str, taken_at: float) -> None:
    """Publish a poll dated `taken_at` and wait until plugin `name` has handled it."""
    sandbox = h.host.plugins[name].runtime.sandbox
    calls = sandbox.usage().calls
    await h.publish_stats(taken_at=taken_at)
    await h.wait(lambda: sandbox.usage().calls > calls)
    await h.host.idle()


async def poll(h, name: str, taken_at: float) -> bool:
    """Publish a poll dated `taken_at` and wait until the plugins are idle: whether it reached `name`."""
    sandbox = h.host.plugins[name].runtime.sandbox
    calls = sandbox.usage().calls
    await h.publish_stats(taken_at=taken_at)
    await h.host.idle()
    return sandbox.usage().calls > calls


def count_readings(h) -> int:
    """Requests tenant-sla made to count ready jobs (qtui.jobs.count_by), from the audit log."""
    return sum(1 for entry in h.audit() if entry.detail == "qtui.jobs.count_by")


async def test_throughput_draws_nothing_when_no_rate_changed_within_the_minute(harness, renders) -> None:
    h = harness
    h.queue.enqueue_many("email", [{"n": n} for n in range(3)])
    await h.start("throughput")
    minute = (h.clock.now // 60) * 60
    await stats(h, "throughput", minute + 1)
    drawn = renders["throughput"]
    for second in (3, 5, 7):  # polls of an idle queue: the same rates in the same minute
        assert not await poll(h, "throughput", minute + second)
    assert renders["throughput"] == drawn
    worker = h.queue.worker(["email"], worker_id="w")
    worker.ack(worker.reserve(timeout=0))  # a completion: the email row changes
    await stats(h, "throughput", minute + 9)
    assert renders["throughput"] == drawn + 1
    assert h.line("throughput", "email").split()[-3] == "1/m"
    assert not await poll(h, "throughput", minute + 59)
    assert await poll(h, "throughput", minute + 60)  # a new minute is a new column
    assert renders["throughput"] == drawn + 2


async def test_queue_alert_hears_of_an_idle_alert_again_only_when_its_minute_changes(harness, renders) -> None:
    h = harness
    h.queue.enqueue_many("email", [{"n": n} for n in range(3)])
    await h.start("queue-alert", settings={"ready_threshold": 2, "dead_threshold": 0, "age_threshold_seconds": 0})
    start = h.clock.now
    await stats(h, "queue-alert", start)
    assert "since" in h.line("queue-alert", "email")
    drawn = renders["queue-alert"]
    for second in (2, 4, 6, 58):  # idle polls: the same backlog, the alert held for under a minute
        assert not await poll(h, "queue-alert", start + second)
    assert renders["queue-alert"] == drawn
    assert h.line("queue-alert", "email").rstrip().endswith("(<1m)")
    assert await poll(h, "queue-alert", start + 60)
    assert renders["queue-alert"] == drawn + 1
    assert h.line("queue-alert", "email").rstrip().endswith("(1m)")
    h.queue.enqueue("email", {"n": 3})  # a change: judged and drawn on the next poll
    await stats(h, "queue-alert", start + 64)
    assert h.line("queue-alert", "email").split()[:5] == ["email", "ready", "4", "≥", "2"]


async def test_queue_alert_still_raises_an_age_alert_on_an_idle_queue(harness, renders) -> None:
    h = harness
    h.queue.enqueue("email", {"n": 1})
    await h.start("queue-alert", settings={"ready_threshold": 0, "dead_threshold": 0, "age_threshold_seconds": 60})
    start = h.clock.now
    await stats(h, "queue-alert", start + 10)
    assert any("all clear" in line for line in h.text("queue-alert"))
    assert not await poll(h, "queue-alert", start + 30)  # the wait is 30 s: no alert due yet
    assert not await poll(h, "queue-alert", start + 59.4)
    assert await poll(h, "queue-alert", start + 60)  # nothing changed but the wait, which reached 60 s
    assert h.line("queue-alert", "since").split()[:2] == ["email", "oldest"]
    assert h.line("queue-alert", "since").split()[2] == "1m00s"
    assert not await poll(h, "queue-alert", start + 60.4)
    assert await poll(h, "queue-alert", start + 61)  # the wait shown to the second
    assert h.line("queue-alert", "since").split()[2] == "1m01s"


async def test_queue_alert_looks_again_for_the_waits_it_shows_not_for_alerts_beyond_its_rows(harness) -> None:
    h = harness
    start = h.clock.now
    h.producer.offset = -7200  # waiting two hours: the waits show to the minute
    for name in ("qa", "qb", "qc", "qd", "qe", "qf"):
        h.queue.enqueue(name, {"n": 1})
    h.producer.offset = -7230  # half a minute longer: its wait turns a minute at other times
    h.queue.enqueue("qz", {"n": 1})
    h.producer.offset = 0.0
    await h.start("queue-alert", settings={"ready_threshold": 0, "dead_threshold": 0, "age_threshold_seconds": 60})
    await stats(h, "queue-alert", start + 10)
    assert [line.split()[0] for line in h.text("queue-alert") if line.startswith("q")] == [
        "qa", "qb", "qc", "qd", "qe", "qf"]
    assert any("and 1 more alert" in line for line in h.text("queue-alert"))
    assert not await poll(h, "queue-alert", start + 35)  # qz's wait turned 2h01m: not on the panel
    assert await poll(h, "queue-alert", start + 60)  # the waits shown turn 2h01m
    assert h.line("queue-alert", "qa").split()[2] == "2h01m"


async def test_queue_alert_does_not_look_again_for_alerts_below_its_panel(harness) -> None:
    h = harness
    start = h.clock.now
    h.producer.offset = -7200  # waits shown to the minute, turning 2h01m at start + 60
    for name in ("qa", "qb"):
        h.queue.enqueue(name, {"n": 1})
    h.producer.offset = -7230  # turning 2h01m at start + 30
    for name in ("qc", "qd"):
        h.queue.enqueue(name, {"n": 1})
    h.producer.offset = 0.0
    await h.start("queue-alert", settings={"ready_threshold": 0, "dead_threshold": 0, "age_threshold_seconds": 60})
    h.host.resize("queue-alert", 60, 3)  # the thresholds, qa and qb
    await stats(h, "queue-alert", start + 10)
    assert [line.split()[0] for line in h.text("queue-alert")[1:3]] == ["qa", "qb"]
    assert not await poll(h, "queue-alert", start + 35)  # qc and qd turn 2h01m below the panel
    h.host.resize("queue-alert", 60, 10)
    await h.host.idle()
    assert await poll(h, "queue-alert", start + 36)  # the next poll comes whatever it shows
    assert h.line("queue-alert", "qc").split()[2] == "2h01m"
    assert await poll(h, "queue-alert", start + 60)  # qa and qb, which it shows, turn 2h01m


async def test_tenant_sla_looks_again_for_the_waits_of_the_queues_it_shows(harness) -> None:
    h = harness
    start = h.clock.now
    h.producer.offset = -7230  # the five longest waits, shown to the minute
    for name in ("qa", "qb", "qc", "qd", "qe"):
        h.queue.enqueue(name, {"tenant": "acme"})
    h.producer.offset = -7200  # half a minute shorter: the sixth queue, beyond the panel's rows
    h.queue.enqueue("qz", {"tenant": "acme"})
    h.producer.offset = 0.0
    await h.start("tenant-sla", settings={"refresh_seconds": 3600, "threshold_seconds": 86400})
    await stats(h, "tenant-sla", start + 10)
    await h.wait_text("tenant-sla", "TENANT")
    await h.host.idle()
    assert any("and 1 more queue" in line for line in h.text("tenant-sla"))
    assert await poll(h, "tenant-sla", start + 30)  # the five waits turn 2h01m
    assert h.line("tenant-sla", "qa ").split()[2] == "2h01m"
    assert not await poll(h, "tenant-sla", start + 60)  # qz's wait turned 2h01m: not on the panel


async def test_tenant_sla_does_not_look_again_for_queue_rows_below_its_panel(harness) -> None:
    h = harness
    start = h.clock.now
    h.producer.offset = -7230  # waits shown to the minute, turning 2h01m at start + 30
    for name in ("qa", "qb"):
        h.queue.enqueue(name, {"tenant": "acme"})
    h.producer.offset = 0.0
    await h.start("tenant-sla", settings={"refresh_seconds": 3600, "threshold_seconds": 86400})
    # A docked panel of 6 rows: title, as-of, TENANT, acme, a blank and the QUEUE header.
    h.host.resize("tenant-sla", 40, 6)
    await stats(h, "tenant-sla", start + 10)
    await h.wait_text("tenant-sla", "acme")
    await h.host.idle()
    assert h.text("tenant-sla")[5].startswith("QUEUE")
    assert not await poll(h, "tenant-sla", start + 30)  # the waits turn 2h01m below the panel
    h.host.resize("tenant-sla", 40, 20)  # opened full screen, say: the queue rows fit
    await h.host.idle()
    assert await poll(h, "tenant-sla", start + 32)  # the next poll comes whatever it shows
    assert h.line("tenant-sla", "qa ").split()[2] == "2h01m"
    assert not await poll(h, "tenant-sla", start + 60)
    assert await poll(h, "tenant-sla", start + 90)  # the waits it shows turn 2h02m
    assert h.line("tenant-sla", "qa ").split()[2] == "2h02m"


async def test_tenant_sla_carries_an_unchanged_reading_forward_without_reading_again(harness, renders) -> None:
    h = harness
    h.producer.offset = -7200  # waiting for two hours: the ages shown change once a minute
    h.queue.enqueue_many("email", [{"tenant": "acme"}, {"tenant": "acme"}, {"tenant": "globex"}])
    h.producer.offset = 0.0
    await h.start("tenant-sla", settings={"refresh_seconds": 30, "threshold_seconds": 86400})
    start = h.clock.now
    await stats(h, "tenant-sla", start)
    await h.wait_text("tenant-sla", "TENANT")
    readings, drawn = count_readings(h), renders["tenant-sla"]
    assert readings == 1
    assert not await poll(h, "tenant-sla", start + 2)  # an idle poll: nothing shown changed (2h00m waits)
    assert not await poll(h, "tenant-sla", start + 28)
    assert renders["tenant-sla"] == drawn
    assert await poll(h, "tenant-sla", start + 40)  # due for a reading, but no queue changed
    assert count_readings(h) == readings
    rows = {line.split()[0]: line.split() for line in h.text("tenant-sla") if line.startswith(("acme", "globex"))}
    assert rows["acme"][1:4] == ["2", "2h00m", "0"] and rows["acme"][-1] == "stalled"  # carried forward: none taken
    assert "no job moved since" in h.line("tenant-sla", "tenants as of")
    assert await poll(h, "tenant-sla", start + 60)  # the waits turn 2h01m
    assert not await poll(h, "tenant-sla", start + 75)  # carried once: it stands until a job moves
    assert count_readings(h) == readings
    worker = h.queue.worker(["email"], worker_id="w")
    worker.ack(worker.reserve(timeout=0))  # the email queue changes: the next reading asks again
    await stats(h, "tenant-sla", start + 80)
    await h.wait(lambda: count_readings(h) == readings + 1)
    # the reading's result arrives later, from the backend's thread
    await h.wait(lambda: any(line.split()[:2] == ["acme", "1"] for line in h.text("tenant-sla")))


async def test_tenant_sla_does_not_read_again_when_only_a_rate_moved(harness) -> None:
    # A completion a minute ago leaves the completed rate as the minute passes: the row is
    # marked changed, but no job moved, so the due reading is carried forward.
    h = harness
    h.queue.enqueue_many("email", [{"tenant": "acme"}, {"tenant": "acme"}, {"tenant": "globex"}])
    worker = h.queue.worker(["email"], worker_id="w")
    worker.ack(worker.reserve(timeout=0))
    await h.start("tenant-sla", settings={"refresh_seconds": 30})
    start = h.clock.now
    await stats(h, "tenant-sla", start)
    await h.wait_text("tenant-sla", "TENANT")
    readings = count_readings(h)
    before = await h.publish_stats()
    assert before.queues[0].completed_per_min == 1
    h.clock.advance(90)
    after = await h.publish_stats()
    await h.host.idle()
    assert after.queues[0].completed_per_min == 0  # the rate moved, and only the rate
    assert (after.queues[0].counts, after.queues[0].oldest_ready_at) == (before.queues[0].counts,
                                                                         before.queues[0].oldest_ready_at)
    assert count_readings(h) == readings
    as_of = h.line("tenant-sla", "tenants as of").split()[3].rstrip(",")
    assert as_of == time.strftime("%H:%M:%S", time.localtime(h.clock.now))  # carried forward to the poll
    h.queue.enqueue("email", {"tenant": "initech"})  # a job came: the next due reading asks again
    h.clock.advance(30)
    await h.publish_stats()
    await h.wait(lambda: count_readings(h) == readings + 1)
    await h.wait_text("tenant-sla", "initech")


async def test_tenant_sla_lays_out_a_reading_once_while_the_waits_tick(harness, monkeypatch) -> None:
    h = harness
    host_calls: Counter = Counter()
    dispatch = LuaSandbox._dispatch_call

    def counting(self, index, arguments, scalars):  # noqa: ANN001, ANN202 - a method of LuaSandbox
        host_calls[self._host_functions[index][0]] += 1  # noqa: SLF001 - the function's API path
        return dispatch(self, index, arguments, scalars)

    monkeypatch.setattr(LuaSandbox, "_dispatch_call", counting)
    h.queue.enqueue_many("email", [{"tenant": "acme"}, {"tenant": "globex"}, {"tenant": "initech"}])
    await h.start("tenant-sla", settings={"jobs_per_queue": 1})  # a partial reading: a wrapped note
    start = h.clock.now
    await stats(h, "tenant-sla", start + 5)
    await h.wait_text("tenant-sla", "partial")
    await h.host.idle()
    host_calls.clear()
    await stats(h, "tenant-sla", start + 7)  # jobs seconds old: the queue's OLDEST changes, not the reading
    assert h.line("tenant-sla", "email ").split()[2] == "7s"
    assert any(line.startswith("partial") for line in h.text("tenant-sla"))
    assert host_calls["qtui.render"] == 1 and host_calls["qtui.text.width"] == 0  # the note was not wrapped again


@pytest.mark.parametrize("name", ["throughput", "queue-alert", "tenant-sla"])
async def test_what_a_plugin_asks_of_the_next_poll_survives_odd_times(harness, name: str) -> None:
    """Times a wrong clock or a producer's dates give (the clock set back or far ahead, a job made
    in the future or in year 1) make no plugin error: the look it asks for stays within what
    qtui.unchanged_stats takes, and the next poll that shows something new reaches it."""
    h = harness
    h.queue.enqueue("email", {"tenant": "acme"})
    settings = {"queue-alert": {"ready_threshold": 1, "age_threshold_seconds": 60}}.get(name)
    await h.start(name, settings=settings)
    snapshot = await h.publish_stats()
    if name == "tenant-sla":
        await h.wait_text(name, "TENANT")  # the first reading is in: the next one is due in refresh_seconds
    await h.host.idle()
    now, year = snapshot.taken_at, 365 * 86400
    for taken_at, oldest in ((now - year, now), (now - year, None), (now + year, now), (now, now + 3600), (now, now - 2025 * year),
                             (now + 2 * year, None)):
        queues = tuple(attrs.evolve(q, oldest_ready_at=oldest) for q in snapshot.queues)
        h.bus.publish(StatsUpdated(Snapshot(queues, snapshot.workers, taken_at)))
        await h.host.idle()
    handle = h.host.plugins[name]
    assert handle.errors == 0, handle.where()
    h.queue.enqueue("email", {"tenant": "acme"})
    assert await poll(h, name, now + 2 * year + 2)
