"""The Workers screen: every worker the backend has seen."""

from __future__ import annotations

from collections.abc import Callable

import urwid

from qtui.console import format as fmt
from qtui.console.widgets import Column, Table
from qtui.model import Snapshot, WorkerInfo
from qtui.sanitize import one_line

COLUMNS = (
    Column("WORKER"),
    Column("STATE", 5),
    Column("QUEUES", 14),
    Column("JOB", 8),
    Column("DONE", 6, "right"),
    Column("FAIL", 5, "right"),
    Column("SEEN", 4, "right"),
)


class WorkersScreen:
    name = "workers"
    title = "Workers"

    def __init__(self) -> None:
        self.table = Table(COLUMNS, "No workers seen.")
        self.widget = _FillsWhenDrawn(self.table, self._fill)
        self._latest: Snapshot | None = None

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Keep the newest snapshot; the table shows it when the screen is next drawn.

        SEEN changes with every poll, so a table kept up to date while another screen shows
        would be rebuilt for nobody on every poll.
        """
        self._latest = snapshot
        self.widget.refill()

    def _fill(self) -> None:
        snapshot, self._latest = self._latest, None
        if snapshot is not None:
            self.table.set_rows([(w.id, self._cells(w, snapshot.taken_at), None if w.alive else "dim")
                                 for w in snapshot.workers])

    @staticmethod
    def _cells(w: WorkerInfo, now: float) -> list:
        """One worker's row; SEEN is counted to the time the snapshot was taken."""
        state = ("ok", "busy") if w.alive and w.current_job else ("ok", "idle") if w.alive else "gone"
        name = w.id if not w.host else f"{w.id}@{w.host}" if w.host not in w.id else w.id
        return [
            one_line(name),
            state,
            one_line(",".join(w.queues)),
            one_line(w.current_job or "-"),
            fmt.count(w.processed),
            fmt.count(w.failed),
            fmt.age(w.last_seen, now),
        ]

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.table.move(where, size)


class _FillsWhenDrawn(urwid.WidgetWrap):
    """`widget`, brought up to date by `fill()` just before it is drawn after a :meth:`refill`
    (urwid draws only what shows)."""

    def __init__(self, widget: urwid.Widget, fill: Callable[[], None]) -> None:
        super().__init__(widget)
        self._fill = fill
        self._due = False

    def refill(self) -> None:
        self._due = True
        self._invalidate()  # so that a showing screen is drawn again

    def render(self, size, focus=False):  # noqa: ANN001, ANN201 - urwid signature
        if self._due:
            self._due = False
            self._fill()
        return super().render(size, focus)
