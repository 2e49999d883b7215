"""The plugin host API, version 1 (1.1): the one declaration of what Lua plugins see.

Every function a plugin may call, every constant it may read, every event it may receive, the render styles
and the capability each needs are declared here, and so are the modules of qtui's
Lua library a plugin may ``require`` (:data:`LIBRARY`). The host binds its
implementations by these names (a test fails if one is missing or extra); the
documentation, the type definitions for editors and the contract specs are
generated from or checked against this module. Additions keep their place at the end of
each list and say `since` which minor version they exist.
"""

from __future__ import annotations

import attrs

from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.manifest import HOST_API_VERSION, SUPPORTED_API_MAJORS

__all__ = [
    "ALIASES",
    "Alias",
    "CONSTANTS",
    "Constant",
    "EVENTS",
    "FUNCTIONS",
    "HOST_API_VERSION",
    "LEVELS",
    "LIBRARY",
    "LibraryFunction",
    "LibraryModule",
    "STYLES",
    "SUPPORTED_API_MAJORS",
    "Field",
    "Function",
    "EventSpec",
    "constant",
    "function",
    "event",
    "gated_functions",
    "library_module",
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
class Constant:
    """A value the host puts in the `qtui` table, read as `qtui.<name>` (e.g. `qtui.json.null`)."""

    name: str
    type: str
    doc: str
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
    #: A state rather than an occurrence: while the plugin is busy a newer one replaces the one
    #: waiting, so it gets the newest, never a backlog.
    coalesces: bool = False


#: Style names a span may use in `qtui.render`; the console maps them to its palette.
STYLES: tuple[str, ...] = ("normal", "dim", "bold", "title", "accent", "ok", "warn", "error")

#: Levels of `qtui.notify` and `qtui.log`.
LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")

_F = Field
_C = Capability
_REQUEST = _F("request", "integer", "id of the request; its result arrives as an 'action' event with this id")
_PANEL = _F("panel", "string", "since 1.1: which panel, 'main' or a name given to qtui.panel.open")
_COLUMNS_ARGS = (_F("cells", "(string|number|boolean|qtui.Span)[]", "the cells; missing ones are empty"),
                 _F("widths", "integer[]", "each column's width"),
                 _F("width", "integer?", "the line's width, e.g. the panel's (needed for flexible columns)"),
                 _F("style", "qtui.Style?", "style of the cells that have none"))

FUNCTIONS: tuple[Function, ...] = (
    Function("subscribe", "Receive events of these types in on_event. Refused for a type whose capability "
             "was not granted.", (_F("...", "string", "event types, e.g. 'stats', 'timer'"),)),
    Function("unsubscribe", "Stop receiving events of these types.", (_F("...", "string", "event types"),)),
    Function("unchanged_stats", "Let stats events in which nothing changed but the time (no queue's counts, "
             "rates or oldest ready job, no queue came or went, the same workers) reach on_event at most once "
             "every `seconds`, counted on taken_at from the stats event the plugin received last; any other "
             "stats event comes at once, and so does one published while the plugin still has other events "
             "to handle. 0, the default, delivers every poll. A plugin whose panel changes "
             "with time alone (an age shown, a minute charted) says here when it next needs a look, and "
             "costs nothing while the queues stand still.",
             (_F("seconds", "number", "0 to 3600"),), since="1.1"),
    Function("render", "Replace the panel's content. A line is a string or a list of spans; a span is a "
             "string or {text=, style=} with a style from the fixed palette. Control characters are shown "
             "as visible notation.", (_F("lines", "(string|qtui.Span[])[]", "the panel's lines"),
                                      _F("panel", "string?", "which panel (since 1.1): 'main', the default, or "
                                         "one opened with qtui.panel.open"))),
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
    Function("jobs.oldest", "Request the oldest job in a state of each queue, found by the backend (an index "
             "where it has one) instead of paging through jobs.",
             (_F("query", "qtui.OldestQuery", "{queue=, state=}"),), _REQUEST, capability=_C.JOBS_PEEK,
             since="1.1"),
    Function("jobs.count_by", "Request the jobs in a state counted by a field of their JSON payload (a "
             "tenant, a customer): the backend reads the payloads of the oldest jobs, at most `limit` of "
             "them, and sends back one group per value, with its oldest job's age. Nothing is parsed in "
             "Lua.", (_F("query", "qtui.CountQuery", "{queue=, state=, field=, older_than=, limit=}"),),
             _REQUEST, capability=_C.JOBS_PEEK, since="1.1"),
    Function("json.decode", "The value of a JSON text, parsed by the host: objects and arrays become tables "
             "(a null member of an object is left out; a null item of an array, or a text that is only "
             "null, is qtui.json.null), numbers without a fraction or exponent that fit in 64 bits become "
             "integers. Raises an error naming the byte where the text stops being JSON; the text's size, "
             "its nesting and its number of entries are bounded by the plugin's limits.",
             (_F("text", "string", "JSON text"),), _F("value", "any", "the decoded value"), since="1.1"),
    Function("json.encode", "Compact JSON text of a value, keys sorted: a table that is a sequence (or an "
             "empty list from the host) is an array, any other table an object (integer keys become text; "
             "an empty table is {}); qtui.json.null is null. Raises an error for a function, NaN or an "
             "infinite number, and for a value deeper or larger than the plugin's limits.",
             (_F("value", "any", "plain data"),), _F("text", "string", "the JSON text"), since="1.1"),
    Function("text.width", "The columns a value takes on the terminal once made safe (as qtui.render shows "
             "it): a wide East Asian character takes two, every other character one.",
             (_F("value", "string|number|boolean", "the text (numbers and booleans as tostring shows them)"),),
             _F("columns", "integer", "its width"), since="1.1"),
    Function("text.fit", "A value made safe (control characters and bidi marks as '?') and cut to at most "
             "`columns` columns, ending in '…' when something was cut.",
             (_F("value", "string|number|boolean", "the text"), _F("columns", "integer", "most columns")),
             _F("text", "string", "the fitted text"), since="1.1"),
    Function("text.pad", "A value fitted into exactly `columns` columns and aligned with spaces.",
             (_F("value", "string|number|boolean", "the text"), _F("columns", "integer", "columns"),
              _F("align", "string?", "left (default), right or center")),
             _F("text", "string", "the padded text"), since="1.1"),
    Function("text.columns", "One line of a table, ready for qtui.render: each cell fitted and padded to "
             "its column's width, columns separated by a space. A positive width left-aligns its cell, a "
             "negative one right-aligns it, 0 makes the column flexible. Given the line's width, the "
             "flexible columns share what is left and the columns that do not fit whole are left out (the "
             "last first), so nothing is ever clipped.",
             _COLUMNS_ARGS, _F("line", "qtui.Line", "the line's spans"), since="1.1"),
    Function("update_settings", "Change some of the plugin's own settings, checked against the manifest's "
             "schema like the operator's values and kept with them (the operator sees and may change them "
             "again). Nothing changes unless every value is valid; no settings event follows.",
             (_F("changes", "table<string, string|number|boolean>", "setting names and their new values"),),
             _F("settings", "table<string, string|number|boolean>", "every setting after the change"),
             since="1.1"),
    Function("asset", "The text of a file of the plugin's own folder (as read and hashed when it was "
             "loaded: the operator's decisions cover it). Read-only; at most 256 KiB, UTF-8.",
             (_F("path", "string", "relative path inside the plugin folder, e.g. 'data/regions.json'"),),
             _F("text", "string", "the file's content"), since="1.1"),
    Function("panel.open", "Open another panel of the plugin in the console's dock (or change the title and "
             "height of one that is open): its own zone, drawn with qtui.render(lines, name), with its own "
             "key, mouse and resize events. At most 8 besides 'main'.",
             (_F("name", "string", "panel name: lowercase letters, digits and -, not 'main'"),
              _F("options", "qtui.PanelOptions?", "{title=, rows=}")), since="1.1"),
    Function("panel.close", "Close a panel opened with qtui.panel.open.",
             (_F("name", "string", "panel name"),), since="1.1"),
)

#: Values the host puts in the `qtui` table.
CONSTANTS: tuple[Constant, ...] = (
    Constant("json.null", "qtui.json.Null", "What qtui.json.decode gives for a null item of an array (a nil "
             "would end the list there) and for a text that is only null; qtui.json.encode writes it as null. "
             "Compare with ==; it is read-only and tostring gives 'null'.", since="1.1"),
)

_QUEUE_STATS = "qtui.QueueStats[]"

EVENTS: tuple[EventSpec, ...] = (
    EventSpec("stats", "A fresh snapshot of every queue, after each poll of the backend. It says what "
              "changed since the stats event the plugin received before (with `changed` on the rows and "
              "`removed`), so a plugin need not compare snapshots itself. With qtui.unchanged_stats, "
              "snapshots in which only time passed come less often.",
              (_F("queues", _QUEUE_STATS, "per queue: name, ready, scheduled, processing, completed, dead, "
                  "enqueued_per_min, completed_per_min, failed_per_min, oldest_ready_age (seconds or nil), "
                  "changed (true or nil)"),
               _F("removed", "string[]", "queues gone since the stats event the plugin received before"),
               _F("workers_alive", "integer", "workers seen recently"),
               _F("workers_seen", "integer", "workers known"),
               _F("taken_at", "number", "Unix time of the snapshot")),
              capability=_C.STATS_READ, coalesces=True),
    EventSpec("selection", "The operator moved the cursor in the console.",
              (_F("screen", "string", "queues, jobs, dead, workers or detail"),
               _F("queue", "string?", "selected queue"), _F("state", "string?", "job state shown"),
               _F("job_id", "string?", "selected job")),
              capability=_C.SELECTION_READ, coalesces=True),
    EventSpec("key", "A key pressed while one of the plugin's panels has focus.",
              (_F("key", "string", "key name, e.g. 'a', 'enter', 'up', 'ctrl r'"), _PANEL),
              capability=_C.SELECTION_READ),
    EventSpec("mouse", "A mouse click in one of the plugin's panels (when the console uses the mouse).",
              (_F("action", "string", "press or release"), _F("button", "integer", "1 left, 2 middle, 3 right"),
               _F("column", "integer", "0-based column in the panel"), _F("row", "integer", "0-based row"),
               _PANEL),
              capability=_C.SELECTION_READ),
    EventSpec("timer", "A timer started with qtui.every or qtui.after fired.",
              (_F("name", "string", "timer name"), _F("at", "number", "Unix time")), capability=_C.TIMERS,
              subscribable=False),
    EventSpec("command", "The operator ran one of the plugin's commands, by its key or on the command line.",
              (_F("name", "string", "command name"), _F("args", "string", "the rest of the command line"),
               _F("row", "qtui.Row?", "since 1.1: the row under the cursor when it was run (the operator "
                  "handed it to the command); nil where nothing is selected")),
              capability=_C.COMMANDS, subscribable=False),
    EventSpec("message", "A message on a topic the plugin listens to.",
              (_F("topic", "string", "topic"), _F("sender", "string", "sending plugin"), _F("data", "any", "data")),
              subscribable=False),
    EventSpec("lifecycle", "Another plugin started, stopped, errored or was quarantined.",
              (_F("plugin", "string", "its name"), _F("version", "string", "its version"),
               _F("state", "string", "running, stopped, errored or quarantined"),
               _F("reason", "string?", "why, when it stopped abnormally"))),
    EventSpec("resize", "One of the plugin's panels was shown or changed size (docked, resized or opened "
              "full screen): lay lines out for this width; longer lines are clipped.",
              (_F("width", "integer", "columns of the panel"), _F("height", "integer", "rows for the plugin's lines"),
               _PANEL),
              subscribable=False, coalesces=True),
    EventSpec("settings", "The operator changed the plugin's settings.",
              (_F("settings", "table<string, any>", "all settings, name to value"),), subscribable=False,
              coalesces=True),
    EventSpec("action", "The result of a qtui.jobs request.",
              (_F("id", "integer", "the request id"),
               _F("action", "string", "peek, find, enqueue, requeue, purge, oldest or count_by"),
               _F("ok", "boolean", "whether it succeeded"), _F("error", "string?", "why it failed or was refused"),
               _F("result", "any", "peek: {jobs=, next_cursor=}; find: a job or nil; enqueue: the job; "
                  "requeue and purge: {count=}; oldest: {jobs=}; count_by: {groups=, scanned=, unreadable=, "
                  "others=, complete=, newest=}")),
              subscribable=False),
    EventSpec("console_key", "Since 1.1: a key the operator pressed anywhere in the console, after the "
              "console acted on it; not keys typed in dialogs, on the command line or into another "
              "plugin's panel.",
              (_F("key", "string", "key name, e.g. 'j', 'enter', 'ctrl r'"),
               _F("screen", "string", "where the operator was: queues, jobs, dead, workers, plugins, detail, "
                  "help, or panel (the plugin's own)")),
              capability=_C.KEYS_READ),
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


#: Deprecated calls still accepted in this major version (none yet).
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


@attrs.frozen
class LibraryFunction:
    """A function of a library module: `require("qtui.<module>").<name>(...)`."""

    name: str
    doc: str
    args: tuple[Field, ...] = ()
    returns: tuple[Field, ...] = ()
    since: str = "1.0"


@attrs.frozen
class LibraryModule:
    """A module of qtui's Lua library (``qtui/plugins/runtime/stdlib/<name>.lua``).

    ``require("qtui.<name>")`` returns a read-only table of these functions and constants.
    The modules are the host's code, compiled in each plugin's own sandbox and run under its
    limits; names starting with ``qtui.`` never load a plugin's own file.
    """

    name: str
    doc: str
    functions: tuple[LibraryFunction, ...]
    constants: tuple[Field, ...] = ()

    @property
    def require_name(self) -> str:
        return f"qtui.{self.name}"


_L = LibraryFunction
_COLUMNS = _F("columns", "integer", "terminal columns (a fraction is dropped)")
_ANY_TEXT = _F("value", "any", "text, or any value (shown with tostring)")

#: qtui's Lua library for plugins, one entry per module.
LIBRARY: tuple[LibraryModule, ...] = (
    LibraryModule("json", "JSON for hostile payloads: read one field within a fixed amount of work, or "
                  "decode a whole text.", (
        _L("field", "The value at a dotted path (e.g. 'meta.tenant') of the JSON object in `payload`, as "
           "text (numbers as written, booleans as 'true' or 'false'); nil when the payload is not such an "
           "object or the field is missing or not a string, number or boolean. Never fails; reads at most "
           "MAX_BYTES of the payload and does at most MAX_COST work (less when `budget` has less left). "
           "Duplicate keys: the last one counts.",
           (_F("payload", "any", "the payload text; anything else gives nil"),
            _F("path", "string", "dot-separated keys"),
            _F("budget", "qtui.json.Budget?", "work shared by the lookups of one call (json.budget)")),
           (_F("value", "string?", "the field's value as text"),
            _F("complete", "boolean", "false when the payload could not be read completely (longer than "
               "MAX_BYTES, costlier than MAX_COST, or the budget spent)"))),
        _L("budget", "A budget of work for the json.field lookups of one call, so that a page of hostile "
           "payloads costs a bounded amount whatever their size.",
           (_F("cost", "number", "work allowed, in the units of MAX_COST"),),
           (_F("budget", "qtui.json.Budget", "{cost=}: what is left, lowered by each lookup"),)),
        _L("decode", "The value of a JSON text, parsed by the host as qtui.json.decode does: objects and "
           "arrays become tables (a null field of an object is left out; a null in an array, or a text "
           "that is just null, is json.null); numbers without a fraction or exponent that fit in 64 bits "
           "become integers. Text that is not JSON (or nested deeper than MAX_DEPTH, or too big for the "
           "plugin's limits) gives nil and a message saying why, naming the byte where it goes wrong.",
           (_F("text", "string", "JSON text"),),
           (_F("value", "any", "the decoded value, or nil"),
            _F("error", "string?", "why the text is not JSON, e.g. 'qtui.json.decode: invalid number at "
               "byte 7'"))),
    ), (
        _F("MAX_BYTES", "integer", "bytes of a payload json.field looks at (8192)"),
        _F("MAX_COST", "integer", "work allowed per json.field lookup (5000 units: a bracket or quote "
           "skipped is one, a library call ten)"),
        _F("MAX_DEPTH", "integer", "deepest nesting of arrays and objects json.decode accepts (32)"),
        _F("null", "qtui.json.Null", "what json.decode gives for a null in an array: qtui.json.null"),
    )),
    LibraryModule("text", "Display helpers: make hostile text safe for the terminal and fit it into a "
                  "fixed number of columns (as the console counts them: East Asian wide characters take "
                  "two, everything else one).", (
        _L("clean", "`value` as one safe line: cut to 200 characters, control characters and invisible "
           "characters (bidi marks, zero-width and other format characters, spaces other than U+0020) "
           "shown as '?' (bytes that are not UTF-8 as the replacement character).", (_ANY_TEXT,),
           (_F("line", "string", "the safe line"),)),
        _L("width", "Terminal columns a string takes once clean (qtui.text.width).",
           (_F("s", "string", "a string"),), (_F("columns", "integer", "its width"),)),
        _L("fit", "`value` cleaned and cut to at most `columns` columns, ending in '…' when something was "
           "cut; an empty string for fewer than one column.", (_ANY_TEXT, _COLUMNS),
           (_F("line", "string", "the fitted text"),)),
        _L("left", "`value` fitted into exactly `columns` columns, left-aligned (padded with spaces).",
           (_ANY_TEXT, _COLUMNS), (_F("cell", "string", "the padded text"),)),
        _L("right", "`value` fitted into exactly `columns` columns, right-aligned.", (_ANY_TEXT, _COLUMNS),
           (_F("cell", "string", "the padded text"),)),
        _L("columns", "One line of fixed-width columns for qtui.render, the same as qtui.text.columns "
           "gives (see it for the widths); the common case, cells of integers or of text whose characters "
           "take one column each (ASCII, Latin letters, punctuation, arrows, box drawing), is laid out in "
           "Lua without a call to the host.",
           _COLUMNS_ARGS, (_F("line", "qtui.Line", "the line's spans"),), since="1.1"),
        _L("wrap", "`value` cleaned and word-wrapped into at most `max_lines` lines of `columns` columns; "
           "a longer word is cut, and the last line ends in '…' when text was left out.",
           (_ANY_TEXT, _COLUMNS, _F("max_lines", "integer", "most lines")),
           (_F("lines", "string[]", "the lines"),)),
        _L("message", "The message of an error raised by Lua or the host, without its 'file.lua:line: ' "
           "prefix.", (_F("err", "any", "an error value"),), (_F("message", "string", "the message"),)),
        _L("count", "'1 job', '2 jobs': a count and its noun, made plural by `plural` or an added 's'.",
           (_F("n", "integer", "the count"), _F("noun", "string", "singular noun"),
            _F("plural", "string?", "plural noun (default: noun .. 's')")),
           (_F("text", "string", "e.g. '2 jobs'"),)),
        _L("duration", "Seconds as a short duration: 42s, 3m05s, 2h07m, 3d04h; '-' for nil, NaN or infinity.",
           (_F("seconds", "number?", "seconds"),), (_F("text", "string", "the duration"),)),
        _L("duration_holds", "Seconds until `duration` shows something else for a wait `seconds` long now, "
           "as it grows: at most a second under an hour, a minute under a day, an hour beyond; math.huge "
           "for what always shows '-'. With qtui.unchanged_stats, a panel showing waits asks for a look only then.",
           (_F("seconds", "number?", "the wait now"),), (_F("holds", "number", "seconds"),)),
        _L("number", "A count or rate in at most 6 columns: 7, 12.5, 1234, 12.3k, 4.5M; '-' for nil or NaN.",
           (_F("n", "number?", "the number"),), (_F("text", "string", "the number"),)),
    )),
    LibraryModule("queues", "Which queues a plugin watches, from a setting such as 'email, sms, billing-*'.", (
        _L("matcher", "A function telling whether a queue name is watched: `spec` lists names separated by "
           "commas, a name ending in * matches every queue starting with the rest, and an empty or missing "
           "spec matches every queue.", (_F("spec", "string?", "the names, e.g. 'email, billing-*'"),),
           (_F("watched", "fun(queue: string): boolean", "true for a watched queue name"),
            _F("count", "integer", "how many names the spec lists"))),
    )),
)


def function(name: str) -> Function:
    """The declared function `name` (without the `qtui.` prefix)."""
    return _FUNCTIONS_BY_NAME[name]


def constant(name: str) -> Constant:
    """The declared constant `name` (without the `qtui.` prefix)."""
    return _CONSTANTS_BY_NAME[name]


def event(type_name: str) -> EventSpec:
    """The declared event with this `type`."""
    return _EVENTS_BY_TYPE[type_name]


def library_module(name: str) -> LibraryModule:
    """The declared library module `name` (without the `qtui.` prefix)."""
    return _LIBRARY_BY_NAME[name]


_FUNCTIONS_BY_NAME = {f.name: f for f in FUNCTIONS}
_CONSTANTS_BY_NAME = {c.name: c for c in CONSTANTS}
_LIBRARY_BY_NAME = {m.name: m for m in LIBRARY}
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
