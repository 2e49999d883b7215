"""queue-alert: thresholds with hysteresis, announced in the status line and on its own topic."""

from __future__ import annotations

import trio

from qtui.events import Notice
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime.events import PluginMessage

from .conftest import PANEL_WIDTH, columns, make_dead

NAME = "queue-alert"


class Announcements:
    """What the plugin said on the bus: status-line notices and messages on its topic."""

    def __init__(self, h) -> None:
        self.subscription = h.bus.subscribe("test", (Notice, PluginMessage))
        self.notices: list[tuple[str, str]] = []
        self.messages: list[dict] = []

    def collect(self) -> None:
        while True:
            try:
                event = self.subscription.receive_nowait()
            except trio.WouldBlock:
                return
            if isinstance(event, Notice):
                self.notices.append((event.level, event.text))
            else:
                assert event.topic == "plugin.queue-alert.alert" and event.sender == NAME
                self.messages.append({k: v for k, v in event.data.items() if k != "at"})


async def poll(h, needle: str) -> list[str]:
    await h.publish_stats()
    return await h.wait_text(NAME, needle)


async def test_a_backlog_alert_is_raised_held_by_hysteresis_and_cleared(harness) -> None:
    h = harness
    heard = Announcements(h)
    await h.start(NAME, settings={"ready_threshold": 5, "dead_threshold": 0, "age_threshold_seconds": 0,
                                  "clear_ratio": 0.6})
    h.queue.enqueue_many("email", [{"n": n} for n in range(4)])
    await poll(h, "all clear on 1 watched queue")
    h.queue.enqueue("email", {"n": 4})
    lines = await poll(h, "since")
    alert = h.line(NAME, "since")
    assert alert.split()[:5] == ["email", "ready", "5", "≥", "5"]
    assert "error" in h.styles(NAME, "since")
    worker = h.queue.worker(["email"], worker_id="w")
    for _ in range(2):  # 3 left: still at or above 60% of 5
        worker.ack(worker.reserve(timeout=0))
    await poll(h, "3 ≥ 5")
    assert h.line(NAME, "since").split()[:5] == ["email", "ready", "3", "≥", "5"]
    worker.ack(worker.reserve(timeout=0))  # 2 left: below 3, the alert clears
    lines = await poll(h, "all clear")
    assert [line.split()[1:] for line in lines if line.split()[1:2] in (["raised"], ["cleared"])] == [
        ["cleared", "email", "ready", "2", "<", "3"],
        ["raised", "email", "ready", "5", "≥", "5"],
    ]
    assert all(columns(line) <= PANEL_WIDTH for line in lines)
    heard.collect()
    assert heard.notices == [("warning", "queue-alert: raised: email ready 5 ≥ 5"),
                             ("info", "queue-alert: cleared: email ready 2 < 3")]
    assert heard.messages == [
        {"queue": "email", "metric": "ready", "state": "raised", "value": 5, "threshold": 5},
        {"queue": "email", "metric": "ready", "state": "cleared", "value": 2, "threshold": 5},
    ]


async def test_dead_jobs_and_old_waits_alert_per_queue_and_the_filter_applies(harness) -> None:
    h = harness
    make_dead(h, "email", [{"n": n} for n in range(3)], "boom")
    make_dead(h, "sms", [{"n": 1}] * 3, "boom")
    h.producer.offset = -900
    h.queue.enqueue("email", {"old": True})
    h.producer.offset = 0
    await h.start(NAME, settings={"dead_threshold": 3, "age_threshold_seconds": 600, "queues": "email, billing*"})
    lines = await poll(h, "since")
    alerts = [line.split()[:2] for line in lines if "since" in line]
    assert sorted(alerts) == [["email", "dead"], ["email", "oldest"]]
    oldest = next(line for line in lines if line.startswith("email") and "oldest" in line)
    assert oldest.split()[2:5] == ["15m00s", "≥", "10m00s"]


async def test_without_notify_alerts_still_show_and_are_published(harness) -> None:
    h = harness
    heard = Announcements(h)
    make_dead(h, "email", [{"n": 1}], "boom")
    await h.start(NAME, deny=(Capability.NOTIFY,), settings={"dead_threshold": 1})
    lines = await poll(h, "status-line notices off")
    assert "capability notify is denied" in " ".join(lines[lines.index(h.line(NAME, "notices off")):])
    assert "email" in h.line(NAME, "since")
    heard.collect()
    assert heard.notices == [] and [m["state"] for m in heard.messages] == ["raised"]


async def test_a_hot_reload_keeps_the_raised_alerts_without_raising_them_again(harness) -> None:
    h = harness
    heard = Announcements(h)
    make_dead(h, "email", [{"n": 1}], "boom")
    handle = await h.start(NAME, settings={"dead_threshold": 1})
    await poll(h, "since")
    handoff = await h.host.stop(NAME)
    await h.host.start(handle.plugin, handoff=handoff)
    await h.wait_text(NAME, "raised")
    await poll(h, "since")
    heard.collect()
    assert [m["state"] for m in heard.messages] == ["raised"]
