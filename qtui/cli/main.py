"""The `qtui` command: the console, and every admin operation as a subcommand.

Exit statuses are those of :mod:`qtui.cli.common`; an interrupt exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qtui import __version__, paths, report
from qtui.cli import ops
from qtui.cli.batch import DEFAULT_BATCH_SIZE, enqueue_lines
from qtui.cli.common import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Refused,
    confirm_or_refuse,
    open_backend_for,
    print_result,
)
from qtui.model import (
    BackendError,
    BackendUnavailable,
    InvalidInput,
    JobState,
    NotFound,
    ReadOnlyError,
)
from qtui.sanitize import visible

# -- argument parsing ----------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argument type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


_page_size = _whole_number(1, 500)
_batch_size = _whole_number(1, 1_000_000)


def _state(text: str) -> JobState:
    try:
        return JobState.parse(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common_options(for_subcommand: bool) -> argparse.ArgumentParser:
    """--db and --read-only, accepted before or after the subcommand."""
    # On subcommands the defaults are suppressed, so `qtui --db X stats` keeps X.
    default = argparse.SUPPRESS if for_subcommand else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="PATH|URL", default=default if for_subcommand else os.environ.get("QTUI_DB"),
        help="queue backend: a SQLite file path or sqlite:///path URL (default: $QTUI_DB, "
             f"else {paths.default_database()})",
    )
    common.add_argument("--read-only", action="store_true", default=default if for_subcommand else False,
                        help="refuse every change (enqueue, requeue, purge)")
    return common


class _LazyParser(argparse.ArgumentParser):
    """A subcommand's parser that gets its arguments when it is first used or shown.

    So `qtui stats` never imports what only `qtui plugin` needs (the plugin system, Lua).
    """

    def __init__(self, *args: Any, fill: Callable[[argparse.ArgumentParser], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fill = fill

    def fill(self) -> None:
        """Add the arguments now, if they are not there yet."""
        if self._fill is not None:
            fill, self._fill = self._fill, None
            fill(self)

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        self.fill()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.fill()
        return super().format_usage()

    def format_help(self) -> str:
        self.fill()
        return super().format_help()


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The parser of every qtui command; with `lazy`, a command group's arguments (and the
    modules behind them) load only when that group is used."""
    common = _common_options(for_subcommand=True)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    confirm = argparse.ArgumentParser(add_help=False)
    confirm.add_argument("-y", "--yes", action="store_true",
                         help="do not ask for confirmation (required when stdin is not a terminal)")

    parser = argparse.ArgumentParser(
        prog="qtui",
        description="Terminal console for operating job queues. Without a command, opens the console.",
        epilog="Run 'qtui demo' to try it on live demo data. See qtui(1).",
        parents=[_common_options(for_subcommand=False)],
    )
    parser.add_argument("--version", action="version", version=f"qtui {__version__}")
    parser.add_argument("--refresh", type=_positive_float, default=None, metavar="SECONDS",
                        help="poll the backend every SECONDS (0: only on r); default: config.toml's, else 2")
    parser.add_argument("--mouse", action="store_true", help="let the console use the mouse")
    parser.add_argument("--no-plugins", action="store_true", help="do not load any plugin")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_LazyParser)

    p = sub.add_parser("demo", parents=[common], help="open the console on a live demo database",
                       description="Fill a demo database, run simulated producers and workers in the "
                                   "background, and open the console on it.")
    p.add_argument("--refresh", type=_positive_float, default=1.0, metavar="SECONDS",
                   help="poll every SECONDS (default 1)")
    p.add_argument("--mouse", action="store_true", help="let the console use the mouse")
    p.add_argument("--no-plugins", action="store_true", help="do not load any plugin")
    p.add_argument("--no-console", action="store_true",
                   help="only run the simulation (until interrupted), no console")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("stats", parents=[common, as_json], help="counts and rates per queue")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("workers", parents=[common, as_json], help="workers seen by the backend")
    p.set_defaults(handler=cmd_workers)

    p = sub.add_parser("peek", parents=[common, as_json], help="a page of jobs of a queue",
                       description="List a page of jobs, oldest first. Use --filter to search payloads "
                                   "and errors, --cursor to get the next page.")
    p.add_argument("queue", metavar="QUEUE", help="queue name, or 'all'")
    p.add_argument("--state", type=_state, default=JobState.READY,
                   help="ready, scheduled, processing, completed or dead (default ready)")
    p.add_argument("--filter", metavar="TEXT", help="only jobs whose payload or error contains TEXT")
    p.add_argument("--limit", type=_page_size, default=50, help="page size, 1-500 (default 50)")
    p.add_argument("--cursor", help="continue after a previous page (printed at its end)")
    p.set_defaults(handler=cmd_peek)

    p = sub.add_parser("find", parents=[common, as_json], help="show one job by id")
    p.add_argument("id", metavar="ID")
    p.set_defaults(handler=cmd_find)

    p = sub.add_parser("enqueue", parents=[common, as_json], help="add a job with a JSON payload, or a batch",
                       description="Add a job with a JSON payload, or with --batch a job per line of a "
                                   "JSON Lines file, written in all-or-nothing batches of --batch-size "
                                   "lines. A missing database file is an error unless --create is given.")
    p.add_argument("queue", metavar="QUEUE")
    p.add_argument("payload", metavar="JSON", nargs="?", help="the payload, or - to read it from stdin")
    p.add_argument("--batch", metavar="FILE",
                   help="a job per line of FILE (- for stdin), each line a JSON payload")
    p.add_argument("--batch-size", type=_batch_size, default=DEFAULT_BATCH_SIZE, metavar="N",
                   help=f"lines per atomic batch (default {DEFAULT_BATCH_SIZE}); a bad line stops the command "
                        "and nothing of its batch is written")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.add_argument("--create", action="store_true", help="create the database file if it does not exist")
    p.set_defaults(handler=cmd_enqueue)

    p = sub.add_parser("requeue", parents=[common, as_json, confirm], help="move dead jobs back to a queue",
                       description="Requeue dead jobs: the given ids, or all matching --queue/--filter, "
                                   "or --all, in atomic chunks as a journaled operation (see qtui ops); "
                                   "Ctrl-C cancels after the current chunk. Prints how many moved.")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--queue", help="only dead jobs of this queue")
    p.add_argument("--filter", metavar="TEXT", help="only dead jobs whose payload or error contains TEXT")
    p.add_argument("--all", action="store_true", help="every dead job (of --queue, if given)")
    p.add_argument("--to", metavar="QUEUE", help="requeue onto this queue instead of each job's own")
    p.set_defaults(handler=cmd_requeue)

    p = sub.add_parser("purge", parents=[common, as_json, confirm], help="delete all jobs in a state",
                       description="Delete every job in --state (default ready) of QUEUE, or of every "
                                   "queue with 'all'. 'qtui purge all --state dead' empties the dead "
                                   "letter queue. In atomic chunks as a journaled operation (see qtui ops); "
                                   "Ctrl-C cancels after the current chunk. Prints how many were deleted.")
    p.add_argument("queue", metavar="QUEUE", help="queue name, or 'all'")
    p.add_argument("--state", type=_state, default=JobState.READY,
                   help="ready, scheduled, completed or dead (default ready)")
    p.set_defaults(handler=cmd_purge)

    p = sub.add_parser("record", parents=[common], help="open the console and record what plugins see",
                       description="Open the console and write to FILE what plugins receive while it runs "
                                   "(statistics, selections, plugin messages and lifecycle, console keys, "
                                   "and the jobs plugins read), for 'qtui plugin test --replay FILE'. Job "
                                   "payloads and message data are replaced by their size unless --payloads "
                                   "is given. FILE is replaced when the console quits.")
    p.add_argument("--out", metavar="FILE", required=True, help="the recording to write (JSON lines)")
    p.add_argument("--payloads", action="store_true", help="keep job payloads and message data in FILE")
    p.add_argument("--refresh", type=_positive_float, default=2.0, metavar="SECONDS",
                   help="poll the backend every SECONDS (0: only on r); default 2")
    p.add_argument("--mouse", action="store_true", help="let the console use the mouse")
    p.set_defaults(handler=cmd_record)

    ops.register(sub, common=common, as_json=as_json, confirm=confirm)

    def plugin_actions(group: argparse.ArgumentParser) -> None:
        from qtui.cli import plugins as plugins_cli

        plugins_cli.register(group, as_json=as_json, confirm=confirm, common=common)

    group = sub.add_parser(
        "plugin", help="list, inspect, grant, revoke, check and lock Lua plugins",
        description="Manage the Lua plugins: what is installed, what each may do, and whether "
                    "a plugin folder is valid.",
        fill=plugin_actions,
    )
    if not lazy:
        group.fill()

    from qtui.cli import config as config_cli

    config_cli.register(sub)
    return parser


