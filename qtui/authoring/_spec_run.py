"""The trio and Lua side of the spec runner (see qtui.authoring.spectest).

Each spec file gets its own sandbox holding the spec prelude and a SpecDriver; its code runs
in a thread of its own, one test per sandbox call, and the consoles a test opened are closed
after it. The trio run uses a virtual clock (trio.testing.MockClock) that only moves when a
spec calls qtest.advance.
"""

from __future__ import annotations

import importlib.resources
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from qtui.authoring._spec_driver import SpecDriver
from qtui.authoring._spec_result import SpecResult
from qtui.clock import SYSTEM_CLOCK
from qtui.plugins.runtime.sandbox import Limits, LuaSandbox, PluginError, ViolationPolicy

#: Limits of a spec's own sandbox: generous, but a runaway spec still ends.
SPEC_LIMITS = Limits(memory_bytes=256 * 2**20, instructions=2_000_000_000, cpu_seconds=60.0, wall_seconds=600.0)
_SPEC_POLICY = ViolationPolicy(max_violations=1_000_000)
_PRELUDE = importlib.resources.files("qtui.authoring").joinpath("_spec_prelude.lua").read_text("utf-8")
_PRELUDE_NAME = "[qtest]"
_POSITION = re.compile(r"(?P<where>[^\n]*?:\d+): (?P<message>.*)", re.S)


def run(files: list[Path], under_test: Path | None, record: Callable[[SpecResult], None],
        output: Callable[[str], None], replay: Path | None = None) -> None:
    """Run every test of `files` in one trio run, handing each result to `record`; `replay` is
    the recording the specs see as qtest.recording."""
    clock = trio.testing.MockClock()
    trio.run(_run_files, files, under_test, clock, record, output, replay, clock=clock)


async def _run_files(files: list[Path], under_test: Path | None, clock: trio.testing.MockClock,
                     record: Callable[[SpecResult], None], output: Callable[[str], None],
                     replay: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="qtui-spec-") as workdir:
        for number, file in enumerate(files):
            async with trio.open_nursery() as nursery:
                driver = SpecDriver(
                    workdir=Path(workdir) / f"spec-{number}", base=file.parent.resolve(),
                    under_test=under_test, clock=clock, nursery=nursery,
                    token=trio.lowlevel.current_trio_token(), replay=replay,
                )
                try:
                    await _run_file(file, driver, record, output)
                finally:
                    await driver.close_consoles()


def _chunkname(file: Path) -> str:
    """How failures name the spec file: relative to the working folder when inside it."""
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _spec_modules(folder: Path) -> Callable[[str], tuple[str, str] | None]:
    """`require("helpers")` in a spec loads helpers.lua next to it."""

    def resolve(name: str) -> tuple[str, str] | None:
        path = folder.joinpath(*name.split(".")).with_suffix(".lua")
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8", errors="replace"), _chunkname(path)

    return resolve


async def _run_file(file: Path, driver: SpecDriver, record: Callable[[SpecResult], None],
                    output: Callable[[str], None]) -> None:
    chunkname = _chunkname(file)
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        record(SpecResult(file, (chunkname,), chunkname, False, chunkname, f"cannot read: {exc}"))
        return
    sandbox = LuaSandbox("spec", clock=SYSTEM_CLOCK, limits=SPEC_LIMITS, policy=_SPEC_POLICY,
                         resolver=_spec_modules(file.parent), output=output)
    try:
        driver.expose(sandbox)
        sandbox.load(_PRELUDE, _PRELUDE_NAME)
        try:
            await _in_lua_thread(sandbox, sandbox.load, source, chunkname)
            tests = await _in_lua_thread(sandbox, sandbox.call, "_qtest_tests")
        except PluginError as error:
            record(_failed(file, (chunkname,), chunkname, error, chunkname))
            return
        finally:
            await driver.close_consoles()
        for index, test in enumerate(tests, 1):
            names = tuple(test["names"])
            where = _full_position(test["where"], chunkname)
            try:
                try:
                    result = await _in_lua_thread(sandbox, sandbox.call, "_qtest_run", index)
                except PluginError as error:
                    result = error
                output = driver.plugin_output()  # what the plugins said, before their consoles close
            finally:
                await driver.close_consoles()
            if isinstance(result, PluginError):
                record(attrs.evolve(_failed(file, names, where, result, chunkname), output=output))
            elif result["ok"]:
                record(SpecResult(file, names, where, True))
            else:
                location, message = _split_position(result["message"], chunkname)
                record(SpecResult(file, names, where, False, location or where, message, output))
    finally:
        sandbox.close()


def _failed(file: Path, names: tuple[str, ...], where: str, error: PluginError, chunkname: str) -> SpecResult:
    """A test (or file) the sandbox aborted: a Lua error outside any test, or a limit.

    A limit trip surfaces in the runner's prelude (the sticky trip outlives the spec's own
    frames), so its place is the test's `it` line.
    """
    location = None
    if error.file is not None and error.file != _PRELUDE_NAME:
        location = _full_position(f"{error.file}:{error.line}" if error.line else error.file, chunkname)
    return SpecResult(file, names, where, False, location or where, error.message)


def _split_position(text: str, chunkname: str) -> tuple[str | None, str]:
    found = _POSITION.match(text)
    if found is None:
        return None, text
    return _full_position(found["where"], chunkname), found["message"]


def _full_position(where: str, chunkname: str) -> str:
    """Lua shortens long chunk names to '...tail'; put the spec file's full name back."""
    if where.startswith("..."):
        file, _, line = where.rpartition(":")
        if chunkname.endswith(file[3:]):
            return f"{chunkname}:{line}"
    return where


async def _in_lua_thread(sandbox: LuaSandbox, function: Callable[..., Any], *args: Any) -> Any:
    """Run spec Lua in a thread of its own (not one of trio's: the driver's idle check waits
    for those) and wait for it; cancelling interrupts the Lua code."""
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()
    result: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function(*args))
        except BaseException as exc:  # handed to the waiting task, which re-raises it
            failure.append(exc)
        try:
            trio.from_thread.run_sync(done.set, trio_token=token)
        except trio.RunFinishedError:
            pass

    threading.Thread(target=target, name="qtui spec", daemon=True).start()
    try:
        await done.wait()
    except trio.Cancelled:
        sandbox.interrupt("the spec run was cancelled")
        raise
    if failure:
        raise failure[0]
    return result[0]
