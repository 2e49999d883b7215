"""Helpers for the sandbox tests (imported by name; conftest puts this folder on sys.path)."""

from __future__ import annotations

from qtui.plugins.runtime.sandbox import Limits, LuaSandbox
from tests.support import ManualClock

#: Small enough that runaways stop within milliseconds (the tests' clocks stand still unless moved).
TEST_LIMITS = Limits(memory_bytes=16 * 2**20, instructions=20_000_000, cpu_seconds=10.0, wall_seconds=10.0)

#: Every sandbox in these tests also defines `probe`, used to show the runtime still works.
PROBE = """
function probe(n)
  local parts = {}
  for i = 1, n do parts[#parts + 1] = ("%d"):format(i) end
  return table.concat(parts, ",")
end
"""


def assert_works(sandbox: LuaSandbox) -> None:
    """The sandbox still runs ordinary plugin code."""
    assert sandbox.call("probe", 4) == "1,2,3,4"


def assert_fresh_sandbox_works() -> None:
    """Another plugin's runtime in the same process is unaffected."""
    other = LuaSandbox("bystander", clock=ManualClock(), limits=TEST_LIMITS)
    try:
        other.load(PROBE, "main.lua")
        assert_works(other)
    finally:
        other.close()


def lua_eval(sandbox: LuaSandbox, expression: str):
    """Evaluate a Lua expression inside the sandbox's plugin environment."""
    sandbox.load(f"function __eval() return {expression} end", "eval.lua")
    return sandbox.call("__eval")
