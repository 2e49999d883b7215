"""Type definitions of the plugin API for lua-language-server: ``qtui/authoring/lua/qtui.d.lua``.

:func:`render` generates the ``---@meta`` file from the API declaration
(:mod:`qtui.plugins.runtime.api`) and from :data:`TABLES`, the shapes of the tables the API names by
type (``qtui.PeekQuery``, ``qtui.Context``, ...). :func:`render_module` generates one more
for each module of qtui's Lua library (``lua/qtui/json.lua`` is ``---@meta qtui.json``, so an
editor completes ``require("qtui.json")``). ``python -m qtui.docs`` writes them all
(:func:`generated`), and a test fails when a shipped file is stale or when a shape disagrees
with what the host really passes. Plugin authors add the folder to their editor's
``workspace.library``; ``python -m qtui.authoring.typedefs`` prints where ``qtui.d.lua`` is
installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs

from qtui.model import JobState
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime import api
from qtui.plugins.runtime.api import Field

#: Where the generated file lives (shipped as package data).
PATH = Path(__file__).resolve().parent / "lua" / "qtui.d.lua"


@attrs.frozen
class Table:
    """The shape of a table the API passes, named by a type used in :mod:`qtui.plugins.runtime.api`.

    A field whose type ends in ``?`` may be absent (nil).
    """

    name: str
    doc: str
    fields: tuple[Field, ...]


_F = Field

_JOB_FIELDS = (
    _F("id", "string", "job id"),
    _F("queue", "string", "queue name"),
    _F("state", "qtui.JobState", "where the job is in its life"),
    _F("payload", "string", "the payload as stored, normally JSON text (cut at 64 KiB)"),
    _F("payload_truncated", "boolean?", "true when the payload was longer and has been cut"),
    _F("priority", "integer", "priority (higher runs first)"),
    _F("attempts", "integer", "attempts made so far"),
    _F("max_attempts", "integer?", "attempts allowed before the job goes dead"),
    _F("last_error", "string?", "the error of the last failed attempt"),
    _F("worker", "string?", "the worker holding or last holding the job"),
    _F("created_at", "number?", "Unix time it was enqueued"),
    _F("updated_at", "number?", "Unix time of its last change"),
    _F("run_at", "number?", "Unix time a scheduled job becomes ready"),
    _F("lease_until", "number?", "Unix time a processing job's lease expires"),
    _F("finished_at", "number?", "Unix time it completed or went dead"),
    _F("origin", "string?", "the queue it was first enqueued on, if it moved"),
    _F("extra", "table<string, string>", "backend-specific fields, for display"),
)

#: The tables the API passes, by the type names api.py uses (and the results of requests).
TABLES: tuple[Table, ...] = (
    Table("qtui.Span", "A piece of a rendered line in one style; a plain string is a span in the "
          "normal style.", (
              _F("text", "string?", "the text (default empty); control characters are shown as "
                 "visible notation"),
              _F("style", "qtui.Style?", "one of the styles (default normal)"),
          )),
    Table("qtui.Context", "What activate(ctx) receives.", (
        _F("name", "string", "the plugin's name"),
        _F("version", "string", "the plugin's version"),
        _F("api", "string", f"the host API version qtui implements, e.g. '{api.HOST_API_VERSION}'"),
        _F("settings", "table<string, string|number|boolean>", "the current settings, name to value"),
        _F("granted", "qtui.Capability[]", "the capabilities the plugin may use now"),
        _F("state", "table?", "what the previous version's deactivate returned (a reload), else nil"),
    )),
    Table("qtui.PeekQuery", "Which jobs qtui.jobs.peek asks for.", (
        _F("queue", "string?", "queue name, or 'all' (the default) for every queue"),
        _F("state", "qtui.JobState?", "job state (default ready)"),
        _F("text", "string?", "keep jobs whose payload or last error contains this (any case)"),
        _F("cursor", "string?", "the next_cursor of the previous page"),
        _F("limit", "integer?", "jobs per page, 1 to 500 (default 50)"),
    )),
    Table("qtui.RequeueSelection", "Which dead jobs qtui.jobs.requeue moves back to ready: ids, "
          "or a filter (queue and text; neither means every dead job), not both.", (
              _F("ids", "string[]?", "these jobs (at most 10000; those not dead are left alone)"),
              _F("queue", "string?", "dead jobs of this queue"),
              _F("text", "string?", "dead jobs whose payload or last error contains this"),
              _F("to", "string?", "the queue they go to (default: each job's own)"),
          )),
    Table("qtui.QueueStats", "One queue in a 'stats' event.", (
        _F("name", "string", "queue name"),
        *(_F(state.value, "integer", f"jobs {state.value}") for state in JobState),
        _F("enqueued_per_min", "number", "jobs enqueued over the last minute"),
        _F("completed_per_min", "number", "jobs completed over the last minute"),
        _F("failed_per_min", "number", "failed attempts over the last minute"),
        _F("oldest_ready_age", "number?", "seconds the oldest ready job has waited"),
        _F("changed", "boolean?", "true when the queue is new or a count, a rate or its oldest ready job changed "
           "since the stats event the plugin received before (the age growing is no change)"),
    )),
    Table("qtui.Job", "A job, in the result of a peek, find or enqueue request.", _JOB_FIELDS),
    Table("qtui.PeekResult", "The result of a peek request.", (
        _F("jobs", "qtui.Job[]", "the page of jobs, oldest first"),
        _F("next_cursor", "string?", "cursor of the next page; nil on the last page"),
    )),
    Table("qtui.CountResult", "The result of a requeue or purge request.", (
        _F("count", "integer", "how many jobs were requeued or deleted"),
    )),
    Table("qtui.OldestQuery", "Which jobs qtui.jobs.oldest asks for.", (
        _F("queue", "string?", "queue name, or 'all' (the default) for every queue"),
        _F("state", "qtui.JobState?", "job state (default ready)"),
    )),
    Table("qtui.OldestResult", "The result of an oldest request.", (
        _F("jobs", "qtui.Job[]", "the oldest job of each queue that has one in the state, by queue name"),
    )),
    Table("qtui.CountQuery", "Which jobs qtui.jobs.count_by counts, and by what.", (
        _F("field", "string", "the payload field: keys separated by dots, e.g. 'tenant' or 'meta.tenant'"),
        _F("queue", "string?", "queue name, or 'all' (the default) for every queue"),
        _F("state", "qtui.JobState?", "job state (default ready)"),
        _F("older_than", "number?", "a Unix time: each group also counts its jobs created before it"),
        _F("limit", "integer?", "most jobs looked at, the oldest first (default 10000, at most 50000)"),
    )),
    Table("qtui.Group", "Jobs whose payloads give one value for the field.", (
        _F("value", "string?", "the field's value as text (numbers as written shortest, booleans as 'true' "
           "or 'false'); nil for payloads without such a field or where it is not a string, number or "
           "boolean"),
        _F("count", "integer", "jobs in the group"),
        _F("oldest", "number?", "Unix time the group's oldest job was created"),
        _F("older", "integer", "jobs of the group created before older_than (0 without it)"),
    )),
    Table("qtui.CountByResult", "The result of a count_by request.", (
        _F("groups", "qtui.Group[]", "one group per value, the most jobs first (at most 1000)"),
        _F("scanned", "integer", "jobs looked at"),
        _F("unreadable", "integer", "of those, payloads that are not JSON or longer than 64 KiB"),
        _F("others", "integer", "jobs in further groups, beyond the first 1000"),
        _F("complete", "boolean", "whether every job in the state was looked at"),
        _F("newest", "number?", "Unix time the newest job looked at was created: when the count is not "
           "complete, every job not looked at is newer"),
    )),
    Table("qtui.json.Null", "qtui.json.null: JSON's null where Lua needs a value (an item of a list). "
          "Compare with ==; it is read-only and tostring gives 'null'.", ()),
    Table("qtui.PanelOptions", "How a panel opened with qtui.panel.open is shown (since 1.1).", (
        _F("title", "string?", "its title, up to 80 characters (default: its name)"),
        _F("rows", "integer?", "preferred height, 1 to 200"),
    )),
    Table("qtui.Row", "The row under the cursor when the operator ran a command (since 1.1).", (
        _F("screen", "string", "queues, jobs, dead, workers, detail or plugins"),
        _F("queue", "string?", "the selected queue"),
        _F("state", "qtui.JobState?", "the job state shown"),
        _F("job_id", "string?", "the selected job"),
    )),
)

#: The tables qtui's library modules name by type, by module name.
LIBRARY_TABLES: dict[str, tuple[Table, ...]] = {
    "json": (
        Table("qtui.json.Budget", "Work left for the json.field lookups of one call (json.budget).", (
            _F("cost", "number", "work left, in the units of json.MAX_COST; each lookup lowers it"),
        )),
    ),
}

#: Other named types: type name -> (what it is, the types it stands for).
UNIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "qtui.Line": ("A line of a panel: a list of spans (a string is a span in the normal style).",
                  ("(string|qtui.Span)[]",)),
}

#: Named sets of strings: type name -> (what it is, the values).
ALIASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "qtui.Style": ("A span style from the console's fixed palette.", api.STYLES),
    "qtui.JobState": ("Where a job is in its life.", tuple(s.value for s in JobState)),
    "qtui.Capability": ("A capability a plugin requests in its manifest.", tuple(c.value for c in Capability)),
}


#: Functions whose capability depends on their arguments, and which capability that is.
CONDITIONAL_CAPABILITIES: dict[str, str] = {
    "subscribe": "the capability of each event type it names (see the events)",
    "publish": "`bus.publish`, except on topics under the plugin's own prefix `plugin.NAME`",
    "listen": "`bus.subscribe`, except for prefixes under the plugin's own `plugin.NAME`",
}

#: What each sub-table of `qtui` holds.
SUBTABLES: dict[str, str] = {
    "jobs": "Requests to the queue backend: each returns a request id, and its result arrives "
            "later as an 'action' event with that id.",
    "storage": "The plugin's own persistent storage (plain data, capped in size).",
    "json": "JSON, read and written by the host within the plugin's limits.",
    "text": "Text made safe and fitted to columns as the terminal draws them.",
    "panel": "Panels besides the main one, opened and closed at run time (since 1.1).",
}


def needs(spec: api.Function) -> str:
    """The sentence saying which capability a function needs."""
    if spec.capability is not None:
        return f"Needs the `{spec.capability}` capability."
    if spec.name in CONDITIONAL_CAPABILITIES:
        return f"Needs {CONDITIONAL_CAPABILITIES[spec.name]}."
    return "Needs no capability."


def table(name: str) -> Table:
    """The declared table called `name` (e.g. ``qtui.PeekQuery``)."""
    return next(t for t in TABLES if t.name == name)


def event_class(spec: api.EventSpec) -> str:
    """The type name of an event's table, e.g. ``qtui.StatsEvent``."""
    return f"qtui.{spec.type.capitalize()}Event"


