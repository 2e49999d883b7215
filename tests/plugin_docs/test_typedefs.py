"""qtui.d.lua: valid Lua, and it declares exactly the API of qtui/plugins/runtime/api.py with consistent annotations.

lua-language-server itself is not installable here (no registry package), so the file is
loaded with Lua 5.4 (lupa) and its annotations are read back and compared with the declaration.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from lupa import lua54

from qtui.authoring import typedefs
from qtui.plugins.runtime import api

TEXT = typedefs.PATH.read_text(encoding="utf-8")
_FUNCTION = re.compile(r"function ([\w.]+)\(([^)]*)\) end")
_TYPE_NAME = re.compile(r"\bqtui\.[A-Z]\w*")
_TYPE = r"[^\s<]+(?:<[^>]*>)?(?:\[\])*\??"  # LuaLS type; table<K, V> holds a space
_PARAM = re.compile(rf"---@param (\S+) ({_TYPE}) .+")
_RETURN = re.compile(rf"---@return ({_TYPE}) \w+ # .+")
BUILTIN_TYPES = {"string", "number", "integer", "boolean", "table", "any", "nil"}


def declarations() -> dict[str, dict]:
    """Each declared function: its parameters, and the @param and @return annotations above it."""
    found: dict[str, dict] = {}
    params: list[tuple[str, str]] = []
    returns: list[str] = []
    for line in TEXT.splitlines():
        if line.startswith("---@param "):
            match = _PARAM.fullmatch(line)
            assert match, line
            params.append((match[1], match[2]))
        elif line.startswith("---@return "):
            match = _RETURN.fullmatch(line)
            assert match, line
            returns.append(match[1])
        elif match := _FUNCTION.fullmatch(line):
            names = [p.strip() for p in match[2].split(",") if p.strip()]
            found[match[1]] = {"args": names, "params": params, "returns": returns}
            params, returns = [], []
        elif not line.startswith("---"):
            assert not params and not returns, f"annotations not followed by a function: {line!r}"
    return found


def test_the_file_is_a_lua_meta_file_that_runs() -> None:
    assert TEXT.startswith("---@meta\n")
    lua = lua54.LuaRuntime()
    lua.execute(TEXT)
    assert lua.eval("type(qtui.jobs.peek)") == "function"


@pytest.mark.parametrize("spec", api.FUNCTIONS + api.CALLBACKS, ids=lambda f: f.name)
def test_every_function_is_declared_with_its_arguments(spec: api.Function) -> None:
    lua = lua54.LuaRuntime()
    lua.execute(TEXT)
    qualified = spec.lua_name if spec in api.FUNCTIONS else spec.name
    info = lua.eval(f"debug.getinfo({qualified}, 'u')")
    variadic = [a.name for a in spec.args] == ["..."]
    assert (info.nparams, info.isvararg) == (0 if variadic else len(spec.args), variadic)

    declared = declarations()[qualified]
    assert declared["args"] == [a.name for a in spec.args]
    expected = [(a.name + ("?" if typedefs.optional(a) and a.name != "..." else ""), a.type.removesuffix("?"))
                for a in spec.args]
    assert declared["params"] == expected
    assert declared["returns"] == ([spec.returns.type] if spec.returns else [])


def test_nothing_else_is_declared() -> None:
    expected = {f.lua_name for f in api.FUNCTIONS} | {f.name for f in api.CALLBACKS}
    assert set(declarations()) == expected


def test_every_type_the_api_names_is_defined() -> None:
    defined = set(re.findall(r"^---@(?:class|alias) (\S+)", TEXT, re.M))
    used = set(_TYPE_NAME.findall(TEXT))
    for spec in (*api.FUNCTIONS, *api.CALLBACKS):
        for field in (*spec.args, *([spec.returns] if spec.returns else [])):
            used.update(_TYPE_NAME.findall(field.type))
    for event in api.EVENTS:
        for field in event.fields:
            used.update(_TYPE_NAME.findall(field.type))
    assert used <= defined, f"used but not defined: {sorted(used - defined)}"


def test_every_event_has_a_class_discriminated_by_its_type() -> None:
    union = re.search(r"^---@alias qtui\.Event\n((?:---\|.*\n)+)", TEXT, re.M)
    assert union is not None
    members = re.findall(r"^---\| (\S+)", union[1], re.M)
    assert members == [typedefs.event_class(e) for e in api.EVENTS]
    for event in api.EVENTS:
        block = TEXT.split(f"---@class {typedefs.event_class(event)}\n", 1)[1].split("\n\n", 1)[0]
        fields = re.findall(r"^---@field (\w+)\??", block, re.M)
        assert fields == ["type", *(f.name for f in event.fields)]
        assert f'---@field type "{event.type}"' in block


def test_capabilities_styles_and_states_are_closed_sets() -> None:
    for name, (_, values) in typedefs.ALIASES.items():
        block = TEXT.split(f"---@alias {name}\n", 1)[1].split("\n\n", 1)[0]
        assert re.findall(r'^---\| "([^"]+)"', block, re.M) == list(values)


def test_the_module_prints_where_the_file_is_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "qtui.authoring.typedefs"], capture_output=True, text=True, check=True)
    assert Path(result.stdout.strip()).read_text(encoding="utf-8") == TEXT


def test_deprecated_names_are_declared_as_the_new_function_marked_deprecated(monkeypatch) -> None:
    monkeypatch.setattr(api, "ALIASES", (api.Alias("jobs.get", "jobs.find", "1.1", "renamed"),))
    text = typedefs.render()
    old = text.split("---@deprecated since API 1.1: use qtui.jobs.find (renamed)\n", 1)[1].split("\n\n", 1)[0]
    new = text.split("function qtui.jobs.find(id) end")[0].rsplit("\n\n", 1)[1]
    assert old.endswith("function qtui.jobs.get(id) end")
    assert old.replace("qtui.jobs.get", "qtui.jobs.find") == new + "function qtui.jobs.find(id) end"
    lua = lua54.LuaRuntime()
    lua.execute(text)
    assert lua.eval("type(qtui.jobs.get)") == "function"
