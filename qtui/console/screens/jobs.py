"""The Jobs and Dead letter screens: paged job lists with filter and marks."""

from __future__ import annotations

import attrs

from qtui.clock import WallClock
from qtui.console import format as fmt
from qtui.console.widgets import Column, Table
from qtui.model import MALFORMED, Job, JobState, Page
from qtui.sanitize import one_line

STATE_ORDER = (JobState.READY, JobState.SCHEDULED, JobState.PROCESSING, JobState.COMPLETED, JobState.DEAD)


def flagged(job: Job, cell: str | tuple) -> str | tuple | list:
    """`cell` after a warning mark when the job was stored damaged (its detail view says how)."""
    return [("warn", "! "), cell] if MALFORMED in job.extra else cell


@attrs.frozen
class JobQuery:
    """What a job list shows: passed to Backend.peek."""

    queue: str | None
    state: JobState
    text: str | None
    cursor: str | None


class JobListScreen:
    """A page of jobs for a queue (or all) and state, with paging and a text filter."""

    name = "jobs"
    title = "Jobs"
    columns = (
        Column("ID", 10),
        Column("QUEUE", 12),
        Column("AGE", 4, "right"),
        Column("TRY", 3, "right"),
        Column("PAYLOAD"),
    )
    empty = "No jobs here."

    def __init__(self, clock: WallClock, state: JobState = JobState.READY) -> None:
        self.clock = clock  # ages are counted to its time
        self.table = Table(self.columns, self.empty)
        self.widget = self.table
        self.queue: str | None = None
        self.state = state
        self.text: str | None = None
        self._cursors: list[str | None] = [None]  # cursor of each page seen, for going back
        self.page: Page | None = None
        self.jobs: dict[str, Job] = {}

    # -- what to load ----------------------------------------------------------

    def query(self) -> JobQuery:
        return JobQuery(self.queue, self.state, self.text, self._cursors[-1])

    @property
    def page_number(self) -> int:
        return len(self._cursors)

    def set_scope(self, *, queue: str | None = ..., state: JobState | None = None, text: str | None = ...) -> None:
        """Change queue, state or filter; goes back to the first page."""
        if queue is not ...:
            self.queue = queue
        if state is not None:
            self.state = state
        if text is not ...:
            self.text = text or None
        self._cursors = [None]

    def next_page(self) -> bool:
        if self.page is None or self.page.next_cursor is None:
            return False
        self._cursors.append(self.page.next_cursor)
        return True

    def prev_page(self) -> bool:
        if len(self._cursors) == 1:
            return False
        self._cursors.pop()
        return True

    def next_state(self) -> None:
        index = STATE_ORDER.index(self.state)
        self.set_scope(state=STATE_ORDER[(index + 1) % len(STATE_ORDER)])

    # -- showing ---------------------------------------------------------------

    def show(self, page: Page) -> None:
        self.page = page
        self.jobs = {job.id: job for job in page.jobs}
        self.table.set_rows([(job.id, self.cells(job), self.row_attr(job)) for job in page.jobs])

    def cells(self, job: Job) -> list:
        return [
            one_line(job.id),
            one_line(job.queue),
            fmt.age(job.created_at, self.clock()),
            str(job.attempts),
            flagged(job, one_line(job.payload, 300)),
        ]

    def row_attr(self, job: Job) -> str | None:
        return None

    def focused_job(self) -> Job | None:
        key = self.table.focused_key()
        return self.jobs.get(str(key)) if key is not None else None

    def describe(self, dot: str = "·") -> str:
        """One line saying what is shown, for the screen's title bar."""
        parts = [f"queue {one_line(self.queue) if self.queue else 'all'}", f"state {self.state}"]
        if self.text:
            parts.append(f"filter {one_line(self.text, 20)!r}")
        parts.append(f"page {self.page_number}" + ("+" if self.page and self.page.next_cursor else ""))
        return f" {dot} ".join(parts)

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.table.move(where, size)


class DeadScreen(JobListScreen):
    """Dead letter jobs with their last error inline; mark several to act on them."""

    name = "dead"
    title = "Dead letter"
    columns = (
        Column("", 1),
        Column("ID", 10),
        Column("QUEUE", 12),
        Column("AGE", 4, "right"),
        Column("TRY", 3, "right"),
        Column("LAST ERROR"),
    )
    empty = "The dead letter queue is empty."

    def __init__(self, clock: WallClock) -> None:
        super().__init__(clock, JobState.DEAD)
        self.marked: set[str] = set()
        self.mark_glyph = "*"

    def set_scope(self, **changes) -> None:  # noqa: ANN003 - same keywords as the base
        changes.pop("state", None)  # always dead
        super().set_scope(**changes)

    def next_state(self) -> None:
        """The dead letter screen only shows dead jobs."""

    def cells(self, job: Job) -> list:
        return [
            self.mark_glyph if job.id in self.marked else " ",
            one_line(job.id),
            one_line(job.queue),
            fmt.age(job.finished_at or job.updated_at or job.created_at, self.clock()),
            str(job.attempts),
            flagged(job, ("dead", one_line(job.last_error or "(no error recorded)", 300))),
        ]

    def row_attr(self, job: Job) -> str | None:
        return "marked" if job.id in self.marked else None

    def toggle_mark(self) -> None:
        job = self.focused_job()
        if job is None:
            return
        self.marked.symmetric_difference_update({job.id})
        self._redraw()

    def mark_all(self) -> None:
        self.marked.update(self.jobs)
        self._redraw()

    def unmark_all(self) -> None:
        self.marked.clear()
        self._redraw()

    def targets(self) -> list[str]:
        """The marked jobs, or the one under the cursor when none is marked."""
        if self.marked:
            return sorted(self.marked)
        job = self.focused_job()
        return [job.id] if job else []

    def _redraw(self) -> None:
        if self.page is not None:
            self.show(self.page)
