"""qtui's library for plugins (qtui.json, qtui.text, qtui.queues: qtui/plugins/runtime/stdlib/),
run in a real plugin sandbox against Python's own JSON and terminal-width rules."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urwid.str_util import calc_width
from wcwidth import wcwidth

from qtui.plugins.runtime.sandbox import Limits, LuaSandbox, PluginError
from qtui.sanitize import visible
from tests.support import ManualClock

HARNESS = """
local json = require("qtui.json")
local text = require("qtui.text")
local queues = require("qtui.queues")
function field(payload, path, budget)
  local b = budget and json.budget(budget) or nil
  local value, complete = json.field(payload, path, b)
  return { value = value, complete = complete, left = b and b.cost or nil }
end
local function marked(value)
  if value == json.null then return "<null>" end
  if type(value) ~= "table" then return value end
  local out = {}
  for k, v in pairs(value) do out[k] = marked(v) end
  return out
end
function decode(s)
  local value, err = json.decode(s)
  return { ok = err == nil, value = marked(value), error = err }
end
function fit(s, n)
  local fitted = text.fit(s, n) -- not a tail call: an error names this line
  return fitted
end
function accepts(s) return (json.decode(s)) ~= nil end
function left(s, n) return text.left(s, n) end
function clean(s) return text.clean(s) end
function wrap(s, n, lines) return text.wrap(s, n, lines) end
function message(s) return text.message(s) end
function watched(spec, names)
  local is_watched, count = queues.matcher(spec)
  local out = {}
  for i, name in ipairs(names) do out[i] = is_watched(name) end
  return { matches = out, count = count }
end
"""


@pytest.fixture(scope="module")
def lua() -> LuaSandbox:
    # The plugins' own per-call limits: every call here must fit in what a plugin call gets.
    sandbox = LuaSandbox("lib", clock=ManualClock(),
                         limits=Limits(memory_bytes=16 * 2**20, instructions=1_000_000, cpu_seconds=5, wall_seconds=5))
    sandbox.load(HARNESS, "harness.lua")
    yield sandbox
    sandbox.close()


def field(lua, payload: str, path: str = "tenant", budget: int | None = None) -> dict:
    """{"value": text or None, "complete": bool} and, with a budget, "left": what remains of it."""
    result = lua.call("field", payload, path, budget)
    return {"value": result.get("value"), **{k: v for k, v in result.items() if k != "value"}}


def as_field(value) -> str | None:
    """What json.field gives for a decoded JSON value: scalars as text, the rest nil."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return value if isinstance(value, str) else json.dumps(value)
    return None


scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=20) | st.floats(
    allow_nan=False, allow_infinity=False)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)
keys = st.sampled_from(["tenant", "t", "tenant2", "Tenant", "ténant", 'te"n', "a\\b", ""]) | st.text(max_size=8)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(keys, values, max_size=6), key=keys, ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_json_field_agrees_with_pythons_decoder(lua, doc, key, ascii, indent) -> None:
    payload = json.dumps(doc, ensure_ascii=ascii, indent=indent)
    got = field(lua, payload, key) if key and "." not in key else None
    if got is None:
        return
    assert got["complete"] is True
    assert got["value"] == as_field(doc.get(key)), payload


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inner=st.dictionaries(st.sampled_from(["tenant", "x", "meta"]), values, max_size=4),
       outer=st.dictionaries(st.sampled_from(["tenant", "meta", "y"]), values, max_size=3))