# -- commands ------------------------------------------------------------------


def cmd_console(args: argparse.Namespace) -> int:
    from qtui.cli.config import run_configured_console

    return run_configured_console(args)


def cmd_record(args: argparse.Namespace) -> int:
    from qtui.clock import SYSTEM_CLOCK
    from qtui.console.launch import run_console
    from qtui.plugins.service import Recorder

    backend = open_backend_for(args)
    try:
        recorder = Recorder(Path(args.out), clock=SYSTEM_CLOCK, payloads=args.payloads)
    except OSError as exc:
        print(f"qtui: {args.out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        status = run_console(backend, refresh=args.refresh, mouse=args.mouse, recorder=recorder)
    finally:
        recorder.close()
    full = " (stopped at its size limit)" if recorder.full else ""
    print(f"recorded {recorder.events} events to {args.out}{full}")
    return status


def cmd_demo(args: argparse.Namespace) -> int:
    from qtui.cli.demo import running_demo

    with running_demo(args.db) as demo:
        if args.no_console:
            print(f"simulating on {demo.db} (log: {demo.log}); press Ctrl-C to stop")
            try:
                demo.process.wait()
            except KeyboardInterrupt:
                pass
            return EXIT_OK
        args.db = str(demo.db)
        return cmd_console(args)


def cmd_stats(args: argparse.Namespace) -> int:
    backend = open_backend_for(args)
    queues = backend.stats()
    print_result(args, queues, report.stats_table(queues))
    ops.warn_unfinished(backend)
    return EXIT_OK


def cmd_workers(args: argparse.Namespace) -> int:
    workers = open_backend_for(args).workers()
    print_result(args, workers, report.workers_table(workers))
    return EXIT_OK


def cmd_peek(args: argparse.Namespace) -> int:
    queue = None if args.queue == "all" else args.queue
    backend = open_backend_for(args)
    page = backend.peek(queue, args.state, text=args.filter, cursor=args.cursor, limit=args.limit)
    print_result(args, page, report.page_table(page))
    ops.warn_unfinished(backend)
    return EXIT_OK


def cmd_find(args: argparse.Namespace) -> int:
    job = ops.find_with_progress(open_backend_for(args), args.id)
    if job is None:
        raise NotFound(f"no job with id {args.id!r}")
    print_result(args, job, report.job_text(job))
    return EXIT_OK


def cmd_enqueue(args: argparse.Namespace) -> int:
    if (args.payload is None) == (args.batch is None):
        raise InvalidInput("give either the payload JSON or --batch FILE")
    if args.batch is not None:
        return _enqueue_batch(args)
    payload = sys.stdin.read() if args.payload == "-" else args.payload
    job = open_backend_for(args, create=args.create).enqueue(args.queue, payload, priority=args.priority)
    print_result(args, job, f"enqueued job {job.id} on {job.queue}")
    return EXIT_OK


def _enqueue_batch(args: argparse.Namespace) -> int:
    backend = open_backend_for(args, create=args.create)
    if args.batch == "-":
        done = enqueue_lines(backend, args.queue, sys.stdin.buffer, name="stdin",
                             batch_size=args.batch_size, priority=args.priority)
    else:
        try:
            stream = open(args.batch, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InvalidInput(f"{args.batch}: {exc.strerror}") from None
        with stream:
            done = enqueue_lines(backend, args.queue, stream, name=args.batch,
                                 batch_size=args.batch_size, priority=args.priority)
    ids = f" (ids {done.first_id} to {done.last_id})" if done.enqueued else ""
    print_result(args, done, f"enqueued {done.enqueued} job{'s' if done.enqueued != 1 else ''} on {done.queue}{ids}")
    return EXIT_OK


def cmd_requeue(args: argparse.Namespace) -> int:
    if args.ids and (args.queue or args.filter or args.all):
        raise InvalidInput("give job ids, or --queue/--filter/--all, not both")
    if not args.ids and not (args.queue or args.filter or args.all):
        raise InvalidInput("say which dead jobs: job ids, --queue, --filter, or --all")
    backend = open_backend_for(args)
    if backend.read_only:
        raise ReadOnlyError("requeue refused: read-only mode")
    if args.ids:
        what = f"{len(args.ids)} dead job(s)"
    else:
        what = "all dead jobs" + (f" of {args.queue}" if args.queue else "")
        what += f" matching {args.filter!r}" if args.filter else ""
    ops.offer_unfinished(backend, args)
    confirm_or_refuse(args, f"Requeue {what} to {args.to or 'their own queues'}?")
    if args.ids:
        operation = backend.start_requeue(ids=args.ids, to_queue=args.to)
    else:
        operation = backend.start_requeue(queue=args.queue, text=args.filter, to_queue=args.to)
    return ops.report_outcome(args, ops.run_with_progress(backend, operation))


def cmd_purge(args: argparse.Namespace) -> int:
    queue = None if args.queue == "all" else args.queue
    backend = open_backend_for(args)
    if backend.read_only:
        raise ReadOnlyError("purge refused: read-only mode")
    where = f"queue {queue}" if queue else "every queue"
    ops.offer_unfinished(backend, args)
    confirm_or_refuse(args, f"Delete all {args.state} jobs on {where}? This cannot be undone.")
    return ops.report_outcome(args, ops.run_with_progress(backend, backend.start_purge(queue, args.state)))


# -- entry point ---------------------------------------------------------------

_EXIT_CODES: Sequence[tuple[type[BaseException], int]] = (
    (NotFound, EXIT_NOT_FOUND),
    (InvalidInput, EXIT_USAGE),
    (BackendUnavailable, EXIT_UNAVAILABLE),
    (ReadOnlyError, EXIT_REFUSED),
    (Refused, EXIT_REFUSED),
    (BackendError, EXIT_ERROR),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run qtui with `argv`; returns the exit status."""
    parser = build_parser(lazy=True)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", cmd_console)
    args.opened = []
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("qtui: interrupted", file=sys.stderr)
        return 130
    except (BackendError, Refused) as exc:
        print(f"qtui: {visible(str(exc), multiline=True)}", file=sys.stderr)  # messages quote hostile data
        return next(code for kind, code in _EXIT_CODES if isinstance(exc, kind))
    except BrokenPipeError:
        return EXIT_OK
    finally:
        for backend in args.opened:
            backend.close()
