"""Real Lua 5.4 sandboxes (lupa) for the plugin sandbox tests; nothing is mocked."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # for `import sandbox_testkit` in the tests
    sys.path.insert(0, str(TESTS_DIR))

from sandbox_testkit import PROBE, TEST_LIMITS  # noqa: E402

from qtui.plugins.runtime.sandbox import Limits, LuaSandbox, ViolationPolicy  # noqa: E402
from tests.support import ManualClock  # noqa: E402

SandboxFactory = Callable[..., LuaSandbox]


@pytest.fixture
def clock() -> ManualClock:
    """The sandboxes' clock: it moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
def make_sandbox(clock: ManualClock) -> Iterator[SandboxFactory]:
    """Build sandboxes with PROBE (probe.lua) and `source` (main.lua) loaded; closed afterwards."""
    made: list[LuaSandbox] = []
    names = itertools.count(1)

    def make(source: str = "", *, limits: Limits = TEST_LIMITS, **options) -> LuaSandbox:
        options.setdefault("policy", ViolationPolicy(max_violations=1000))
        sandbox = LuaSandbox(f"plugin{next(names)}", clock=clock, limits=limits, **options)
        made.append(sandbox)
        sandbox.load(PROBE, "probe.lua")
        if source:
            sandbox.load(source, "main.lua")
        return sandbox

    yield make
    for sandbox in made:
        sandbox.close()
