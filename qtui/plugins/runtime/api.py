"""The plugin host API, version 1: the one declaration of what Lua plugins see.

Every function a plugin may call, every event it may receive, the render styles
and the capability each needs are declared here. The host binds its
implementations by these names (a test fails if one is missing or extra); the
documentation, the type definitions for editors and the contract specs are
generated from or checked against this module.
"""

from __future__ import annotations

import attrs

from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.manifest import HOST_API_VERSION, SUPPORTED_API_MAJORS

__all__ = [
    "ALIASES",
    "Alias",
    "EVENTS",
    "FUNCTIONS",
    "HOST_API_VERSION",
    "LEVELS",
    "STYLES",
    "SUPPORTED_API_MAJORS",
    "Field",
    "Function",
    "EventSpec",
    "function",
    "event",
    "gated_functions",
]


@attrs.frozen
class Field:
    """An argument, result or event field: a name, a Lua type (LuaLS notation) and what it means."""

    name: str
    type: str
    doc: str


@attrs.frozen
class Function:
    """A host function, called from Lua as `qtui.<name>` (dots make sub-tables: `qtui.jobs.peek`)."""

    name: str
    doc: str
    args: tuple[Field, ...] = ()
    returns: Field | None = None
    capability: Capability | None = None  # None: every plugin may call it
    since: str = "1.0"

    @property
    def lua_name(self) -> str:
        return f"qtui.{self.name}"


@attrs.frozen
class EventSpec:
    """An event delivered to `on_event(event)`; `event.type` is `type`."""

    type: str
    doc: str
    fields: tuple[Field, ...]
    capability: Capability | None = None  # needed to subscribe; None: always delivered
    subscribable: bool = True  # False: delivered without subscribing (results of own requests)


#: Style names a span may use in `qtui.render`; the console maps them to its palette.
STYLES: tuple[str, ...] = ("normal", "dim", "bold", "title", "accent", "ok", "warn", "error")

#: Levels of `qtui.notify` and `qtui.log`.
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")

_F = Field
_C = Capability
_REQUEST = _F("request", "integer", "id of the request; its result arrives as an 'action' event with this id")

