"""The plugin documentation, written once and rendered as roff (man pages) and plain text (help).

Reference sections are built from the declarations: the API (:mod:`qtui.plugins.runtime.api` and the
table shapes in :mod:`qtui.authoring.typedefs`), the capabilities, the manifest rules, the
permission files and the audit log. :data:`SECTIONS` are the generated blocks of qtui-lua(7),
qtui-plugin(5) and qtui-permissions(5) (``python -m qtui.docs`` writes them, see
:data:`MAN_PAGES`); :data:`TOPICS` group the same sections for ``:help TOPIC`` in the console.

The blocks and their rendering are :mod:`qtui.authoring.docmodel`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from qtui.authoring import typedefs
from qtui.authoring.docmodel import Block, Code, Heading, Item, Para, to_roff, to_text
from qtui.plugins.bundles import bundle as plugin_bundle
from qtui.plugins.bundles import manifest
from qtui.plugins.bundles.capabilities import Capability, own_topic_prefix
from qtui.plugins.runtime import api
from qtui.plugins.runtime import instance as runtime
from qtui.plugins.runtime.events import EVENT_TYPES
from qtui.plugins.runtime.host import CHANNEL_CAPACITY
from qtui.plugins.runtime.sandbox import Limits as SandboxLimits
from qtui.plugins.runtime.sandbox import ViolationPolicy
from qtui.plugins.runtime.settings import SETTINGS_FILE
from qtui.plugins.runtime.storage import MAX_STORAGE_BYTES
from qtui.plugins.trust import audit, permissions, policy

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


_CONFIG = "$XDG_CONFIG_HOME/qtui"
_STATE = "$XDG_STATE_HOME/qtui"
_DATA = "$XDG_DATA_HOME/qtui"


# -- worked examples ----------------------------------------------------------------------


@attrs.frozen
class Example:
    """A complete plugin shown in the documentation (and run by the tests)."""

    name: str
    title: str
    about: str
    manifest: str
    lua: str


EXAMPLES: tuple[Example, ...] = (
    Example(
        "queue-depth", "A panel of queue depths",
        "Draws ready and dead jobs per queue after every poll of the backend, dead counts "
        "in the warning style.",
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
        "dead-alert", "A notice when a dead letter queue grows",
        "Warns once per queue when its dead jobs reach a threshold the operator can change, "
        "and remembers which queues it warned about across restarts.",
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
        "dead-retry", "Dead jobs on demand, and a requeue",
        "Adds two commands: `:dead-retry.show QUEUE` peeks at the dead jobs of a queue and "
        "lists them with their errors; `:dead-retry.retry` requeues those shown, which the "
        "operator confirms. Both are admin requests whose results arrive as action events.",
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
        "uptime", "A timer, and state kept across a reload",
        "Counts the seconds it has been running. When the plugin is reloaded (a new version, "
        "or its code changed) the count goes on: `deactivate` returns it and the next "
        "version's `activate` finds it in `ctx.state`.",
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


def _example_blocks(item: Example) -> list[Block]:
    return [
        Heading(item.title),
        Para(item.about),
        Para(f"`{item.name}/manifest.toml`:"),
        Code.of(item.manifest),
        Para(f"`{item.name}/init.lua`:"),
        Code.of(item.lua),
    ]


def examples() -> list[Block]:
    """Complete plugins, beyond the first one of the guide."""
    out: list[Block] = [Para(
        "Each example is a complete plugin: a folder with these two files under "
        f"`{_CONFIG}/plugins`. Grant what its manifest requests and it runs."
    )]
    for item in EXAMPLES[1:]:
        out += _example_blocks(item)
    return out


# -- qtui-lua(7): the guide ---------------------------------------------------------------

LUARC = """\
{
  "runtime.version": "Lua 5.4",
  "workspace.library": ["/the/path/printed/above/qtui.d.lua"],
  "runtime.builtin": {"io": "disable", "debug": "disable",
                      "package": "disable"}
}
"""


def guide() -> list[Block]:
    """How plugins are written, found, run, limited and permitted."""
    first = EXAMPLES[0]
    limits, most = manifest.Limits(), manifest.MAX_LIMITS
    sandbox, violations = SandboxLimits(), ViolationPolicy()
    coalesced = _codes(
        (kind for cls, kind in EVENT_TYPES.items() if getattr(cls, "coalesce_key", None)), "or"
    )
    return [
        Para(
            "A qtui plugin is a folder holding a `manifest.toml` (see qtui-plugin(5)) and Lua 5.4 "
            "source files. Each plugin runs in a sandbox of its own and sees only the host API "
            "described here: it can draw a panel in the console, show notices, add commands, keep a "
            "little data and exchange messages with other plugins, and, when the operator allows it, "
            f"read jobs and ask for admin actions. This is host API {api.HOST_API_VERSION}."
        ),
        Heading("A first plugin"),
        Para(
            f"Make a folder `{first.name}` under `{_CONFIG}/plugins` (usually "
            "`~/.config/qtui/plugins`). Its `manifest.toml` names the plugin, the API it is "
            "written for and the capabilities it needs:"
        ),
        Code.of(first.manifest),
        Para(
            "Its entry file, `init.lua`, defines callbacks. qtui runs the file, calls `activate` "
            "once, then `on_event` for every event the plugin subscribed to:"
        ),
        Code.of(first.lua),
        Para(
            "`qtui plugin check DIR` validates the folder without running it and prints each "
            "problem as *file*:*line*: *message*. The first time qtui finds the plugin it waits for "
            "the operator to grant what the manifest requests, in the console or with "
            f"`qtui plugin grant {first.name} stats.read`; none of its code runs before that."
        ),
        Heading("Where plugins are found"),
        Para(
            f"qtui looks in `{_CONFIG}/plugins` (the user's), then in `qtui/plugins` under the first "
            "of `$XDG_CONFIG_DIRS` (the system's, by default `/etc/xdg/qtui/plugins`), then among the "
            "plugins shipped with qtui. Each subfolder holding a `manifest.toml` is a plugin; its name "
            "comes from the manifest, not the folder, and a plugin hides those of the same name found "
            "later. `qtui plugin list` shows what was found, hidden or broken; "
            "`qtui plugin install` adds a plugin from the catalog, a folder or an archive."
        ),
        Heading("Life of a plugin"),
        Para(
            "qtui reads the plugin's files once, checks the operator's decisions for exactly that "
            "version and code, runs the entry file and calls `activate(ctx)` with the plugin's name, "
            "version, settings, granted capabilities and the host API version. Events then arrive "
            "one at a time, in order, through `on_event(event)`. When the plugin is stopped, qtui "
            "calls `deactivate()`. Every callback is optional."
        ),
        Para(
            "When a running plugin's files change (the console watches their folders) or the "
            "operator reloads it, qtui loads the new code in a fresh sandbox first, then calls the "
            "old version's `deactivate()` and hands a small table it returns to the new version's "
            "`activate` as `ctx.state`. If the new code does not compile or its `activate` fails, "
            "the old version goes on running with its state. Changed code needs the operator's "
            "permission again; the old code runs until they decide."
        ),
        Para(
            "An error in the entry file or in `activate` stops the plugin: it is shown as errored, "
            "with the file and line of the error. An error in `on_event` is logged and shown, and "
            "the plugin goes on receiving events."
        ),
        Para(
            f"Each plugin has a queue of {CHANNEL_CAPACITY} events of its own. When a slow plugin "
            f"lets it fill up, a newer {coalesced} event replaces the one waiting and other events "
            "are dropped, so no plugin ever holds up the console or another plugin."
        ),
        Heading("The sandbox"),
        Para(
            "Plugin code has the safe parts of Lua 5.4: the base functions, `string` (without "
            "`string.dump`), `table`, `math`, `utf8`, `coroutine`, `os.clock`, `os.date`, "
            "`os.difftime` and `os.time`, a `load` for source text only, `require` for the plugin's "
            "own modules, and `print`, which writes to the plugin's log. There is no `io`, `debug`, "
            "`package`, `dofile` or `loadfile` and no bytecode: a plugin cannot reach files, the "
            "network or other processes. The library tables are read-only."
        ),
        Para(
            "`require(\"a.b\")` loads `a/b.lua` or `a/b/init.lua` from the plugin's own folder, "
            "and nothing else."
        ),
        Para(
            "Every call into the plugin (the entry file, a callback, an event) runs under the "
            "limits of the manifest's `[limits]`: a budget of Lua instructions and of wall-clock "
            "time per call, and a memory cap on the whole plugin (by default "
            f"{limits.instructions_per_call} instructions, {limits.wall_ms_per_call} ms and "
            f"{limits.memory_mib} MiB; at most {most.instructions_per_call}, "
            f"{most.wall_ms_per_call} ms and {most.memory_mib} MiB). Library calls that would run "
            "long inside C (big pattern matches, `string.rep`, `table.sort`, `table.concat`) are "
            "refused before they start when they would blow the budget. A call that runs into a "
            "limit fails with an error `pcall` cannot catch; after "
            f"{violations.max_violations} such violations within "
            f"{violations.window_seconds / 60:g} minutes the plugin is quarantined and qtui stops "
            "calling it."
        ),
        Para(
            "Values passed between qtui and a plugin are plain data: nil, booleans, numbers "
            "(64-bit integers and floats), strings, and tables of them at most "
            f"{sandbox.max_depth} deep with at most {sandbox.max_items} entries. Functions, "
            "coroutines and cyclic tables are refused with an error saying where they are. "
            "A table with keys 1 to *n* is a list."
        ),
        Heading("Panels"),
        Para(
            "A plugin with a `[panel]` in its manifest has a panel in the console, and "
            "`qtui.render(lines)` replaces what it shows. Each line is a string or a list of "
            "spans; a span is a string or `{text = ..., style = ...}` with a style from "
            f"{_codes(api.STYLES, 'or')}. At most {runtime.MAX_LINES} lines of "
            f"{runtime.MAX_SPANS} spans, each text at most {runtime.MAX_TEXT} characters. "
            "Control characters, escape sequences included, are shown as visible notation such as "
            "`^[`: a plugin cannot drive the terminal."
        ),
        Para(
            "While its panel has focus, the keys and mouse clicks given to it arrive as `key` and "
            "`mouse` events, for a plugin granted `selection.read` that subscribed to them."
        ),
        Heading("Notices and the log"),
        Para(
            "`qtui.notify(text, level)` shows a message in the status bar, after the plugin's "
            "name. `qtui.log(level, text)` and `print` write to the plugin's log: qtui's log file "
            f"`{_STATE}/qtui.log` (logger `qtui.plugins.NAME`), and the last {runtime.LOG_LINES} "
            "lines are kept for the console to show."
        ),
        Heading("Timers and commands"),
        Para(
            "`qtui.every(name, seconds)` starts a repeating timer and `qtui.after(name, seconds)` a "
            f"one-shot one (at least {runtime.MIN_INTERVAL} seconds; at most {runtime.MAX_TIMERS} "
            "timers). Each firing arrives as a `timer` event with the timer's name. Starting a "
            "timer under a name in use restarts it; `qtui.cancel(name)` stops it."
        ),
        Para(
            "`qtui.command(name, help)` adds `:PLUGIN.NAME` to the console's command line "
            f"(at most {runtime.MAX_COMMANDS} commands; names of lowercase letters, digits and "
            "hyphens). Each use arrives as a `command` event whose `args` is the rest of the line."
        ),
        Heading("Settings and storage"),
        Para(
            "Settings are declared in the manifest (see qtui-plugin(5)). The operator changes them "
            "in the console; values are checked against the declaration and kept in "
            f"`{_CONFIG}/{SETTINGS_FILE}`. `qtui.setting(name)` returns one value, "
            "`qtui.settings()` all of them, and a `settings` event arrives when they change."
        ),
        Para(
            "`qtui.storage` keeps plain data between sessions, in "
            f"`{_DATA}/plugin-data/NAME.json`: at most {_kib(MAX_STORAGE_BYTES)} as compact JSON. "
            "Setting a key to nil deletes it."
        ),
        Heading("Messages between plugins"),
        Para(
            "`qtui.publish(topic, data)` sends plain data on a dotted topic, and "
            "`qtui.listen(prefix)` delivers messages on topics starting with the prefix as "
            "`message` events carrying the sender's name. Each plugin owns the topics under "
            f"`{own_topic_prefix('NAME')}` and uses them freely; publishing elsewhere needs "
            "`bus.publish`, listening elsewhere `bus.subscribe`. A plugin does not receive its own "
            "messages. Subscribing to `lifecycle` tells when other plugins start, stop, fail or "
            "are quarantined."
        ),
        Heading("Admin requests"),
        Para(
            "The functions of `qtui.jobs` ask the queue backend for jobs or for changes. They do "
            "not wait: each returns a request id at once, and the outcome arrives later as an "
            "`action` event with that `id`, `ok`, and the `result` or the `error`. The backend "
            "works outside the plugin, so a slow backend never trips the plugin's limits."
        ),
        Para(
            "`qtui.jobs.requeue` and `qtui.jobs.purge` are destructive: the operator confirms each "
            "use, seeing what it will touch, unless they chose not to be asked again for this "
            "plugin version. A declined request, a read-only backend or a backend error arrives as "
            "`ok = false` with the reason in `error`."
        ),
        Heading("Permissions"),
        Para(
            "A plugin may use a capability only if its manifest requests it, the site policy does "
            "not forbid it and the operator granted it, for exactly this version and code: changed "
            "code asks again. Until the operator decided on every capability requested, the plugin "
            "does not run. A call that needs a capability the plugin was denied fails with an error "
            "saying so, which `pcall` can catch, and each use and refusal goes to the audit log. "
            "See the capability reference and qtui-permissions(5)."
        ),
        Heading("Editor support"),
        Para(
            "qtui ships type definitions of the whole API for lua-language-server: "
            "`qtui/authoring/lua/qtui.d.lua` in the installed package, whose path "
            "`python3 -m qtui.authoring.typedefs` prints. Name it in the workspace library of a "
            "`.luarc.json` in the plugin folder (a hidden file, so not part of the plugin):"
        ),
        Code.of(LUARC),
        Para(
            "Completion and hover then know every function, table and event, and a test such as "
            "`if event.type == \"stats\" then` narrows `event` to the stats event "
            "(lua-language-server 3.11 or later)."
        ),
    ]


def testing() -> list[Block]:
    """How plugin authors test their plugins: specs in spec/, run against the real host."""
    return [
        Para(
            "A plugin's tests live in its `spec` folder as busted-style Lua files named "
            "`*_spec.lua`; `qtui plugin test DIR` runs them headless against the real host, each "
            "test in a fresh console on a scripted SQLite queue, and exits 1 when one fails, "
            "naming the test, the spec line and what was expected and got. The `spec` folder is "
            "not part of the plugin, so editing tests never asks the operator again. "
            "`qtui plugin new NAME` starts a plugin with a passing spec."
        ),
        Code.of("""
            describe("dead letter panel", function()
              local p
              before_each(function()
                p = qtest.load{
                  jobs = {{queue = "email", state = "dead",
                           payload = {n = 1}, error = "smtp down"}},
                  confirm = true,  -- yes to destructive requests
                }
              end)
              it("shows the dead jobs", function()
                p:send("stats")     -- stats from the scripted queue
                assert.same({"email dead=1"}, p:text())
              end)
            end)
        """),
        Para(
            "Specs get `describe`, `it`, `before_each`, `after_each` and `assert` (`equals`, "
            "`same`, `truthy`, `is_true`, `is_nil`, `matches`, `has_error`, `error_matches`, "
            "and their negations with `is_not`). `qtest.load{...}` starts the plugin under test "
            "(or an inline one from `source`) with the operator's decisions `grant`, `deny`, "
            "`undecided` and `no_confirm`, the site policy `forbid`, stored `settings`, fixture "
            "`jobs` and the answer `confirm` to confirmations."
        ),
        Para(
            "The plugin object drives it: `send(event)` (\"stats\", or a table such as "
            "`{type = \"key\", key = \"enter\"}`), `tick(name)`, `command(name, args)`, "
            "`settings{...}`, `reload{source = ...}`, `stop()`; and reads what it did: "
            "`panel()`, `text()`, `state()`, `error()`, `notices()`, `audit()`, `log()`, "
            "`confirmations()`, `commands()`, `timers()`, `jobs(queue, state)`. "
            "`qtest.advance(seconds)` moves the console's clock so timers fire. Every call "
            "returns once the console is idle, so specs never sleep. qtui's own contract of "
            "this API is written the same way: `qtui plugin test --contract`."
        ),
    ]


def compatibility() -> list[Block]:
    """How API versions work, as the manifest and the host implement them."""
    majors = _list(str(m) for m in sorted(api.SUPPORTED_API_MAJORS))
    since = sorted({f.since for f in (*api.FUNCTIONS, *api.CALLBACKS)})
    return [
        Para(
            "The manifest's `api` field names the major version of the host API a plugin is "
            f"written for. This qtui supports API {majors} and implements version "
            f"{api.HOST_API_VERSION}, which `ctx.api` tells the plugin; it refuses a plugin "
            "written for another major version, saying which it supports."
        ),
        Para(
            "Within a major version the API only grows. A minor version may add functions, events, "
            "event fields, table fields and capabilities; it never changes the arguments, results "
            "or capability of an existing function, so a plugin written for 1.0 runs unchanged on "
            "every 1.x host. The reference gives, for each function, the version that added it "
            "(*Since*); a plugin that can do without a newer function tests for it, as in "
            "`if qtui.jobs.find then ... end`. Ignore event fields you do not know."
        ),
        Para(
            "Should a call ever have to change, it keeps its old form within the major version "
            "as a compatibility shim that writes a deprecation warning to the plugin's log (once "
            "per plugin run) and calls the new form; the old form goes away only in the next "
            "major version, which a plugin opts into by changing `api`. "
            + (
                "Deprecated calls in this version: "
                + _list(f"`qtui.{a.old}` (since {a.since}, use `qtui.{a.new}`)" for a in api.ALIASES) + "."
                if api.ALIASES
                else f"API {api.HOST_API_VERSION} has no deprecated calls: every function is from {_list(since)}."
            )
        ),
    ]


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
    """Every `qtui.*` function of the API."""
    out: list[Block] = [Para(
        "Functions are called as `qtui.NAME(...)`; those under `qtui.jobs` and `qtui.storage` "
        "are grouped in sub-tables. A bad argument, or a capability the plugin may not use, "
        "raises an error with the reason, which `pcall` can catch. Arguments in brackets may be "
        "left out."
    )]
    for sub, doc in typedefs.SUBTABLES.items():
        out.append(Para(f"`qtui.{sub}`: {doc}"))
    out += [_function_item(spec, spec.lua_name) for spec in api.FUNCTIONS]
    return out


def callbacks() -> list[Block]:
    """The global functions a plugin may define."""
    return [
        Para("A plugin defines these as global functions; each is optional."),
        *(_function_item(spec, spec.name, callback=True) for spec in api.CALLBACKS),
    ]


def events() -> list[Block]:
    """Every event type, its fields and how it is delivered."""
    coalesced = {kind for cls, kind in EVENT_TYPES.items() if getattr(cls, "coalesce_key", None)}
    out: list[Block] = [Para(
        "Every event is a table whose `type` says which it is. Subscribe with "
        "`qtui.subscribe(TYPE, ...)`; some events come without subscribing, as the outcome of "
        "the plugin's own calls. A field marked optional may be nil. Later minor versions may "
        "add fields, so ignore those you do not know."
    )]
    for spec in api.EVENTS:
        how = (f"Subscribe with `qtui.subscribe(\"{spec.type}\")`." if spec.subscribable
               else "Arrives without subscribing.")
        needs = f" Needs `{spec.capability}`." if spec.capability else ""
        paras = [spec.doc, *(_field_para(f) for f in spec.fields), how + needs]
        if spec.type in coalesced:
            paras.append("When the plugin falls behind, only the newest one waiting is kept.")
        out.append(Item(f"`{spec.type}`", tuple(paras)))
    return out


def types() -> list[Block]:
    """The tables the API passes and the named sets of strings."""
    out: list[Block] = [Para(
        "The tables the API takes and gives, by the names the reference and `qtui.d.lua` use. "
        "A field marked optional may be nil. The result of an `action` event is a "
        "`qtui.PeekResult` (peek), a `qtui.Job` or nil (find), a `qtui.Job` (enqueue) or a "
        "`qtui.CountResult` (requeue and purge)."
    )]
    for shape in typedefs.TABLES:
        out.append(Item(f"`{shape.name}`", (shape.doc, *(_field_para(f) for f in shape.fields))))
    for name, (doc, values) in typedefs.ALIASES.items():
        out.append(Item(f"`{name}`", (doc, f"One of {_codes(values, 'or')}.")))
    return out


def styles() -> list[Block]:
    """The span styles of qtui.render."""
    return [Para(
        f"A span's style is one of {_codes(api.STYLES, 'or')}. The console maps each to its "
        "palette (to bold, underline and reverse video under `NO_COLOR`); plugins never choose "
        "colours."
    )]


def capabilities() -> list[Block]:
    """Every capability: what it allows, its risk and what needs it."""
    out: list[Block] = [Para(
        "A plugin lists the capabilities it needs in its manifest's `permissions`; the operator "
        "grants or denies each (see qtui-permissions(5)). The risk says how much harm a hostile "
        "plugin could do with it."
    )]
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
        paras.append(f"Used by {_list(uses)}.")
        out.append(Item(f"`{capability}` ({kind})", tuple(paras)))
    return out


# -- qtui-plugin(5) -----------------------------------------------------------------------


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


_LIMITS, _MAX_LIMITS = manifest.Limits(), manifest.MAX_LIMITS
_LIMIT_DOCS = {
    "memory_mib": "Lua memory of the whole plugin, in MiB.",
    "instructions_per_call": "Lua instructions one call may run.",
    "wall_ms_per_call": "Wall-clock milliseconds one call may take.",
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
)

#: A manifest with every field (the tests check it is valid).
FULL_MANIFEST = """\
name = "tenant-sla"
version = "1.2.0"
description = "Time to completion per tenant against the SLA"
author = "Ops team <ops@example.com>"
api = "1"
entry = "init.lua"
permissions = ["stats.read", "timers", "notify"]