def optional(field: Field) -> bool:
    """True when the field or argument may be nil (its type ends in ``?``)."""
    return field.type.endswith("?")


def _bare(field: Field) -> str:
    return field.type.removesuffix("?")


def _comment(text: str) -> list[str]:
    return [f"---{line}" if line else "---" for line in text.split("\n")]


def _field(field: Field) -> str:
    mark = "?" if optional(field) else ""
    return f"---@field {field.name}{mark} {_bare(field)} {field.doc}"


def _class(name: str, doc: str, fields: tuple[Field, ...], extra: tuple[str, ...] = ()) -> list[str]:
    return [*_comment(doc), f"---@class {name}", *extra, *(_field(f) for f in fields), ""]


def _alias(name: str, doc: str, members: list[tuple[str, str]]) -> list[str]:
    """An alias of a union: `members` are (type, note) pairs."""
    lines = [*_comment(doc), f"---@alias {name}"]
    lines += [f"---| {member}" + (f" # {note}" if note else "") for member, note in members]
    return [*lines, ""]


def _function(spec: api.Function, qualified: str, *, callback: bool = False) -> list[str]:
    lines = _comment(spec.doc)
    if not callback:
        lines += ["---", *_comment(f"{needs(spec)} Since API {spec.since}.")]
    for arg in spec.args:
        name = arg.name + ("?" if optional(arg) and arg.name != "..." else "")
        lines.append(f"---@param {name} {_bare(arg)} {arg.doc}")
    if spec.returns is not None:
        lines.append(f"---@return {spec.returns.type} {spec.returns.name} # {spec.returns.doc}")
    params = ", ".join(a.name for a in spec.args)
    return [*lines, f"function {qualified}({params}) end", ""]


