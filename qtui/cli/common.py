"""What every ``qtui`` subcommand shares: exit statuses, confirmation, opening the backend, output.

Exit status: 0 success; 1 nothing found (no such job or queue); 2 bad usage or
invalid input; 3 backend unavailable (missing, locked, corrupt database, lost
connection); 4 refused (read-only mode, or a destructive command not confirmed);
5 any other backend error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qtui import paths, report
from qtui.backends import open_backend
from qtui.backends.base import Backend
from qtui.clock import SYSTEM_CLOCK
from qtui.model import InvalidInput

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_REFUSED, EXIT_ERROR = range(6)


class Refused(Exception):
    """A destructive command was not confirmed."""


def open_backend_for(args: argparse.Namespace, *, create: bool = False) -> Backend:
    """The backend named by --db, else config.toml, else the default database; closed when the command ends."""
    target = args.db or _configured_database()
    if target is None:
        target = paths.default_database()
        create = True  # the default database is made on first use
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    backend = open_backend(target, clock=SYSTEM_CLOCK.time, read_only=args.read_only, create=create)
    args.opened.append(backend)
    return backend


def confirm_or_refuse(args: argparse.Namespace, question: str) -> None:
    """Go on if --yes was given or the operator answers yes at a terminal; else raise Refused."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise Refused(f"{question} refused: stdin is not a terminal; pass --yes to confirm")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise Refused("cancelled")


def print_result(args: argparse.Namespace, value: object, text: str) -> None:
    """`value` as JSON with --json, else `text`."""
    print(report.to_json(value) if getattr(args, "json", False) else text)


def open_for_console(args: argparse.Namespace) -> Backend:
    """The backend the console runs on, chosen like every other command's."""
    return open_backend_for(args)


def _configured_database() -> str | None:
    """config.toml's `database`; InvalidInput (file:line: field) when it cannot be read."""
    from qtui.config import configured_database
    from qtui.files.tomlfile import FileProblems

    try:
        return configured_database()
    except FileProblems as exc:
        raise InvalidInput(str(exc)) from None