FUNCTIONS: tuple[Function, ...] = (
    Function("subscribe", "Receive events of these types in on_event. Refused for a type whose capability "
             "was not granted.", (_F("...", "string", "event types, e.g. 'stats', 'timer'"),)),
    Function("unsubscribe", "Stop receiving events of these types.", (_F("...", "string", "event types"),)),
    Function("render", "Replace the panel's content. A line is a string or a list of spans; a span is a "
             "string or {text=, style=} with a style from the fixed palette. Control characters are shown "
             "as visible notation.", (_F("lines", "(string|qtui.Span[])[]", "the panel's lines"),)),
    Function("notify", "Show a message in the console's status bar.",
             (_F("text", "string", "the message"), _F("level", "string?", "info (default), warning or error")),
             capability=_C.NOTIFY),
    Function("log", "Write a line to the plugin's log (print does the same at info level).",
             (_F("level", "string", "debug, info, warning or error"), _F("text", "string", "the line"))),
    Function("every", "Start (or restart) a repeating timer; a 'timer' event with this name arrives every "
             "`seconds`.", (_F("name", "string", "timer name"), _F("seconds", "number", "interval, at least 0.1")),
             capability=_C.TIMERS),
    Function("after", "Start (or restart) a one-shot timer.",
             (_F("name", "string", "timer name"), _F("seconds", "number", "delay, at least 0.1")),
             capability=_C.TIMERS),
    Function("cancel", "Stop a timer.", (_F("name", "string", "timer name"),), capability=_C.TIMERS),
    Function("command", "Register a command for the console's : command line, run as ':PLUGIN.NAME args'; "
             "each use arrives as a 'command' event.",
             (_F("name", "string", "command name: letters, digits, -"), _F("help", "string", "one line of help")),
             capability=_C.COMMANDS),
    Function("setting", "The current value of one setting from the manifest's schema.",
             (_F("name", "string", "setting name"),), _F("value", "string|number|boolean", "its value")),
    Function("settings", "All settings as a table.", returns=_F("settings", "table<string, any>", "name to value")),
    Function("storage.get", "A value from the plugin's persistent storage, or nil.",
             (_F("key", "string", "key"),), _F("value", "any", "the stored value"), capability=_C.STORAGE),
    Function("storage.set", "Store a value (plain data); the whole storage is capped in size.",
             (_F("key", "string", "key"), _F("value", "any", "plain data; nil deletes")), capability=_C.STORAGE),
    Function("storage.keys", "Every key in storage.", returns=_F("keys", "string[]", "keys, sorted"),
             capability=_C.STORAGE),
    Function("publish", "Send a message on a topic. Topics under 'plugin.<own name>.' are the plugin's own; "
             "others need the bus.publish capability.",
             (_F("topic", "string", "dotted topic"), _F("data", "any", "plain data"))),
    Function("listen", "Receive 'message' events on topics starting with this prefix (other plugins' own "
             "topics and global topics need bus.subscribe).", (_F("prefix", "string", "topic prefix"),)),
    Function("jobs.peek", "Request a page of jobs in one state, oldest first.",
             (_F("query", "qtui.PeekQuery", "{queue=, state=, text=, cursor=, limit=}"),), _REQUEST,
             capability=_C.JOBS_PEEK),
    Function("jobs.find", "Request one job by id.", (_F("id", "string", "job id"),), _REQUEST,
             capability=_C.JOBS_PEEK),
    Function("jobs.enqueue", "Request a new job.",
             (_F("queue", "string", "queue name"), _F("payload", "any", "plain data, sent as JSON")), _REQUEST,
             capability=_C.JOBS_ENQUEUE),
    Function("jobs.requeue", "Request that dead jobs go back to a queue: {ids=} or {queue=, text=}, and "
             "optionally to=. The operator is asked to confirm unless they chose not to be.",
             (_F("selection", "qtui.RequeueSelection", "{ids=} or {queue=, text=}, to="),), _REQUEST,
             capability=_C.JOBS_REQUEUE),
    Function("jobs.purge", "Request deleting every job in a state of a queue ('all' for every queue). "
             "The operator is asked to confirm unless they chose not to be.",
             (_F("queue", "string", "queue name or 'all'"), _F("state", "string", "ready, scheduled, completed or dead")),
             _REQUEST, capability=_C.JOBS_PURGE),
)

_QUEUE_STATS = "qtui.QueueStats[]"

