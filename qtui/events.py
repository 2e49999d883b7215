"""Typed events published on the console's event bus.

Views (and, later, plugins) subscribe to the event classes they need. Events are
frozen attrs classes; a class with a `coalesce_key` keeps only its latest value
for a subscriber that falls behind.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from qtui.model import JobState, Snapshot


@attrs.frozen
class Event:
    """Base of every bus event."""

    #: Events with the same non-None key replace each other when a subscriber lags.
    coalesce_key: ClassVar[str | None] = None


@attrs.frozen
class StatsUpdated(Event):
    """A fresh snapshot of every queue and worker."""

    coalesce_key: ClassVar[str | None] = "stats"
    snapshot: Snapshot


@attrs.frozen
class BackendStatus(Event):
    """The backend connection changed state (or failed again)."""

    coalesce_key: ClassVar[str | None] = "backend"
    connected: bool
    message: str | None
    at: float


@attrs.frozen
class SelectionChanged(Event):
    """The operator moved the cursor to another queue or job."""

    coalesce_key: ClassVar[str | None] = "selection"
    screen: str
    queue: str | None = None
    state: JobState | None = None
    job_id: str | None = None


@attrs.frozen
class Notice(Event):
    """A message for the status bar."""

    text: str
    level: str = "info"  # info | warning | error


@attrs.frozen
class ConsoleKey(Event):
    """A key the operator pressed in the console, after the console acted on it (for plugins
    granted keys.read); never one typed in a dialog, on the command line or into a plugin's panel."""

    key: str
    screen: str
