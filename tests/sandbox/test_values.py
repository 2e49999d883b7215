"""Plain data crosses between host and plugin intact; hostile Lua values fail cleanly."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_testkit import TEST_LIMITS, assert_works

from qtui.plugins.runtime.sandbox import LimitExceeded, LimitKind, Limits, LuaSandbox, PluginError, ViolationPolicy
from tests.support import ManualClock

ECHO = """
function echo(value) return value end
function via_host(value) return host.echo(value) end
"""

scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
)
plain_data = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=40,
)


@pytest.fixture(scope="module")
def echo_sandbox():
    sandbox = LuaSandbox("echo", clock=ManualClock(), limits=TEST_LIMITS, policy=ViolationPolicy(max_violations=1000))
    sandbox.expose("host.echo", lambda value: value)
    sandbox.load(ECHO, "echo.lua")
    yield sandbox
    sandbox.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(value=plain_data)
def test_plain_data_round_trips_through_lua(echo_sandbox, value):
    assert echo_sandbox.call("echo", value) == value


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(value=plain_data)
def test_plain_data_round_trips_through_a_host_function(echo_sandbox, value):
    assert echo_sandbox.call("via_host", value) == value


def test_types_survive_exactly(echo_sandbox):
    value = {"int": 2, "float": 2.0, "neg_zero": -0.0, "empty_list": [], "empty_dict": {},
             "nested": [[1, [2.5, "x"]], {"k": True}], "text": "héllo ✓ \x00 nul"}
    result = echo_sandbox.call("echo", value)
    assert result == value
    assert type(result["int"]) is int and type(result["float"]) is float
    assert result["empty_list"] == [] and isinstance(result["empty_list"], list)
    assert isinstance(result["empty_dict"], dict)
    assert math.copysign(1, result["neg_zero"]) == -1


def test_dict_values_of_none_are_absent_fields(echo_sandbox):
    assert echo_sandbox.call("echo", {"a": None, "b": 1}) == {"b": 1}
    assert echo_sandbox.call("echo", None) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (2**63, "does not fit in 64 bits"),
        ([1, None, 3], "[2]: None cannot be a list item"),
        ({"x": {1.5: "a"}}, "['x'][1.5]: key 1.5 is not a str or int"),
        ({"s": {1, 2}}, "['s']: a set is not plain data"),
        ("\udcff", "not valid Unicode"),
        (object(), "a object is not plain data"),
    ],
)
def test_values_that_are_not_plain_data_are_refused_by_name(echo_sandbox, value, problem):
    # Refused before anything reaches Lua, as the plugin's violation: never an exception the
    # host has to know about.
    with pytest.raises(LimitExceeded) as info:
        echo_sandbox.call("echo", value)
    assert info.value.kind is LimitKind.VALUE
    assert "cannot hand the arguments of echo to the plugin" in str(info.value)
    assert problem in str(info.value)
    assert_works_echo(echo_sandbox)


def assert_works_echo(sandbox: LuaSandbox) -> None:
    assert sandbox.call("echo", [1, "two"]) == [1, "two"]


def test_host_data_beyond_the_depth_bound_is_refused(echo_sandbox):
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(LimitExceeded, match="deeper than 32"):
        echo_sandbox.call("echo", deep)


HOSTILE = """
function cycle() local t = {} t.self = t return t end
function shared_blowup()
  local t = {1}
  for i = 1, 25 do t = {t, t} end  -- a DAG with 2^25 paths
  return t
end
function huge() local t = {} for i = 1, 200000 do t[i] = i end return t end
function with_function() return {name = "x", run = print} end
function with_coroutine() return {co = coroutine.create(print)} end
function metamethods()
  local spin = function() while true do end end
  local t = setmetatable({a = 1, 2}, {__index = spin, __pairs = spin, __len = spin,
                                      __tostring = spin, __eq = spin})
  return {inner = t}
