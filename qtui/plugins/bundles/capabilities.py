"""The capabilities a plugin can request, with what each lets it do and how risky it is.

Decisions worth knowing:

- ``selection.read`` covers the operator's current selection (the queue or job row under the
  cursor, as ids) and the key presses and mouse clicks given to the plugin's own panels. Without
  ``keys.read`` a plugin never sees input meant for other parts of the console; with it, it sees
  every key pressed in the console but those typed in dialogs, on the command line and into
  another plugin's panel.
- The bus: every plugin owns the topics under ``plugin.<name>.`` (see :func:`own_topic_prefix`).
  Publishing to and subscribing to its own topics needs no capability; any other topic needs
  ``bus.publish`` or ``bus.subscribe`` (see :func:`bus_capability`).
- ``jobs.peek`` is medium risk although it only reads: job payloads often carry personal data
  or secrets.
- Destructive capabilities (``jobs.requeue``, ``jobs.purge``) change queues in ways that cannot
  be undone (a requeued job runs again). The host asks the operator to confirm each use unless
  the operator chose "don't ask again" for that plugin version.
- The capabilities that change queues (``jobs.enqueue`` and the destructive two, see
  :attr:`Capability.changes_queues`) take a second step to approve, and their uses are
  audited without fail.
"""

from __future__ import annotations

import enum


class Risk(enum.StrEnum):
    """How much harm a capability can do in the hands of a hostile plugin."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Capability(enum.StrEnum):
    """A named power a plugin must request in its manifest and the operator must grant."""

    description: str
    risk: Risk
    destructive: bool

    def __new__(cls, name: str, risk: Risk, destructive: bool, description: str) -> Capability:
        member = str.__new__(cls, name)
        member._value_ = name
        member.risk = risk
        member.destructive = destructive
        member.description = description
        return member

    STATS_READ = (
        "stats.read", Risk.LOW, False, "read queue names, job counts, rates and workers"
    )
    SELECTION_READ = (
        "selection.read", Risk.LOW, False,
        "read the selected queue or job id and the keys and clicks given to its panel",
    )
    TIMERS = ("timers", Risk.LOW, False, "run its code periodically on a timer")
    NOTIFY = ("notify", Risk.LOW, False, "show messages in the console's status line")
    COMMANDS = (
        "commands", Risk.MEDIUM, False, "add commands to the command palette and bind keys to them"
    )
    STORAGE = ("storage", Risk.LOW, False, "keep a small amount of its own data between sessions")
    BUS_PUBLISH = (
        "bus.publish", Risk.MEDIUM, False,
        "publish messages to topics other plugins and the console listen to",
    )
    BUS_SUBSCRIBE = (
        "bus.subscribe", Risk.LOW, False, "listen to topics of the console and other plugins"
    )
    JOBS_PEEK = (
        "jobs.peek", Risk.MEDIUM, False,
        "read jobs, including their payloads (which may hold personal data or secrets)",
    )
    JOBS_ENQUEUE = ("jobs.enqueue", Risk.MEDIUM, False, "add new jobs to queues")
    JOBS_REQUEUE = (
        "jobs.requeue", Risk.HIGH, True, "move dead or scheduled jobs back to run again"
    )
    JOBS_PURGE = ("jobs.purge", Risk.HIGH, True, "delete jobs permanently")
    KEYS_READ = (
        "keys.read", Risk.MEDIUM, False,
        "see every key you press in the console, wherever the focus is (not what you type in "
        "dialogs, on the command line or into another plugin's panel)",
    )

    @property
    def changes_queues(self) -> bool:
        """Its uses add, move or delete jobs (``jobs.enqueue``, ``jobs.requeue``, ``jobs.purge``).

        Approving one in the console takes a second step, each use is always audited (and
        refused when it cannot be), and read-only mode refuses them before anyone is asked.
        """
        return self in _CHANGES_QUEUES

    @classmethod
    def parse(cls, text: str) -> Capability:
        """Return the capability called `text`, or raise UnknownCapability naming the known ones."""
        try:
            return cls(text)
        except ValueError:
            raise UnknownCapability(text) from None


_CHANGES_QUEUES = frozenset({Capability.JOBS_ENQUEUE, Capability.JOBS_REQUEUE, Capability.JOBS_PURGE})


class UnknownCapability(ValueError):
    """A capability name qtui does not know; the message lists the known names."""

    def __init__(self, name: object) -> None:
        self.name = name
        super().__init__(f"unknown capability {name!r} (known: {known_names()})")


def known_names() -> str:
    """All capability names, comma separated, for error messages."""
    return ", ".join(c.value for c in Capability)


def own_topic_prefix(plugin_name: str) -> str:
    """The bus topic prefix a plugin owns and may use without a capability."""
    return f"plugin.{plugin_name}."


def bus_capability(plugin_name: str, topic: str, *, publish: bool) -> Capability | None:
    """The capability needed to publish (or subscribe) to `topic`; None for the plugin's own topics."""
    if topic.startswith(own_topic_prefix(plugin_name)):
        return None
    return Capability.BUS_PUBLISH if publish else Capability.BUS_SUBSCRIBE
