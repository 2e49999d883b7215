"""qtui's library for plugins in the sandbox: `require("qtui.…")`, precedence over the plugin's
own files, read-only module tables, an environment of its own, and the plugin's limits."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lupa import lua54
from sandbox_testkit import TEST_LIMITS, assert_fresh_sandbox_works, assert_works, lua_eval

from qtui.plugins.runtime import api
from qtui.plugins.runtime import sandbox as sandbox_module
from qtui.plugins.runtime.sandbox import LIBRARY_MODULES, LimitExceeded, LimitKind, LuaSandbox, PluginError
from tests.support import ManualClock


def own_files(files: dict[str, str], asked: list[str]):
    """A plugin's resolver over `files` ({"a/b.lua": source}) that records the names it is asked for."""

    def resolve(name: str):
        asked.append(name)
        path = name.replace(".", "/") + ".lua"
        return (files[path], path) if path in files else None

    return resolve


def test_the_library_modules_are_json_text_and_queues():
    assert LIBRARY_MODULES == ("qtui.json", "qtui.queues", "qtui.text")


def test_every_sandbox_can_require_the_library_once_per_plugin(make_sandbox):
    sandbox = make_sandbox("""
        local json = require("qtui.json")
        function run()
          local text, again = require("qtui.text"), require("qtui.json")
          return {again == json, text.fit("hello world", 6), (json.decode('{"n": [1, 2]}')).n[2]}
        end
    """)
    assert sandbox.call("run") == [True, "hello…", 2]


def test_each_plugin_compiles_its_own_copy_in_its_own_heap(make_sandbox):
    first, second = make_sandbox(), make_sandbox()
    before = first.memory_used()
    first.load("json = require('qtui.json')", "main.lua")
    assert first.memory_used() > before + 10_000  # the compiled module lives in the plugin's heap
    second.load("json = require('qtui.json')", "main.lua")
    assert lua_eval(first, "tostring(json)") != lua_eval(second, "tostring(json)")


def test_a_plugins_own_files_cannot_shadow_the_library(make_sandbox):
    asked: list[str] = []
    files = {
        "qtui/json.lua": "return {decode = function() return 'the plugin\\'s' end}",
        "qtui/init.lua": "return {}",
        "json.lua": "return {decode = function() return 'own json' end}",
    }
    sandbox = make_sandbox("""
        function run()
          local ok, err = pcall(require, "qtui.nope")
          local ok2, err2 = pcall(require, "qtui")
          return {(require("qtui.json").decode("[7]"))[1], require("json").decode(), err, err2}
        end
    """, resolver=own_files(files, asked))
    library = "qtui.json, qtui.queues, qtui.text"
    assert sandbox.call("run") == [
        7,
        "own json",  # the library does not shadow the plugin's own module of the same last name
        f"module 'qtui.nope' not found: names starting with 'qtui.' are qtui's library ({library})",
        f"module 'qtui' not found: names starting with 'qtui.' are qtui's library ({library})",
    ]
    assert asked == ["json"]  # names starting with qtui. never reach the plugin's files


def test_module_tables_are_read_only(make_sandbox):
    sandbox = make_sandbox("""
        local json = require("qtui.json")
        function try(code)
          local ok, err = pcall(load(code, "=try", "t", {json = json, rawset = rawset,
                                                         setmetatable = setmetatable}))
          return {ok, err}
        end
        function listed()
          local names = {}
          for name in pairs(json) do names[#names + 1] = name end
          table.sort(names)
          return names
        end
    """)
    assert sandbox.call("try", "json.decode = nil") == [False, "try:1: 'qtui.json' is read-only"]
    assert sandbox.call("try", "json.extra = 1") == [False, "try:1: 'qtui.json' is read-only"]
    assert sandbox.call("try", "rawset(json, 'decode', print)") == [False, "try:1: rawset: table is read-only"]
    assert sandbox.call("try", "setmetatable(json, {})")[0] is False
    assert sandbox.call("try", "json.null.x = 1") == [False, "try:1: qtui.json.null is read-only"]
    assert lua_eval(sandbox, "getmetatable(require('qtui.json'))") is False
    assert sandbox.call("listed") == ["MAX_BYTES", "MAX_COST", "MAX_DEPTH", "budget", "decode", "field", "null"]
    assert lua_eval(sandbox, "require('qtui.json').MAX_DEPTH") == 32


