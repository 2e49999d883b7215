"""Find by id in the console on the go-redis-work-queue layout: a scan shows its progress."""

from __future__ import annotations

import gowork_sim as sim
import trio

from qtui.backends import open_backend
from qtui.clock import SYSTEM_CLOCK
from qtui.console.app import Console
from tests.support import screen_text, wait_until


async def test_find_by_id_shows_the_scan_in_the_status_bar_then_the_job(redis_url, rdb, monkeypatch) -> None:
    monkeypatch.setattr("qtui.backends.gowork.SCRIPT_CHUNK", 25)  # finds look at 100 items per step
    sim.produce(rdb, 450, "low")
    rdb.lpush(sim.DEAD_LETTER, sim.make_job("/x", "high", job_id="target", retries=4))
    backend = open_backend(redis_url, clock=SYSTEM_CLOCK.time)
    console = Console(backend, clock=SYSTEM_CLOCK, refresh=0)
    shown: list[str] = []
    set_message = console.status.set_message
    monkeypatch.setattr(console.status, "set_message",
                        lambda text, level="info": shown.append(text) or set_message(text, level))
    async with trio.open_nursery() as nursery:  # ended before the backend closes
        console.start_tasks(nursery)
        await wait_until(lambda: "live" in screen_text(console), "the first poll")
        before = console.status.message
        console.execute("find target")
        await wait_until(lambda: "target" in screen_text(console) and "/x" in screen_text(console),
                         lambda: f"the job's detail; the screen is:\n{screen_text(console)}")
        searching = [text for text in shown if text.startswith("find [")]
        assert searching[0] == "find [..........]   0% 0/~451"
        assert searching[-1] == "find [##########] 100% 451/~451"
        assert len(searching) == 7  # after each 100-item step and at the end
        assert console.status.message == before  # the status bar is back as it was
        nursery.cancel_scope.cancel()
    backend.close()
