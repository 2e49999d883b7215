"""The event bus: typed events fanned out to subscribers over trio memory channels.

Publishing never blocks. Each subscriber has its own bounded channel, so a slow
subscriber cannot slow the publisher or anyone else: when its channel is full,
coalescable events (latest wins) wait in a one-slot-per-key side buffer, and other
events are dropped and counted. A subscriber sees its events in publish order.

A :class:`Listener` instead gets each event handed to a function of its own, at once, in the
publisher's task; that function must not block (the plugin host queues the event for a
worker thread).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs
import trio

from qtui.events import Event


@attrs.define(eq=False)
class Subscription:
    """One subscriber's view of the bus; iterate it with `async for`."""

    name: str
    kinds: tuple[type[Event], ...]
    _accept: Callable[[Event], bool] | None
    _send: trio.MemorySendChannel[Event]
    _receive: trio.MemoryReceiveChannel[Event]
    _pending: dict[str, Event] = attrs.field(factory=dict)  # coalesced while full, in order
    delivered: int = 0
    dropped: int = 0
    coalesced: int = 0

    def wants(self, event: Event) -> bool:
        return isinstance(event, self.kinds) and (self._accept is None or self._accept(event))

    def offer(self, event: Event) -> bool:
        """Queue `event` without blocking (called by the bus); False if it was dropped."""
        self._flush_pending()
        dropped = self.dropped
        if not self._pending and self._try_send(event):
            return self.dropped == dropped
        key = type(event).coalesce_key
        if key is None:
            self.dropped += 1
            return False
        if key in self._pending:
            self.coalesced += 1
            del self._pending[key]  # re-insert: it is now the newest
        self._pending[key] = event
        return True

    async def receive(self) -> Event:
        """The next event, waiting if there is none."""
        event = await self._receive.receive()
        self.delivered += 1
        self._flush_pending()
        return event

    def receive_nowait(self) -> Event:
        """The next event, or raise trio.WouldBlock."""
        event = self._receive.receive_nowait()
        self.delivered += 1
        self._flush_pending()
        return event

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._send.close()

    def _try_send(self, event: Event) -> bool:
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self.dropped += 1
            return True
        return True

    def _flush_pending(self) -> None:
        while self._pending:
            key = next(iter(self._pending))
            if not self._try_send(self._pending[key]):
                return
            del self._pending[key]


@attrs.define(eq=False)
class Listener:
    """A subscriber whose `sink` is called with each event it wants, as it is published."""

    name: str
    kinds: tuple[type[Event], ...]
    _accept: Callable[[Event], bool] | None
    _sink: Callable[[Event], bool]

    def wants(self, event: Event) -> bool:
        return isinstance(event, self.kinds) and (self._accept is None or self._accept(event))

    def offer(self, event: Event) -> bool:
        """Hand `event` to the sink; True if it kept the event (False: dropped)."""
        return bool(self._sink(event))

    def close(self) -> None:
        """Nothing to release: the sink owns what it queued."""


class EventBus:
    """Fan-out of events to subscriptions; used from trio tasks only."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription | Listener] = []

    def subscribe(
        self,
        name: str,
        kinds: Iterable[type[Event]] = (Event,),
        *,
        capacity: int = 64,
        accept: Callable[[Event], bool] | None = None,
    ) -> Subscription:
        """A new subscription receiving events that are instances of `kinds` (and pass `accept`)."""
        send, receive = trio.open_memory_channel[Event](capacity)
        subscription = Subscription(name, tuple(kinds), accept, send, receive)
        self._subscriptions.append(subscription)
        return subscription

    def listen(
        self,
        name: str,
        kinds: Iterable[type[Event]],
        sink: Callable[[Event], bool],
        *,
        accept: Callable[[Event], bool] | None = None,
    ) -> Listener:
        """A new listener: `sink` gets events that are instances of `kinds` (and pass `accept`),
        and says whether it kept each."""
        listener = Listener(name, tuple(kinds), accept, sink)
        self._subscriptions.append(listener)
        return listener

    def unsubscribe(self, subscription: Subscription | Listener) -> None:
        subscription.close()
        self._subscriptions.remove(subscription)

    def publish(self, event: Event) -> int:
        """Offer `event` to every interested subscriber; never blocks. Returns how many queued it."""
        queued = 0
        for subscription in self._subscriptions:
            if subscription.wants(event) and subscription.offer(event):
                queued += 1
        return queued

    @property
    def subscriptions(self) -> tuple[Subscription | Listener, ...]:
        return tuple(self._subscriptions)