def test_the_plugins_globals_do_not_reach_library_code(make_sandbox):
    sandbox = make_sandbox("""
        string, table, utf8, ipairs = nil, nil, nil, nil
        tostring = function() return "owned" end
        local text = require("qtui.text")
        function run() return {text.fit("héllo wörld", 8), text.count(2, "job")} end
    """)
    assert sandbox.call("run") == ["héllo w…", "2 jobs"]


def test_library_code_makes_no_globals_in_the_plugin(make_sandbox):
    sandbox = make_sandbox("""
        local function names()
          local found = {}
          for name in pairs(_G) do found[#found + 1] = name end
          table.sort(found)
          return table.concat(found, " ")
        end
        local before
        function same() return names() == before end
        before = names()
        require("qtui.json"); require("qtui.text"); require("qtui.queues")
    """)
    assert sandbox.call("same") is True


def test_errors_inside_the_library_name_its_file(make_sandbox):
    sandbox = make_sandbox("""
        local json = require("qtui.json")
        function run() return json.field("{}", "a", {cost = "lots"}) end
    """)
    with pytest.raises(PluginError) as info:
        sandbox.call("run")
    assert info.value.file == "[qtui]/json.lua" and "compare" in info.value.message


class TestHostileJson:
    """json.decode of hostile text: the host parses it, within the plugin's limits, or says why not."""

    def test_deep_nesting_is_refused_at_the_depth_limit(self, make_sandbox):
        sandbox = make_sandbox("""
            local json = require("qtui.json")
            function run(text)
              return {json.decode(text)}
            end
        """)
        started = time.monotonic()
        assert sandbox.call("run", "[" * 1_000_000) == {2: "qtui.json.decode: nested deeper than 32 levels"}
        assert sandbox.call("run", '{"a":' * 33 + "1" + "}" * 33) == {
            2: "qtui.json.decode: nested deeper than 32 levels"}
        assert time.monotonic() - started < 1  # refused at once, not after reading a megabyte
        assert sandbox.call("run", '{"a":' * 31 + "1" + "}" * 31)[0]["a"]["a"]["a"] != []

    def test_a_text_over_the_value_bounds_is_a_violation(self, make_sandbox):
        sandbox = make_sandbox("""
            local json = require("qtui.json")
            function run()
              local huge = '"' .. string.rep("x", 5 * 1024 * 1024) .. '"'
              local ok, err = pcall(json.decode, huge) -- pcall cannot keep the call going
              return "survived: " .. tostring(err)
            end
        """)
        with pytest.raises(LimitExceeded) as info:
            sandbox.call("run")
        assert info.value.kind is LimitKind.VALUE
        assert info.value.message.startswith("qtui.json.decode: bad argument #1: more than 4194304 bytes")
        assert_works(sandbox)
        assert_fresh_sandbox_works()

    @pytest.mark.parametrize(("text", "message"), [
        ("'[' .. string.rep('0,', 100000) .. '0]'", "more than 100000 entries in all"),
    ], ids=["more entries than a value may have"])
    def test_a_text_too_big_for_the_limits_is_refused_with_a_message(self, make_sandbox, text, message):
        sandbox = make_sandbox(f"""
            local json = require("qtui.json")
            function run() return {{json.decode({text})}} end
        """)
        assert sandbox.call("run") == {2: f"qtui.json.decode: {message}"}
        assert sandbox.usage().violations == 0
        assert_works(sandbox)

    def test_decoding_costs_the_plugin_no_instructions(self, make_sandbox):
        sandbox = make_sandbox("""
            local json = require("qtui.json")
            function run(text) return #json.decode(text) end
        """, limits=attrs.evolve(TEST_LIMITS, instructions=100_000))
        payload = "[" + ",".join('{"tenant": "acme", "n": %d}' % i for i in range(20_000)) + "]"
        assert sandbox.call("run", payload) == 20_000
        assert sandbox.usage().last_call_instructions < 100_000

    def test_big_documents_within_the_limits_decode(self):
        sandbox = LuaSandbox("big", clock=ManualClock())  # the default plugin limits
        try:
            sandbox.load("""
                local json = require("qtui.json")
                function run()
                  local items = {}
                  for i = 1, 15000 do items[i] = string.format('{"id": %d, "tags": ["a", "b"], "ok": true}', i) end
                  local doc = assert(json.decode("[" .. table.concat(items, ",") .. "]"))
                  return {#doc, doc[15000].id, doc[1].tags[2]}
                end
            """, "main.lua")
            assert sandbox.call("run") == [15000, 15000, "b"]
        finally:
            sandbox.close()


