"""The one registry of console commands and key bindings.

Every action is a typed command (`Command`); keys are bound to command lines
(`Binding`). The same registry drives key dispatch, the `:` command line and its
completion, the `?` help screen and the key table in the man page. A `Keymap` is
the registry's bindings with the operator's overrides from config.toml applied.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

import attrs

from qtui.authoring.topics import TOPICS as PLUGIN_TOPICS
from qtui.keynames import key_label
from qtui.model import InvalidInput, JobState


class ParamType(enum.Enum):
    """What a command argument is; drives parsing and completion."""

    TEXT = "text"  # free text; a final TEXT parameter takes the rest of the line
    QUEUE = "queue"
    STATE = "state"
    SCREEN = "screen"
    JOB_ID = "job-id"
    JSON = "json"  # takes the rest of the line
    TOPIC = "topic"
    CHOICE = "choice"
    PLUGIN = "plugin"
    COLUMN = "column"  # a column of the list on screen


@attrs.frozen
class Param:
    name: str
    type: ParamType
    help: str
    optional: bool = False
    choices: tuple[str, ...] = ()


@attrs.frozen
class Command:
    """A console action, callable by key or from the `:` command line."""

    name: str
    help: str
    params: tuple[Param, ...] = ()
    writes: bool = False  # refused in read-only mode
    destructive: bool = False  # asks for confirmation
    category: str = "general"
    aliases: tuple[str, ...] = ()  # other names on the command line (":q")

    @property
    def usage(self) -> str:
        parts = [self.name]
        for p in self.params:
            label = p.name.upper()
            parts.append(f"[{label}]" if p.optional else label)
        return " ".join(parts)


@attrs.frozen
class Binding:
    """A key bound to a command line in some contexts ("global" or a screen name)."""

    key: str
    command: str  # a command line, e.g. "view dead"
    contexts: tuple[str, ...] = ("global",)
    help: str | None = None  # overrides the command's help in the key table


SCREENS = ("queues", "jobs", "dead", "workers", "plugins")
LISTS = SCREENS  # every main screen is a table
TEXT_VIEWS = ("detail", "help")
#: Where keys are looked up: "global" (every screen), a screen, a text view, "plugin" (a
#: plugin panel opened full screen) and "panel" (a docked panel with the focus).
CONTEXTS = ("global", *SCREENS, *TEXT_VIEWS, "plugin", "panel")
#: Contexts where only their own bindings apply: every other key goes to the plugin.
EXCLUSIVE = ("plugin", "panel")
PLUGIN_ACTIONS = ("enable", "disable", "reload", "allow", "settings", "open", "log", "install", "uninstall")
HELP_TOPICS = ("keys", "commands", "screens", *PLUGIN_TOPICS)

_P = Param
_T = ParamType

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command("quit", "Quit qtui now", aliases=("q",)),
        Command("back", "Go back: clear the search or filter, else close the view (never quits)"),
        Command("help", f"Show help ({', '.join(HELP_TOPICS)})",
                (_P("topic", _T.TOPIC, ", ".join(HELP_TOPICS), optional=True),)),
        Command("view", "Switch to a screen", (_P("screen", _T.SCREEN, "queues, jobs, dead, workers or plugins"),),
                category="navigation"),
        Command("focus", "Move the focus between the main view and plugin panels",
                (_P("where", _T.CHOICE, "next, prev or main", choices=("next", "prev", "main")),),
                category="plugins"),
        Command("dock", "Grow, shrink or move the plugin dock",
                (_P("how", _T.CHOICE, "grow, shrink, bottom or right",
                    choices=("grow", "shrink", "bottom", "right")),), category="plugins"),
        Command("plugin", "Act on a plugin (the selected or focused one without NAME): enable, disable, "
                "reload, allow (review its permissions), settings, open (full screen), log, install (from "
                "the catalog), uninstall",
                (_P("action", _T.CHOICE, ", ".join(PLUGIN_ACTIONS), choices=PLUGIN_ACTIONS),
                 _P("name", _T.PLUGIN, "plugin name", optional=True)), category="plugins"),
        Command("prompt", "Open the command line with TEXT and a space already typed",
                (_P("text", _T.TEXT, "text to start with", optional=True),)),
        Command("refresh", "Poll the backend now"),
        Command("move", "Move the cursor", (_P("where", _T.CHOICE, "where to", choices=(
            "up", "down", "top", "bottom", "page-up", "page-down")),), category="navigation"),
        Command("open", "Open what is under the cursor (a queue's jobs, a job's detail)",
                category="navigation"),
        Command("queue", "Show jobs of QUEUE (or all queues) on the Jobs and Dead screens",
                (_P("queue", _T.QUEUE, "queue name, or 'all'"),), category="jobs"),
        Command("state", "Show jobs in STATE on the Jobs screen",
                (_P("state", _T.STATE, "ready, scheduled, processing, completed or dead"),),
                category="jobs"),
        Command("next-state", "Show the next job state on the Jobs screen", category="jobs"),
        Command("filter", "Keep the rows containing TEXT (jobs: in the payload or error; plugins: in the name, "
                "description or permissions, catalog entries too); no TEXT clears it",
                (_P("text", _T.TEXT, "text to look for", optional=True),), category="lists"),
        Command("search", "Find TEXT in this view and highlight it; no TEXT clears it",
                (_P("text", _T.TEXT, "text to look for", optional=True),), category="lists"),
        Command("match", "Move to the next or previous row or line matching the filter or search",
                (_P("direction", _T.CHOICE, "next or prev", choices=("next", "prev")),), category="lists"),
        Command("sort", "Sort the list by COLUMN, again to reverse; without COLUMN the next key picks it "
                "(the letter highlighted in the header)",
                (_P("column", _T.COLUMN, "a column of the list", optional=True),), category="lists"),
        Command("copy", "Copy the selected job's id or payload (to the clipboard with clipboard = \"osc52\" "
                "in config.toml, else to a file)",
                (_P("what", _T.CHOICE, "id or payload", choices=("id", "payload")),), category="jobs"),
        Command("page", "Load the next or previous page of jobs",
                (_P("direction", _T.CHOICE, "next or prev", choices=("next", "prev")),),
                category="jobs"),
        Command("find", "Open the job with this id", (_P("id", _T.JOB_ID, "job id"),), category="jobs"),
        Command("mark", "Mark or unmark the job under the cursor", category="dead letter"),
        Command("mark-all", "Mark every job on this page", category="dead letter"),
        Command("unmark-all", "Clear all marks", category="dead letter"),
        Command("enqueue", "Add a job to QUEUE with a JSON payload",
                (_P("queue", _T.QUEUE, "queue name"), _P("payload", _T.JSON, "JSON document")),
                writes=True, category="jobs"),
        Command("requeue", "Requeue the marked dead jobs (or the one under the cursor)",
                (_P("to", _T.QUEUE, "destination queue (default: each job's own)", optional=True),),
                writes=True, destructive=True, category="dead letter"),
        Command("requeue-all", "Requeue every dead job matching the current queue and filter",
                (_P("to", _T.QUEUE, "destination queue (default: each job's own)", optional=True),),
                writes=True, destructive=True, category="dead letter"),
        Command("delete", "Delete the marked jobs (or the one under the cursor)",
                writes=True, destructive=True, category="dead letter"),
        Command("purge", "Delete every job in STATE on QUEUE ('all' for every queue)",
                (_P("queue", _T.QUEUE, "queue name, or 'all'"),
                 _P("state", _T.STATE, "ready, scheduled, completed or dead")),
                writes=True, destructive=True, category="jobs"),
        Command("purge-selected", "Purge jobs in STATE of the queue under the cursor (or shown)",
                (_P("state", _T.STATE, "ready, scheduled, completed or dead"),),
                writes=True, destructive=True, category="jobs"),
        Command("cancel", "Stop the running requeue or purge after its current chunk (what it did stays done)",
                category="operations"),
        Command("ops", "Offer the unfinished requeues and purges again: resume or abandon each",
                writes=True, category="operations"),
    ]
}

_JOBS = ("jobs", "dead", "detail")  # where a job is selected

BINDINGS: tuple[Binding, ...] = (
    Binding("?", "help"),
    Binding(":", "prompt"),
    Binding("q", "quit"),
    Binding("Q", "quit"),
    Binding("esc", "back"),
    Binding("1", "view queues"),
    Binding("2", "view jobs"),
    Binding("3", "view dead"),
    Binding("4", "view workers"),
    Binding("5", "view plugins"),
    Binding("tab", "focus next"),
    Binding("shift tab", "focus prev"),
    Binding("+", "dock grow"),
    Binding("-", "dock shrink"),
    Binding("r", "refresh"),
    Binding("C", "cancel"),
    Binding("f", "prompt find"),
    Binding("n", "match next"),
    Binding("N", "match prev"),
    Binding("j", "move down"),
    Binding("down", "move down"),
    Binding("k", "move up"),
    Binding("up", "move up"),
    Binding("g", "move top"),
    Binding("home", "move top"),
    Binding("G", "move bottom"),
    Binding("end", "move bottom"),
    Binding("page down", "move page-down"),
    Binding("page up", "move page-up"),
    Binding("enter", "open"),
    Binding("/", "prompt filter", LISTS),
    Binding("o", "sort", LISTS),
    Binding("/", "prompt search", TEXT_VIEWS),
    Binding("y", "copy id", _JOBS),
    Binding("Y", "copy payload", _JOBS),
    Binding("e", "prompt enqueue", ("queues", "jobs"), help="Enqueue a job (prompts for queue and JSON)"),
    Binding("p", "open", ("queues",), help="Peek at the selected queue's jobs"),
    Binding("d", "view dead", ("queues",), help="Dead letter jobs of the selected queue"),
    Binding("P", "purge-selected ready", ("queues",), help="Purge the selected queue's ready jobs"),
    Binding("s", "next-state", ("jobs",)),
    Binding("]", "page next", ("jobs", "dead")),
    Binding("[", "page prev", ("jobs", "dead")),
    Binding(" ", "mark", ("dead",)),
    Binding("m", "mark", ("dead",)),
    Binding("a", "mark-all", ("dead",)),
    Binding("u", "unmark-all", ("dead",)),
    Binding("R", "requeue", ("dead", "detail")),
    Binding("A", "requeue-all", ("dead",)),
    Binding("x", "delete", ("dead", "detail")),
    Binding("P", "purge-selected dead", ("dead",), help="Purge the dead letter jobs shown (queue filter)"),
    Binding("e", "plugin enable", ("plugins",), help="Enable the selected plugin (it asks for its permissions)"),
    Binding("x", "plugin disable", ("plugins",), help="Disable the selected plugin"),
    Binding("R", "plugin reload", ("plugins",), help="Reload the selected plugin from its folder"),
    Binding("P", "plugin allow", ("plugins",), help="Review the selected plugin's permissions"),
    Binding("s", "plugin settings", ("plugins",), help="Edit the selected plugin's settings"),
    Binding("l", "plugin log", ("plugins",), help="Show the selected plugin's log"),
    Binding("i", "plugin install", ("plugins",), help="Install the selected plugin from the catalog"),
    Binding("u", "plugin uninstall", ("plugins",), help="Uninstall the selected plugin (your own only)"),
    Binding("esc", "back", ("plugin",), help="Leave the full-screen plugin (every other key goes to the plugin)"),
    Binding(":", "prompt", ("plugin",)),
    Binding("Q", "quit", ("plugin",)),
    Binding("page down", "move page-down", ("plugin",), help="Scroll the plugin's panel down"),
    Binding("page up", "move page-up", ("plugin",), help="Scroll the plugin's panel up"),
    Binding("tab", "focus next", ("panel",)),
    Binding("shift tab", "focus prev", ("panel",)),
    Binding("esc", "focus main", ("panel",), help="Leave the panel (every other key goes to the plugin)"),
    Binding(":", "prompt", ("panel",)),
    Binding("Q", "quit", ("panel",)),
)

#: Every command by each of its names (aliases included).
_BY_NAME: dict[str, Command] = {alias: c for c in COMMANDS.values() for alias in (c.name, *c.aliases)}
_PLUGIN_COMMAND = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z][a-z0-9-]{0,39}", re.ASCII)


@attrs.frozen
class Invocation:
    """A parsed command line: the command and its typed arguments."""

    command: Command
    args: tuple[str | JobState | None, ...]


def parse_command_line(line: str) -> Invocation:
    """Parse `line` into an Invocation; raise InvalidInput with a usage hint."""
    stripped = line.strip()
    if not stripped:
        raise InvalidInput("empty command")
    name, _, rest = stripped.partition(" ")
    command = _BY_NAME.get(name)
    if command is None:
        close = [c for c in COMMANDS if c.startswith(name[:2])]
        hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
        raise InvalidInput(f"unknown command {name!r}{hint}; try :help commands")
    return Invocation(command, _parse_args(command, rest.strip()))


def is_plugin_command(line: str) -> bool:
    """Whether `line` names a plugin's command (``PLUGIN.COMMAND`` and its arguments)."""
    return bool(_PLUGIN_COMMAND.fullmatch(line.strip().partition(" ")[0]))