[limits]
memory_mib = 16
instructions_per_call = 1000000
wall_ms_per_call = 50

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
"""


def bundle() -> list[Block]:
    """What a plugin folder holds."""
    return [
        Para(
            f"A plugin is a folder holding `{manifest.MANIFEST_FILE}` and Lua source files; the "
            f"entry file (`{manifest.DEFAULT_ENTRY}` unless the manifest says otherwise) may "
            "`require` other modules of the folder. Files and folders whose names start with a "
            "dot, and editor leftovers (names ending in `~`, `.swp`, `.tmp`, `.bak`, `.orig` or "
            "`.rej`, and `#...#`), are not part of the plugin, and neither is its `spec` folder "
            "(the plugin's tests, run by `qtui plugin test`). Symbolic links and special files "
            "are refused, and all files together may hold at most "
            f"{_kib(plugin_bundle.MAX_BUNDLE_BYTES)}."
        ),
        Para(
            "qtui reads the files once and hashes exactly the bytes it runs: the bundle hash, "
            "`sha256:` and 64 hex digits over every file's path and content. The operator's "
            "decisions name that hash, so changed code has to be allowed again."
        ),
        Para(
            f"Plugins are found in `{_CONFIG}/plugins`, then in `qtui/plugins` under the first of "
            "`$XDG_CONFIG_DIRS` (by default `/etc/xdg`), then among those shipped with qtui; a "
            "plugin hides those of the same name found later."
        ),
    ]


def manifest_fields() -> list[Block]:
    """Every manifest field with its rules."""
    return [
        Para(
            f"`{manifest.MANIFEST_FILE}` is TOML, at most {_kib(manifest.MAX_MANIFEST_BYTES)}. "
            "Text fields may not hold control characters, and an unknown field is an error. qtui "
            "reports every problem at once, each as *file*:*line*: *field*: *message*, and does not "
            "load a plugin whose manifest has any."
        ),
        *(field.item() for field in MANIFEST_FIELDS),
    ]


def manifest_example() -> list[Block]:
    """A manifest using every field."""
    return [Code.of(FULL_MANIFEST)]


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


def catalog() -> list[Block]:
    """The catalog: catalogs.toml and the index file format."""
    return [
        Para(
            "The catalog lists the plugins one can install with `qtui plugin install NAME`. It is "
            f"read from the index files named in `{_CONFIG}/catalogs.toml`, then those named in "
            "`qtui/catalogs.toml` under the first of `$XDG_CONFIG_DIRS`, then from the plugins "
            "shipped with qtui. `catalogs.toml` has one field:"
        ),
        *(field.item() for field in CATALOGS_FIELDS),
        Code.of(CATALOGS_EXAMPLE),
        Para(
            "An index file is TOML: an array of tables `[[plugin]]`, one per plugin version, each "
            "with every one of these fields:"
        ),
        *(field.item() for field in CATALOG_FIELDS),
        Para("For example:"),
        Code.of(CATALOG_EXAMPLE),
        Para(
            "`qtui plugin pack DIR` writes a plugin folder as a reproducible "
            "`NAME-VERSION.tar.gz` and prints its entry for an index file. Installing by name "
            "takes the newest version listed, downloads the archive, refuses it unless its "
            "SHA-256 and the name, version and permissions of the manifest inside match the "
            "entry, and grants nothing: the plugin asks for its permissions when it first "
            "starts. The checksum binds the archive to the index, so an index deserves as much "
            "trust as the place it is read from."
        ),
    ]


# -- qtui-permissions(5) ------------------------------------------------------------------

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
)

#: Every field of the site policy.
POLICY_FIELDS: tuple[FileField, ...] = (
    FileField("forbid", "array of strings", "Capabilities forbidden to every plugin; "
              f"`\"{policy.FORBID_ALL}\"` forbids them all."),
    FileField("plugins.NAME.forbid", "array of strings", "Capabilities forbidden to plugin "
              f"*NAME* only; `\"{policy.FORBID_ALL}\"` forbids them all."),
)

_OUTCOME_DOCS = {
    audit.Outcome.ALLOWED: "the use went ahead",
    audit.Outcome.DENIED: "refused: the operator denied the capability",
    audit.Outcome.FORBIDDEN: "refused: the site policy forbids it",
    audit.Outcome.UNDECIDED: "refused: no decision yet for this version and code",
    audit.Outcome.NOT_REQUESTED: "refused: the manifest does not request it",
    audit.Outcome.CONFIRMED: "the operator confirmed a destructive use",
    audit.Outcome.DECLINED: "the operator declined a destructive use (or nobody could be asked)",
    audit.Outcome.GRANTED: "the operator granted the capability",
    audit.Outcome.REVOKED: "the operator denied the capability",
}

#: Every field of an audit log line.
AUDIT_FIELDS: tuple[FileField, ...] = (
    FileField("time", "string", "UTC time in ISO 8601 with milliseconds, e.g. "
              "`2024-05-01T12:00:00.123Z`."),
    FileField("plugin", "string", "The plugin's name."),
    FileField("version", "string", "Its version."),
    FileField("capability", "string", "The capability used or decided on."),
    FileField("outcome", "string", "What happened, one of the outcomes below."),
    FileField("detail", "string", f"What was done, up to {audit.MAX_DETAIL} characters."),
)

PERMISSIONS_EXAMPLE = """\
[[plugins.tenant-sla]]
version = "1.2.0"
hash = "sha256:9f2c5d0e..."
decided_at = 2024-05-01T12:00:00Z
requested = ["jobs.purge", "stats.read"]
granted = ["jobs.purge", "stats.read"]
denied = []
no_confirm = ["jobs.purge"]
"""

POLICY_EXAMPLE = """\
forbid = ["jobs.purge"]