def _deprecated(alias: api.Alias) -> list[str]:
    """An old name kept working: the new function's definition, marked ``---@deprecated``."""
    note = f" ({alias.note})" if alias.note else ""
    lines = _function(api.function(alias.new), alias.lua_name)
    return [f"---@deprecated since API {alias.since}: use qtui.{alias.new}{note}", *lines]


def render() -> str:
    """The whole ``qtui.d.lua`` text."""
    out = [
        "---@meta",
        f"-- qtui plugin host API {api.HOST_API_VERSION}: type definitions for lua-language-server.",
        "-- Generated from qtui/plugins/runtime/api.py by `python -m qtui.docs`: do not edit.",
        "-- The reference with examples: qtui-lua(7), or `:help api` in the console.",
        "",
    ]
    notes = {c.value: c.description for c in Capability}
    for name, (doc, values) in ALIASES.items():
        out += _alias(name, doc, [(f'"{v}"', notes.get(v, "")) for v in values])
    for name, (doc, members) in UNIONS.items():
        out += _alias(name, doc, [(member, "") for member in members])
    for shape in TABLES:
        out += _class(shape.name, shape.doc, shape.fields)
    for spec in api.EVENTS:
        out += _class(event_class(spec), spec.doc, spec.fields, (f'---@field type "{spec.type}"',))
    out += _alias("qtui.Event", "An event given to on_event; `event.type` tells which (and narrows the type).",
                  [(event_class(e), e.type) for e in api.EVENTS])
    out += [*_comment("The host API: functions a plugin calls. See qtui-lua(7)."), "qtui = {}", ""]
    for sub, doc in SUBTABLES.items():
        out += [*_comment(doc), f"qtui.{sub} = {{}}", ""]
    for spec in api.FUNCTIONS:
        out += _function(spec, spec.lua_name)
    for constant in api.CONSTANTS:
        out += [*_comment(constant.doc), "---", *_comment(f"Since API {constant.since}."),
                f"---@type {constant.type}", f"{constant.lua_name} = {{}}", ""]
    for alias in api.ALIASES:
        out += _deprecated(alias)
    out += [*_comment("Callbacks: global functions a plugin may define; qtui calls them."), ""]
    for spec in api.CALLBACKS:
        out += _function(spec, spec.name, callback=True)
    return "\n".join(out).rstrip("\n") + "\n"