end
function bad_key() return {["\\255\\254"] = 1} end
function bad_value() return {name = "caf\\195"} end
function float_key() return {[1.5] = "x"} end
function boolean_key() return {[true] = "x"} end
function sparse() return {[1] = "a", [3] = "c"} end
function mixed() return {"a", "b", name = "c"} end
function zero_based() return {[0] = "z", "a"} end
function many_results() return 1, 2, 3 end
function long_text() local s = ("x"):rep(2^21) return {s, s, s} end
"""


@pytest.fixture
def hostile(make_sandbox):
    return make_sandbox(HOSTILE)


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        ("with_function", "['run']: a Lua function or coroutine cannot be passed to the host"),
        ("with_coroutine", "['co']: a Lua function or coroutine cannot be passed to the host"),
        ("bad_key", "is not valid UTF-8"),
        ("float_key", "table key 1.5 is not a string or integer"),
        ("boolean_key", "table key true is not a string or integer"),
    ],
)
def test_results_that_are_not_plain_data_fail_cleanly(hostile, function, problem):
    with pytest.raises(PluginError) as info:
        hostile.call(function)
    assert not isinstance(info.value, LimitExceeded)
    assert problem in info.value.message
    assert f"{function} returned a value the host cannot use" in info.value.message
    assert_works(hostile)


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        ("cycle", "nested deeper than 32 levels (a cycle?)"),
        ("shared_blowup", "more than 100000 table entries"),
        ("huge", "more than 100000 table entries"),
        ("long_text", "more than 4194304 bytes of text in all"),
    ],
)
def test_results_over_the_bounds_are_violations(hostile, function, problem):
    with pytest.raises(LimitExceeded) as info:
        hostile.call(function)
    assert info.value.kind is LimitKind.VALUE
    assert problem in info.value.message
    assert f"{function} returned a value over the limits" in info.value.message
    assert_works(hostile)


def test_metamethods_of_plugin_values_never_run_on_the_host(hostile):
    # Every metamethod loops forever; the host reads the raw table and returns at once.
    assert hostile.call("metamethods") == {"inner": {"a": 1, 1: 2}}


def test_table_shapes(hostile):
    assert hostile.call("sparse") == {1: "a", 3: "c"}
    assert hostile.call("mixed") == {1: "a", 2: "b", "name": "c"}
    assert hostile.call("zero_based") == {0: "z", 1: "a"}
    assert hostile.call("bad_value") == {"name": "caf\ufffd"}
    assert hostile.call("many_results") == 1


def test_bounds_are_configurable(make_sandbox):
    limits = Limits(memory_bytes=16 * 2**20, max_depth=3, max_items=5)
    sandbox = make_sandbox("function nest() return {{{{}}}} end\n"
                           "function wide() return {1, 2, 3, 4, 5, 6} end", limits=limits)
    with pytest.raises(LimitExceeded, match="deeper than 3"):
        sandbox.call("nest")
    with pytest.raises(LimitExceeded, match="more than 5"):
        sandbox.call("wide")
    with pytest.raises(LimitExceeded, match="more than 5"):
        sandbox.call("probe", list(range(6)))


def test_hostile_arguments_to_host_functions_fail_in_lua_not_on_the_host(make_sandbox):
    received = []
    sandbox = make_sandbox("""
        function run()
          local ok, message = pcall(host.take, 1, {f = print})
          local spin = function() while true do end end
          host.take(setmetatable({1, 2}, {__index = spin, __pairs = spin}))
          return {ok, message}
        end
        function cycle()
          local t = {} t.self = t
          pcall(host.take, t)
          return "swallowed"
        end
    """)
    sandbox.expose("host.take", lambda *values: received.append(list(values)))
    ok, message = sandbox.call("run")
    assert ok is False and "host.take: bad argument #2: ['f']: a Lua function" in message
    assert received == [[[1, 2]]]
    # A value over the bounds is a violation pcall cannot swallow, refused before the host sees it.
    with pytest.raises(LimitExceeded) as info:
        sandbox.call("cycle")
    assert info.value.kind is LimitKind.VALUE and "a cycle?" in info.value.message
    assert received == [[[1, 2]]]


def test_one_byte_budget_covers_all_arguments_of_a_host_call(make_sandbox):
    received = []
    sandbox = make_sandbox("""
        function run(n)
          local s = ("x"):rep(n)
          host.take(s, s, s, s, s)
        end
    """, limits=Limits(memory_bytes=16 * 2**20, max_bytes=1000))
    sandbox.expose("host.take", lambda *values: received.append(len(values)))
    sandbox.call("run", 200)
    with pytest.raises(LimitExceeded, match="bad argument #5: more than 1000 bytes of text in all"):
        sandbox.call("run", 201)
    assert received == [5]


def test_host_results_that_are_not_plain_data_are_an_internal_error(make_sandbox, caplog):
    sandbox = make_sandbox("function run() return {pcall(host.odd)} end")
    sandbox.expose("host.odd", lambda: {"when": object()})
    assert sandbox.call("run") == [False, "host.odd: internal error"]
    assert "is not plain data" in caplog.text


def test_host_functions_get_an_empty_list_back_as_a_list(make_sandbox):
    seen = []
    sandbox = make_sandbox("function run() local rows = host.rows() host.take(rows) return #rows end")
    sandbox.expose("host.rows", lambda: [])
    sandbox.expose("host.take", seen.append)
    assert sandbox.call("run") == 0
    assert seen == [[]]