[plugins.tenant-sla]
forbid = ["jobs.enqueue"]
"""

AUDIT_EXAMPLE = """\
{"time": "2024-05-01T12:00:00.123Z", "plugin": "tenant-sla",
 "version": "1.2.0", "capability": "jobs.purge",
 "outcome": "confirmed", "detail": "delete every dead job on email"}
"""


def verdicts() -> list[Block]:
    """How a plugin's use of a capability is decided."""
    return [
        Para(
            "A plugin may use a capability when its manifest requests it, the site policy does "
            "not forbid it, and the operator granted it for the plugin's current version and code "
            "(its bundle hash, see qtui-plugin(5)). The policy wins over the operator. A new "
            "version or changed code has no decision yet, so qtui asks again, showing what "
            "changed since the last decision; until every requested capability is decided the "
            "plugin does not run. Denials are kept like grants."
        ),
        Para(
            "Decisions are made in the console or with `qtui plugin grant` and `qtui plugin "
            "revoke`; `qtui plugin info NAME` shows each verdict and why."
        ),
    ]


def permissions_file() -> list[Block]:
    """The format of permissions.toml."""
    return [
        Para(
            f"`{_CONFIG}/{permissions.PERMISSIONS_FILE}` holds the operator's decisions: for each "
            "plugin, an array of records `[[plugins.NAME]]`, one per version and bundle hash, the "
            f"newest {permissions.KEEP_RECORDS} kept. qtui writes it under a lock with an atomic "
            "replace, so two consoles never lose a decision. A file that is corrupt or wrongly "
            "edited is never read as a grant: qtui reports the file, line and field, uses no "
            "decision from it and does not write over it. A record has these fields:"
        ),
        *(field.item() for field in RECORD_FIELDS),
        Para("For example:"),
        Code.of(PERMISSIONS_EXAMPLE),
    ]


