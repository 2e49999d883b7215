"""Plugin events (attrs classes) and their conversion to plain data for Lua.

Events from the console's bus (stats, selection) and events of the plugin system
(keys, timers, messages, lifecycle, settings, command and action results) are
attrs classes. `to_plain` is where every event but stats becomes the plain table
plugins receive, through a cattrs converter; a stats event is made into bytecode by
qtui.plugins.runtime.prepared. What plugins receive matches the EVENTS declaration
in qtui.plugins.runtime.api (a test checks every field).
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs
import cattrs

from qtui.events import ConsoleKey, Event, SelectionChanged, StatsUpdated
from qtui.model import GroupCounts, Job


#: The name of the panel every plugin has (the manifest's [panel]); others are opened at run time.
MAIN_PANEL = "main"


@attrs.frozen
class KeyPressed(Event):
    """A key pressed in a plugin's focused panel."""

    key: str
    panel: str = MAIN_PANEL


@attrs.frozen
class MouseClicked(Event):
    """A mouse event in a plugin's panel, in panel coordinates."""

    action: str
    button: int
    column: int
    row: int
    panel: str = MAIN_PANEL


@attrs.frozen
class PanelResized(Event):
    """A plugin's panel got a new size (columns, and rows below its title)."""

    coalesce_key: ClassVar[str | None] = "resize"
    width: int
    height: int
    panel: str = MAIN_PANEL


@attrs.frozen
class TimerFired(Event):
    name: str
    at: float


@attrs.frozen
class CommandInvoked(Event):
    name: str
    args: str
    row: dict[str, str] | None = None  # the selection when the operator ran it


@attrs.frozen
class PluginMessage(Event):
    """A message a plugin published on a topic; travels on the console's bus."""

    topic: str
    sender: str
    data: Any


@attrs.frozen
class PluginLifecycle(Event):
    """A plugin changed state; travels on the console's bus."""

    coalesce_key: ClassVar[str | None] = None
    plugin: str
    version: str
    state: str
    reason: str | None = None


@attrs.frozen
class SettingsChanged(Event):
    coalesce_key: ClassVar[str | None] = "settings"
    settings: dict[str, Any]


@attrs.frozen
class ActionResult(Event):
    """The outcome of a plugin's qtui.jobs request."""

    id: int
    action: str
    ok: bool
    error: str | None = None
    result: Any = None


#: Event class -> the `type` a plugin sees.
EVENT_TYPES: dict[type[Event], str] = {
    StatsUpdated: "stats",
    SelectionChanged: "selection",
    KeyPressed: "key",
    MouseClicked: "mouse",
    PanelResized: "resize",
    TimerFired: "timer",
    CommandInvoked: "command",
    PluginMessage: "message",
    PluginLifecycle: "lifecycle",
    SettingsChanged: "settings",
    ActionResult: "action",
    ConsoleKey: "console_key",
}


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


#: Payload characters a plugin receives per job; a page of huge payloads must not fill its heap.
MAX_PLUGIN_PAYLOAD = 64 * 1024


def job_plain(job: Job) -> dict[str, Any]:
    """A job as plugins see it (payload as text, cut at MAX_PLUGIN_PAYLOAD; extra fields as a table)."""
    data = _drop_none(_converter.unstructure(job) | {"extra": dict(job.extra)})
    if len(job.payload) > MAX_PLUGIN_PAYLOAD:
        data["payload"] = job.payload[:MAX_PLUGIN_PAYLOAD]
        data["payload_truncated"] = True
    return data


def group_counts_plain(counts: GroupCounts) -> dict[str, Any]:
    """The result of a count_by request as plugins see it (a group without a value has no `value`)."""
    return _drop_none({
        "groups": [_drop_none({"value": g.value, "count": g.count, "oldest": g.oldest, "older": g.older})
                   for g in counts.groups],
        "scanned": counts.scanned,
        "unreadable": counts.unreadable,
        "others": counts.others,
        "complete": counts.complete,
        "newest": counts.newest,
    })


_converter = cattrs.Converter()
_converter.register_unstructure_hook(enum.Enum, lambda value: value.value)
# Message data was checked to be plain JSON-able data when it was published: pass it through.
_converter.register_unstructure_hook(
    PluginMessage, lambda m: {"topic": m.topic, "sender": m.sender, "data": m.data}
)


@attrs.frozen
class Replayed(Event):
    """A recorded event (qtui record) handed to a plugin as it was recorded, already plain."""

    plain: dict[str, Any]


def to_plain(event: Event) -> dict[str, Any]:
    """The plain table a plugin receives for `event`, with its `type` set (not for stats)."""
    if isinstance(event, StatsUpdated):
        raise TypeError("a stats event reaches plugins as bytecode (qtui.plugins.runtime.prepared)")
    kind = EVENT_TYPES[type(event)]
    data = _converter.unstructure(event)
    if kind != "action":
        data = _drop_none(data)
    data["type"] = kind
    return data

