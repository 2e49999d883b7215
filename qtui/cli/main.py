"""The `qtui` command: the console, and every admin operation as a subcommand.

Exit statuses are those of :mod:`qtui.cli.common`; an interrupt exits 130.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qtui import __version__, paths, report
from qtui.cli import ops
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
from qtui.clock import SYSTEM_CLOCK
from qtui.model import (
    BackendError,
    BackendUnavailable,
    InvalidInput,
    JobState,
    NotFound,
    ReadOnlyError,
)

# -- argument parsing ----------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _page_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError("must be between 1 and 500")
    return value


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


def build_parser() -> argparse.ArgumentParser:
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
    parser.add_argument("--refresh", type=_positive_float, default=2.0, metavar="SECONDS",
                        help="poll the backend every SECONDS (0: only on r); default 2")
    parser.add_argument("--mouse", action="store_true", help="let the console use the mouse")
    parser.add_argument("--no-plugins", action="store_true", help="do not load any plugin")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    p = sub.add_parser("enqueue", parents=[common, as_json], help="add a job with a JSON payload")
    p.add_argument("queue", metavar="QUEUE")
    p.add_argument("payload", metavar="JSON", help="the payload, or - to read it from stdin")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
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

    ops.register(sub, common=common, as_json=as_json, confirm=confirm)

    from qtui.cli import plugins as plugins_cli

    plugins_cli.register(sub, as_json=as_json, confirm=confirm, common=common)
    return parser


# -- commands ------------------------------------------------------------------


def cmd_console(args: argparse.Namespace) -> int:
    from qtui.console.launch import run_console

    run_console(open_backend_for(args), refresh=args.refresh, mouse=args.mouse, plugins=not args.no_plugins)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from qtui import simulation

    db = Path(args.db) if args.db else paths.demo_database()
    if "://" in str(db):
        raise InvalidInput("qtui demo needs a file path for --db, not a URL")
    db.parent.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        simulation.seed(db, clock=SYSTEM_CLOCK.time)
    log_dir = paths.state_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "demo.log", "ab") as log:
        # The simulation runs until its stdin closes, so it also ends if qtui dies.
        sim = subprocess.Popen(
            [sys.executable, "-m", "qtui.simulation", "--db", str(db)],
            stdin=subprocess.PIPE, stdout=log, stderr=log,
        )
    try:
        if args.no_console:
            print(f"simulating on {db} (log: {log_dir / 'demo.log'}); press Ctrl-C to stop")
            try:
                sim.wait()
            except KeyboardInterrupt:
                pass
            return EXIT_OK
        args.db = str(db)
        return cmd_console(args)
    finally:
        if sim.stdin:
            sim.stdin.close()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()


def cmd_stats(args: argparse.Namespace) -> int:
    backend = open_backend_for(args)
    queues = backend.stats()
    print_result(args, queues, report.stats_table(queues))
    return EXIT_OK


def cmd_workers(args: argparse.Namespace) -> int:
    workers = open_backend_for(args).workers()
    print_result(args, workers, report.workers_table(workers))
    return EXIT_OK


def cmd_peek(args: argparse.Namespace) -> int:
    queue = None if args.queue == "all" else args.queue
    page = open_backend_for(args).peek(queue, args.state, text=args.filter, cursor=args.cursor, limit=args.limit)
    print_result(args, page, report.page_table(page))
    return EXIT_OK


def cmd_find(args: argparse.Namespace) -> int:
    job = ops.find_with_progress(open_backend_for(args), args.id)
    if job is None:
        raise NotFound(f"no job with id {args.id!r}")
    print_result(args, job, report.job_text(job))
    return EXIT_OK


def cmd_enqueue(args: argparse.Namespace) -> int:
    payload = sys.stdin.read() if args.payload == "-" else args.payload
    job = open_backend_for(args, create=True).enqueue(args.queue, payload, priority=args.priority)
    print_result(args, job, f"enqueued job {job.id} on {job.queue}")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", cmd_console)
    args.opened = []
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("qtui: interrupted", file=sys.stderr)
        return 130
    except (BackendError, Refused) as exc:
        print(f"qtui: {exc}", file=sys.stderr)
        return next(code for kind, code in _EXIT_CODES if isinstance(exc, kind))
    except BrokenPipeError:
        return EXIT_OK
    finally:
        for backend in args.opened:
            backend.close()
