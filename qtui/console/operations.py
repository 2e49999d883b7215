"""Bulk requeues and purges in the console: progress, cancel, and finishing interrupted ones.

One operation runs at a time (qtui.backends.journal). While it runs, the status
bar shows a progress bar and the counts; `:cancel` (key C) stops it after its
current chunk. When the backend becomes unreachable in the middle (a server
restart, a Sentinel failover) the operation waits and resumes from the journal
once the backend answers again, so it finishes with every job exactly once.

At start, and on `:ops`, operations the journal holds as interrupted (their
process died) are offered one at a time: resume, abandon, or leave for later.
While any is left, the status bar says how many (read-only too, where nothing
is offered); it is counted again at each connection, after `:ops` and after an
operation ends.

A find by id that has to scan (no id index in the layout) shows its progress
in the status bar the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import trio

from qtui.backends.base import Backend
from qtui.backends.journal import Operation
from qtui.console import format as fmt
from qtui.console.modal import Choice, ConfirmModal, Modal
from qtui.console.widgets import StatusBar
from qtui.model import BackendError, BackendUnavailable, Job, NotFound
from qtui.sanitize import one_line

log = logging.getLogger(__name__)


class Console(Protocol):
    """What the runner uses of the console (qtui.console.app.Console)."""

    backend: Backend
    status: StatusBar
    ascii: bool
    read_only: bool

    def message(self, text: str, level: str = ...) -> None: ...
    def run_io(self, fn: Callable[[], Any], on_done: Callable[[Any], None], what: str) -> None: ...
    def spawn(self, fn: Callable[..., Any], *args: Any) -> None: ...
    def refresh(self) -> None: ...
    def after_change(self, text: str) -> None: ...
    def open_modal(self, modal: Modal) -> None: ...

#: Longest wait between attempts to resume after the backend went away.
MAX_RETRY_DELAY = 8.0
BAR_WIDTH = 10


class OperationRunner:
    """Runs the console's journaled operations (one at a time) on its nursery."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.running: Operation | None = None
        self._status_before = ""
        self._cancel = threading.Event()
        self._offered = False

    @property
    def busy(self) -> bool:
        return self.running is not None

    def start(self, begin: Callable[[], Operation], on_done: Callable[[int], None], what: str) -> None:
        """Journal an operation with `begin()` (in a thread), then run it; `on_done(count)` when it finishes."""
        if self.busy:
            self.console.message(f"{what}: wait for the running operation, or cancel it (C)", "warning")
            return
        self.running = None
        self._cancel = threading.Event()
        self.console.run_io(begin, lambda operation: self._launch(operation, on_done), what)

    def cancel(self) -> None:
        """Stop the running operation after its current chunk (what it did stays done)."""
        if self.running is None:
            self.console.message("no operation is running", "warning")
            return
        self._cancel.set()
        self.console.message(f"cancelling {self.running.kind} after the current chunk")

    def stop(self) -> None:
        """Quitting: let a running operation stop after its chunk so the console can exit."""
        self._cancel.set()

    def _launch(self, operation: Operation, on_done: Callable[[int], None]) -> None:
        self.running = operation
        self._status_before = self.console.status.message
        self._show(operation)
        self.console.message(f"{operation.kind} running: C cancels it after the current chunk")
        self.console.spawn(self._run, operation, on_done)

    async def _run(self, operation: Operation, on_done: Callable[[int], None]) -> None:
        backend = self.console.backend
        delay = 1.0
        try:
            while True:
                try:
                    final = await trio.to_thread.run_sync(self._run_in_thread, operation)
                    break
                except BackendUnavailable as exc:
                    if self._cancel.is_set():
                        self.console.message(f"{operation.kind} stopped while the backend was unreachable; "
                                             f"it stays unfinished ({operation.id})", "warning")
                        return
                    self.console.message(f"{operation.kind} paused: {exc}; resuming when it answers", "warning")
                    await trio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY)
                    try:
                        operation = await trio.to_thread.run_sync(backend.resume, operation.id)
                    except BackendUnavailable:
                        continue
                    except NotFound:  # its last chunk's reply, or an abandon elsewhere, was lost with the line
                        self.console.after_change(f"{operation.kind} {operation.id} left the journal while the "
                                                  "backend was unreachable (it finished, or was abandoned)")
                        return
        except BackendError as exc:
            self.console.message(f"{operation.kind}: {exc}", "error")
            return
        except Exception as exc:  # a console bug must not kill the operator's session
            log.exception("%s failed", operation.kind)
            self.console.message(f"{operation.kind}: internal error: {type(exc).__name__}: {exc}", "error")
            return
        finally:
            self.running = None
            self.console.status.set_message(self._status_before)
            self.console.refresh()
            self.recount()
        if final.outcome == "finished":
            on_done(final.done)
        else:
            self.console.after_change(f"{final.kind} {final.outcome} after {final.progress_text()}")

    def _run_in_thread(self, operation: Operation) -> Operation:
        def progress(current: Operation) -> None:
            trio.from_thread.run_sync(self._show, current)

        return self.console.backend.run_operation(operation, progress=progress, cancel=self._cancel)

    def _show(self, operation: Operation) -> None:
        self.running = operation
        total = f"/~{operation.total:,}" if operation.total else ""
        self.console.status.set_message(
            f"{operation.kind} {fmt.progress_bar(operation.fraction(), BAR_WIDTH)} {operation.examined:,}{total}"
        )
        self.console.refresh()

    # -- find by id -----------------------------------------------------------------

    def find(self, job_id: str, on_done: Callable[[Job | None], None]) -> None:
        """Look a job up by id; while a layout without an id index scans, the status bar shows how far.

        A running operation keeps the status bar to itself.
        """
        status = self.console.status
        before = status.message
        shown = [False]

        def progress(examined: int, total: int) -> None:
            if not self.busy:
                shown[0] = True
                trio.from_thread.run_sync(self._show_search, examined, total)

        def lookup() -> Job | None:
            try:
                return self.console.backend.job(job_id, progress=progress)
            finally:
                if shown[0] and not self.busy:
                    trio.from_thread.run_sync(status.set_message, before)

        self.console.run_io(lookup, on_done, "find")

    def _show_search(self, examined: int, total: int) -> None:
        bar = fmt.progress_bar(examined / total if total else None, BAR_WIDTH)
        self.console.status.set_message(f"find {bar} {examined:,}/~{total:,}")
        self.console.refresh()

    # -- interrupted operations ---------------------------------------------------

    def connected(self, *, offer: bool) -> None:
        """The backend answers (again): at the first connection offer the interrupted operations
        if `offer`; otherwise count them for the status bar."""
        if offer and not self._offered:
            self._offered = True
            self.offer(quiet=True)
        else:
            self.recount()

    def offer(self, *, quiet: bool = False) -> None:
        """Ask about each interrupted operation in the journal: resume, abandon or later.

        Unless `quiet`, say so when there is none.
        """
        self.console.run_io(self._interrupted, lambda found: self._ask(found, quiet), "unfinished operations")

    def recount(self) -> None:
        """Show in the status bar how many interrupted operations the journal holds.

        Quietly: when the backend cannot be reached the poller says so, and the
        count waits for the next connection.
        """

        async def count() -> None:
            try:
                found = await trio.to_thread.run_sync(self._interrupted)
            except BackendError:
                return
            except Exception:  # a console bug must not kill the operator's session
                log.exception("counting unfinished operations failed")
                return
            self._show_unfinished(found)

        self.console.spawn(count)

    def _interrupted(self) -> list[Operation]:
        backend = self.console.backend
        running = self.running.id if self.running else None
        return [op for op in backend.operations() if op.id != running and not op.running_elsewhere(backend.clock())]

    def _show_unfinished(self, operations: list[Operation]) -> None:
        count = len(operations)
        where = "" if self.console.read_only else " (:ops)"
        self.console.status.set_unfinished(f"{count} unfinished op{'s' if count != 1 else ''}{where}" if count else "")
        self.console.refresh()

    def _ask(self, operations: list[Operation], quiet: bool) -> None:
        self._show_unfinished(operations)
        if not operations:
            if not quiet:
                self.console.message("no unfinished operations")
            return
        for operation in operations:
            lines = [
                "An operation was left unfinished:",
                ("warn", f"  {one_line(operation.describe())}"),
                f"  {operation.progress_text()} (id {one_line(operation.id)})",
                ("dim", "Resuming finishes it; every job ends up exactly once."),
            ]
            choices = [
                Choice("r", "resume", lambda op=operation: self._resume(op)),
                Choice("a", "abandon", lambda op=operation: self._abandon(op)),
            ]
            self.console.open_modal(ConfirmModal("Unfinished operation", lines, choices,
                                                 lambda: self.console.message("left for later: :ops asks again"),
                                                 ascii_box=self.console.ascii))

    def _resume(self, operation: Operation) -> None:
        verb = "requeued" if operation.kind == "requeue" else "deleted"
        self.start(lambda: self.console.backend.resume(operation.id),
                   lambda n: self.console.after_change(f"{operation.kind} finished: {n} jobs {verb} in all"),
                   "resume")

    def _abandon(self, operation: Operation) -> None:
        def abandoned(op: Operation) -> None:
            self.console.after_change(f"abandoned {op.id} after {op.progress_text()}")
            self.recount()

        self.console.run_io(lambda: self.console.backend.abandon(operation.id), abandoned, "abandon")