@pytest.mark.parametrize("module", api.LIBRARY, ids=lambda m: m.name)
def test_each_module_offers_exactly_what_the_api_declares(module):
    sandbox = LuaSandbox("declared", clock=ManualClock())
    try:
        sandbox.load(f"""
            local module = require("{module.require_name}")
            function members()
              local found = {{}}
              for name, value in pairs(module) do found[name] = type(value) end
              return found
            end
        """, "main.lua")
        members = sandbox.call("members")
    finally:
        sandbox.close()
    assert {name for name, kind in members.items() if kind == "function"} == {f.name for f in module.functions}
    assert {name for name, kind in members.items() if kind != "function"} == {c.name for c in module.constants}
    # parameter names and counts, read from the compiled functions
    lua = lua54.LuaRuntime()
    lua.execute("native = setmetatable({}, {__index = function() return print end})")  # the host's part
    source = (Path(sandbox_module.__file__).parent / "stdlib" / f"{module.name}.lua").read_text()
    table = lua.execute(source)
    for function in module.functions:
        params = lua.eval("""function(f)
            local names = {}
            for i = 1, debug.getinfo(f, "u").nparams do names[i] = debug.getlocal(f, i) end
            return table.concat(names, ",")
        end""")(table[function.name])
        assert params == ",".join(a.name for a in function.args), function.name


def test_every_library_module_is_declared():
    assert tuple(sorted(m.require_name for m in api.LIBRARY)) == LIBRARY_MODULES


@pytest.mark.slow
def test_the_wheel_carries_the_library_and_its_type_definitions(tmp_path):
    """Installed plugins find the library (package data), and editors its types."""
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("qtui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in api.LIBRARY:
        assert f"qtui/plugins/runtime/stdlib/{module.name}.lua" in names
        assert f"qtui/authoring/lua/qtui/{module.name}.lua" in names


TEXT_IN_LUA = """
local text = require("qtui.text")
function all(s, columns)
  return {text.clean(s), text.width(s), text.fit(s, columns), text.left(s, columns), text.right(s, columns)}
end
"""
COLUMNS_IN_LUA = """
local text = require("qtui.text")
function columns(cells, widths, width, style)
  local ok, line = pcall(text.columns, cells, widths, width, style)
  return ok and line or {error = tostring(line)}
end
"""
# Mostly printable ASCII (measured in Lua), with control characters, wide and combining ones,
# and bytes that are not UTF-8 (measured by the host).
ascii_heavy = st.text(st.sampled_from("abcXYZ019 .-_%~") | st.characters(max_codepoint=0x7F)
                      | st.sampled_from("é日\u0301\u202e\x9b≥…·─"), max_size=260)
# and long runs, around the 200 characters that clean keeps
long_runs = st.builds(lambda piece, count: piece * count, st.sampled_from(["a", "ab", "日", "a\x01", "é≥"]),
                      st.integers(90, 260))


@pytest.fixture(scope="module")
def text_sandbox():
    sandbox = LuaSandbox("text", clock=ManualClock(), limits=TEST_LIMITS)
    sandbox.load(TEXT_IN_LUA, "main.lua")
    sandbox.load(COLUMNS_IN_LUA, "columns.lua")
    yield sandbox
    sandbox.close()


@settings(max_examples=300, deadline=None)
@given(s=ascii_heavy | long_runs, columns=st.integers(-3, 260))
def test_qtui_text_measures_and_cuts_as_the_host_does_whether_lua_or_the_host_answers(
        text_sandbox, s: str, columns: int) -> None:
    from qtui.plugins.runtime import textcells

    got = text_sandbox.call("all", s, columns)
    assert got == [textcells.clean(s), textcells.width(s), textcells.clean_fit(s, columns),
                   textcells.clean_pad(s, max(0, columns), "left"), textcells.clean_pad(s, max(0, columns), "right")]




# Cells as plugins write them: printable ASCII text, integers and {text=, style=} spans (laid out
# in Lua), and now and then what only the host reads: wide or control characters, floats, an
# unknown style, a span with another key.
_plain_cell_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("≥…·é─→"),
                           max_size=14)
