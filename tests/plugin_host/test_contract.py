"""The API declaration (1.1) and the host agree: every function bound, every event field present."""

from __future__ import annotations

import inspect

import pytest

from qtui.events import ConsoleKey, SelectionChanged, StatsUpdated
from qtui.model import JobState, QueueStats, Snapshot, WorkerInfo
from qtui.plugins.runtime import api
from qtui.plugins.runtime.events import (
    EVENT_TYPES,
    ActionResult,
    CommandInvoked,
    KeyPressed,
    MouseClicked,
    PanelResized,
    PluginLifecycle,
    PluginMessage,
    SettingsChanged,
    TimerFired,
)
from qtui.plugins.runtime.instance import PluginRuntime
from tests.support import received

SAMPLES = [
    StatsUpdated(Snapshot(
        (QueueStats("email", {JobState.READY: 3}, 1.0, 2.0, 0.5, oldest_ready_at=90.0),),
        (WorkerInfo("w1"),), 100.0)),
    SelectionChanged("jobs", "email", JobState.DEAD, "42"),
    KeyPressed("enter"),
    MouseClicked("press", 1, 3, 4, "details"),
    PanelResized(78, 7),
    TimerFired("tick", 5.0),
    CommandInvoked("refresh", "now", {"screen": "dead", "queue": "email", "state": "dead", "job_id": "42"}),
    PluginMessage("plugin.a.x", "a", {"n": 1}),
    PluginLifecycle("a", "1.0.0", "errored", "init.lua:3: boom"),
    SettingsChanged({"limit": 3}),
    ActionResult(7, "purge", True, None, {"count": 2}),
    ConsoleKey("ctrl r", "dead"),
]


def test_every_declared_function_is_implemented_and_nothing_else_is_exposed() -> None:
    implemented = {name[4:] for name, _ in inspect.getmembers(PluginRuntime) if name.startswith("api_")}
    declared = {f.name.replace(".", "_") for f in api.FUNCTIONS}
    assert implemented == declared


@pytest.mark.parametrize("spec", api.FUNCTIONS, ids=lambda f: f.name)
def test_implementations_take_the_declared_arguments(spec: api.Function) -> None:
    method = getattr(PluginRuntime, "api_" + spec.name.replace(".", "_"))
    params = list(inspect.signature(method).parameters.values())[1:]
    if spec.args and spec.args[0].name == "...":
        assert params[0].kind is inspect.Parameter.VAR_POSITIONAL
    else:
        assert [p.name.rstrip("_") for p in params] == [a.name for a in spec.args] or (
            [p.name for p in params] == ["job_id"] and [a.name for a in spec.args] == ["id"]
        )


def test_every_event_class_has_a_declared_type_and_a_sample() -> None:
    assert {EVENT_TYPES[type(e)] for e in SAMPLES} == {e.type for e in api.EVENTS}


@pytest.mark.parametrize("shared", [True, False], ids=["prepared once for many", "for one plugin"])
@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_plugins_receive_exactly_the_declared_fields(event, shared) -> None:
    plain = received(event, shared=shared)
    spec = api.event(plain["type"])
    declared = {f.name for f in spec.fields}
    optional = {f.name for f in spec.fields if f.type.endswith("?")}
    present = set(plain) - {"type"}
    assert present <= declared
    assert declared - optional - {"result", "error"} <= present


def test_stats_rows_have_every_state_and_rate() -> None:
    (row,) = received(SAMPLES[0])["queues"]
    assert row == {"name": "email", "ready": 3, "scheduled": 0, "processing": 0, "completed": 0, "dead": 0,
                   "enqueued_per_min": 1.0, "completed_per_min": 2.0, "failed_per_min": 0.5,
                   "oldest_ready_age": 10.0, "changed": True}


def test_a_count_beyond_64_bits_from_a_broken_backend_reaches_plugins_as_the_nearest_integer() -> None:
    # Once an internal error that held back every later event of the plugins receiving it.
    queue = QueueStats("email", {JobState.READY: 2**70, JobState.DEAD: -(2**70), JobState.COMPLETED: 7})
    (row,) = received(StatsUpdated(Snapshot((queue,), (), 100.0)))["queues"]
    assert (row["ready"], row["dead"], row["completed"]) == (2**63 - 1, -(2**63), 7)


def snapshot(at: float, *rows: tuple[str, int, float | None]) -> StatsUpdated:
    """Stats of queues (name, ready jobs, oldest ready job's creation time) taken at `at`."""
    return StatsUpdated(Snapshot(tuple(QueueStats(name, {JobState.READY: ready}, oldest_ready_at=oldest)
                                       for name, ready, oldest in rows), (), at))


def test_stats_say_what_changed_since_the_stats_the_plugin_received_before() -> None:
    first = snapshot(100.0, ("email", 3, 90.0), ("sms", 0, None), ("billing", 1, 50.0))
    second = snapshot(110.0, ("email", 3, 90.0), ("sms", 2, 105.0), ("reports", 1, 108.0))
    seen = received(first, second)
    assert [(q["name"], q.get("changed")) for q in seen["queues"]] == [
        ("email", None),  # only its oldest job's age grew: no change
        ("sms", True), ("reports", True)]
    assert seen["removed"] == ["billing"]
    assert seen["queues"][0]["oldest_ready_age"] == 20.0
    # A plugin that missed the second stats compares the third with the first it received.
    third = snapshot(120.0, ("email", 3, 90.0), ("sms", 2, 105.0), ("reports", 1, 108.0))
    assert [q.get("changed") for q in received(second, third)["queues"]] == [None, None, None]
    assert [q.get("changed") for q in received(first, third)["queues"]] == [None, True, True]


def test_capabilities_used_by_the_api_exist_and_styles_are_fixed() -> None:
    assert all(f.capability is None or f.capability.value for f in api.FUNCTIONS)
    assert api.STYLES[0] == "normal" and len(set(api.STYLES)) == len(api.STYLES)


async def test_a_deprecated_alias_calls_the_new_function_and_warns_once(harness, monkeypatch) -> None:
    monkeypatch.setattr(api, "ALIASES", (api.Alias("jobs.get", "jobs.find", "1.1", "renamed"),))
    lua = """
        function activate()
          qtui.jobs.get("1")
          qtui.jobs.get("2")
        end
        function on_event(e) if e.type == "action" then qtui.render({"found " .. e.result.id}) end end
    """
    handle = await harness.start(harness.plugin("old", lua, permissions=["jobs.peek"]))
    await harness.wait_text("old", "found")
    warnings = [line for line in handle.log_lines if "deprecated" in line]
    assert warnings == ["warning: qtui.jobs.get is deprecated since API 1.1: use qtui.jobs.find (renamed)"]


def test_the_events_that_coalesce_are_the_declared_ones() -> None:
    coalescing = {EVENT_TYPES[type(e)] for e in SAMPLES if type(e).coalesce_key is not None}
    assert coalescing == {e.type for e in api.EVENTS if e.coalesces} == {"stats", "selection", "resize", "settings"}