def test_json_field_follows_dotted_paths(lua, inner, outer) -> None:
    doc = outer | {"meta": inner}
    got = field(lua, json.dumps(doc), "meta.tenant")
    assert got["value"] == as_field(inner.get("tenant"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_json_field_never_fails_on_arbitrary_text(lua, payload) -> None:
    got = field(lua, payload)
    try:
        decoded = json.loads(payload)
    except (ValueError, RecursionError):
        return
    if isinstance(decoded, dict) and got["value"] is not None:
        assert got["value"] == as_field(decoded.get("tenant"))


@pytest.mark.parametrize(("payload", "expected"), [
    ('{"tenant":"a","tenant":"b"}', "b"),  # the last duplicate wins, as in Python
    ('{"x":"}{][","tenant":"ok"}', "ok"),
    ('{"x":"\\"}","tenant":"ok"}', "ok"),
    ('{"tenant":"\\ud83d\\ude00"}', "\U0001F600"),
    ('{"tenant":"\\ud83d"}', None),  # a lone surrogate is not text
    ('{"x":[}],"tenant":"no"}', None),  # malformed before the field
    ('{"tenant":"cut"', None),  # unterminated: Python's decoder refuses it too
    ('{"tenant":tru}', None),
])
def test_json_field_edge_cases(lua, payload, expected) -> None:
    assert field(lua, payload)["value"] == expected


def test_json_field_reads_a_prefix_of_long_payloads(lua) -> None:
    early = json.dumps({"tenant": "early", "pad": "x" * 100_000})
    late = json.dumps({"pad": "x" * 100_000, "tenant": "late"})
    assert field(lua, early) == {"value": "early", "complete": False}
    assert field(lua, late) == {"value": None, "complete": False}
    number = json.dumps({"pad": "x" * 8170, "tenant": 1234567890})  # the number is cut at 8 KiB
    assert field(lua, number)["value"] is None


def test_a_budget_bounds_the_work_for_a_whole_page(lua) -> None:
    costly = json.dumps({"a": [[]] * 2600, "tenant": "acme"}, separators=(",", ":"))
    assert len(costly) < 8192
    first = field(lua, costly, budget=60_000)
    assert first["value"] is None and first["complete"] is False  # more than one payload may take
    assert 60_000 - 5_000 <= first["left"] < 60_000
    small = field(lua, json.dumps({"tenant": "acme"}), budget=60_000)
    assert small["value"] == "acme" and small["left"] > 59_000
    spent = field(lua, json.dumps({"tenant": "acme"}), budget=0)
    assert spent == {"value": None, "complete": False, "left": 0}


NULL = "<null>"  # how the harness shows json.null
INVALID = object()


def python_decode(text: str):
    """Python's strict reading of JSON: no NaN or Infinity, which JSON does not have; INVALID if refused."""
    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")
    try:
        return json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        return INVALID


def as_decoded(value):
    """What qtui.json.decode gives for a value Python decoded, as it reaches the host: null fields
    left out, nulls in lists json.null, empty lists empty tables, integers past 64 bits floats."""
    if isinstance(value, dict):
        return {k: as_decoded(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [NULL if v is None else as_decoded(v) for v in value] or {}
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        return float(value)
    return NULL if value is None else value


def has_surrogate(value) -> bool:
    """Python keeps a lone \\ud800 escape as a surrogate, which no UTF-8 text can hold."""
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False


documents = st.recursive(scalars | st.integers(-2**70, 2**70), lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents, ascii=st.booleans(), indent=st.sampled_from([None, 1, "\t"]))
def test_json_decode_agrees_with_pythons_decoder(lua, doc, ascii, indent) -> None:
    text = json.dumps(doc, ensure_ascii=ascii, indent=indent)
    got = lua.call("decode", text)
    assert got["ok"], got.get("error")
    assert got.get("value") == as_decoded(json.loads(text)), text


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text('[]{}",:0123456789.-+eE tfnrul\\u\n\x00\x1f\x7f\u00e9\U0001F600', max_size=40)
       | st.text(max_size=40))
def test_json_decode_accepts_exactly_what_python_accepts(lua, text) -> None:
    expected = python_decode(text)
    got = lua.call("decode", text)
    if expected is INVALID or has_surrogate(expected):
        assert got["ok"] is False and got["error"].startswith("qtui.json.decode: "), got
    else:
        assert got["ok"], (text, got.get("error"))
        value = got.get("value")
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(value)
        else:
            assert value == as_decoded(expected), text


@pytest.mark.parametrize(("text", "problem"), [
    ("", "expecting value at byte 1"),
    ("[1, 2", "expecting ',' delimiter at byte 6"),
    ('{"a": 1,}', "expecting property name enclosed in double quotes at byte 9"),
    ('{"a" 1}', "expecting ':' delimiter at byte 6"),
    ("[01]", "expecting ',' delimiter at byte 3"),
    ("[+1]", "expecting value at byte 2"),
    ("NaN", "NaN is not JSON"),
    ('"abc', "unterminated string starting at byte 1"),
    ('["a\tb"]', "invalid control character at byte 4"),
    ('"\\x"', "invalid \\escape at byte 2"),
    ('"\\ud83d"', "a string holds half of a surrogate pair, which is not text"),
    ("{} {}", "extra data at byte 4"),
    ("\ufeff{}", "expecting value at byte 1"),
    ('["é", x]', "expecting value at byte 8"),  # bytes, not characters
    ("[" * 33 + "]" * 33, "nested deeper than 32 levels"),
])
def test_json_decode_names_what_is_wrong_and_where(lua, text, problem) -> None:
    assert lua.call("decode", text) == {"ok": False, "error": f"qtui.json.decode: {problem}"}


def test_json_decode_values(lua) -> None:
    assert lua.call("decode", "null") == {"ok": True, "value": NULL}
    assert lua.call("decode", '[1, null, 3]')["value"] == [1, NULL, 3]
    assert lua.call("decode", '{"a": null, "b": 1}')["value"] == {"b": 1}
    assert lua.call("decode", '{"a": 1, "a": null}')["value"] == {}  # the last duplicate wins
    assert lua.call("decode", ' "\\ud83d\\ude00\\u00e9\\n" ')["value"] == "\U0001F600\u00e9\n"
    assert lua.call("accepts", "[" * 32 + "]" * 32) is True
    big = lua.call("decode", "[9223372036854775807, 9223372036854775808, 1.0, -0, 1e400]")["value"]
    assert big == [2**63 - 1, 2.0**63, 1.0, 0, math.inf]
    assert [type(v) for v in big] == [int, float, float, int, float]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=st.text(st.characters(exclude_categories=["Cs"]), max_size=120), columns=st.integers(0, 40))
def test_fit_is_safe_and_within_the_columns(lua, s, columns) -> None:
    fitted = lua.call("fit", s, columns)
    assert visible(fitted) == fitted  # nothing the host would have to neutralise
    assert calc_width(fitted, 0, len(fitted)) <= columns
    # Widths are counted per character, at least one column each (a conservative measure: an
    # accent or a skin tone counts too); text that fits that way is left as it is.
    if sum(2 if wcwidth(c) == 2 else 1 for c in s) <= columns and visible(s) == s and len(s) <= 200:
        assert fitted == s


def test_fit_and_pad_take_whole_columns_and_name_wrong_arguments(lua) -> None:
    assert lua.call("fit", "abcdef", 4.7) == "abc…"
    assert lua.call("left", "ab", 4.2) == "ab  "
    assert lua.call("fit", "abc", 0) == lua.call("fit", "abc", -3) == ""
    for columns, got in ((None, "nil"), ("4", "string"), (math.nan, "nan"), (math.inf, "inf")):
        with pytest.raises(PluginError) as info:
            lua.call("fit", "abc", columns)
        assert info.value.message == f"bad argument #2 to 'qtui.text.fit' (finite number expected, got {got})"
        assert info.value.file == "harness.lua"  # the caller's line, not the library's


def test_clean_replaces_what_a_terminal_would_obey(lua) -> None:
    assert lua.call("clean", "a\x1b[31mb\x07\u202ec\u0085d\ufeff") == "a?[31mb??c?d?"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.text("abcdefghij", min_size=1, max_size=15), max_size=30), columns=st.integers(5, 40),
       lines=st.integers(1, 4))
