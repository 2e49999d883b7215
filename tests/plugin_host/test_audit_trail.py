"""Every plugin action, as the audit log records it: a request, then each outcome, with the jobs counted.

And what is checked before an action goes ahead: read-only mode (before anyone is asked), the
scope and rate of a bounded grant (kept across a restart), the exact jobs a confirmation shows,
and an audit log that cannot be written.
"""

from __future__ import annotations

import collections

import trio

from qtui.backends import open_backend
from qtui.bus import EventBus
from qtui.events import Notice
from qtui.model import JobState
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime.host import PluginHost
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.permissions import PermissionStore
from qtui.plugins.trust.policy import SitePolicy
from qtui.plugins.trust.scope import Rate, Scope
from qtui.sqlite_queue import SQLiteQueue
from tests.support import WAIT, wait_until

# A plugin making the requests in `calls` when it starts; each result shows as a line.
ACTOR = """
    local function shown(e)
      if not e.ok then return e.error end
      if e.action == "peek" then return "jobs=" .. #e.result.jobs end
      if e.action == "find" then return e.result and ("job=" .. e.result.id) or "none" end
      if e.action == "enqueue" then return "job=" .. e.result.id end
      return "count=" .. e.result.count
    end
    local lines = {}
    function activate()
      for _, call in ipairs({%s}) do
        local ok, err = pcall(call)
        if not ok then lines[#lines + 1] = "error " .. err end
      end
      if #lines > 0 then qtui.render(lines) end
    end
    function on_event(e)
      if e.type == "action" then
        lines[#lines + 1] = e.action .. " " .. shown(e)
        qtui.render(lines)
      end
    end
"""


def actor(*calls: str) -> str:
    return ACTOR % ", ".join(f"function() {call} end" for call in calls)


def requests(harness, plugin: str) -> dict[str, list[tuple[str, str, str, int | None]]]:
    """The plugin's audit entries by request id: (capability, outcome, reason, jobs), in order."""
    found: dict[str, list] = collections.defaultdict(list)
    for entry in harness.audit():
        if entry.plugin == plugin and entry.request:
            found[entry.request].append((entry.capability, entry.outcome.value, entry.reason, entry.jobs))
    return dict(found)


def kill(db, queue: str, count: int, error: str = "boom") -> None:
    """Add `count` jobs to `queue` and let each fail for good (dead)."""
    with SQLiteQueue.open(db) as q:
        for n in range(count):
            q.enqueue(queue, {"n": n}, max_attempts=1)
        worker = q.worker([queue], worker_id="killer")
        for _ in range(count):
            worker.fail(worker.reserve(), error)


async def test_every_action_path_writes_its_request_and_outcomes_with_the_jobs_it_affected(harness) -> None:
    backend = harness.backend
    # requests on different capabilities run side by side: the peek reads what none of the others touch
    waiting = len(backend.peek("email", JobState.SCHEDULED).jobs)
    some = backend.peek("email", JobState.READY).jobs[0].id
    calls = ('qtui.jobs.peek{queue = "email", state = "scheduled"}', f'qtui.jobs.find("{some}")',
             'qtui.jobs.enqueue("reports", {day = "monday"})', 'qtui.jobs.requeue{queue = "email"}',
             'qtui.jobs.purge("email", "completed")', 'qtui.jobs.peek{queue = "nosuch", state = "dead"}',
             'qtui.jobs.purge("email", "old")')
    plugin = harness.plugin("actor", actor(*calls),
                            permissions=["jobs.peek", "jobs.enqueue", "jobs.requeue", "jobs.purge"])
    await harness.start(plugin)
    await harness.wait(lambda: len(harness.text("actor")) == len(calls))
    lines = harness.text("actor")
    assert f"peek jobs={waiting}" in lines and f"find job={some}" in lines and "requeue count=1" in lines
    assert "purge count=0" in lines and any(line.startswith("peek no queue named 'nosuch'") for line in lines)
    assert any("unknown job state 'old'" in line for line in lines)
    (asked,) = harness.confirmations  # nothing is asked about a purge of no jobs
    assert asked.startswith("actor: requeue 1 dead job on email to their own queues: ")

    trails = sorted(requests(harness, "actor").values())
    assert trails == sorted([
        [("jobs.peek", "requested", "", None), ("jobs.peek", "done", "", waiting)],
        [("jobs.peek", "requested", "", None), ("jobs.peek", "done", "", 1)],  # find
        [("jobs.enqueue", "requested", "", None), ("jobs.enqueue", "done", "", 1)],
        [("jobs.requeue", "requested", "", None), ("jobs.requeue", "confirmed", "", 1),
         ("jobs.requeue", "done", "", 1)],
        [("jobs.purge", "requested", "", None), ("jobs.purge", "done", "", 0)],
        [("jobs.peek", "requested", "", None), ("jobs.peek", "failed", "", None)],
        [("jobs.purge", "requested", "", None), ("jobs.purge", "refused", "bad_arguments", None)],
    ])
    failed = next(e for e in harness.audit() if e.outcome == "failed")
    assert failed.detail == "no queue named 'nosuch'"
    assert backend.stats()[0].count(JobState.DEAD) == 0


