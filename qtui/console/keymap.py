"""The one registry of console commands and key bindings.

Every action is a typed command (`Command`); keys are bound to command lines
(`Binding`). The same registry drives key dispatch, the `:` command line and its
completion, the `?` help screen and the key table in the man page.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Iterable, Sequence

import attrs

from qtui.authoring.docs import TOPICS as PLUGIN_TOPICS
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
CONTEXTS = ("global", *SCREENS, "detail", "help", "panel")
PLUGIN_ACTIONS = ("enable", "disable", "reload", "allow", "settings", "open", "log", "install", "uninstall")
HELP_TOPICS = ("keys", "commands", "screens", *PLUGIN_TOPICS)

_P = Param
_T = ParamType

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command("quit", "Quit qtui now", category="general"),
        Command("back", "Close the current view or dialog; quit from the Queues screen"),
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
        Command("prompt", "Open the command line with TEXT already typed",
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
        Command("filter", "Keep jobs whose payload or error contains TEXT (no TEXT clears it)",
                (_P("text", _T.TEXT, "text to look for", optional=True),), category="jobs"),
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

BINDINGS: tuple[Binding, ...] = (
    Binding("?", "help"),
    Binding(":", "prompt"),
    Binding("Q", "quit"),
    Binding("q", "back"),
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
    Binding("/", "prompt filter "),
    Binding("f", "prompt find "),
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
    Binding("e", "prompt enqueue ", ("queues", "jobs"), help="Enqueue a job (prompts for queue and JSON)"),
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
    Binding("e", "plugin enable", ("plugins",)),
    Binding("x", "plugin disable", ("plugins",)),
    Binding("R", "plugin reload", ("plugins",)),
    Binding("P", "plugin allow", ("plugins",)),
    Binding("s", "plugin settings", ("plugins",)),
    Binding("l", "plugin log", ("plugins",)),
    Binding("i", "plugin install", ("plugins",)),
    Binding("u", "plugin uninstall", ("plugins",)),
    Binding("tab", "focus next", ("panel",)),
    Binding("shift tab", "focus prev", ("panel",)),
    Binding("esc", "focus main", ("panel",), help="Leave the panel (every other key goes to the plugin)"),
    Binding(":", "prompt", ("panel",)),
    Binding("Q", "quit", ("panel",)),
)


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
    command = COMMANDS.get(name)
    if command is None:
        close = [c for c in COMMANDS if c.startswith(name[:2])]
        hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
        raise InvalidInput(f"unknown command {name!r}{hint}; try :help commands")
    return Invocation(command, _parse_args(command, rest.strip()))


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
             plugin_commands: Sequence[str] = ()) -> list[str]:
    """Completions for the command line `line`: whole lines that extend it.

    `plugin_commands` are the commands plugins registered ("tenant-sla.refresh").
    """
    if " " not in line:
        names = [f"{name} " if COMMANDS[name].params else name for name in sorted(COMMANDS)]
        return [name for name in names + [f"{c} " for c in sorted(plugin_commands)] if name.startswith(line)]
    name, _, rest = line.partition(" ")
    command = COMMANDS.get(name)
    if command is None or not command.params:
        return []
    words = rest.split(" ")
    index = len(words) - 1
    if index >= len(command.params):
        return []
    param = command.params[index]
    prefix = words[-1]
    head = line[: len(line) - len(prefix)]
    return [head + option for option in _options(param, queues, plugins) if option.startswith(prefix)]


def _options(param: Param, queues: Sequence[str], plugins: Sequence[str]) -> Iterable[str]:
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
        case _:
            return ()


def bindings_for(context: str) -> list[Binding]:
    """Bindings active in `context`: the screen's own first, then global ones."""
    own = [b for b in BINDINGS if context in b.contexts]
    if context == "panel":
        return own  # every other key goes to the plugin
    keys = {b.key for b in own}
    return own + [b for b in BINDINGS if "global" in b.contexts and b.key not in keys]


def resolve_key(key: str, context: str) -> str | None:
    """The command line bound to `key` in `context`, if any."""
    for binding in bindings_for(context):
        if binding.key == key:
            return binding.command
    return None


def binding_help(binding: Binding) -> str:
    """The one-line help for a binding."""
    if binding.help:
        return binding.help
    name, _, rest = binding.command.partition(" ")
    if name == "prompt" and rest.split():
        return COMMANDS[rest.split()[0]].help  # a key that opens ":find " documents find
    if name == "prompt":
        return "Open the command line"
    return f"{COMMANDS[name].help}: {rest}" if rest else COMMANDS[name].help


def key_label(key: str) -> str:
    """How a key is written in help and docs."""
    return {" ": "space", "esc": "Esc", "enter": "Enter", "page up": "PgUp", "page down": "PgDn",
            "up": "Up", "down": "Down", "home": "Home", "end": "End", "tab": "Tab",
            "shift tab": "Shift-Tab"}.get(key, key)

