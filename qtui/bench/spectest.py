"""What plugin specs cost: opening a console, driving a plugin, running the contract.

    python -m qtui.bench spectest [--repeat 100]

Each figure comes from a spec run by the real runner: a test doing the setup alone and one
doing the setup and then the operation `--repeat` times; the difference over the count is
the cost of one operation, including the wait until the console is idle again.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from qtui import report
from qtui.authoring import spectest

_PANEL = """[[
  function activate() qtui.subscribe("stats", "key"); qtui.every("tick", 1) end
  function on_event(e)
    if e.type == "stats" then
      local lines = {}
      for _, q in ipairs(e.queues) do lines[#lines + 1] = q.name .. " " .. q.ready .. " " .. q.dead end
      qtui.render(lines)
    else
      qtui.render({e.type})
    end
  end
]]"""

_JOBS = "{" + ", ".join(
    f'{{queue = "q{n % 5}", state = "{state}", payload = {{n = {n}}}}}'
    for n, state in enumerate(["ready", "dead", "completed", "scheduled"] * 25)
) + "}"

_LOAD = f'qtest.load{{source = {_PANEL}, grant = {{"stats.read", "selection.read", "timers"}}'

#: name, what one operation is, setup, operation
CASES = (
    ("open a console and start a plugin", "qtest.load (empty queue)", "", f"{_LOAD}}}"),
    ("... with 100 fixture jobs", "qtest.load (100 jobs, 5 queues)", "", f"{_LOAD}, jobs = {_JOBS}}}"),
    ("stats to the panel", "p:send('stats')", f"local p = {_LOAD}, jobs = {_JOBS}}}", 'p:send("stats")'),
    ("a key to the panel", "p:send{type='key'}", f"local p = {_LOAD}}}", 'p:send{type = "key", key = "j"}'),
    ("a timer firing", "qtest.advance(1)", f"local p = {_LOAD}}}", "qtest.advance(1)"),
    ("reading the panel", "p:text()", f"local p = {_LOAD}}}", "p:text()"),
)


def _spec(setup: str, operation: str, repeat: int) -> str:
    return (f'it("setup", function() {setup} end)\n'
            f'it("setup and operations", function() {setup}\n'
            f"  for _ = 1, {repeat} do {operation} end\nend)\n")


def _timed(spec: Path) -> list[float]:
    """Seconds each test of `spec` took (each ends when its result is reported)."""
    marks = [time.perf_counter()]

    def record(result: spectest.SpecResult) -> None:
        if not result.passed:
            raise RuntimeError(spectest.format_failure(result))
        marks.append(time.perf_counter())

    spectest.run_specs([spec], report=record, output=lambda line: None)
    return [b - a for a, b in zip(marks, marks[1:])]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench spectest", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=100, help="operations per measurement (default 100)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, (name, operation, setup, code) in enumerate(CASES):
            spec = Path(tmp) / f"case{number}_spec.lua"
            spec.write_text(_spec(setup, code, args.repeat), encoding="utf-8")
            setup_only, with_operations = _timed(spec)
            per_operation = (with_operations - setup_only) / args.repeat
            rows.append([name, operation, f"{per_operation * 1000:.2f}", f"{1 / per_operation:.0f}"])
    started = time.perf_counter()
    contract = spectest.run_specs(spectest.find_specs([spectest.contract_dir()]), output=lambda line: None)
    elapsed = time.perf_counter() - started
    rows.append(["the contract specs", f"{len(contract)} tests, {spectest.summary(contract)}",
                 f"{elapsed * 1000 / len(contract):.2f}", f"{len(contract) / elapsed:.0f}"])
    print(report.table(["WHAT", "ONE OPERATION", "MS EACH", "PER SECOND"], rows, right=(2, 3)))
    print(f"\ncontract suite: {elapsed:.2f} s")
    return 0
