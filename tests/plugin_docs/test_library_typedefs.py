"""lua/qtui/NAME.lua: the type definitions of each module of qtui's library, for
`require("qtui.NAME")` in lua-language-server, agree with the declaration in api.LIBRARY.

lua-language-server itself is not installable here, so each file is run with Lua 5.4 (lupa)
and its annotations are read back and compared with the declaration.
"""

from __future__ import annotations

import re

import pytest
from lupa import lua54

from qtui.authoring import typedefs
from qtui.plugins.runtime import api

_TYPE = r"[^\s<]+(?:<[^>]*>)?(?:\[\])*\??|fun\([^)]*\): \w+"


def text(module: api.LibraryModule) -> str:
    return typedefs.module_path(module).read_text(encoding="utf-8")


@pytest.mark.parametrize("module", api.LIBRARY, ids=lambda m: m.name)
def test_the_file_is_current_and_named_for_require(module: api.LibraryModule) -> None:
    assert text(module) == typedefs.render_module(module), "run: python -m qtui.docs"
    # lua-language-server finds it both by the meta name and by its path under workspace.library
    assert text(module).startswith(f"---@meta {module.require_name}\n")
    relative = typedefs.module_path(module).relative_to(typedefs.PATH.parent)
    assert relative.with_suffix("").as_posix().replace("/", ".") == module.require_name


@pytest.mark.parametrize("module", api.LIBRARY, ids=lambda m: m.name)
def test_the_file_returns_the_module_with_every_declared_function(module: api.LibraryModule) -> None:
    lua = lua54.LuaRuntime()
    table = lua.execute(text(module))
    nparams = lua.eval("function(f) return debug.getinfo(f, 'u').nparams end")
    assert sorted(table.keys()) == sorted(f.name for f in module.functions)
    for function in module.functions:
        assert nparams(table[function.name]) == len(function.args)


@pytest.mark.parametrize("module", api.LIBRARY, ids=lambda m: m.name)
def test_annotations_follow_the_declaration(module: api.LibraryModule) -> None:
    blocks = re.findall(r"((?:---.*\n)+)function \w+\.(\w+)\(([^)]*)\) end", text(module))
    assert [name for _, name, _ in blocks] == [f.name for f in module.functions]
    for (block, _, params), function in zip(blocks, module.functions):
        assert [p.strip() for p in params.split(",") if p.strip()] == [a.name for a in function.args]
        assert re.findall(rf"^---@param (\S+) ({_TYPE}) ", block, re.M) == [
            (a.name + ("?" if typedefs.optional(a) else ""), a.type.removesuffix("?")) for a in function.args]
        assert re.findall(rf"^---@return ({_TYPE}) (\w+) # ", block, re.M) == [
            (r.type, r.name) for r in function.returns]
    fields = re.findall(rf"^---@field (\w+) ({_TYPE}) ", text(module).split(f"---@class {module.require_name}\n")[1],
                        re.M)
    assert fields == [(c.name, c.type) for c in module.constants]


def test_every_type_the_library_names_is_defined() -> None:
    texts = [typedefs.PATH.read_text(encoding="utf-8"), *(text(m) for m in api.LIBRARY)]
    defined = {name for t in texts for name in re.findall(r"^---@(?:class|alias) (\S+)", t, re.M)}
    used = set()
    for module in api.LIBRARY:
        for field in (*module.constants, *(f for fn in module.functions for f in (*fn.args, *fn.returns))):
            used.update(re.findall(r"\bqtui\.[\w.]+", field.type))
    assert used and used <= defined, f"used but not defined: {sorted(used - defined)}"
