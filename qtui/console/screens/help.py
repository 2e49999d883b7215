"""The help screen, generated from the keymap registry."""

from __future__ import annotations

from qtui.authoring.topics import TOPICS as PLUGIN_TOPICS
from qtui.console.keymap import BINDINGS, COMMANDS, CONTEXTS, binding_help, key_label
from qtui.console.widgets import TextView

SCREEN_HELP = {
    "queues": "Every queue: ready, retry (waiting for backoff), running, done, dead; "
              "jobs in/out/failed per minute; completions over the last minute.",
    "jobs": "A page of jobs of the selected queue in one state; s changes state, / filters, "
            "[ and ] page, Enter opens a job.",
    "dead": "Dead letter jobs with their last error. Mark with space, then R requeues, "
            "x deletes; A requeues everything matching the filter.",
    "workers": "Workers seen by the backend, what they run and when they were last seen.",
    "detail": "One job: every field, its last error and its payload.",
}


def help_lines(topic: str | None, read_only: bool) -> list:
    """Help text for a topic (keys, commands, screens, or a plugin topic) or all the console's."""
    if topic in PLUGIN_TOPICS:
        from qtui.authoring import docs as plugin_docs  # the plugin documentation, loaded when first shown

        return [("label", PLUGIN_TOPICS[topic].title), "", *plugin_docs.help_text(topic).splitlines()]
    lines: list = []
    if topic in (None, "keys"):
        lines += [("label", "KEYS"), ""]
        for context in CONTEXTS:
            bindings = [b for b in BINDINGS if context in b.contexts]
            if not bindings:
                continue
            lines.append(("column", "global" if context == "global" else f"on {context}"))
            for binding in bindings:
                command = COMMANDS[binding.command.split()[0]]
                note = "  (disabled: read-only)" if read_only and command.writes else ""
                lines.append([("key", f"  {key_label(binding.key):<8}"), binding_help(binding), ("dim", note)])
            lines.append("")
    if topic in (None, "commands"):
        lines += [("label", "COMMANDS  (type : then the command; Tab completes)"), ""]
        for command in sorted(COMMANDS.values(), key=lambda c: (c.category, c.name)):
            flags = " [destructive]" if command.destructive else ""
            note = "  (disabled: read-only)" if read_only and command.writes else ""
            lines.append([("key", f"  {command.usage}"), ("dead", flags), ("dim", note)])
            lines.append(f"      {command.help}")
        lines.append("")
    if topic in (None, "screens"):
        lines += [("label", "SCREENS"), ""]
        for name, text in SCREEN_HELP.items():
            lines += [("column", f"  {name}"), f"      {text}", ""]
    if topic is None:
        lines += [("label", "LUA PLUGINS"), "",
                  "  " + ", ".join(f":help {name}" for name in PLUGIN_TOPICS), ""]
    return lines


class HelpScreen:
    name = "help"
    title = "Help"

    def __init__(self) -> None:
        self.view = TextView()
        self.widget = self.view

    def show(self, topic: str | None, read_only: bool) -> None:
        self.view.set_lines(help_lines(topic, read_only))

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.view.move(where, size)
