"""The table shapes declared in qtui.authoring.typedefs (and documented) are what a real host passes and accepts."""

from __future__ import annotations

import attrs

from qtui.authoring.typedefs import TABLES, table
from qtui.events import StatsUpdated
from qtui.model import Job, JobState, QueueStats, Snapshot
from qtui.plugins.runtime.events import job_plain
from tests.support import received

MANIFEST = """\
name = "{name}"
version = "1.0.0"
description = "checks the documented shapes"
api = "1"
permissions = [{permissions}]
"""

PROBE = """\
local lines, pending = {}, {}

local function keys(t)
  if t == nil then return "nil" end
  local found = {}
  for name in pairs(t) do found[#found + 1] = name end
  table.sort(found)
  return table.concat(found, " ")
end

local function try(f, ...)
  local ok, err = pcall(f, ...)
  return ok and "accepted" or err
end

local function say(line)
  lines[#lines + 1] = line
  qtui.render(lines)
end

function activate(ctx)
  say("context " .. keys(ctx))
  say("peek-every-field " .. try(qtui.jobs.peek, {queue = "email", state = "dead", text = "smtp",
                                                  cursor = "c", limit = 5}))
  say("peek-unknown-field " .. try(qtui.jobs.peek, {colour = "red"}))
  say("requeue-every-filter-field " .. try(qtui.jobs.requeue, {queue = "nosuch", text = "x", to = "email"}))
  say("requeue-unknown-field " .. try(qtui.jobs.requeue, {colour = "red"}))
  say("span-every-field " .. try(qtui.render, {{{text = "a", style = "ok"}}}))
  say("span-unknown-field " .. try(qtui.render, {{{text = "a", colour = "red"}}}))
  qtui.render(lines)
  pending[qtui.jobs.peek{queue = "email", state = "ready", limit = 1}] = "peek"
end

function on_event(e)
  local what = e.type == "action" and pending[e.id]
  if what == "peek" then
    say("peek-result " .. keys(e.result))
    say("job " .. keys(e.result.jobs[1]))
    pending[qtui.jobs.find(e.result.jobs[1].id)] = "find"
    pending[qtui.jobs.requeue{ids = {e.result.jobs[1].id}}] = "requeue"  -- not dead: count 0
  elseif what == "find" then
    say("find-result " .. keys(e.result))
  elseif what == "requeue" then
    say("requeue-result " .. keys(e.result))
  end
end
"""

GATES = """\
local lines = {}
local function try(f, ...)
  local ok, err = pcall(f, ...)
  lines[#lines + 1] = ok and "accepted" or err
end

function activate(ctx)
  try(qtui.subscribe, "stats")
  try(qtui.subscribe, "lifecycle")
  try(qtui.publish, "plugin.gates.news", 1)
  try(qtui.publish, "news", 1)
  try(qtui.listen, "plugin.gates.")
  try(qtui.listen, "plugin.other.")
  qtui.render(lines)
end
"""


def names(shape: str, *, required_only: bool = False) -> set[str]:
    return {f.name for f in table(shape).fields if not (required_only and f.type.endswith("?"))}


def test_queue_stats_rows_have_exactly_the_declared_fields() -> None:
    stats = QueueStats("email", {JobState.READY: 3}, 1.0, 2.0, 0.5, oldest_ready_at=90.0)
    first = StatsUpdated(Snapshot((stats, QueueStats("idle", {})), (), 100.0))
    busy, idle = received(first)["queues"]
    assert set(busy) == names("qtui.QueueStats")  # new: changed
    again, unchanged = received(first, StatsUpdated(Snapshot((stats, QueueStats("idle", {})), (), 110.0)))["queues"]
    assert set(unchanged) == names("qtui.QueueStats", required_only=True)


def test_jobs_have_exactly_the_declared_fields() -> None:
    fields = attrs.fields(Job)
    added = {"payload_truncated"}  # the host's own mark on a payload it cut
    assert {f.name for f in fields} | added == names("qtui.Job")
    optional = {f.name for f in fields if f.default is None} | added
    assert optional == names("qtui.Job") - names("qtui.Job", required_only=True)
    assert set(job_plain(Job("1", "email", JobState.READY, "{}"))) == names("qtui.Job", required_only=True)
    assert set(job_plain(Job("1", "email", JobState.READY, "x" * 70_000))) == names("qtui.Job", required_only=True) | added


def test_every_declared_table_is_documented_once() -> None:
    assert len({t.name for t in TABLES}) == len(TABLES)


async def test_a_plugin_receives_and_may_pass_exactly_the_declared_shapes(plugin_host) -> None:
    permissions = '"jobs.peek", "jobs.requeue"'
    plugin = plugin_host.plugin("probe", MANIFEST.format(name="probe", permissions=permissions), PROBE)
    await plugin_host.start(plugin, handoff={"kept": 1})
    for line in ("find-result", "requeue-result"):
        await plugin_host.wait_text("probe", line)
    seen = dict(line.split(" ", 1) if " " in line else (line, "") for line in plugin_host.text("probe"))

    assert set(seen["context"].split()) == names("qtui.Context")
    assert set(seen["peek-result"].split()) == names("qtui.PeekResult")  # 4 ready: a next page
    for key in ("job", "find-result"):
        assert names("qtui.Job", required_only=True) <= set(seen[key].split()) <= names("qtui.Job")
    assert set(seen["requeue-result"].split()) == names("qtui.CountResult")

    assert names("qtui.PeekQuery") == {"queue", "state", "text", "cursor", "limit"}
    assert seen["peek-every-field"] == "accepted"
    assert "unknown field 'colour'" in seen["peek-unknown-field"]
    assert names("qtui.RequeueSelection") == {"ids", "queue", "text", "to"}
    assert seen["requeue-every-filter-field"] == "accepted"
    assert "requeue takes" in seen["requeue-unknown-field"]
    assert names("qtui.Span") == {"text", "style"}
    assert seen["span-every-field"] == "accepted"
    assert "a span is a string or {text=, style=}" in seen["span-unknown-field"]


async def test_capabilities_that_depend_on_the_arguments_are_as_documented(plugin_host) -> None:
    plugin = plugin_host.plugin("gates", MANIFEST.format(name="gates", permissions=""), GATES)
    await plugin_host.start(plugin)
    stats, lifecycle, own_topic, other_topic, own_prefix, other_prefix = plugin_host.text("gates")
    assert "stats.read" in stats and lifecycle == "accepted"
    assert own_topic == "accepted" and "bus.publish" in other_topic
    assert own_prefix == "accepted" and "bus.subscribe" in other_prefix
