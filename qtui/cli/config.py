"""`qtui config check`, and what the command line takes from config.toml.

Nothing is imported at start-up beyond the standard library: the parser registers the
subcommand for every command, and only these handlers read the configuration.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qtui.cli.common import EXIT_NOT_FOUND, EXIT_OK, open_backend_for
from qtui.model import InvalidInput

#: Seconds between polls when neither --refresh nor config.toml says.
DEFAULT_REFRESH = 2.0


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's type
    """Add `qtui config check [FILE]`."""
    p = sub.add_parser("config", help="check the configuration file (qtui(5))",
                       description="Work with qtui's configuration file, $XDG_CONFIG_HOME/qtui/config.toml.")
    commands = p.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check", help="validate the configuration file",
        description="Validate config.toml (or FILE) as the console reads it: print every problem as "
                    "file:line: field: message and exit 1, or print ok and exit 0.")
    check.add_argument("file", nargs="?", metavar="FILE", help="the file to check (default: config.toml)")
    check.set_defaults(handler=cmd_config_check)


def cmd_config_check(args: argparse.Namespace) -> int:
    from qtui.config import config_path
    from qtui.console.settings import load_config
    from qtui.files.tomlfile import FileProblems

    path = Path(args.file) if args.file else config_path()
    if not path.exists():
        if args.file:
            raise InvalidInput(f"{path}: no such file")
        print(f"no configuration file at {path}: the defaults apply")
        return EXIT_OK
    try:
        load_config(path)
    except FileProblems as exc:
        for problem in exc.problems:
            print(problem)
        return EXIT_NOT_FOUND
    print(f"ok: {path}")
    return EXIT_OK


def run_configured_console(args: argparse.Namespace) -> int:
    """Run the console with config.toml's settings under the command line's; returns the exit status."""
    from qtui.console.launch import read_config, run_console

    config = read_config()
    refresh = args.refresh if args.refresh is not None else (
        config.refresh if config.refresh is not None else DEFAULT_REFRESH)
    return run_console(open_backend_for(args), refresh=refresh, mouse=args.mouse or bool(config.mouse),
                       plugins=not args.no_plugins, config=config)
