"""Stats events through the cheap path: bytecode templates reused with new numbers, fresh tables each time."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.events import StatsUpdated
from qtui.model import JobState, QueueStats, Snapshot, WorkerInfo
from qtui.plugins.runtime.prepared import prepare, stats_changes, stats_plain, stats_state
from qtui.plugins.runtime.sandbox import LimitExceeded, LimitKind, Limits, LuaSandbox
from tests.support import ManualClock

# Keeps every event it receives, in order; `events()` gives them back.
KEEPER = """
local kept = {}
function on_event(e) kept[#kept + 1] = e end
function events() return kept end
"""

NAMES = ["email", "sms", "billing", 'quo"te\\', "wörk", "a\nb"]
counts = st.dictionaries(st.sampled_from(list(JobState)), st.integers(0, 2**62), max_size=len(JobState))
rate = st.floats(-1e12, 1e12, allow_nan=False)
queue = st.builds(lambda counts, rates, oldest: (counts, rates, oldest),
                  counts, st.tuples(rate, rate, rate), st.none() | st.floats(0, 2e9))
# A few queue sets, so that templates are both reused with new numbers and swapped for others.
queue_sets = st.lists(st.sampled_from(NAMES), min_size=0, max_size=4, unique=True)


@st.composite
def stats_events(draw: st.DrawFn) -> StatsUpdated:
    names = draw(queue_sets)
    queues = tuple(QueueStats(name, *row[:1], *row[1], oldest_ready_at=row[2])
                   for name, row in zip(names, draw(st.lists(queue, min_size=len(names), max_size=len(names))),
                                        strict=True))
    workers = tuple(WorkerInfo(f"w{n}", alive=alive) for n, alive in enumerate(draw(st.lists(st.booleans(),
                                                                                           max_size=3))))
    return StatsUpdated(Snapshot(queues, workers, draw(st.floats(1e9, 2e9))))


def expected(event: StatsUpdated, before: StatsUpdated | None) -> dict:
    """What a plugin must see for `event` after `before`, worked out without the host's code."""
    plain = stats_plain(event)

    def row(queue: QueueStats) -> tuple:
        return ({s: queue.counts.get(s, 0) for s in JobState}, queue.enqueued_per_min, queue.completed_per_min,
                queue.failed_per_min, queue.oldest_ready_at)

    old = {} if before is None else {q.name: row(q) for q in before.snapshot.queues}
    for queue, shown in zip(event.snapshot.queues, plain["queues"], strict=True):
        if old.get(queue.name) != row(queue):
            shown["changed"] = True
    names = {q.name for q in event.snapshot.queues}
    plain["removed"] = [name for name in old if name not in names]
    return plain


def deliver_all(sandbox: LuaSandbox, events: list[StatsUpdated]) -> None:
    before = None
    for event in events:
        prepared = prepare(event, shared=True)
        changed, removed = stats_changes(before, prepared)
        sandbox.deliver(prepared.kind, prepared.chunk, changed, removed, size=prepared.size)
        before = prepared


def same(received: object, wanted: object) -> bool:
    """Equal, an empty table standing for an empty list (Lua cannot tell them apart), numbers exactly."""
    if isinstance(wanted, dict):
        return isinstance(received, dict) and received.keys() == wanted.keys() and all(
            same(received[k], wanted[k]) for k in wanted)
    if isinstance(wanted, list):
        if not wanted:
            return received in ([], {})
        return isinstance(received, list) and len(received) == len(wanted) and all(
            same(r, w) for r, w in zip(received, wanted, strict=True))
    if isinstance(wanted, float):  # a float with an integral value may come back as an int
        return isinstance(received, (int, float)) and not isinstance(received, bool) and received == wanted
    return type(received) is type(wanted) and received == wanted


@pytest.fixture
def keeper():
    sandbox = LuaSandbox("keeper", clock=ManualClock())
    sandbox.load(KEEPER, "keeper.lua")
    yield sandbox
    sandbox.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stats_events(), min_size=1, max_size=6))
