"""The plugin documentation: its sections, and what code puts into them from the declarations.

The prose is kept in text files beside the man pages, one per section: ``man/plugin-docs``
in a source checkout, ``<prefix>/share/qtui/plugin-docs`` once installed (:func:`prose_dir`;
the format is :mod:`qtui.authoring.prose`'s, described in that folder's README.md). This module
fills them: :data:`PLACEHOLDERS` hold the values taken from declarations (limits, sizes, file
names, versions), and :data:`DIRECTIVES` build the generated parts: the reference from the API
declaration (:mod:`qtui.plugins.runtime.api` and the table shapes of :mod:`.typedefs`), the
capabilities, the fields of the files qtui reads, and the sample files and example plugins
(the tests check them against the real readers and run the plugins).

:data:`MAN_PAGES` say which sections fill the generated blocks of qtui-lua(7), qtui-plugin(5)
and qtui-permissions(5) (``python -m qtui.docs`` writes them); :data:`TOPICS` group the same
sections for ``:help TOPIC`` in the console.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs

import qtui
from qtui.authoring import prose, typedefs
from qtui.authoring.docmodel import Block, Code, Heading, Item, Para, to_roff, to_text
from qtui.authoring.topics import TOPICS
from qtui.plugins.bundles import bundle as plugin_bundle
from qtui.plugins.bundles import manifest
from qtui.plugins.bundles.capabilities import Capability, own_topic_prefix
from qtui.plugins.runtime import api
from qtui.plugins.runtime.actions import MAX_ACTION_JOBS, SHOWN_IDS
from qtui.plugins.runtime import instance as runtime
from qtui.plugins.bundles.lua_syntax import COMPILE_SECONDS, MAX_JUMPS
from qtui.plugins.runtime.host import BACKSTOP_GRACE, CHANNEL_CAPACITY, CONFIRM_BURST, CONFIRM_SECONDS, STOP_SECONDS
from qtui.plugins.runtime.sandbox import Limits as SandboxLimits
from qtui.plugins.runtime.sandbox import ViolationPolicy
from qtui.plugins.bundles.catalog import ORIGIN_FILE
from qtui.plugins.runtime.settings import SETTINGS_FILE
from qtui.plugins.trust.enabled import ENABLED_FILE
from qtui.plugins.runtime.storage import MAX_STORAGE_BYTES
from qtui.plugins import lockfile
from qtui.plugins.trust import audit, live, permissions, policy, review, scope

# -- shared phrases -----------------------------------------------------------------------


def _list(words: Iterable[str], last: str = "and") -> str:
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _codes(words: Iterable[str], last: str = "and") -> str:
    return _list((f"`{w}`" for w in words), last)


def _type(field: api.Field) -> str:
    bare = field.type.removesuffix("?")
    return f"{bare}, optional" if typedefs.optional(field) else bare


def _field_para(field: api.Field) -> str:
    return f"*{field.name}* ({_type(field)}): {field.doc}"


def _kib(size: int) -> str:
    return f"{size // 1024} KiB" if size < 1024 * 1024 else f"{size // (1024 * 1024)} MiB"


_LIMITS, _MAX_LIMITS = manifest.Limits(), manifest.MAX_LIMITS
_VIOLATIONS, _VALUES = ViolationPolicy(), SandboxLimits()
_COALESCED = tuple(spec.type for spec in api.EVENTS if spec.coalesces)

# -- the example plugins ------------------------------------------------------------------


@attrs.frozen
class Example:
    """A complete plugin, shown by ``@code example.NAME.manifest`` and ``@code example.NAME.lua``.

    The tests check that each is valid and does what its section says.
    """

    name: str
    manifest: str
    lua: str


#: The example plugins of the guide and of EXAMPLES.
EXAMPLES: tuple[Example, ...] = (
    Example(
        "queue-depth",
        """\
        name = "queue-depth"
        version = "1.0.0"
        description = "Ready and dead jobs per queue"
        api = "1"
        permissions = ["stats.read"]

        [panel]
        title = "Queue depth"
        rows = 8
        """,
        """\
        function activate(ctx)
          qtui.subscribe("stats")
          qtui.render({"waiting for the first poll"})
        end

        function on_event(event)
          if event.type ~= "stats" then return end
          local lines = {}
          for _, q in ipairs(event.queues) do
            lines[#lines + 1] = {
              {text = ("%-16s"):format(q.name), style = "bold"},
              ("ready %6d  "):format(q.ready),
              {text = ("dead %4d"):format(q.dead),
               style = q.dead > 0 and "warn" or "normal"},
            }
          end
          qtui.render(lines)
        end
        """,
    ),
    Example(
        "dead-alert",
        """\
        name = "dead-alert"
        version = "1.0.0"
        description = "Warn when a dead letter queue grows"
        api = "1"
        permissions = ["stats.read", "notify", "storage"]

        [settings.threshold]
        type = "number"
        default = 10
        min = 1
        description = "Dead jobs in one queue before a warning"
        """,
        """\
        local warned

        function activate(ctx)
          warned = qtui.storage.get("warned") or {}
          qtui.subscribe("stats")
        end

        function on_event(event)
          if event.type ~= "stats" then return end
          local threshold = qtui.setting("threshold")
          local changed = false
          for _, q in ipairs(event.queues) do
            local over = q.dead >= threshold
            if over and not warned[q.name] then
              qtui.notify(("%s: %d dead jobs"):format(q.name, q.dead),
                          "warning")
            end
            if over ~= (warned[q.name] == true) then
              warned[q.name] = over or nil
              changed = true
            end
          end
          if changed then qtui.storage.set("warned", warned) end
        end
        """,
    ),
    Example(
        "dead-retry",
        """\
        name = "dead-retry"
        version = "1.0.0"
        description = "Show dead jobs of a queue and requeue them"
        api = "1"
        permissions = ["commands", "jobs.peek", "jobs.requeue"]

        [panel]
        title = "Dead jobs"
        rows = 12
        """,
        """\
        local pending = {}  -- request id -> true while we wait for it
        local shown = {}    -- ids of the jobs on the panel

        function activate(ctx)
          qtui.command("show", "list the dead jobs of QUEUE")
          qtui.command("retry", "requeue the dead jobs shown")
          qtui.render({"run :dead-retry.show QUEUE"})
        end

        local function show(page)
          shown = {}
          local lines = {}
          for _, job in ipairs(page.jobs) do
            shown[#shown + 1] = job.id
            lines[#lines + 1] = {{text = job.id, style = "accent"},
                                 " " .. (job.last_error or "")}
          end
          qtui.render(#lines > 0 and lines or {"no dead jobs"})
        end

        function on_event(event)
          if event.type == "command" and event.name == "show" then
            local queue = event.args ~= "" and event.args or "all"
            pending[qtui.jobs.peek{queue = queue, state = "dead",
                                   limit = 20}] = true
          elseif event.type == "command" and event.name == "retry" then
            if #shown > 0 then
              pending[qtui.jobs.requeue{ids = shown}] = true
            end
          elseif event.type == "action" and pending[event.id] then
            pending[event.id] = nil
            if not event.ok then
              qtui.render({{text = event.error, style = "error"}})
            elseif event.action == "peek" then
              show(event.result)
            else
              shown = {}
              qtui.render({("requeued %d jobs"):format(event.result.count)})
            end
          end
        end
        """,
    ),
    Example(
        "uptime",
        """\
        name = "uptime"
        version = "1.0.0"
        description = "Seconds this plugin has been running"
        api = "1"
        permissions = ["timers"]

        [panel]
        title = "Uptime"
        rows = 1
        """,
        """\
        local seconds = 0

        function activate(ctx)
          if ctx.state then seconds = ctx.state.seconds end
          qtui.every("tick", 1)
        end

        function on_event(event)
          if event.type == "timer" then
            seconds = seconds + 1
            qtui.render({("up %d s"):format(seconds)})
          end
        end

        function deactivate()
          return {seconds = seconds}
        end
        """,
    ),
)


def example(name: str) -> Example:
    """The worked example called `name`."""
    return next(e for e in EXAMPLES if e.name == name)


# -- qtui-lua(7): the reference -----------------------------------------------------------


def _signature(spec: api.Function, qualified: str) -> str:
    args = ""
    for index, arg in enumerate(spec.args):
        name = "..." if arg.name == "..." else f"*{arg.name}*"
        sep = ", " if index else ""
        args += f"[{sep}{name}]" if typedefs.optional(arg) else f"{sep}{name}"
    result = f" -> *{spec.returns.name}*" if spec.returns else ""
    return f"`{qualified}`({args}){result}"


def _function_item(spec: api.Function, qualified: str, *, callback: bool = False) -> Item:
    paras = [spec.doc, *(_field_para(a) for a in spec.args)]
    if spec.returns is not None:
        paras.append(f"Returns {_field_para(spec.returns)}.")
    if not callback:
        paras.append(f"{typedefs.needs(spec)} Since API {spec.since}.")
    return Item(_signature(spec, qualified), tuple(paras))


def functions() -> list[Block]:
    """The sub-tables of `qtui`, then every `qtui.*` function and constant of the API."""
    return [
        *(Para(f"`qtui.{sub}`: {doc}") for sub, doc in typedefs.SUBTABLES.items()),
        *(_function_item(spec, spec.lua_name) for spec in api.FUNCTIONS),
        *(Item(f"`{c.lua_name}` (*{c.type}*)", (c.doc, f"Since API {c.since}.")) for c in api.CONSTANTS),
    ]


def library() -> list[Block]:
    """Every module of qtui's Lua library: its functions and constants."""
    out: list[Block] = []
    for module in api.LIBRARY:
        name = module.require_name
        out.append(Heading(f'require("{name}")'))
        out.append(Para(module.doc))
        for function in module.functions:
            args = ", ".join(f"*{a.name}*" for a in function.args)
            paras = [function.doc, *(_field_para(a) for a in function.args)]
            paras += [f"Returns {_field_para(r)}." for r in function.returns]
            paras.append(f"Since API {function.since}.")
            out.append(Item(f"`{name}.{function.name}`({args})", tuple(paras)))
        for constant in module.constants:
            out.append(Item(f"`{name}.{constant.name}`", (f"({_type(constant)}) {constant.doc}",)))
    return out


def callbacks() -> list[Block]:
    """The global functions a plugin may define."""
    return [_function_item(spec, spec.name, callback=True) for spec in api.CALLBACKS]


def events() -> list[Block]:
    """Every event type, its fields and how it is delivered."""
    out: list[Block] = []
    for spec in api.EVENTS:
        how = (f"Subscribe with `qtui.subscribe(\"{spec.type}\")`." if spec.subscribable
               else "Arrives without subscribing.")
        needs = f" Needs `{spec.capability}`." if spec.capability else ""
        paras = [spec.doc, *(_field_para(f) for f in spec.fields), how + needs]
        if spec.coalesces:
            paras.append("While the plugin is busy, a newer one replaces the one waiting: it gets the newest, "
                         "never a backlog.")
        out.append(Item(f"`{spec.type}`", tuple(paras)))
    return out


def types() -> list[Block]:
    """The tables the API passes and the named sets of strings."""
    out: list[Block] = []
    for shape in typedefs.TABLES:
        out.append(Item(f"`{shape.name}`", (shape.doc, *(_field_para(f) for f in shape.fields))))
    for name, (doc, members) in typedefs.UNIONS.items():
        out.append(Item(f"`{name}`", (doc, f"That is, {_codes(members, 'or')}.")))
    for name, (doc, values) in typedefs.ALIASES.items():
        out.append(Item(f"`{name}`", (doc, f"One of {_codes(values, 'or')}.")))
    return out


def capabilities() -> list[Block]:
    """Every capability: what it allows, its risk and what needs it."""
    out: list[Block] = []
    for capability in Capability:
        uses = [f"`{f.lua_name}`" for f in api.FUNCTIONS if f.capability is capability]
        uses += [
            f"`{f.lua_name}` (outside its own topics)" for f in api.FUNCTIONS
            if f"`{capability}`" in typedefs.CONDITIONAL_CAPABILITIES.get(f.name, "")
        ]
        uses += [f"the `{e.type}` event" for e in api.EVENTS if e.capability is capability]
        kind = f"{capability.risk} risk" + (", destructive" if capability.destructive else "")
        paras = [capability.description[:1].upper() + capability.description[1:] + "."]
        if capability.destructive:
            paras.append("The operator confirms each use, unless they chose not to be asked "
                         "again for this plugin version.")
        if capability.changes_queues:
            paras.append("Approving it in the console takes a second step; each use is audited "
                         "without fail, and refused in read-only mode.")
        if capability in scope.SCOPABLE:
            paras.append("A grant of it can be bounded to some queues and a rate (see SCOPED "
                         "GRANTS in qtui-permissions(5)).")
        paras.append(f"Used by {_list(uses)}.")
        out.append(Item(f"`{capability}` ({kind})", tuple(paras)))
    return out


# -- the files qtui reads -----------------------------------------------------------------


@attrs.frozen
class FileField:
    """One field of a file format: its key (a TOML path), type and meaning."""

    key: str
    type: str
    doc: str
    required: bool = False

    def item(self) -> Item:
        kind = self.type + (", required" if self.required else "")
        return Item(f"`{self.key}` ({kind})", (self.doc,))


_LIMIT_DOCS = {
    "memory_mib": "Lua memory of the whole plugin, in MiB.",
    "instructions_per_call": "Lua instructions one call may run.",
    "cpu_ms_per_call": "Milliseconds of CPU time one call may use: the time the plugin's own thread "
                       "runs, not time waiting (for the disk, for another plugin, in a host function "
                       "that waits) nor qtui's garbage collection in that thread. A call that blocks "
                       "is stopped when its wall-clock time reaches "
                       f"{runtime.BACKSTOP_FACTOR} times this, at least {runtime.BACKSTOP_SECONDS:g} "
                       "seconds.",
}

#: Every field of manifest.toml.
MANIFEST_FIELDS: tuple[FileField, ...] = (
    FileField("name", "string", "The plugin's name, by which qtui knows it everywhere (decisions, "
              "settings, storage, commands, topics): 1 to 64 lowercase letters, digits and single "
              "hyphens, starting with a letter. The folder's name does not matter.", required=True),
    FileField("version", "string", "A semantic version, MAJOR.MINOR.PATCH with an optional "
              "-PRERELEASE and +BUILD. A new version asks the operator for permission again.",
              required=True),
    FileField("description", "string", "One line saying what the plugin does, up to 300 "
              "characters.", required=True),
    FileField("author", "string", "Who wrote it, up to 200 characters."),
    FileField("api", "string", "The major version of the host API the plugin is written for, "
              f"\"{max(api.SUPPORTED_API_MAJORS)}\" (see COMPATIBILITY in qtui-lua(7)).",
              required=True),
    FileField("entry", "string", f"The file qtui runs, a relative path inside the folder ending "
              f"in .lua (default `{manifest.DEFAULT_ENTRY}`)."),
    FileField("permissions", "array of strings", "The capabilities the plugin needs, each once "
              f"(default none): {_codes(Capability, 'or')}."),
    *(FileField(f"limits.{key}", "integer", f"{_LIMIT_DOCS[key]} Default "
                f"{getattr(_LIMITS, key)}, at most {getattr(_MAX_LIMITS, key)}.")
      for key in attrs.fields_dict(manifest.Limits)),
    *(FileField(f"limits.{alias}", "integer", f"The former name of `limits.{key}`, still read.")
      for alias, key in manifest.LIMIT_ALIASES.items()),
    FileField("panel.title", "string", "The panel's title, up to 80 characters (default the "
              "plugin's name). A plugin without a `[panel]` table has no panel."),
    FileField("panel.rows", "integer", f"Preferred height, 1 to {manifest.PANEL_MAX_ROWS}."),
    FileField("panel.width", "integer", f"Preferred width in columns, {manifest.PANEL_MIN_WIDTH} "
              f"to {manifest.PANEL_MAX_WIDTH}."),
    FileField("panel.placement", "string", "Where the panel would like to sit: "
              f"{_codes(manifest.Placement, 'or')} (default `{manifest.Placement.BOTTOM}`); the "
              "console's layout has the last word."),
    FileField("settings.NAME.type", "string", "A setting the operator may change; *NAME* is "
              "lowercase letters, digits and underscores, starting with a letter. Its type is "
              f"{_codes(manifest.SettingType, 'or')}.", required=True),
    FileField("settings.NAME.default", "per type", "The value until the operator changes it; it "
              "must be valid for the setting.", required=True),
    FileField("settings.NAME.description", "string", "What the setting does, up to 300 "
              "characters."),
    FileField("settings.NAME.choices", "array of strings", "For a choice setting (and only "
              "there): the values to choose from, distinct, each up to 80 characters."),
    FileField("settings.NAME.min", "number", "For a number setting: the smallest value allowed."),
    FileField("settings.NAME.max", "number", "For a number setting: the largest value allowed."),
    FileField("commands.NAME.help", "string", "A command the plugin has from the start (API 1.1), run as "
              "`:PLUGIN.NAME` or by its key; *NAME* is lowercase letters, digits and -, starting with a "
              "letter. One line of help, up to 200 characters. Declaring commands needs the `commands` "
              f"capability; at most {manifest.MAX_COMMANDS}.", required=True),
    FileField("commands.NAME.key", "string", "Its default key, written as in `config.toml`: a character "
              "(`R`), `Ctrl-` and a letter, `Meta-` and a character, or a named key (`F5`, `PgDn`, `Enter`). "
              "A key qtui uses there already stays qtui's; the operator may bind it elsewhere in the "
              "`[keys]` table of `config.toml`."),
    FileField("commands.NAME.view", "string", f"Where the key works: {_codes(manifest.COMMAND_VIEWS, 'or')} "
              "(default `all`: every view)."),
)

#: A manifest with every field (the tests check it is valid).
FULL_MANIFEST = """\
name = "tenant-sla"
version = "1.2.0"
description = "Time to completion per tenant against the SLA"
author = "Ops team <ops@example.com>"
api = "1"
entry = "init.lua"
permissions = ["stats.read", "timers", "notify", "commands"]

[limits]
memory_mib = 16
instructions_per_call = 1000000
cpu_ms_per_call = 50

[panel]
title = "Tenant SLA"
rows = 8
width = 60
placement = "right"

[settings.threshold_s]
type = "number"
default = 300
description = "Seconds before a job counts as late"
min = 1
max = 86400

[settings.view]
type = "choice"
choices = ["table", "bars"]
default = "table"
description = "How to draw the tenants"

[commands.late]
help = "Show the late jobs of the tenant under the cursor"
key = "L"
view = "jobs"
"""

#: Every field of a plugin version in a catalog index file.
CATALOG_FIELDS: tuple[FileField, ...] = (
    FileField("name", "string", "The plugin's name, as in its manifest.", required=True),
    FileField("version", "string", "Its semantic version, as in its manifest.", required=True),
    FileField("description", "string", "One line saying what it does, up to 300 characters.",
              required=True),
    FileField("permissions", "array of strings", "The capabilities its manifest requests (`[]` "
              "for none), so the operator sees them before installing.", required=True),
    FileField("archive", "string", "Where the plugin's `.tar.gz` archive is: a path (relative "
              "to the index file, or absolute) or an `http://` or `https://` URL.", required=True),
    FileField("sha256", "string", "The SHA-256 of the archive file, 64 hex digits.",
              required=True),
)

#: The field of catalogs.toml.
CATALOGS_FIELDS: tuple[FileField, ...] = (
    FileField("catalogs", "array of strings", "The index files to read, in order: paths relative "
              "to the folder of `catalogs.toml`, absolute, or starting with `~` for the home "
              "folder."),
)

CATALOG_EXAMPLE = """\
[[plugin]]
name = "tenant-sla"
version = "1.2.0"
description = "Time to completion per tenant against the SLA"
permissions = ["stats.read", "timers"]
archive = "tenant-sla-1.2.0.tar.gz"
sha256 = "9f2c5d0e..."
"""

CATALOGS_EXAMPLE = """\
catalogs = ["/srv/qtui/index.toml", "~/plugins/index.toml"]
"""

#: Every field of a decision record in permissions.toml.
RECORD_FIELDS: tuple[FileField, ...] = (
    FileField("version", "string", "The plugin version decided on.", required=True),
    FileField("hash", "string", "The bundle hash of the code decided on: `sha256:` and 64 "
              "lowercase hex digits.", required=True),
    FileField("decided_at", "date-time", "When, with a time zone.", required=True),
    FileField("requested", "array of strings", "What the manifest requested then.", required=True),
    FileField("granted", "array of strings", "Allowed; each among `requested`.", required=True),
    FileField("denied", "array of strings", "Refused; each among `requested`, none also granted.",
              required=True),
    FileField("no_confirm", "array of strings", "Granted destructive capabilities whose uses run "
              "without asking the operator each time.", required=True),
    FileField("scopes.CAP.queues", "array of strings", "Bounds the grant of capability *CAP* to "
              "queues matching these patterns (see SCOPED GRANTS); `\"*\"` for every queue."),
    FileField("scopes.CAP.rate", "string", "Bounds the grant of *CAP* to at most *JOBS* jobs per "
              "*PERIOD*, written `JOBS/PERIOD` (see SCOPED GRANTS)."),
)

#: Every field of the site policy.
POLICY_FIELDS: tuple[FileField, ...] = (
    FileField("forbid", "array of strings", "Capabilities forbidden to every plugin; "
              f"`\"{policy.FORBID_ALL}\"` forbids them all."),
    FileField("plugins.NAME.forbid", "array of strings", "Capabilities forbidden to plugin "
              f"*NAME* only; `\"{policy.FORBID_ALL}\"` forbids them all."),
    FileField("scopes.CAP.queues", "array of strings", "Bounds every plugin's grant of *CAP* to "
              "queues matching these patterns (see SCOPED GRANTS)."),
    FileField("scopes.CAP.rate", "string", "Bounds every plugin's grant of *CAP* to `JOBS/PERIOD`."),
    FileField("plugins.NAME.scopes.CAP.queues", "array of strings", "The same for plugin *NAME* only."),
    FileField("plugins.NAME.scopes.CAP.rate", "string", "The same for plugin *NAME* only."),
)

#: Every field of a fleet lockfile.
LOCK_FIELDS: tuple[FileField, ...] = (
    FileField("lockfile", "integer", f"The format, `{lockfile.LOCK_FORMAT}`.", required=True),
    FileField("plugin.name", "string", "A plugin's name; one `[[plugin]]` table per plugin.", required=True),
    FileField("plugin.version", "string", "Its version.", required=True),
    FileField("plugin.hash", "string", "Its bundle hash: exactly this code is verified or refused.",
              required=True),
    FileField("plugin.enabled", "boolean", "Whether consoles start it (default false)."),
    FileField("plugin.granted", "array of strings", "The capabilities granted to that code."),
    FileField("plugin.denied", "array of strings", "The capabilities denied; the rest stay undecided."),
    FileField("plugin.no_confirm", "array of strings", "Granted destructive capabilities used without "
              "asking the operator each time."),
    FileField("plugin.scopes.CAP.queues", "array of strings", "Queue patterns the grant of *CAP* is "
              "bounded to, as in `permissions.toml`."),
    FileField("plugin.scopes.CAP.rate", "string", "The grant's rate, `JOBS/PERIOD`."),
    FileField("plugin.settings", "table", "The plugin's setting values, each checked against its "
              "manifest when applied."),
)

#: What each outcome of an audit log line means.
OUTCOME_DOCS: dict[audit.Outcome, str] = {
    audit.Outcome.REQUESTED: "a plugin asked to use the capability: the first entry of each request, "
                             "`detail` naming the call",
    audit.Outcome.REFUSED: "the request did not go ahead: `reason` says why (see below), `detail` says more",
    audit.Outcome.CONFIRMED: "the operator confirmed a destructive action on `jobs` jobs; its `done` or "
                             "`failed` entry follows",
    audit.Outcome.DECLINED: "the operator declined a destructive action on `jobs` jobs",
    audit.Outcome.DONE: "the request was carried out; for a `qtui.jobs` request `jobs` is the number of "
                        "jobs it read, added, moved or deleted",
    audit.Outcome.FAILED: "the request was tried and failed: `detail` holds the error",
    audit.Outcome.GRANTED: "the operator granted the capability (an entry without a request id)",
    audit.Outcome.REVOKED: "the operator denied the capability (an entry without a request id)",
    audit.Outcome.SUPPRESSED: "the plugin's routine entries beyond the flood limit were held back: "
                              "`detail` counts them by capability and outcome",
    audit.Outcome.VIOLATION: "the plugin broke a limit of its sandbox; the capability field names the limit "
                             "(`limits.memory`, `limits.wall_time`, `limits.value`, ...) and the detail says how",
}

#: What each reason of a refused request means.
REASON_DOCS: dict[audit.Reason, str] = {
    audit.Reason.DENIED: "the operator denied the capability",
    audit.Reason.FORBIDDEN: "the site policy forbids it",
    audit.Reason.UNDECIDED: "there is no decision yet for this version and code",
    audit.Reason.NOT_REQUESTED: "the manifest does not request it",
    audit.Reason.BAD_ARGUMENTS: "the call's arguments were wrong (the plugin got the same error)",
    audit.Reason.READ_ONLY: "the console runs read-only, so nothing that changes queues is done or asked",
    audit.Reason.OUT_OF_SCOPE: "it would touch a queue outside the capability's scope",
    audit.Reason.RATE_LIMIT: "it would go past the capability's rate",
    audit.Reason.TOO_MANY_JOBS: f"it would touch more than {MAX_ACTION_JOBS} jobs",
    audit.Reason.NO_OPERATOR: "a destructive action needs an operator to confirm it and there was none",
    audit.Reason.WITHDRAWN: "the capability was revoked or forbidden after the plugin asked (a question "
                            "to the operator is withdrawn too)",
    audit.Reason.AUDIT_UNAVAILABLE: "the audit log could not be written, and an action that changes "
                                    "queues is never done unrecorded",
}

#: Every field of an audit log line.
AUDIT_FIELDS: tuple[FileField, ...] = (
    FileField("time", "string", "UTC time in ISO 8601 with milliseconds, e.g. "
              "`2024-05-01T12:00:00.123Z`."),
    FileField("plugin", "string", "The plugin's name."),
    FileField("version", "string", "Its version."),
    FileField("capability", "string", "The capability used or decided on (empty in a `suppressed` "
              "entry)."),
    FileField("request", "string", "The request's id, the same on each of its entries, unique "
              "across consoles; empty for decisions."),
    FileField("outcome", "string", "What happened, one of the outcomes below."),
    FileField("reason", "string", "Why a `refused` request did not go ahead, one of the reasons "
              "below; empty otherwise."),
    FileField("jobs", "integer or null", "The number of jobs: affected (`done`), or to be touched "
              "(`confirmed`, `declined`); null when there is no count."),
    FileField("detail", "string", f"What was asked or done, up to {audit.MAX_DETAIL} characters."),
)

#: The field of plugins.toml.
ENABLED_FIELDS: tuple[FileField, ...] = (
    FileField("enabled", "array of strings", "The names of the enabled plugins, in the order they "
              "were enabled; a name no plugin has is reported when a console starts."),
)

#: The fields of plugin-settings.toml.
SETTINGS_FILE_FIELDS: tuple[FileField, ...] = (
    FileField("PLUGIN.SETTING", "per the setting", "The operator's value of setting *SETTING* of plugin "
              "*PLUGIN*, of the type its manifest declares; a setting left out has its default."),
)

ENABLED_EXAMPLE = """\
enabled = ["tenant-sla", "queue-alert"]
"""

SETTINGS_EXAMPLE = """\
[tenant-sla]
threshold_s = 120
view = "bars"
"""

PERMISSIONS_EXAMPLE = """\
[[plugins.tenant-sla]]
version = "1.2.0"
hash = "sha256:9f2c5d0e..."
decided_at = 2024-05-01T12:00:00Z
requested = ["jobs.purge", "stats.read"]
granted = ["jobs.purge", "stats.read"]
denied = []
no_confirm = ["jobs.purge"]

[plugins.tenant-sla.scopes."jobs.purge"]
queues = ["tenant-*"]
rate = "500/h"
"""

POLICY_EXAMPLE = """\
forbid = ["jobs.purge"]

[scopes."jobs.requeue"]
rate = "1000/h"

[plugins.tenant-sla]
forbid = ["jobs.enqueue"]

[plugins.tenant-sla.scopes."jobs.peek"]
queues = ["tenant-*"]
"""

LOCK_EXAMPLE = """\
lockfile = 1

[[plugin]]
name = "bulk-requeue"
version = "1.2.0"
hash = "sha256:9f2c5d0e..."
enabled = true
granted = ["commands", "jobs.peek", "jobs.requeue"]
denied = []
no_confirm = []

[plugin.scopes."jobs.requeue"]
queues = ["email*"]
rate = "500/h"

[plugin.settings]
page_size = 200
"""

AUDIT_EXAMPLE = """\
{"time": "2024-05-01T12:00:00.123Z", "plugin": "bulk-requeue",
 "version": "1.2.0", "capability": "jobs.requeue",
 "request": "4f1c0a-7", "outcome": "requested", "reason": "",
 "jobs": null, "detail": "qtui.jobs.requeue"}
{"time": "2024-05-01T12:00:04.801Z", "plugin": "bulk-requeue",
 "version": "1.2.0", "capability": "jobs.requeue",
 "request": "4f1c0a-7", "outcome": "confirmed", "reason": "",
 "jobs": 71, "detail": "requeue 71 dead jobs on webhooks to their
 own queues: 1f2e, 1f31, 1f40, 1f52, 1f77 and 66 more"}
{"time": "2024-05-01T12:00:04.950Z", "plugin": "bulk-requeue",
 "version": "1.2.0", "capability": "jobs.requeue",
 "request": "4f1c0a-7", "outcome": "done", "reason": "",
 "jobs": 71, "detail": ""}
"""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def outcomes() -> list[Block]:
    """Every outcome of an audit log line and what it means."""
    return [Item(f"`{outcome}`", (_sentence(OUTCOME_DOCS[outcome]),)) for outcome in audit.Outcome]


def reasons() -> list[Block]:
    """Every reason a request was refused and what it means."""
    return [Item(f"`{reason}`", (_sentence(REASON_DOCS[reason]),)) for reason in audit.Reason]


# -- what the section files take from code --------------------------------------------------


def _deprecations() -> str:
    """The sentence of COMPATIBILITY on the deprecated calls of this API version."""
    if api.ALIASES:
        calls = _list(f"`qtui.{a.old}` (since {a.since}, use `qtui.{a.new}`)" for a in api.ALIASES)
        return f"Deprecated calls in this version: {calls}."
    since = sorted({f.since for f in (*api.FUNCTIONS, *api.CALLBACKS)})
    return f"API {api.HOST_API_VERSION} has no deprecated calls: every function is from {_list(since)}."


#: The values of the ``{name}`` placeholders of the section files.
PLACEHOLDERS: dict[str, str] = {
    "api.version": api.HOST_API_VERSION,
    "api.majors": _list(str(major) for major in sorted(api.SUPPORTED_API_MAJORS)),
    "api.deprecations": _deprecations(),
    "events.queue_size": str(CHANNEL_CAPACITY),
    "events.coalesced": _codes(_COALESCED, "or"),
    **{f"limits.{key}": str(getattr(_LIMITS, key)) for key in attrs.fields_dict(manifest.Limits)},
    **{f"limits.max.{key}": str(getattr(_MAX_LIMITS, key)) for key in attrs.fields_dict(manifest.Limits)},
    "sandbox.violations": str(_VIOLATIONS.max_violations),
    "sandbox.window_minutes": f"{_VIOLATIONS.window_seconds / 60:g}",
    "values.max_depth": str(_VALUES.max_depth),
    "values.max_items": str(_VALUES.max_items),
    "values.max_bytes": _kib(_VALUES.max_bytes),
    "sandbox.c_steps": str(_VALUES.c_steps),
    "sandbox.source_size": _kib(_VALUES.source_bytes),
    "sandbox.max_jumps": str(MAX_JUMPS),
    "sandbox.check_seconds": f"{COMPILE_SECONDS:g}",
    "sandbox.backstop_ms": f"{BACKSTOP_GRACE * 1000:g}",
    "stop.deactivate_ms": f"{STOP_SECONDS * 1000:g}",
    "bus.max_message": _kib(runtime.MAX_MESSAGE_BYTES),
    "bus.max_depth": str(_VALUES.max_depth - runtime.MESSAGE_WRAPPING),
    "bus.waiting": _kib(runtime.MESSAGE_BYTES_WAITING),
    "panel.max_bytes": _kib(runtime.MAX_RENDER_BYTES),
    "panel.max_cells": str(runtime.MAX_RENDER_CELLS),
    "log.max_size": _kib(runtime.LOG_BYTES),
    "log.rate": str(runtime.LOG_RATE),
    "log.burst": str(runtime.LOG_BURST),
    "notify.seconds": f"{runtime.NOTIFY_SECONDS:g}",
    "notify.burst": str(runtime.NOTIFY_BURST),
    "confirm.seconds": f"{CONFIRM_SECONDS:g}",
    "confirm.burst": str(CONFIRM_BURST),
    "styles": _codes(api.STYLES, "or"),
    "panel.max_lines": str(runtime.MAX_LINES),
    "panel.max_spans": str(runtime.MAX_SPANS),
    "panel.max_text": str(runtime.MAX_TEXT),
    "log.lines": str(runtime.LOG_LINES),
    "timers.min_seconds": str(runtime.MIN_INTERVAL),
    "timers.max": str(runtime.MAX_TIMERS),
    "commands.max": str(runtime.MAX_COMMANDS),
    "panel.max_opened": str(runtime.MAX_PANELS),
    "asset.max_size": _kib(runtime.MAX_ASSET_BYTES),
    "settings.file": SETTINGS_FILE,
    "enabled.file": ENABLED_FILE,
    "catalog.origin_file": ORIGIN_FILE,
    "storage.max_size": _kib(MAX_STORAGE_BYTES),
    "bus.own_prefix": own_topic_prefix("NAME"),
    "manifest.file": manifest.MANIFEST_FILE,
    "manifest.default_entry": manifest.DEFAULT_ENTRY,
    "manifest.max_size": _kib(manifest.MAX_MANIFEST_BYTES),
    "bundle.max_size": _kib(plugin_bundle.MAX_BUNDLE_BYTES),
    "bundle.max_entries": str(plugin_bundle.MAX_BUNDLE_ENTRIES),
    "bundle.max_depth": str(plugin_bundle.MAX_BUNDLE_DEPTH),
    "permissions.file": permissions.PERMISSIONS_FILE,
    "permissions.kept": str(permissions.KEEP_RECORDS),
    "policy.file": policy.POLICY_FILE,
    "audit.file": audit.AUDIT_FILE,
    "audit.max_size": _kib(audit.MAX_BYTES),
    "audit.kept": str(audit.KEEP_ROTATED),
    "audit.flood_entries": str(audit.FLOOD_ENTRIES),
    "audit.flood_seconds": str(audit.FLOOD_SECONDS),
    "scope.capabilities": _codes(scope.SCOPABLE, "and"),
    "scope.units": _codes(scope.UNITS, "or"),
    "scope.max_period": f"{scope.MAX_PERIOD // 86400} days",
    "scope.max_patterns": str(scope.MAX_PATTERNS),
    "actions.max_jobs": str(MAX_ACTION_JOBS),
    "actions.shown_ids": str(SHOWN_IDS),
    "live.seconds": f"{live.POLL_SECONDS:g}",
    "review.folder": review.GRANTED_FOLDER,
}

#: The fields of each file format, for ``@fields NAME``.
FILE_FIELDS: dict[str, tuple[FileField, ...]] = {
    "manifest": MANIFEST_FIELDS,
    "catalogs": CATALOGS_FIELDS,
    "enabled": ENABLED_FIELDS,
    "settings-file": SETTINGS_FILE_FIELDS,
    "catalog": CATALOG_FIELDS,
    "record": RECORD_FIELDS,
    "policy": POLICY_FIELDS,
    "audit": AUDIT_FIELDS,
    "lockfile": LOCK_FIELDS,
}

#: The files shown whole, for ``@code NAME``: the sample files and the example plugins.
SAMPLES: dict[str, str] = {
    "full-manifest": FULL_MANIFEST,
    "catalogs-example": CATALOGS_EXAMPLE,
    "enabled-example": ENABLED_EXAMPLE,
    "settings-example": SETTINGS_EXAMPLE,
    "catalog-example": CATALOG_EXAMPLE,
    "permissions-example": PERMISSIONS_EXAMPLE,
    "policy-example": POLICY_EXAMPLE,
    "audit-example": AUDIT_EXAMPLE,
    "lock-example": LOCK_EXAMPLE,
    **{f"example.{e.name}.manifest": e.manifest for e in EXAMPLES},
    **{f"example.{e.name}.lua": e.lua for e in EXAMPLES},
}


def _fields(fields: tuple[FileField, ...]) -> list[Block]:
    return [field.item() for field in fields]


def _sample(text: str) -> list[Block]:
    return [Code.of(text)]


#: What expands each ``@name`` directive of the section files.
DIRECTIVES: dict[str, Callable[[], list[Block]]] = {
    "functions": functions,
    "library": library,
    "callbacks": callbacks,
    "events": events,
    "types": types,
    "capabilities": capabilities,
    "outcomes": outcomes,
    "reasons": reasons,
    **{f"fields {name}": functools.partial(_fields, fields) for name, fields in FILE_FIELDS.items()},
    **{f"code {name}": functools.partial(_sample, text) for name, text in SAMPLES.items()},
}

# -- sections, man pages and help topics ----------------------------------------------------

PROSE_FOLDER = "plugin-docs"

#: The man pages with generated blocks, and which sections they hold.
MAN_PAGES: dict[str, tuple[str, ...]] = {
    "qtui-lua.7": ("GUIDE", "LIMITS", "FUNCTIONS", "LIBRARY", "CALLBACKS", "EVENTS", "TYPES", "STYLES",
                   "CAPABILITIES", "TESTING", "COMPATIBILITY", "EXAMPLES"),
    "qtui-plugin.5": ("BUNDLE", "MANIFEST", "MANIFEST-EXAMPLE", "LIFECYCLE", "CATALOG", "LOCKFILE"),
    "qtui-permissions.5": ("VERDICTS", "PERMISSIONS-FILE", "SCOPED-GRANTS", "SITE-POLICY", "AUDIT-LOG",
                           "CAPABILITIES"),
}

#: Every section, by the name of its generated block in the man pages; each is a file
#: ``name.lower() + ".txt"`` in :func:`prose_dir`.
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(name for names in MAN_PAGES.values() for name in names))


def prose_dir() -> Path:
    """The folder of the section files: the checkout's man/plugin-docs, or the installed copy.

    A wheel installs them as data files in <prefix>/share/qtui/plugin-docs.
    """
    top = Path(qtui.__file__).parent.parent
    checkout = top / "man" / PROSE_FOLDER
    if checkout.is_dir() and (top / "pyproject.toml").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "qtui" / PROSE_FOLDER


def section_file(name: str, folder: Path | None = None) -> Path:
    """The file of section `name` in `folder` (default :func:`prose_dir`)."""
    return (folder or prose_dir()) / f"{name.lower()}.txt"


def section(name: str, folder: Path | None = None) -> prose.Document:
    """Section `name`, read and filled (OSError if unreadable, ProseError naming file:line if wrong)."""
    return prose.load(section_file(name, folder), PLACEHOLDERS, DIRECTIVES)


def roff_section(name: str, folder: Path | None = None) -> str:
    """The roff body of the generated block `name`."""
    return to_roff(section(name, folder).blocks)


def help_text(topic: str, width: int = 78, folder: Path | None = None) -> str:
    """The plain text of help topic `topic` (KeyError if there is none).

    A section that cannot be read or is wrong shows the problem in its place, so the console's
    help stays up whatever the installed files hold.
    """
    blocks: list[Block] = []
    for name in TOPICS[topic].sections:
        try:
            document = section(name, folder)
        except prose.ProseError as exc:
            blocks += [Heading(name, 1), Para(f"This section cannot be shown: {exc}")]
        except OSError as exc:
            blocks += [Heading(name, 1), Para(f"This section cannot be shown: {exc.filename}: {exc.strerror}")]
        else:
            blocks += [Heading(document.title, 1), *document.blocks]
    return to_text(blocks, width)