def module_path(module: api.LibraryModule) -> Path:
    """Where the type definitions of a library module live: ``lua/qtui/NAME.lua`` beside PATH."""
    return PATH.parent / "qtui" / f"{module.name}.lua"


def _library_function(module: api.LibraryModule, spec: api.LibraryFunction) -> list[str]:
    lines = [*_comment(spec.doc), "---", *_comment(f"Since API {spec.since}.")]
    for arg in spec.args:
        lines.append(f"---@param {arg.name}{'?' if optional(arg) else ''} {_bare(arg)} {arg.doc}")
    lines += [f"---@return {result.type} {result.name} # {result.doc}" for result in spec.returns]
    params = ", ".join(a.name for a in spec.args)
    return [*lines, f"function {module.name}.{spec.name}({params}) end", ""]


def render_module(module: api.LibraryModule) -> str:
    """The type definitions of one module of qtui's library, for ``require("qtui.NAME")``."""
    out = [
        f"---@meta {module.require_name}",
        f'-- qtui\'s library module {module.require_name}: local {module.name} = require("{module.require_name}")',
        "-- Type definitions for lua-language-server, generated from qtui/plugins/runtime/api.py by",
        "-- `python -m qtui.docs`: do not edit. The module is qtui's code, not the plugin's: see qtui-lua(7).",
        "",
    ]
    for shape in LIBRARY_TABLES.get(module.name, ()):
        out += _class(shape.name, shape.doc, shape.fields)
    out += [*_comment(module.doc), f"---@class {module.require_name}",
            *(_field(c) for c in module.constants), f"local {module.name} = {{}}", ""]
    for spec in module.functions:
        out += _library_function(module, spec)
    out.append(f"return {module.name}")
    return "\n".join(out) + "\n"


def generated() -> dict[Path, str]:
    """Every type definition file and its up-to-date content."""
    return {PATH: render(), **{module_path(m): render_module(m) for m in api.LIBRARY}}


def main() -> int:
    """Print where the type definitions are installed (for an editor's workspace.library)."""
    print(PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