def test_every_stats_event_arrives_as_its_own_table_however_templates_are_reused(events) -> None:
    sandbox = LuaSandbox("keeper", clock=ManualClock())
    try:
        sandbox.load(KEEPER, "keeper.lua")
        deliver_all(sandbox, events)
        kept = sandbox.call("events")
    finally:
        sandbox.close()
    assert len(kept) == len(events)
    for index, (event, seen) in enumerate(zip(events, kept, strict=True)):
        wanted = expected(event, events[index - 1] if index else None)
        assert same(seen, wanted), (index, seen, wanted)


def test_a_plugin_that_keeps_and_changes_an_event_sees_the_next_one_whole(keeper: LuaSandbox) -> None:
    queues = ("email", "sms")
    first, second = (StatsUpdated(Snapshot(tuple(QueueStats(name, {JobState.READY: ready + n})
                                                 for n, name in enumerate(queues)), (), at))
                     for ready, at in ((5, 100.0), (7, 110.0)))
    keeper.load("""
        function on_event(e)
          if kept == nil then
            kept = e
            e.queues[1].ready = -1         -- the plugin's own table: it may change it
            e.queues[2] = nil
            e.taken_at = 0
          else
            latest = e
          end
        end
        function both() return {kept, latest, rawequal(kept, latest), rawequal(kept.queues, latest.queues)} end
    """, "mutator.lua")
    deliver_all(keeper, [first, second])
    kept, latest, same_table, same_queues = keeper.call("both")
    assert (same_table, same_queues) == (False, False)
    assert kept["taken_at"] == 0 and len(kept["queues"]) == 1 and kept["queues"][0]["ready"] == -1
    assert same(latest, expected(second, first))
    assert [q["ready"] for q in latest["queues"]] == [7, 8]


def test_the_plugin_s_handler_runs_under_the_instruction_budget_after_the_event_is_built() -> None:
    # The event's table is built with the count hook off; the handler must have it back.
    sandbox = LuaSandbox("spinner", clock=ManualClock(), limits=Limits(instructions=100_000))
    try:
        sandbox.load("function on_event(e) for i = 1, 1000000 do end end", "spinner.lua")
        event = StatsUpdated(Snapshot(tuple(QueueStats(f"q{n}", {JobState.READY: n}) for n in range(20)), (), 1.0))
        with pytest.raises(LimitExceeded) as tripped:
            deliver_all(sandbox, [event])
        assert tripped.value.kind is LimitKind.INSTRUCTIONS
        assert 100_000 <= sandbox.usage().last_call_instructions <= 110_000
    finally:
        sandbox.close()


def test_counts_in_any_order_or_missing_states_give_the_right_numbers(keeper: LuaSandbox) -> None:
    shuffled = QueueStats("email", {JobState.DEAD: 4, JobState.READY: 1, JobState.PROCESSING: 2})
    event = StatsUpdated(Snapshot((shuffled,), (), 5.0))
    deliver_all(keeper, [event])
    (seen,) = keeper.call("events")
    row = seen["queues"][0]
    assert (row["ready"], row["scheduled"], row["processing"], row["completed"], row["dead"]) == (1, 0, 2, 0, 4)


@given(stats_events(), stats_events(), st.booleans())
def test_stats_state_is_equal_exactly_when_a_plugin_would_see_nothing_but_time_pass(
        first: StatsUpdated, second: StatsUpdated, same_queues: bool) -> None:
    if same_queues:  # the common case: the same queues polled again, a few numbers moved or not
        second = StatsUpdated(Snapshot(tuple(attrs.evolve(q, name=p.name) for q, p in
                                             zip(second.snapshot.queues, first.snapshot.queues, strict=False)),
                                       second.snapshot.workers, second.snapshot.taken_at))
    before, now = prepare(first, shared=True), prepare(second, shared=True)
    changed, removed = stats_changes(before, now)
    alive = sum(w.alive for w in first.snapshot.workers), len(first.snapshot.workers)
    alive_now = sum(w.alive for w in second.snapshot.workers), len(second.snapshot.workers)
    nothing_new = (not changed and not removed and alive == alive_now
                   and [q.name for q in first.snapshot.queues] == [q.name for q in second.snapshot.queues])
    assert (stats_state(first) == stats_state(second)) == nothing_new
    later = StatsUpdated(attrs.evolve(first.snapshot, taken_at=first.snapshot.taken_at + 3600))
    assert stats_state(later) == stats_state(first)  # an hour later, ages grown: nothing new