def prompted_command(line: str) -> Command | None:
    """The command a `prompt TEXT` line starts typing (``prompt enqueue`` -> enqueue), if any."""
    name, _, rest = line.strip().partition(" ")
    if _BY_NAME.get(name) is not COMMANDS["prompt"] or not rest.split():
        return None
    return _BY_NAME.get(rest.split()[0])


def _parse_args(command: Command, rest: str) -> tuple[str | JobState | None, ...]:
    values: list[str | JobState | None] = []
    for index, param in enumerate(command.params):
        last = index == len(command.params) - 1
        if last and param.type in (ParamType.TEXT, ParamType.JSON):
            token: str | None = rest if rest else None
            rest = ""
        else:
            token, rest = _next_token(rest, command)
        if token is None:
            if not param.optional:
                raise InvalidInput(f"{command.name}: missing {param.name.upper()}; usage: {command.usage}")
            values.append(None)
            continue
        values.append(_convert(command, param, token))
    if rest:
        raise InvalidInput(f"{command.name}: unexpected {rest!r}; usage: {command.usage}")
    return tuple(values)


def _next_token(rest: str, command: Command) -> tuple[str | None, str]:
    if not rest:
        return None, ""
    try:
        lexer = shlex.shlex(rest, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        token = lexer.get_token()
        remainder = lexer.instream.read().strip()
    except ValueError as exc:
        raise InvalidInput(f"{command.name}: {exc}") from None
    return token, remainder


def _convert(command: Command, param: Param, token: str) -> str | JobState:
    if param.type is ParamType.STATE:
        return JobState.parse(token)
    if param.type is ParamType.SCREEN and token not in SCREENS:
        raise InvalidInput(f"{command.name}: unknown screen {token!r} (choose from {', '.join(SCREENS)})")
    if param.type is ParamType.TOPIC and token not in HELP_TOPICS:
        raise InvalidInput(f"{command.name}: unknown topic {token!r} (choose from {', '.join(HELP_TOPICS)})")
    if param.type is ParamType.CHOICE and token not in param.choices:
        raise InvalidInput(
            f"{command.name}: {param.name} must be one of {', '.join(param.choices)}, not {token!r}"
        )
    return token


def complete(line: str, queues: Sequence[str] = (), plugins: Sequence[str] = (),
             plugin_commands: Sequence[str] = (), columns: Sequence[str] = ()) -> list[str]:
    """Completions for the command line `line`: whole lines that extend it.

    `plugin_commands` are the commands plugins registered ("tenant-sla.refresh");
    `columns` the columns of the list on screen.
    """
    if " " not in line:
        names = [f"{name} " if COMMANDS[name].params else name for name in sorted(COMMANDS)]
        return [name for name in names + [f"{c} " for c in sorted(plugin_commands)] if name.startswith(line)]
    name, _, rest = line.partition(" ")
    command = _BY_NAME.get(name)
    if command is None or not command.params:
        return []
    words = rest.split(" ")
    index = len(words) - 1
    if index >= len(command.params):
        return []
    param = command.params[index]
    prefix = words[-1]
    head = line[: len(line) - len(prefix)]
    return [head + option for option in _options(param, queues, plugins, columns) if option.startswith(prefix)]


def _options(param: Param, queues: Sequence[str], plugins: Sequence[str], columns: Sequence[str]) -> Iterable[str]:
    match param.type:
        case ParamType.PLUGIN:
            return plugins
        case ParamType.QUEUE:
            return ["all", *queues] if param.name == "queue" else list(queues)
        case ParamType.STATE:
            return [s.value for s in JobState]
        case ParamType.SCREEN:
            return SCREENS
        case ParamType.TOPIC:
            return HELP_TOPICS
        case ParamType.CHOICE:
            return param.choices
        case ParamType.COLUMN:
            return columns
        case _:
            return ()


def binding_command(binding: Binding) -> Command | None:
    """The registry command a binding runs, or starts typing (`prompt enqueue` -> enqueue).

    None for a plugin's command, which the registry does not know.
    """
    if is_plugin_command(binding.command):
        return None
    invoked = _BY_NAME[binding.command.split()[0]]
    return prompted_command(binding.command) or invoked


def binding_help(binding: Binding) -> str:
    """The one-line help for a binding."""
    if binding.help:
        return binding.help
    if is_plugin_command(binding.command):
        return f"Run the plugin command {binding.command}"
    name, _, rest = binding.command.partition(" ")
    if name == "prompt" and rest.split():
        return COMMANDS[rest.split()[0]].help  # a key that opens ":find " documents find
    if name == "prompt":
        return "Open the command line"
    return f"{COMMANDS[name].help}: {rest}" if rest else COMMANDS[name].help


def normalise_action(action: str) -> str:
    """An action as the keymap compares it: a command line with single spaces."""
    return " ".join(action.split())


@attrs.frozen
class Keymap:
    """Key bindings in effect: the registry's, with the operator's overrides."""

    bindings: tuple[Binding, ...] = BINDINGS

    def for_context(self, context: str) -> list[Binding]:
        """Bindings active in `context`: its own first, then global ones it does not shadow."""
        own = [b for b in self.bindings if context in b.contexts]
        if context in EXCLUSIVE:
            return own  # every other key goes to the plugin
        keys = {b.key for b in own}
        return own + [b for b in self.bindings if "global" in b.contexts and b.key not in keys]

    def resolve(self, key: str, context: str) -> str | None:
        """The command line bound to `key` in `context`, if any."""
        for binding in self.for_context(context):
            if binding.key == key:
                return binding.command
        return None

    def keys_for(self, action: str, context: str = "global") -> list[str]:
        """The keys that run `action` (a command line) in `context`."""
        action = normalise_action(action)
        return [b.key for b in self.for_context(context) if normalise_action(b.command) == action]

    def with_overrides(self, overrides: Mapping[str, Sequence[str]]) -> tuple[Keymap, list[tuple[str, str]]]:
        """This keymap with each action's keys replaced by the given ones ([] unbinds it).

        An action is a command line ("view dead", "move down", "prompt filter") or a plugin
        command ("tenant-sla.refresh"). It keeps the places (contexts) it is bound in; an
        action bound nowhere before is bound on every screen. Returns the new keymap and the
        problems, as (action, message): an action that is not a valid command line, and a key
        given to two actions in one place.
        """
        problems: list[tuple[str, str]] = []
        bindings = list(self.bindings)
        changed: dict[str, str] = {}  # normalised action -> as written
        for written, keys in overrides.items():
            action = normalise_action(written)
            if not is_plugin_command(action):
                try:
                    parse_command_line(action)
                except InvalidInput as exc:
                    problems.append((written, str(exc)))
                    continue
            old = [i for i, b in enumerate(bindings) if normalise_action(b.command) == action]
            places = list(dict.fromkeys(bindings[i].contexts for i in old)) or [("global",)]
            helps = {bindings[i].contexts: bindings[i].help for i in old}
            new = [Binding(key, action, contexts, helps.get(contexts)) for contexts in places for key in keys]
            at = old[0] if old else len(bindings)  # where the action was listed: help keeps its order
            bindings = [b for i, b in enumerate(bindings[:at]) if i not in old] + new + [
                b for i, b in enumerate(bindings[at:], at) if i not in old]
            changed[action] = written
        keymap = Keymap(tuple(bindings))
        for context in CONTEXTS:
            if context == "global":
                continue
            seen: dict[str, Binding] = {}
            own = [b for b in keymap.bindings if context in b.contexts]
            glob = [] if context in EXCLUSIVE else [b for b in keymap.bindings if "global" in b.contexts]
            for binding in own + glob:
                other = seen.setdefault(binding.key, binding)
                if other is binding or normalise_action(other.command) == normalise_action(binding.command):
                    continue
                for mine, theirs in ((binding, other), (other, binding)):
                    action = normalise_action(mine.command)
                    if action in changed:
                        where = "on every screen" if "global" in theirs.contexts else f"on the {context} screen"
                        message = f"{key_label(mine.key)} is also bound to {theirs.command!r} {where}"
                        if (changed[action], message) not in problems:
                            problems.append((changed[action], message))
                        break
        return keymap, problems


DEFAULT_KEYMAP = Keymap()


def bindings_for(context: str) -> list[Binding]:
    """Bindings of the registry active in `context`: the screen's own first, then global ones."""
    return DEFAULT_KEYMAP.for_context(context)


def resolve_key(key: str, context: str) -> str | None:
    """The registry's command line bound to `key` in `context`, if any."""
    return DEFAULT_KEYMAP.resolve(key, context)