_cell_text = (_plain_cell_text | st.integers(-10**6, 10**6) | st.booleans() | st.sampled_from(["日本", "a\tb", "é"])
              | st.floats(allow_nan=False, width=32))
_style = st.sampled_from([*api.STYLES, "loud"])
_cell = _cell_text | st.fixed_dictionaries({"text": _cell_text}, optional={"style": _style}) | st.just({"txt": "x"})


@settings(max_examples=400, deadline=None)
@given(cells=st.lists(_cell, max_size=6), widths=st.lists(st.integers(-12, 12) | st.just(0), max_size=6),
       width=st.none() | st.integers(-2, 60), style=st.none() | _style)
def test_text_columns_lays_out_as_the_host_does_whether_lua_or_the_host_answers(
        text_sandbox, cells, widths, width, style) -> None:
    from qtui.plugins.runtime import textcells

    try:
        expected = textcells.lua_columns(cells, widths, width, style)
    except ValueError as error:
        expected = {"error": f"qtui.text.columns: {error}"}
    got = text_sandbox.call("columns", cells, widths, width, style)
    assert got == expected


def test_text_columns_lays_out_plain_cells_without_calling_the_host(monkeypatch):
    from qtui.plugins.runtime import textcells

    calls = []
    host_columns = textcells.lua_columns
    monkeypatch.setattr(textcells, "lua_columns", lambda *args: calls.append(args) or host_columns(*args))
    sandbox = LuaSandbox("columns", clock=ManualClock(), limits=TEST_LIMITS)
    try:
        sandbox.load(COLUMNS_IN_LUA, "main.lua")
        line = sandbox.call("columns", ["email", 42, {"text": "late", "style": "error"}], [0, -4, 5], 20)
        assert line == ["email       42 ", {"text": "late ", "style": "error"}]
        assert calls == []
        assert sandbox.call("columns", ["≥ 1000", "ready…"], [4, 5]) == ["≥ 1… read…"]
        assert calls == []
        assert sandbox.call("columns", ["日本", 1], [0, 3], 10) == ["日本   1  "]
        assert len(calls) == 1
    finally:
        sandbox.close()


def test_qtui_text_in_lua_measures_every_character_it_takes_as_the_host_does(text_sandbox):
    # Every character from Latin-1 through box drawing, measured, cut and padded: those Lua
    # measures itself must give what the host gives (one column each, shown as they are).
    from qtui.plugins.runtime import textcells

    for code in [*range(0xA0, 0x250), *range(0x2000, 0x2600)]:
        s = f"a{chr(code)}bc"
        assert text_sandbox.call("all", s, 2) == [
            textcells.clean(s), textcells.width(s), textcells.clean_fit(s, 2), textcells.clean_pad(s, 2, "left"),
            textcells.clean_pad(s, 2, "right")], hex(code)
        cells = [s, {"text": chr(code) * 3, "style": "bold"}]
        for widths in ([2, -4], [5, 3]):
            assert text_sandbox.call("columns", cells, widths) == textcells.lua_columns(cells, widths), hex(code)