async def test_a_declined_action_is_recorded_with_the_jobs_it_would_have_touched(harness) -> None:
    harness.answer = False
    kill(harness.tmp_path / "queue.db", "email-eu", 3)
    await harness.start(harness.plugin("actor", actor('qtui.jobs.requeue{queue = "email-eu"}'),
                                       permissions=["jobs.requeue"]))
    await harness.wait_text("actor", "requeue the operator declined")
    (trail,) = requests(harness, "actor").values()
    assert trail == [("jobs.requeue", "requested", "", None), ("jobs.requeue", "declined", "", 3)]
    (asked,) = harness.confirmations
    dead = [j.id for j in harness.backend.peek("email-eu", JobState.DEAD).jobs]
    assert asked == f"actor: requeue 3 dead jobs on email-eu to their own queues: {', '.join(dead)}"


async def test_a_confirmation_names_the_exact_count_and_the_first_ids(harness) -> None:
    kill(harness.tmp_path / "queue.db", "webhooks", 71)
    await harness.start(harness.plugin("actor", actor('qtui.jobs.requeue{queue = "webhooks"}'),
                                       permissions=["jobs.requeue"]))
    await harness.wait_text("actor", "requeue count=71")
    oldest = [j.id for j in harness.backend.peek("webhooks", JobState.READY, limit=5).jobs]
    assert harness.confirmations == [
        f"actor: requeue 71 dead jobs on webhooks to their own queues: {', '.join(oldest)} and 66 more"]


async def test_read_only_mode_refuses_before_anyone_is_asked(harness, tmp_path) -> None:
    backend = open_backend(tmp_path / "queue.db", clock=harness.clock, read_only=True)
    asked = []

    async def confirm(handle, confirmation):
        asked.append(confirmation)
        return True

    host = PluginHost(backend, EventBus(), store=harness.host.store, policy=SitePolicy(), audit=harness.host.audit,
                      settings=SettingsStore(tmp_path / "settings.toml"), storage_dir=tmp_path / "data",
                      confirmer=confirm, clock=harness.clock)
    plugin = harness.plugin("actor", actor('qtui.jobs.purge("email", "dead")', 'qtui.jobs.enqueue("email", 1)'),
                            permissions=["jobs.purge", "jobs.enqueue"])
    harness.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
    async with trio.open_nursery() as nursery:
        await nursery.start(host.run)
        handle = await host.start(plugin)
        await wait_until(lambda: len(handle.panel) == 2, "both answers")
        nursery.cancel_scope.cancel()
    lines = ["".join(s.text for s in line) for line in handle.panel]
    assert sorted(lines) == ["enqueue refused: the console is in read-only mode",
                             "purge refused: the console is in read-only mode"]
    assert asked == []
    assert sorted(requests(harness, "actor").values()) == [
        [("jobs.enqueue", "requested", "", None), ("jobs.enqueue", "refused", "read_only", None)],
        [("jobs.purge", "requested", "", None), ("jobs.purge", "refused", "read_only", None)],
    ]
    backend.close()


REQUEUE_COMMAND = """
    function activate() qtui.command("requeue", "requeue the dead jobs of a queue") end
    function on_event(e)
      if e.type == "command" then qtui.jobs.requeue{queue = e.args}
      elseif e.type == "action" then
        qtui.render({e.ok and ("requeued " .. e.result.count) or e.error})
      end
    end
"""


async def requeue(harness, queue: str, expect: str) -> str:
    harness.host.plugins["bounded"].panel = ()
    assert harness.host.run_command("bounded", "requeue", queue)
    return (await harness.wait_text("bounded", expect))[0]


