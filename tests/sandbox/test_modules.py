"""Loading plugin code: require of the plugin's own modules, compile checks, error positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.plugins.runtime.sandbox import HostError, Limits, LuaSandbox, PluginError
from tests.support import ManualClock


def folder_resolver(root: Path):
    """Resolve `a.b` to root/a/b.lua, as a plugin host would (names are validated first)."""

    def resolve(name: str) -> tuple[str, str] | None:
        path = root.joinpath(*name.split(".")).with_suffix(".lua")
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8"), path.relative_to(root).as_posix()

    return resolve


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "format.lua").write_text(
        "loads = (loads or 0) + 1\n"
        "local M = {}\n"
        "function M.row(name, n) return ('%-8s %5d'):format(name, n) end\n"
        "function M.fail() error('formatting failed') end\n"
        "return M\n"
    )
    (tmp_path / "lib" / "broken.lua").write_text("local x = \nfunction(\n")
    (tmp_path / "lib" / "loop_a.lua").write_text("return require('lib.loop_b')\n")
    (tmp_path / "lib" / "loop_b.lua").write_text("return require('lib.loop_a')\n")
    (tmp_path / "helpers.lua").write_text("helper_loaded = true\n")
    return tmp_path


def test_require_loads_own_modules_once(make_sandbox, plugin_dir):
    sandbox = make_sandbox("""
        local fmt = require("lib.format")
        local again = require("lib.format")
        function run() return {fmt.row("mail", 42), again == fmt, loads, require("helpers"),
                               helper_loaded} end
    """, resolver=folder_resolver(plugin_dir))
    assert sandbox.call("run") == ["mail        42", True, 1, True, True]


def test_errors_in_modules_name_the_module_file(make_sandbox, plugin_dir):
    sandbox = make_sandbox("""
        local fmt = require("lib.format")
        function run() fmt.fail() end
        function broken() require("lib.broken") end
    """, resolver=folder_resolver(plugin_dir))
    with pytest.raises(PluginError) as info:
        sandbox.call("run")
    assert (info.value.file, info.value.line, info.value.message) == (
        "lib/format.lua", 4, "formatting failed"
    )
    with pytest.raises(PluginError) as info:
        sandbox.call("broken")
    assert "error loading module 'lib.broken'" in info.value.message
    assert "lib/broken.lua:3: <name> or '...' expected near <eof>" in info.value.message


def test_require_loops_are_reported(make_sandbox, plugin_dir):
    sandbox = make_sandbox("function run() require('lib.loop_a') end",
                           resolver=folder_resolver(plugin_dir))
    with pytest.raises(PluginError, match="loop or previous error"):
        sandbox.call("run")


def test_resolver_failures_become_lua_errors(make_sandbox):
    def resolver(name: str):
        if name == "denied":
            raise HostError("outside the plugin folder")
        if name == "unreadable":
            raise PermissionError(13, "Permission denied")
        raise RuntimeError("resolver bug")

    sandbox = make_sandbox("function try(name) return select(2, pcall(require, name)) end",
                           resolver=resolver)
    assert sandbox.call("try", "denied") == "cannot load module 'denied': outside the plugin folder"
    assert sandbox.call("try", "unreadable") == (
        "cannot read module 'unreadable': Permission denied"
    )
    assert sandbox.call("try", "other") == "cannot load module 'other'"


def test_oversized_modules_are_refused(make_sandbox):
    limits = Limits(memory_bytes=16 * 2**20, source_bytes=1000)
    sandbox = make_sandbox("function try() return select(2, pcall(require, 'big')) end",
                           limits=limits, resolver=lambda name: ("x = 1\n" * 500, "big.lua"))
    assert "too large" in sandbox.call("try")


class TestErrorPositions:
    def test_runtime_error_in_the_main_chunk(self):
        sandbox = LuaSandbox("positions", clock=ManualClock())
        with pytest.raises(PluginError) as info:
            sandbox.load("local a = 1\nlocal b = nil\nreturn a + b\n", "main.lua")
        error = info.value
        assert (error.file, error.line) == ("main.lua", 3)
        assert "attempt to perform arithmetic on a nil value (local 'b')" == error.message
        assert str(error) == f"plugin positions: main.lua:3: {error.message}"
        assert error.traceback and "main.lua:3" in error.traceback

    def test_syntax_error_on_load(self):
        sandbox = LuaSandbox("positions", clock=ManualClock())
        with pytest.raises(PluginError) as info:
            sandbox.load("function f()\n  return 1 +\nend\n", "panel.lua")
        assert (info.value.file, info.value.line) == ("panel.lua", 3)
        assert "unexpected symbol near 'end'" in info.value.message

    def test_error_without_position_uses_the_traceback(self, make_sandbox):
        sandbox = make_sandbox("function run()\n  local x = 1\n  error('bare', 0)\nend")
        with pytest.raises(PluginError) as info:
            sandbox.call("run")
        assert (info.value.file, info.value.line, info.value.message) == ("main.lua", 3, "bare")

    def test_error_values_that_are_not_strings(self, make_sandbox):
        sandbox = make_sandbox("""
            function table_error() error(setmetatable({}, {__tostring = function() while true do end end})) end
            function nil_error() error() end
        """)
        for function in ("table_error", "nil_error"):
            with pytest.raises(PluginError) as info:
                sandbox.call(function)
            assert info.value.message == "error value is not a string"

    def test_long_chunk_names_are_reported_in_full(self, make_sandbox):
        name = "panels/" + "very_long_directory_name/" * 4 + "main.lua"
        sandbox = LuaSandbox("positions", clock=ManualClock())
        with pytest.raises(PluginError) as info:
            sandbox.load("\n\nerror('late')", name)
        assert (info.value.file, info.value.line) == (name, 3)

    def test_undefined_function_calls(self, make_sandbox):
        sandbox = make_sandbox("function run() return 1 end")
        with pytest.raises(PluginError, match="nothing is not a function"):
            sandbox.call("nothing")
        assert sandbox.has_function("run") and not sandbox.has_function("nothing")
        assert not sandbox.has_function("string.nope") and sandbox.has_function("string.format")
        with pytest.raises(ValueError, match="dotted Lua name"):
            sandbox.call("run()")
