"""The modules vendored into the sample plugins (lib/json.lua, lib/text.lua, lib/queues.lua),
run in a real plugin sandbox against Python's own JSON and terminal-width rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urwid.str_util import calc_width
from wcwidth import wcwidth

from qtui.plugins.runtime.sandbox import Limits, LuaSandbox
from qtui.sanitize import visible

from .conftest import CATALOG

LIB = CATALOG / "tenant-sla"  # holds every vendored module (identical copies: see test_catalog)

HARNESS = """
local json = require("lib.json")
local text = require("lib.text")
local queues = require("lib.queues")
function field(payload, path, budget)
  local b = budget and json.budget(budget) or nil
  local value, complete = json.field(payload, path, b)
  return { value = value, complete = complete, left = b and b.cost or nil }
end
function fit(s, n) return text.fit(s, n) end
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


def resolve(name: str):
    path = LIB / (name.replace(".", "/") + ".lua")
    return (path.read_text(encoding="utf-8"), str(path.relative_to(LIB))) if path.is_file() else None


@pytest.fixture(scope="module")
def lua() -> LuaSandbox:
    # The plugins' own per-call limits: every call here must fit in what a plugin call gets.
    sandbox = LuaSandbox("lib", limits=Limits(memory_bytes=16 * 2**20, instructions=1_000_000, wall_seconds=5),
                         resolver=resolve)
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


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=st.text(st.characters(exclude_categories=["Cs"]), max_size=120), columns=st.integers(1, 40))
def test_fit_is_safe_and_within_the_columns(lua, s, columns) -> None:
    fitted = lua.call("fit", s, columns)
    assert visible(fitted) == fitted  # nothing the host would have to neutralise
    assert calc_width(fitted, 0, len(fitted)) <= columns
    # Widths are counted per character, at least one column each (a conservative measure: an
    # accent or a skin tone counts too); text that fits that way is left as it is.
    if sum(2 if wcwidth(c) == 2 else 1 for c in s) <= columns and visible(s) == s and len(s) <= 200:
        assert fitted == s


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
    """lib/text.lua's patterns agree with qtui.sanitize, character by character."""
    unsafe = [chr(c) for c in range(0x80, 0x110000)
              if not 0xD800 <= c <= 0xDFFF and visible(chr(c)) != chr(c)]
    assert len(unsafe) > 4000
    for start in range(0, len(unsafe), 200):  # clean looks at 200 characters at most
        chunk = unsafe[start:start + 200]
        assert lua.call("clean", "".join(chunk)) == "?" * len(chunk), [hex(ord(c)) for c in chunk]
    kept = "payroll é ß 中 ✔ \u0301"
    assert lua.call("clean", kept) == kept