async def test_a_scoped_grant_refuses_other_queues_and_uses_past_its_rate_and_says_so(harness) -> None:
    db = harness.tmp_path / "queue.db"
    kill(db, "webhooks", 1)
    kill(db, "email-eu", 2)
    plugin = harness.plugin("bounded", REQUEUE_COMMAND, permissions=["commands", "jobs.requeue"])
    harness.host.store.decide(plugin.manifest, bundle_hash(plugin.folder),
                              grant=plugin.manifest.permissions, confirm={Capability.JOBS_REQUEUE: False},
                              scopes={Capability.JOBS_REQUEUE: Scope(("email*",), Rate(3, 3600))})
    await harness.host.start(plugin)

    line = await requeue(harness, "webhooks", "refused")
    assert line == ("refused: webhooks is outside the scope of jobs.requeue "
                    "(queues email*, at most 3 jobs per hour (your grant))")
    assert await requeue(harness, "email-eu", "requeued") == "requeued 2"  # 2 of 3 used
    assert await requeue(harness, "email", "requeued") == "requeued 1"  # 3 of 3
    kill(db, "email-us", 1)
    line = await requeue(harness, "email-us", "refused")
    assert line == ("refused: jobs.requeue used 3 of its 3 jobs per hour; this request would touch 1 "
                    "(queues email*, at most 3 jobs per hour (your grant))")
    assert sum(q.count(JobState.DEAD) for q in harness.backend.stats()) == 2  # webhooks and email-us
    refusals = [(e.reason, e.detail) for e in harness.audit() if e.outcome == "refused"]
    assert [r for r, _ in refusals] == ["out_of_scope", "rate_limit"]

    # a console started afterwards counts the uses the audit log holds
    again = PluginHost(harness.backend, EventBus(), store=harness.host.store, policy=SitePolicy(),
                       audit=AuditLog(harness.host.audit.path), settings=harness.host.settings,
                       storage_dir=harness.tmp_path / "data", confirmer=None, clock=harness.clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(again.run)
        await again.stop("bounded")
        await harness.host.stop("bounded")
        handle = await again.start(plugin)
        assert again.run_command("bounded", "requeue", "email-us")
        await wait_until(lambda: handle.panel, "the plugin's answer")
        assert "used 3 of its 3 jobs per hour" in handle.panel[0][0].text
        harness.clock.advance(3601)  # an hour later the rate allows it again
        handle.panel = ()
        assert again.run_command("bounded", "requeue", "email-us")
        await wait_until(lambda: handle.panel, "the plugin's answer")
        assert handle.panel[0][0].text == "requeued 1"
        nursery.cancel_scope.cancel()


async def test_the_site_policy_bounds_a_grant_too(harness) -> None:
    kill(harness.tmp_path / "queue.db", "email-eu", 1)
    harness.host.policy = SitePolicy(scopes={Capability.JOBS_REQUEUE: Scope(("email",))})
    plugin = harness.plugin("bounded", REQUEUE_COMMAND, permissions=["commands", "jobs.requeue"])
    harness.host.store.decide(plugin.manifest, bundle_hash(plugin.folder),
                              grant=plugin.manifest.permissions, confirm={Capability.JOBS_REQUEUE: False},
                              scopes={Capability.JOBS_REQUEUE: Scope(("email*",))})
    await harness.host.start(plugin)
    line = await requeue(harness, "email-eu", "refused")
    assert line == ("refused: email-eu is outside the scope of jobs.requeue "
                    "(queues email* (your grant); queues email (site policy))")
    assert await requeue(harness, "email", "requeued") == "requeued 1"


async def test_an_unwritable_audit_log_refuses_queue_changes_and_the_console_says_why(harness) -> None:
    notices = harness.bus.subscribe("test", (Notice,))
    plugin = harness.plugin("actor", actor('qtui.jobs.enqueue("reports", 1)', 'qtui.notify("still here")'),
                            permissions=["jobs.enqueue", "notify"])
    harness.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
    (harness.tmp_path / "gone").write_text("a file where the log's folder should be")
    harness.host.audit.path = harness.tmp_path / "gone" / "audit.jsonl"
    await harness.host.start(plugin)
    (line,) = harness.text("actor")
    assert line.startswith("error init.lua:") and "qtui.jobs.enqueue: refused: it cannot be audited" in line
    assert harness.backend.job("1") is not None and not any(
        q.name == "reports" for q in harness.backend.stats())
    with trio.fail_after(WAIT):
        texts = []
        while not (any("plugin actions that change queues are refused" in t for t in texts)
                   and "actor: still here" in texts):
            texts.append((await notices.receive()).text)
    assert any("gone/audit.jsonl: cannot write the audit log" in t for t in texts)
    # what needs no record goes on: the notice above came from the plugin's next call


async def test_a_burst_of_requests_keeps_to_the_rate(harness) -> None:
    calls = ['qtui.jobs.enqueue("reports", 1)'] * 10  # all asked at once, before any is carried out
    plugin = harness.plugin("burst", actor(*calls), permissions=["jobs.enqueue"])
    harness.host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions,
                              scopes={Capability.JOBS_ENQUEUE: Scope(rate=Rate(3, 3600))})
    await harness.start(plugin, grant_all=False)
    await harness.wait(lambda: len(harness.text("burst")) == len(calls))
    assert sum(line.startswith("enqueue job=") for line in harness.text("burst")) == 3
    assert next(q for q in harness.backend.stats() if q.name == "reports").count(JobState.READY) == 3
    outcomes = collections.Counter(trail[-1][1:3] for trail in requests(harness, "burst").values())
    assert outcomes == {("done", ""): 3, ("refused", "rate_limit"): 7}
