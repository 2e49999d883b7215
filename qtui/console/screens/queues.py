"""The Queues screen: counts, rates and a sparkline for every queue."""

from __future__ import annotations

from qtui.console import format as fmt
from qtui.console.glyphs import Glyphs
from qtui.console.widgets import Column, Table
from qtui.model import JobState, QueueStats, Snapshot
from qtui.sanitize import one_line

SPARK_WIDTH = 10

COLUMNS = (
    Column("QUEUE"),
    Column("READY", 6, "right"),
    Column("RETRY", 5, "right"),
    Column("RUN", 5, "right"),
    Column("DONE", 6, "right"),
    Column("DEAD", 6, "right"),
    Column("IN/m", 5, "right"),
    Column("OUT/m", 5, "right"),
    Column("ERR/m", 5, "right"),
    Column("LAST MIN", SPARK_WIDTH),
)


class QueuesScreen:
    """Every queue in a table; the cursor selects the queue other screens show."""

    name = "queues"
    title = "Queues"

    def __init__(self, glyphs: Glyphs) -> None:
        self._glyphs = glyphs
        self.table = Table(COLUMNS, "No queues yet. Enqueue a job (e) or start a producer.")
        self.widget = self.table
        self.stats: dict[str, QueueStats] = {}

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self.stats = {q.name: q for q in snapshot.queues}
        self.table.set_rows([(q.name, self._cells(q), None) for q in snapshot.queues])

    def selected_queue(self) -> str | None:
        key = self.table.focused_key()
        return str(key) if key is not None else None

    def select(self, queue: str) -> None:
        self.table.focus_key(queue)

    def _cells(self, q: QueueStats) -> list:
        dead = q.count(JobState.DEAD)
        return [
            one_line(q.name),
            fmt.count(q.count(JobState.READY)),
            fmt.count(q.count(JobState.SCHEDULED)),
            fmt.count(q.count(JobState.PROCESSING)),
            fmt.count(q.count(JobState.COMPLETED)),
            ("dead", fmt.count(dead)) if dead else "0",
            fmt.rate(q.enqueued_per_min),
            fmt.rate(q.completed_per_min),
            ("warn", fmt.rate(q.failed_per_min)) if q.failed_per_min else "-",
            ("spark", fmt.sparkline(q.history, self._glyphs.spark, SPARK_WIDTH)),
        ]

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.table.move(where, size)

