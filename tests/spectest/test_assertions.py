"""assert.same and the expected/got text, for any plain data a spec compares."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui.authoring import _spec_run
from qtui.plugins.runtime.sandbox import LuaSandbox
from tests.support import ManualClock

# Plain data as plugins and the driver hand it over: integers, text (with control
# characters), booleans, and lists and string-keyed tables of those, a few levels deep.
_scalars = st.integers(-5, 5) | st.booleans() | st.text(st.sampled_from('ab"\\\n\t\x1b\u00e9'), max_size=3)
plain = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "1", "x y"]), inner,
                                                               max_size=3),
    max_leaves=8,
)


def _lua_shape(value: Any) -> Any:
    """What Lua keeps of a value: a list is a table with integer keys; empty tables are equal."""
    if isinstance(value, list):
        return frozenset((i, _lua_shape(v)) for i, v in enumerate(value, 1))
    if isinstance(value, dict):
        return frozenset((k, _lua_shape(v)) for k, v in value.items())
    return (type(value), value)


@pytest.fixture(scope="module")
def same() -> Any:
    sandbox = LuaSandbox("assertions", clock=ManualClock())
    sandbox.load(_spec_run._PRELUDE, _spec_run._PRELUDE_NAME)
    sandbox.load("function check(a, b) local ok, err = pcall(assert.same, a, b); return {ok, err} end", "check")
    yield lambda a, b: sandbox.call("check", a, b)
    sandbox.close()


@settings(max_examples=300, deadline=None)
@given(plain, plain)
def test_same_compares_contents_and_shows_both_sides_distinctly(same, a: Any, b: Any) -> None:
    result = same(a, b)
    assert result[0] is (_lua_shape(a) == _lua_shape(b))
    if not result[0]:
        expected, got = result[1].split("\n     got: ")
        assert expected.startswith("expected: ")
        assert expected.removeprefix("expected: ") != got
        assert "\n" not in got and "\x1b" not in got


@settings(max_examples=100, deadline=None)
@given(plain)
def test_a_value_is_the_same_as_itself(same, a: Any) -> None:
    assert same(a, a)[0] is True
