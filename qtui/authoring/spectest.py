"""Run Lua spec files (busted style) against plugins in a real qtui plugin host.

A spec file ``*_spec.lua`` runs in its own sandbox with busted-style globals and the `qtest`
driver::

    describe("tenant panel", function()
      local p
      before_each(function()
        p = qtest.load{                        -- the plugin under test (`qtui plugin test DIR`),
          jobs = {{queue = "email", state = "dead", payload = {n = 1}, error = "smtp down"}},
          confirm = true,                      -- the operator confirms destructive requests
        }
      end)
      it("shows the dead jobs", function()
        p:send("stats")                        -- stats from the scripted queue
        assert.same({"email dead=1"}, p:text())
      end)
    end)

``qtest.load{...}`` opens a console (a real PluginHost on a real SQLite queue filled from
``jobs``) and starts a plugin in it: the plugin under test, ``plugin = "folder"`` (relative to
the spec file) or an inline one, ``source = [[ function activate() ... end ]]`` with
``files``, ``name``, ``version``, ``api`` and ``manifest`` (TOML appended to the generated
manifest). ``grant``, ``deny``, ``undecided`` and ``no_confirm`` are the operator's decisions
(an inline plugin requests exactly those capabilities; a plugin folder's requested ones are
granted unless denied or left undecided), ``forbid`` the site policy, ``settings`` stored
values and ``confirm`` the operator's answer to confirmations (nil: nobody to ask).

A plugin object has ``add{...}`` (another plugin in the same console), ``send(event)``,
``tick(name)``, ``command(name, args, row)``, ``settings{...}``, ``reload{source=}``, ``stop()``
(returns what deactivate handed over), and reads ``panel(name)``, ``text(name)`` (the main
panel, or one the plugin opened), ``panels()``, ``state()``, ``error()``, ``errors()``,
``notices()``, ``audit()``, ``log()``, ``confirmations()``, ``commands()``, ``timers()`` and
``jobs(queue, state)``. ``qtest.advance(seconds)`` moves
the console's virtual clock so timers fire, each at its own time. ``qtest.load{recording =
FILE}`` and ``p:replay()`` feed a recording made with ``qtui record`` into the plugin (its jobs
in the queue, its events at their times); ``qtest.recording`` is the file given with
``qtui plugin test --replay FILE``. Every call returns once the console is idle:
specs never sleep. Consoles are closed after each test.

Failures name the test, the spec line of the failing assertion and what was expected and
got, then for each plugin of the test its state and newest log lines (the errors it raised
are among them); the last line is ``N passed, M failed``. ``p:error()`` is the latest error
as a table ``{message=, file=, line=, text=}`` (``text`` as the console shows it, ``file`` and
``line`` nil when Lua did not say), or nil. See `main` for the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TextIO

from qtui.authoring._spec_result import SpecResult
from qtui.sanitize import one_line, visible

SPEC_SUFFIX = "_spec.lua"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class SpecUsageError(Exception):
    """The specs to run cannot be found; the message says what was looked for."""


def find_specs(paths: Iterable[Path]) -> list[Path]:
    """The spec files named: files as given, folders searched for ``*_spec.lua`` (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            specs = sorted(p for p in path.rglob(f"*{SPEC_SUFFIX}") if p.is_file())
            if not specs:
                raise SpecUsageError(f"{path}: no *{SPEC_SUFFIX} files")
            found += specs
        elif path.is_file():
            found.append(path)
        else:
            raise SpecUsageError(f"{path}: no such file or folder")
    return found


def run_specs(files: Sequence[Path], *, plugin: Path | None = None,
              report: Callable[[SpecResult], None] | None = None,
              output: Callable[[str], None] | None = None, replay: Path | None = None) -> list[SpecResult]:
    """Run every test of `files`, with `plugin` (a folder) as the plugin under test.

    `report` sees each result as it is known; `output` receives what specs `print`; `replay` is a
    recording (qtui record) the specs see as ``qtest.recording``.
    """
    results: list[SpecResult] = []

    def record(result: SpecResult) -> None:
        results.append(result)
        if report is not None:
            report(result)

    from qtui.authoring import _spec_run  # trio and Lua: loaded only when specs run

    under_test = plugin.resolve() if plugin is not None else None
    # What the host logs about plugin errors, specs read with plugin:error() and :log().
    host_log = logging.getLogger("qtui.plugins")
    level = host_log.level
    host_log.setLevel(logging.ERROR)
    try:
        _spec_run.run(list(files), under_test, record, output or print,
                      replay.resolve() if replay is not None else None)
    finally:
        host_log.setLevel(level)
    return results


# -- reporting and the command line --------------------------------------------------------


def format_failure(result: SpecResult) -> str:
    """A failed test as the runner prints it: title, place, expected/got, then what the test's
    plugins logged, their own errors among it (all made inert)."""
    lines = [f"FAIL {one_line(result.title)}", f"  at {one_line(result.location or result.where)}"]
    lines += [f"  {line}" for line in visible(result.message, multiline=True).splitlines() or [""]]
    lines += [f"  {line}" for line in result.output]
    return "\n".join(lines)


def summary(results: Sequence[SpecResult]) -> str:
    passed = sum(1 for r in results if r.passed)
    return f"{passed} passed, {len(results) - passed} failed"


def run_and_report(files: Sequence[Path], *, plugin: Path | None, verbose: bool, out: TextIO,
                   replay: Path | None = None) -> int:
    """Run `files`, print failures (and passes when `verbose`) and the summary; the exit status."""

    def report(result: SpecResult) -> None:
        if not result.passed:
            print(format_failure(result), file=out, flush=True)
        elif verbose:
            print(f"ok   {one_line(result.title)}", file=out, flush=True)

    try:
        results = run_specs(files, plugin=plugin, report=report, replay=replay,
                            output=lambda line: print(visible(line, multiline=True), file=out))
    except KeyboardInterrupt:
        print("qtui: interrupted", file=sys.stderr)
        return 130
    print(summary(results), file=out)
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAILED


def contract_dir() -> Path:
    """The contract specs of plugin API v1: ``spec/`` of the qtui source tree."""
    folder = Path(__file__).resolve().parents[2] / "spec"
    if not folder.is_dir():
        raise SpecUsageError(f"{folder}: the contract specs ship with qtui's source, not with an installed package")
    return folder


def cmd_test(args: argparse.Namespace) -> int:
    """`qtui plugin test DIR` (DIR/spec/*_spec.lua against DIR) or `--contract`."""
    try:
        if args.contract:
            if args.dir is not None:
                raise SpecUsageError("give a plugin folder or --contract, not both")
            return run_and_report(find_specs([contract_dir()]), plugin=None, verbose=args.verbose, out=sys.stdout)
        if args.dir is None:
            raise SpecUsageError("say which plugin folder to test, or --contract")
        folder = Path(args.dir)
        if not folder.is_dir():
            raise SpecUsageError(f"{folder}: not a folder")
        files = find_specs([folder / "spec"])
        replay = None if args.replay is None else Path(args.replay)
        if replay is not None and not replay.is_file():
            raise SpecUsageError(f"{replay}: no such recording (make one with: qtui record --out FILE)")
    except SpecUsageError as exc:
        print(f"qtui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_and_report(files, plugin=folder, verbose=args.verbose, out=sys.stdout, replay=replay)


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `plugin test` to the `qtui plugin` actions."""
    p = actions.add_parser(
        "test", help="run a plugin's specs (DIR/spec/*_spec.lua) in a real plugin host",
        description="Run the busted-style Lua specs in DIR/spec against the plugin in DIR, each "
                    "test in a fresh console on a scripted SQLite queue. With --contract, run "
                    "qtui's own contract specs of the plugin API. Exit status 1 when a test fails.",
    )
    p.add_argument("dir", metavar="DIR", nargs="?", help="the plugin folder")
    p.add_argument("--contract", action="store_true", help="run the plugin API contract specs")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    p.add_argument("--replay", metavar="FILE",
                   help="a recording (qtui record --out FILE) the specs replay into the plugin: "
                        "qtest.recording, p:replay()")
    p.set_defaults(handler=cmd_test)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qtui.authoring.spectest [--plugin DIR] [-v] [PATH...]`` (default: spec/)."""
    parser = argparse.ArgumentParser(
        prog="python -m qtui.authoring.spectest",
        description="Run Lua spec files (*_spec.lua) against plugins in a real qtui plugin host.",
    )
    parser.add_argument("paths", metavar="PATH", nargs="*", type=Path, default=[Path("spec")],
                        help="spec files or folders to search for *_spec.lua (default: spec)")
    parser.add_argument("--plugin", metavar="DIR", type=Path, help="the plugin under test")
    parser.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    args = parser.parse_args(argv)
    try:
        files = find_specs(args.paths)
    except SpecUsageError as exc:
        print(f"qtui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_and_report(files, plugin=args.plugin, verbose=args.verbose, out=sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
