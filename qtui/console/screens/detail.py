"""The job detail view: every field, the payload pretty-printed, the last error."""

from __future__ import annotations

from qtui.console.job_detail import detail_lines
from qtui.console.widgets import TextView
from qtui.model import Job


class DetailScreen:
    name = "detail"
    title = "Job"

    def __init__(self) -> None:
        self.view = TextView()
        self.widget = self.view
        self.job: Job | None = None

    def show(self, job: Job) -> None:
        self.job = job
        self.view.set_lines(detail_lines(job))

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.view.move(where, size)
