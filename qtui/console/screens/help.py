"""The help screen, generated from the keymap in effect and the command registry."""

from __future__ import annotations

from collections.abc import Sequence

from qtui.authoring.topics import TOPICS as PLUGIN_TOPICS
from qtui.console.keymap import (
    COMMANDS,
    CONTEXTS,
    DEFAULT_KEYMAP,
    Binding,
    Keymap,
    binding_command,
    binding_help,
    key_label,
)
from qtui.console.widgets import Entry, TextView
from qtui.sanitize import one_line

SCREEN_HELP = {
    "queues": "Every queue: ready, retry (waiting for backoff), running, done, dead; "
              "jobs in/out/failed per minute; completions over the last minute.",
    "jobs": "A page of jobs of the selected queue in one state; s changes state, / filters, "
            "[ and ] page, Enter opens a job, y copies its id.",
    "dead": "Dead letter jobs with their last error. Mark with space, then R requeues, "
            "x deletes; A requeues everything matching the filter.",
    "workers": "Workers seen by the backend, what they run and when they were last seen.",
    "detail": "One job: every field, its last error and its payload; / searches it.",
}

CONTEXT_TITLES = {"global": "everywhere", "plugin": "on a plugin opened full screen",
                  "panel": "on a docked plugin panel with the focus"}

#: (name, help) of each command plugins registered: "tenant-sla.refresh".
PluginCommands = Sequence[tuple[str, str]]
#: A plugin command's key: its binding, and why it is not bound (None when it is).
PluginKey = tuple[Binding, str | None]


def _plugin_keys(plugin_keys: Sequence[PluginKey]) -> list:
    lines: list = [("column", "plugin commands"), ""] if plugin_keys else []
    for binding, refused in plugin_keys:
        where = "everywhere" if "global" in binding.contexts else "on " + ", ".join(binding.contexts)
        line = [("key", f"  {key_label(binding.key):<8}"), binding.help or binding.command, ("dim", f"  ({where})")]
        if refused:
            line.append(("dead", f"  not bound: {refused}"))
        lines.append(line)
    return [*lines, ""] if lines else []


def help_lines(topic: str | None, read_only: bool, keymap: Keymap = DEFAULT_KEYMAP,
               plugin_commands: PluginCommands = (), plugin_keys: Sequence[PluginKey] = ()) -> list:
    """Help text for a topic (keys, commands, screens, or a plugin topic) or all the console's.

    `plugin_keys` are the keys of the running plugins' commands, listed with the console's keys.
    """
    if topic in PLUGIN_TOPICS:
        from qtui.authoring import docs as plugin_docs  # the plugin documentation, loaded when first shown

        return [("label", PLUGIN_TOPICS[topic].title), "", *plugin_docs.help_text(topic).splitlines()]
    lines: list = []
    if topic in (None, "keys"):
        lines += [("label", "KEYS"), ""]
        width = max(len(key_label(b.key)) for b in keymap.bindings) + 4
        for context in CONTEXTS:
            bindings = [b for b in keymap.bindings if context in b.contexts]
            if not bindings:
                continue
            lines.append(("column", CONTEXT_TITLES.get(context, f"on {context}")))
            for binding in bindings:
                command = binding_command(binding)
                note = "  (disabled: read-only)" if read_only and command is not None and command.writes else ""
                lines.append(Entry(("key", f"  {key_label(binding.key)}"), [binding_help(binding), ("dim", note)],
                                   width))
            lines.append("")
        lines += _plugin_keys(plugin_keys)
    if topic in (None, "commands"):
        lines += [("label", "COMMANDS  (type : then the command; Tab completes)"), ""]
        for command in sorted(COMMANDS.values(), key=lambda c: (c.category, c.name)):
            flags = " [destructive]" if command.destructive else ""
            note = "  (disabled: read-only)" if read_only and command.writes else ""
            aliases = "".join(f", {alias}" for alias in command.aliases)
            lines.append([("key", f"  {command.usage}{aliases}"), ("dead", flags), ("dim", note)])
            lines.append(Entry("", command.help, 6))
        if plugin_commands:
            lines += ["", ("column", "commands of running plugins")]
            for name, text in sorted(plugin_commands):
                lines.append(("key", f"  {one_line(name)} [ARGS]"))
                lines.append(Entry("", one_line(text) or "(no help given)", 6))
        lines.append("")
    if topic in (None, "screens"):
        lines += [("label", "SCREENS"), ""]
        for name, text in SCREEN_HELP.items():
            lines += [("column", f"  {name}"), Entry("", text, 6), ""]
    if topic is None:
        lines += [("label", "LUA PLUGINS"), "",
                  Entry("", ", ".join(f":help {name}" for name in PLUGIN_TOPICS), 2), ""]
    return lines


class HelpScreen:
    name = "help"
    title = "Help"

    def __init__(self) -> None:
        self.view = TextView()
        self.widget = self.view

    def show(self, topic: str | None, read_only: bool, keymap: Keymap = DEFAULT_KEYMAP,
             plugin_commands: PluginCommands = (), plugin_keys: Sequence[PluginKey] = ()) -> None:
        self.view.set_lines(help_lines(topic, read_only, keymap, plugin_commands, plugin_keys))

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.view.move(where, size)