def site_policy() -> list[Block]:
    """The format of policy.toml."""
    return [
        Para(
            f"The site administrator's policy, `qtui/{policy.POLICY_FILE}` under the first of "
            f"`$XDG_CONFIG_DIRS` (by default `/etc/xdg/qtui/{policy.POLICY_FILE}`), forbids "
            "capabilities whatever the operator decides. A missing file forbids nothing; while the "
            "file is invalid, every capability counts as forbidden. Its fields:"
        ),
        *(field.item() for field in POLICY_FIELDS),
        Para("For example:"),
        Code.of(POLICY_EXAMPLE),
    ]


def audit_log() -> list[Block]:
    """The format of the audit log."""
    return [
        Para(
            f"`{_STATE}/{audit.AUDIT_FILE}` records every use a plugin made of a capability, every "
            "refusal, confirmation and decision: one JSON object per line, appended whole, so "
            "consoles open at once never mix their lines. When it reaches "
            f"{_kib(audit.MAX_BYTES)} it is renamed `{audit.AUDIT_FILE}.1`, older files shift up "
            f"to `.{audit.KEEP_ROTATED}` and the oldest is dropped. Text a plugin supplied has its "
            "control characters replaced. The fields:"
        ),
        *(field.item() for field in AUDIT_FIELDS),
        Para("The outcomes:"),
        *(Item(f"`{outcome}`", (_OUTCOME_DOCS[outcome][:1].upper() + _OUTCOME_DOCS[outcome][1:] + ".",))
          for outcome in audit.Outcome),
        Para("For example (one line in the file):"),
        Code.of(AUDIT_EXAMPLE),
        Para("`qtui plugin info NAME` shows a plugin's latest entries."),
    ]


