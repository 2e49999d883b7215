import attrs
import trio
from hypothesis import given
from hypothesis import strategies as st

from qtui.bus import EventBus
from qtui.events import Event, Notice, StatsUpdated
from qtui.model import Snapshot


@attrs.frozen
class Tick(Event):
    n: int


def stats(n: int) -> StatsUpdated:
    return StatsUpdated(Snapshot((), (), float(n)))


async def test_subscribers_get_only_the_kinds_they_asked_for() -> None:
    bus = EventBus()
    notices = bus.subscribe("n", (Notice,))
    everything = bus.subscribe("all")
    bus.publish(Notice("hello"))
    bus.publish(Tick(1))
    assert notices.receive_nowait() == Notice("hello")
    assert [everything.receive_nowait(), everything.receive_nowait()] == [Notice("hello"), Tick(1)]


async def test_a_full_subscriber_drops_and_counts_without_blocking_others() -> None:
    bus = EventBus()
    slow = bus.subscribe("slow", capacity=2)
    fast = bus.subscribe("fast", capacity=100)
    for n in range(10):
        bus.publish(Tick(n))
    assert slow.dropped == 8
    assert [slow.receive_nowait().n, slow.receive_nowait().n] == [0, 1]
    assert [fast.receive_nowait().n for _ in range(10)] == list(range(10))


async def test_stats_coalesce_latest_wins_and_stay_in_order() -> None:
    bus = EventBus()
    sub = bus.subscribe("s", capacity=1)
    bus.publish(Tick(0))
    for n in range(1, 5):
        bus.publish(stats(n))
    assert sub.coalesced == 3 and sub.dropped == 0
    assert sub.receive_nowait() == Tick(0)
    assert sub.receive_nowait() == stats(4)


@given(st.lists(st.one_of(st.integers(0, 50).map(Tick), st.integers(0, 50).map(stats),
                          st.just("receive")), max_size=60),
       st.integers(1, 4))
def test_delivery_is_an_ordered_subsequence_ending_with_the_latest_stats(ops, capacity) -> None:
    async def scenario() -> None:
        bus = EventBus()
        sub = bus.subscribe("s", capacity=capacity)
        published, received = [], []
        for op in ops:
            if op == "receive":
                try:
                    received.append(sub.receive_nowait())
                except trio.WouldBlock:
                    pass
            else:
                published.append(op)
                bus.publish(op)
        while True:
            try:
                received.append(sub.receive_nowait())
            except trio.WouldBlock:
                break
        # in publish order: each received event appears later in `published` than the previous one
        position = -1
        for event in received:
            position = next(i for i in range(position + 1, len(published)) if published[i] is event)
        last_stats = [e for e in published if isinstance(e, StatsUpdated)]
        if last_stats:
            assert last_stats[-1] in received  # the newest stats always arrive
        assert len(received) + sub.dropped + sub.coalesced == len(published)

    trio.run(scenario)