def test_wrap_keeps_the_words_in_order_within_the_box(lua, words, columns, lines) -> None:
    wrapped = lua.call("wrap", " ".join(words), columns, lines)
    assert len(wrapped) <= lines and all(calc_width(line, 0, len(line)) <= columns for line in wrapped)
    joined = " ".join(wrapped)
    if not joined.endswith("…") and all(len(word) <= columns for word in words):
        assert joined == " ".join(words)


def test_message_drops_the_lua_position_only(lua) -> None:
    assert lua.call("message", "init.lua:12: qtui.jobs.peek refused") == "qtui.jobs.peek refused"
    assert lua.call("message", "lib/json.lua:3: boom") == "boom"
    assert lua.call("message", "no position: x.lua:3: here") == "no position: x.lua:3: here"


def test_queue_matcher(lua) -> None:
    names = ["email", "email-bulk", "sms", "billing-eu"]
    assert lua.call("watched", "", names) == {"matches": [True] * 4, "count": 0}
    assert lua.call("watched", " email , billing-* ,", names) == {"matches": [True, False, False, True], "count": 2}
    assert lua.call("watched", "email*", names) == {"matches": [True, True, False, False], "count": 1}


def test_clean_replaces_every_character_the_host_would_neutralise(lua) -> None:
    """qtui.text's patterns agree with qtui.sanitize, character by character."""
    unsafe = [chr(c) for c in range(0x80, 0x110000)
              if not 0xD800 <= c <= 0xDFFF and visible(chr(c)) != chr(c)]
    assert len(unsafe) > 4000
    for start in range(0, len(unsafe), 200):  # clean looks at 200 characters at most
        chunk = unsafe[start:start + 200]
        assert lua.call("clean", "".join(chunk)) == "?" * len(chunk), [hex(ord(c)) for c in chunk]
    kept = "payroll é ß 中 ✔ \u0301"
    assert lua.call("clean", kept) == kept