EVENTS: tuple[EventSpec, ...] = (
    EventSpec("stats", "A fresh snapshot of every queue, after each poll of the backend.",
              (_F("queues", _QUEUE_STATS, "per queue: name, ready, scheduled, processing, completed, dead, "
                  "enqueued_per_min, completed_per_min, failed_per_min, oldest_ready_age (seconds or nil)"),
               _F("workers_alive", "integer", "workers seen recently"),
               _F("workers_seen", "integer", "workers known"),
               _F("taken_at", "number", "Unix time of the snapshot")),
              capability=_C.STATS_READ),
    EventSpec("selection", "The operator moved the cursor in the console.",
              (_F("screen", "string", "queues, jobs, dead, workers or detail"),
               _F("queue", "string?", "selected queue"), _F("state", "string?", "job state shown"),
               _F("job_id", "string?", "selected job")),
              capability=_C.SELECTION_READ),
    EventSpec("key", "A key pressed while the plugin's panel has focus.",
              (_F("key", "string", "key name, e.g. 'a', 'enter', 'up', 'ctrl r'"),), capability=_C.SELECTION_READ),
    EventSpec("mouse", "A mouse click in the plugin's panel (when the console uses the mouse).",
              (_F("action", "string", "press or release"), _F("button", "integer", "1 left, 2 middle, 3 right"),
               _F("column", "integer", "0-based column in the panel"), _F("row", "integer", "0-based row")),
              capability=_C.SELECTION_READ),
    EventSpec("timer", "A timer started with qtui.every or qtui.after fired.",
              (_F("name", "string", "timer name"), _F("at", "number", "Unix time")), capability=_C.TIMERS,
              subscribable=False),
    EventSpec("command", "The operator ran one of the plugin's registered commands.",
              (_F("name", "string", "command name"), _F("args", "string", "the rest of the command line")),
              capability=_C.COMMANDS, subscribable=False),
    EventSpec("message", "A message on a topic the plugin listens to.",
              (_F("topic", "string", "topic"), _F("sender", "string", "sending plugin"), _F("data", "any", "data")),
              subscribable=False),
    EventSpec("lifecycle", "Another plugin started, stopped, errored or was quarantined.",
              (_F("plugin", "string", "its name"), _F("version", "string", "its version"),
               _F("state", "string", "running, stopped, errored or quarantined"),
               _F("reason", "string?", "why, when it stopped abnormally"))),
    EventSpec("resize", "The plugin's panel was shown or changed size (docked, resized or opened full "
              "screen): lay lines out for this width; longer lines are clipped.",
              (_F("width", "integer", "columns of the panel"), _F("height", "integer", "rows for the plugin's lines")),
              subscribable=False),
    EventSpec("settings", "The operator changed the plugin's settings.",
              (_F("settings", "table<string, any>", "all settings, name to value"),), subscribable=False),
    EventSpec("action", "The result of a qtui.jobs request.",
              (_F("id", "integer", "the request id"), _F("action", "string", "peek, find, enqueue, requeue or purge"),
               _F("ok", "boolean", "whether it succeeded"), _F("error", "string?", "why it failed or was refused"),
               _F("result", "any", "peek: {jobs=, next_cursor=}; find: a job or nil; enqueue: the job; "
                  "requeue and purge: {count=}")),
              subscribable=False),
)

@attrs.frozen
class Alias:
    """An old name (or form) of a call, kept working within the major version.

    The host binds `old` to a shim that calls `new` and writes a deprecation warning
    to the plugin's log the first time the plugin uses it.
    """

    old: str
    new: str
    since: str  # the API version that deprecated `old`
    note: str = ""

    @property
    def lua_name(self) -> str:
        return f"qtui.{self.old}"


#: Deprecated calls still accepted in this major version (API 1.0 has none yet).
ALIASES: tuple[Alias, ...] = ()

#: Lifecycle callbacks a plugin may define.
CALLBACKS: tuple[Function, ...] = (
    Function("activate", "Called once after loading; ctx = {name, version, api, settings, granted, state}. "
             "`state` is what the previous version's deactivate returned (hot reload), else nil.",
             (_F("ctx", "qtui.Context", "the plugin's context"),)),
    Function("on_event", "Called for each event, in order.", (_F("event", "qtui.Event", "the event"),)),
    Function("deactivate", "Called before the plugin stops or is replaced; may return a small table "
             "handed to the next version's activate as ctx.state.", returns=_F("state", "table?", "state to keep")),
)


def function(name: str) -> Function:
    """The declared function `name` (without the `qtui.` prefix)."""
    return _FUNCTIONS_BY_NAME[name]


def event(type_name: str) -> EventSpec:
    """The declared event with this `type`."""
    return _EVENTS_BY_TYPE[type_name]


_FUNCTIONS_BY_NAME = {f.name: f for f in FUNCTIONS}
_EVENTS_BY_TYPE = {e.type: e for e in EVENTS}


def gated_functions() -> dict[str, str]:
    """Each function whose use a capability gates, by name, and that capability in words.

    ``subscribe``, ``publish`` and ``listen`` are gated by their arguments (the event type, the
    topic); the others by their declared capability. For reviewing code (which lines use what).
    """
    by_event = sorted({e.capability for e in EVENTS if e.subscribable and e.capability is not None})
    return {
        **{f.name: str(f.capability) for f in FUNCTIONS if f.capability is not None},
        "subscribe": " or ".join(by_event) + " (by event type)",
        "publish": "bus.publish (other plugins' and global topics)",
        "listen": "bus.subscribe (other plugins' and global topics)",
    }
