"""throughput: per-minute sparklines from statistics events, kept in storage across restarts."""

from __future__ import annotations

import json

from qtui.events import StatsUpdated
from qtui.model import QueueStats, Snapshot
from qtui.plugins.bundles.capabilities import Capability

from tests.support import START

from .conftest import PANEL_WIDTH, columns

NAME = "throughput"
BASE = (int(START) // 60 - 10) * 60  # the start of a minute, ten minutes before the harness's clock


async def feed(h, minute: int, *, same_chart: bool = False, **rates: tuple[float, float]) -> None:
    """Statistics taken `minute` minutes after BASE, with (completed, failed) per minute per queue;
    `same_chart`: they may leave the panel as it was."""
    queues = tuple(QueueStats(name, {}, completed_per_min=done, failed_per_min=failed)
                   for name, (done, failed) in rates.items())
    handle = h.host.plugins[NAME]
    calls, panel = handle.runtime.sandbox.usage().calls, handle.panel
    h.bus.publish(StatsUpdated(Snapshot(queues, (), BASE + minute * 60 + 30)))
    # handled, and what it drew is on the panel (the call ends in its thread before that)
    await h.wait(lambda: handle.runtime.sandbox.usage().calls > calls and (same_chart or handle.panel is not panel))
    await h.host.idle()


def chart(h, queue: str, label: str = "done") -> str:
    """The bars of a queue's line (after the queue and label columns)."""
    lines = h.text(NAME)
    for n, line in enumerate(lines):
        if line.startswith(queue.ljust(12)):
            target = line if label == "done" else lines[n + 1]
            assert target[13:18].strip() == label
            return target[18:18 + 10]
    raise AssertionError(f"no chart for {queue} in {lines}")


async def test_each_minute_is_a_column_scaled_to_the_peak_with_gaps_left_blank(harness) -> None:
    h = harness
    await h.start(NAME, settings={"minutes": 10})
    for minute, done in [(0, 0), (1, 10), (2, 20), (4, 40), (5, 40.2)]:
        await feed(h, minute, email=(done, 0), sms=(5, 2 if minute == 4 else 0))
    await h.wait_text(NAME, "peak 40.2")
    assert chart(h, "email") == "    ▁▃▅ ██"  # the latest minute on the right; minute 3 had no statistics
    email = h.line(NAME, "email")
    assert email.split()[-3:] == ["40.2/m", "peak", "40.2"]
    assert chart(h, "sms", "fail") == "    ▁▁▁ █▁"
    assert "error" in h.styles(NAME, "fail")
    assert "fail" not in h.text(NAME)[1 + h.text(NAME).index(email)]  # email never failed: no fail line
    assert all(columns(line) <= PANEL_WIDTH for line in h.text(NAME))


async def test_the_history_survives_a_restart(harness) -> None:
    h = harness
    handle = await h.start(NAME, settings={"minutes": 10})
    for minute in range(4):
        await feed(h, minute, email=(minute * 10, 0))
    await h.host.stop(NAME)  # deactivate saves what it has
    stored = json.loads((h.tmp_path / "data" / "plugin-data" / "throughput.json").read_text())
    assert stored["series"]["minute"] == (BASE + 3 * 60 + 30) // 60
    # two lines of text a queue, a field a minute: the host reads 2 strings, not 80 values
    assert stored["series"]["format"] == 2
    assert stored["series"]["queues"]["email"]["done"] == "," * 36 + "0.0,10.0,20.0,30.0"
    assert stored["series"]["queues"]["email"]["failed"] == "," * 36 + "0.0,0.0,0.0,0.0"
    await h.host.start(handle.plugin)
    await h.wait_text(NAME, "email")
    await feed(h, 4, email=(40, 0))
    await h.wait_text(NAME, "40/m")
    assert chart(h, "email") == "     ▁▃▅▇█"


async def test_minutes_leave_after_forty_and_a_queue_with_none_left_leaves_the_chart(harness) -> None:
    h = harness
    await h.start(NAME, settings={"minutes": 10})
    await feed(h, 0, email=(5, 0), sms=(1, 0))
    for minute in range(1, 40):  # sms is gone from the statistics; its minute 0 is still kept
        await feed(h, minute, same_chart=True, email=(5, 0))
    assert h.line(NAME, "sms")
    await feed(h, 40, email=(6, 0))  # minute 0 leaves the 40 kept
    assert not any(line.startswith("sms") for line in h.text(NAME))
    await feed(h, 200, email=(7, 0))  # after a long gap every minute kept has left
    assert chart(h, "email") == "         █"
    await h.host.stop(NAME)
    stored = json.loads((h.tmp_path / "data" / "plugin-data" / "throughput.json").read_text())
    assert stored["series"]["queues"] == {"email": {"done": "," * 39 + "7.0", "failed": "," * 39 + "0.0"}}


async def test_a_mangled_storage_file_is_ignored(harness) -> None:
    h = harness
    folder = h.tmp_path / "data" / "plugin-data"
    folder.mkdir(parents=True)
    (folder / "throughput.json").write_text(json.dumps({"series": {
        "format": 1, "minute": (BASE // 60) + 1,
        "queues": {"email": {"done": ["lots", True, {"x": 1}], "failed": "no"}, "sms": [1, 2],
                   "ok": {"done": [False] * 39 + [7], "failed": []}},
    }}))
    handle = await h.start(NAME, settings={"minutes": 10})
    await feed(h, 2, email=(3, 0))
    await h.wait_text(NAME, "email")
    assert handle.errors == 0
    assert [line.split()[0] for line in h.text(NAME) if line.split()[1:2] == ["done"]] == ["email", "ok"]


async def test_history_kept_by_version_1_2_carries_on(harness) -> None:
    h = harness
    folder = h.tmp_path / "data" / "plugin-data"
    folder.mkdir(parents=True)
    done = [False] * 36 + [0, 10, 20, 30]  # format 1: a list of 40 numbers (false: nothing recorded)
    (folder / "throughput.json").write_text(json.dumps({"series": {
        "format": 1, "minute": BASE // 60 + 3, "queues": {"email": {"done": done, "failed": [False] * 40}}}}))
    await h.start(NAME, settings={"minutes": 10})
    await feed(h, 4, email=(40, 0))
    await h.wait_text(NAME, "40/m")
    assert chart(h, "email") == "     ▁▃▅▇█"


async def test_a_mangled_line_of_history_is_ignored(harness) -> None:
    h = harness
    folder = h.tmp_path / "data" / "plugin-data"
    folder.mkdir(parents=True)
    (folder / "throughput.json").write_text(json.dumps({"series": {
        "format": 2, "minute": BASE // 60 + 1,
        "queues": {"long": {"done": "1," * 2000, "failed": ""}, "listed": {"done": [1, 2], "failed": ""},
                   "junk": {"done": "," * 34 + "x,,nan,inf,-5,1e999", "failed": "no"}, "ok": {"done": "," * 39 + "7", "failed": ""}},
    }}))
    handle = await h.start(NAME, settings={"minutes": 10})
    await feed(h, 2, ok=(3, 0))
    await h.wait_text(NAME, "3/m")
    assert handle.errors == 0
    assert [line.split()[0] for line in h.text(NAME) if line.split()[1:2] == ["done"]] == ["junk", "ok"]
    assert chart(h, "ok") == "        █▄"  # 7 in minute 1, 3 in minute 2
    assert chart(h, "junk") == "       ▁▁ "  # x, nan and inf are no numbers; -5 and 1e999 (minutes 0, 1) count as 0


async def test_without_storage_it_charts_and_says_history_is_not_kept(harness) -> None:
    h = harness
    handle = await h.start(NAME, deny=(Capability.STORAGE,))
    await feed(h, 0, email=(5, 0))
    await feed(h, 1, email=(6, 0))
    lines = await h.wait_text(NAME, "history not kept across restarts")
    assert "capability storage is denied" in " ".join(lines)
    assert h.line(NAME, "email").split()[-3] == "6/m"
    assert handle.errors == 0


async def test_real_completions_show_up(harness) -> None:
    h = harness
    h.queue.enqueue_many("email", [{"n": n} for n in range(3)])
    worker = h.queue.worker(["email"], worker_id="w")
    for _ in range(3):
        worker.ack(worker.reserve(timeout=0))
    await h.start(NAME, settings={"queues": "email"})
    await h.publish_stats()
    await h.wait_text(NAME, "3/m")