# -- sections, man pages and help topics ----------------------------------------------------


@attrs.frozen
class Section:
    """A titled part of the documentation: a generated man page block and part of a help topic."""

    title: str
    build: Callable[[], list[Block]]


#: Every generated section, by the name of its block in the man pages.
SECTIONS: dict[str, Section] = {
    "GUIDE": Section("Writing plugins", guide),
    "COMPATIBILITY": Section("Compatibility", compatibility),
    "TESTING": Section("Testing plugins", testing),
    "EXAMPLES": Section("Examples", examples),
    "FUNCTIONS": Section("Functions", functions),
    "CALLBACKS": Section("Callbacks", callbacks),
    "EVENTS": Section("Events", events),
    "TYPES": Section("Types", types),
    "STYLES": Section("Styles", styles),
    "CAPABILITIES": Section("Capabilities", capabilities),
    "BUNDLE": Section("Plugin folders", bundle),
    "MANIFEST": Section("Manifest fields", manifest_fields),
    "MANIFEST-EXAMPLE": Section("A complete manifest", manifest_example),
    "CATALOG": Section("Catalog", catalog),
    "VERDICTS": Section("Who may do what", verdicts),
    "PERMISSIONS-FILE": Section("The permissions file", permissions_file),
    "SITE-POLICY": Section("The site policy", site_policy),
    "AUDIT-LOG": Section("The audit log", audit_log),
}

