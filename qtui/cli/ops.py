"""`qtui ops` and running bulk operations from the command line with progress and cancel.

`qtui ops` lists the journal's unfinished operations (see qtui.backends.journal);
`qtui ops resume ID` finishes one, `qtui ops abandon ID` drops it. Requeue and
purge run through `run_with_progress`, and find through `find_with_progress`: on
a terminal (standard error is a TTY) a progress line is redrawn after each
chunk; the first Ctrl-C cancels after the current chunk (and says so), a
second one interrupts at once (the operation stays in the journal,
interrupted). Before a requeue or purge, unfinished operations are pointed
out, and at a terminal offered for resuming or abandoning.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

from qtui import report
from qtui.backends.base import Backend
from qtui.backends.journal import Operation
from qtui.cli.common import EXIT_OK, confirm_or_refuse, open_backend_for, print_result
from qtui.clock import SYSTEM_CLOCK, MonotonicClock
from qtui.console import format as fmt
from qtui.model import InvalidInput, Job
from qtui.sanitize import one_line

#: Exit status of a bulk command cancelled with Ctrl-C (as an interrupt).
EXIT_CANCELLED = 130
#: The progress line is redrawn at most this often (seconds), and after the last chunk.
REDRAW_EVERY = 0.1
BAR_WIDTH = 20


def register(sub: argparse._SubParsersAction, *, common: argparse.ArgumentParser,
             as_json: argparse.ArgumentParser, confirm: argparse.ArgumentParser) -> None:
    """Add the `ops` command to the `qtui` parser."""
    p = sub.add_parser(
        "ops", parents=[common, as_json, confirm], help="unfinished requeues and purges: list, resume, abandon",
        description="List bulk requeues and purges that did not finish (the process died, the server "
                    "restarted or went away), resume one to finish it, or abandon it (what it did stays done).",
    )  # fmt: skip
    p.add_argument("action", nargs="?", choices=("list", "resume", "abandon"), default="list",
                   help="list (the default), resume or abandon")
    p.add_argument("id", nargs="?", metavar="ID", help="the operation's id (from the list)")
    p.set_defaults(handler=cmd_ops)


def cmd_ops(args: argparse.Namespace) -> int:
    backend = open_backend_for(args)
    if args.action == "list":
        if args.id is not None:
            raise InvalidInput("qtui ops list takes no id")
        operations = backend.operations()
        print_result(args, operations, operations_table(operations, backend.clock()))
        return EXIT_OK
    if args.id is None:
        raise InvalidInput(f"qtui ops {args.action} needs the operation's id (qtui ops lists them)")
    found = {op.id: op for op in backend.operations()}.get(args.id)
    what = one_line(found.describe()) if found else f"operation {one_line(args.id)}"
    if args.action == "abandon":
        confirm_or_refuse(args, f"Abandon {what}? What it did stays done; the rest stays where it is.")
        operation = backend.abandon(args.id)
        print_result(args, {"abandoned": operation.id, "done": operation.done},
                     f"abandoned {operation.id} after {operation.progress_text()}")
        return EXIT_OK
    confirm_or_refuse(args, f"Resume {what}?")
    return report_outcome(args, run_with_progress(backend, backend.resume(args.id)))


def report_outcome(args: argparse.Namespace, operation: Operation) -> int:
    """Print how a requeue or purge ended ({"requeued": N} / {"purged": N} as JSON); its exit status."""
    count = operation.done
    plural = "s" if count != 1 else ""
    if operation.kind == "requeue":
        value, text = {"requeued": count}, f"requeued {count} job{plural}"
    else:
        value, text = {"purged": count}, f"purged {count} {operation.state} job{plural}"
    print_result(args, value, text)
    if operation.outcome == "finished":
        return EXIT_OK
    rest = "they stay dead" if operation.kind == "requeue" else "they stay"
    print(f"qtui: {operation.outcome} after {operation.progress_text()}; the jobs not reached: {rest}",
          file=sys.stderr)
    return EXIT_CANCELLED


def offer_unfinished(backend: Backend, args: argparse.Namespace) -> None:
    """Point out interrupted operations; at a terminal, offer to resume or abandon each."""
    for operation in backend.operations():
        if operation.running_elsewhere(backend.clock()):
            continue
        if args.yes or not sys.stdin.isatty():
            print(f"qtui: {unfinished_text(operation, backend.clock())}", file=sys.stderr)
            continue
        answer = input(f"Unfinished: {_summary(operation)}.\nResume it (r), abandon it (a), or leave it (Enter)? ")
        if answer.strip().lower() in ("r", "resume"):
            report_outcome(args, run_with_progress(backend, backend.resume(operation.id)))
        elif answer.strip().lower() in ("a", "abandon"):
            backend.abandon(operation.id)
            print(f"abandoned {operation.id}")


def warn_unfinished(backend: Backend, *, stream: TextIO | None = None) -> None:
    """One line on `stream` (standard error) when the journal holds operations: their counts are in motion."""
    operations = backend.operations()
    if not operations:
        return
    now = backend.clock()
    if len(operations) == 1:
        text = unfinished_text(operations[0], now)
    else:
        running = sum(op.running_elsewhere(now) for op in operations)
        text = (f"{len(operations)} unfinished operations on this backend ({len(operations) - running} "
                f"interrupted, {running} running); 'qtui ops' lists them")  # fmt: skip
    print(f"qtui: {text}", file=stream if stream is not None else sys.stderr)


def unfinished_text(operation: Operation, now: float) -> str:
    """What an operation in the journal is, and what to do about it, in one line."""
    if operation.running_elsewhere(now):
        return f"operation {operation.id} running in {one_line(operation.owner, 60)}: {_summary(operation)}"
    return (f"unfinished operation {operation.id}: {_summary(operation)}; 'qtui ops resume {operation.id}' "
            f"finishes it, 'qtui ops abandon {operation.id}' drops it")  # fmt: skip


def _summary(operation: Operation) -> str:
    return f"{one_line(operation.describe())} ({operation.progress_text()})"


def operations_table(operations: tuple[Operation, ...], now: float) -> str:
    """The `qtui ops` table, ages counted back from wall time `now`."""
    if not operations:
        return "no unfinished operations"
    rows = [
        [op.id, status(op, now), one_line(op.progress_text(), 44), fmt.age(op.updated_at, now),
         one_line(op.describe(), 60)]
        for op in operations
    ]
    return report.table(["ID", "STATUS", "PROGRESS", "UPDATED", "OPERATION"], rows)


def status(operation: Operation, now: float) -> str:
    return f"running in {operation.owner}" if operation.running_elsewhere(now) else "interrupted"


def run_with_progress(backend: Backend, operation: Operation, *, stream: TextIO | None = None) -> Operation:
    """Run `operation` to its end, drawing a progress line on a terminal; Ctrl-C cancels it."""
    stream = stream if stream is not None else sys.stderr
    line = ProgressLine(stream, SYSTEM_CLOCK.monotonic) if stream.isatty() else None
    cancel = threading.Event()

    def cancelling() -> None:
        if line is not None:
            line.close()
        print("qtui: cancelling after the current chunk (Ctrl-C again interrupts it now)", file=stream, flush=True)

    try:
        with _first_interrupt_cancels(cancel, cancelling):
            return backend.run_operation(operation, progress=line.update if line else None, cancel=cancel)
    finally:
        if line is not None:
            line.close()


def find_with_progress(backend: Backend, job_id: str, *, stream: TextIO | None = None) -> Job | None:
    """`backend.job(job_id)`, with a progress line on a terminal while a layout without an id index scans."""
    stream = stream if stream is not None else sys.stderr
    line = ProgressLine(stream, SYSTEM_CLOCK.monotonic) if stream.isatty() else None

    def progress(examined: int, total: int) -> None:
        if line is not None:
            line.show(examined / total if total else None, f"searching: {examined:,} of ~{total:,} items")

    try:
        return backend.job(job_id, progress=progress)
    finally:
        if line is not None:
            line.close()


class ProgressLine:
    """One line on a terminal, redrawn in place: a bar, counts and the operation."""

    def __init__(self, stream: TextIO, clock: MonotonicClock) -> None:
        self.stream = stream
        self.clock = clock
        self._last = float("-inf")
        self._width = 0

    def update(self, operation: Operation) -> None:
        """Show how far a bulk operation is."""
        self.show(operation.fraction(), operation.progress_text(), final=bool(operation.outcome))

    def show(self, fraction: float | None, text: str, *, final: bool = False) -> None:
        """Redraw the line (at most every REDRAW_EVERY seconds, unless `final`)."""
        now = self.clock()
        if now - self._last < REDRAW_EVERY and not final:
            return
        self._last = now
        line = one_line(f"{fmt.progress_bar(fraction, BAR_WIDTH)} {text}", 79)
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        """Clear the line (the next `show` draws it again)."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


@contextlib.contextmanager
def _first_interrupt_cancels(cancel: threading.Event, cancelling: Callable[[], None]) -> Iterator[None]:
    """While running: the first SIGINT sets `cancel` and calls `cancelling`; the next one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        cancelling()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