#: The man pages with generated blocks, and which sections they hold.
MAN_PAGES: dict[str, tuple[str, ...]] = {
    "qtui-lua.7": ("GUIDE", "FUNCTIONS", "CALLBACKS", "EVENTS", "TYPES", "STYLES",
                   "CAPABILITIES", "TESTING", "COMPATIBILITY", "EXAMPLES"),
    "qtui-plugin.5": ("BUNDLE", "MANIFEST", "MANIFEST-EXAMPLE", "CATALOG"),
    "qtui-permissions.5": ("VERDICTS", "PERMISSIONS-FILE", "SITE-POLICY", "AUDIT-LOG", "CAPABILITIES"),
}


@attrs.frozen
class Topic:
    """A help topic of the console: a title and the sections it shows."""

    title: str
    sections: tuple[str, ...]


#: The console's plugin help topics (`:help NAME`), the same material as the man pages.
TOPICS: dict[str, Topic] = {
    "plugins": Topic("Writing Lua plugins (qtui-lua(7))", ("GUIDE", "TESTING", "COMPATIBILITY", "EXAMPLES")),
    "api": Topic("The plugin API (qtui-lua(7))", ("FUNCTIONS", "CALLBACKS", "TYPES", "STYLES")),
    "events": Topic("Plugin events (qtui-lua(7))", ("EVENTS",)),
    "capabilities": Topic("Plugin capabilities (qtui-lua(7))", ("CAPABILITIES",)),
    "manifest": Topic("Plugin folders and manifest.toml (qtui-plugin(5))",
                      ("BUNDLE", "MANIFEST", "MANIFEST-EXAMPLE")),
    "catalog": Topic("The plugin catalog (qtui-plugin(5))", ("CATALOG",)),
    "permissions": Topic("Plugin permissions, site policy and audit log (qtui-permissions(5))",
                         ("VERDICTS", "PERMISSIONS-FILE", "SITE-POLICY", "AUDIT-LOG")),
}


def roff_section(name: str) -> str:
    """The roff body of the generated block `name`."""
    return to_roff(SECTIONS[name].build())


def help_text(topic: str, width: int = 78) -> str:
    """The plain text of help topic `topic` (KeyError if there is none)."""
    blocks: list[Block] = []
    for name in TOPICS[topic].sections:
        section = SECTIONS[name]
        blocks += [Heading(section.title, 1), *section.build()]
    return to_text(blocks, width)
