"""Every route from plugin code to Python, the OS or shared state is closed."""

from __future__ import annotations

import pytest
from sandbox_testkit import assert_fresh_sandbox_works, assert_works, lua_eval

from qtui.plugins.runtime.sandbox import HostError, LuaSandbox, PluginError
from tests.support import ManualClock

FORBIDDEN_GLOBALS = [
    "python", "debug", "io", "package", "dofile", "loadfile", "loadstring", "module",
    "setfenv", "getfenv", "unpack", "newproxy", "gcinfo", "jit", "bit32", "warn",
]


@pytest.mark.parametrize("name", FORBIDDEN_GLOBALS)
def test_dangerous_globals_are_absent(make_sandbox, name):
    sandbox = make_sandbox()
    assert lua_eval(sandbox, f"{name} == nil and _G[{name!r}] == nil") is True


@pytest.mark.parametrize(
    "name", ["execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale"]
)
def test_os_offers_only_time_functions(make_sandbox, name):
    sandbox = make_sandbox()
    assert lua_eval(sandbox, f"os.{name} == nil") is True
    assert lua_eval(sandbox, "type(os.time()) == 'number' and type(os.clock()) == 'number'")
    assert lua_eval(sandbox, "os.difftime(10, 4)") == 6.0
    assert lua_eval(sandbox, "os.date('!%Y', 0)") == "1970"


def test_plugin_time_is_the_hosts_clock(make_sandbox, clock):
    sandbox = make_sandbox("function now() return {os.time(), os.date('!%Y-%m-%d %H:%M:%S'), os.clock()} end")
    assert sandbox.call("now") == [1_700_000_000, "2023-11-14 22:13:20", 0.0]
    clock.advance(90.5)
    assert sandbox.call("now") == [1_700_000_090, "2023-11-14 22:14:50", 90.5]
    assert lua_eval(sandbox, "math.type(os.time())") == "integer"
    assert lua_eval(sandbox, "os.time({year = 2020, month = 1, day = 1, hour = 12}) - os.time({year = 2020, "
                             "month = 1, day = 1, hour = 0})") == 43200  # a given date is still converted


def test_string_dump_is_absent(make_sandbox):
    sandbox = make_sandbox()
    assert lua_eval(sandbox, "string.dump == nil and ('').dump == nil") is True


@pytest.mark.parametrize("option", ["collect", "stop", "restart", "step", "incremental",
                                    "generational", "isrunning", "setpause"])
def test_collectgarbage_only_counts(make_sandbox, option):
    sandbox = make_sandbox()
    assert lua_eval(sandbox, "collectgarbage('count') > 0") is True
    ok, message = lua_eval(sandbox, f"{{pcall(collectgarbage, {option!r})}}")
    assert ok is False and "only \"count\"" in message
    ok, _ = lua_eval(sandbox, "{pcall(collectgarbage)}")
    assert ok is False


class TestLoad:
    def test_binary_chunks_are_refused(self, make_sandbox):
        sandbox = make_sandbox("""
            function attempts()
              local results = {}
              local f = function() return 1 end
              local fake = "\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10\\4\\8\\8" .. ("\\0"):rep(40)
              results[1] = select(2, load(fake))
              results[2] = select(2, load("return 1", "x", "b"))
              local pieces = { fake }
              results[3] = select(2, load(function() return table.remove(pieces, 1) end))
              return results
            end
        """)
        first, second, third = sandbox.call("attempts")
        assert "binary chunk" in first and "binary chunk" in third
        assert "text chunk" in second

    def test_loaded_code_gets_the_plugin_environment_not_the_real_globals(self, make_sandbox):
        sandbox = make_sandbox("""
            secret = 42
            function run()
              local g, d, s, p = load("return _G, debug, secret, python")()
              return {g == _G, d == nil, s, p == nil}
            end
        """)
        assert sandbox.call("run") == [True, True, 42, True]

    def test_a_custom_environment_holds_only_what_the_plugin_gave(self, make_sandbox):
        sandbox = make_sandbox("""
            function run()
              local f = load("return x, print, string", "cfg", "t", {x = 5})
              return {f()}
            end
        """)
        assert sandbox.call("run") == [5]

    def test_oversized_chunks_are_refused_before_compiling(self, make_sandbox):
        sandbox = make_sandbox()
        assert "too large" in lua_eval(sandbox, "select(2, load(('x = 1 '):rep(300000)))")


class TestReadOnlyLibraries:
    @pytest.mark.parametrize("library", ["string", "table", "math", "os", "coroutine", "utf8"])
    def test_library_tables_cannot_be_changed(self, make_sandbox, library):
        sandbox = make_sandbox("""
            function attack(name)
              local lib = _G[name]
              local results = {}
              results[1] = pcall(function() lib.injected = 1 end)
              results[2] = pcall(rawset, lib, "injected", 1)
              results[3] = pcall(setmetatable, lib, nil)
              results[4] = pcall(table.insert, lib, 1)
              local _, state = pairs(lib)
              results[5] = pcall(function() state.injected = 1 end)
              results[6] = getmetatable(lib)
              results[7] = lib.injected == nil and rawget(lib, "injected") == nil
              return results
            end
        """)
        assert sandbox.call("attack", library) == [False, False, False, False, False, False, True]

    def test_library_functions_replaced_by_a_plugin_do_not_change_the_library(self, make_sandbox):
        sandbox = make_sandbox("""
            function attack()
              pcall(function() string.rep = function() return "owned" end end)
              pcall(rawset, string, "rep", function() return "owned" end)
              return ("ab"):rep(2), string.rep("c", 2)
            end
        """)
        assert sandbox.call("attack") == "abab"

    def test_the_string_metatable_is_a_read_only_view(self, make_sandbox):
        sandbox = make_sandbox("""
            function attack()
              local mt = getmetatable("")
              local results = {}
              results[1] = pcall(function() mt.__index = {} end)
              results[2] = pcall(rawset, mt, "__index", {})
              results[3] = pcall(function() mt.__index.upper = nil end)
              results[4] = pcall(rawset, mt.__index, "upper", print)
              results[5] = pcall(setmetatable, "", {})
              results[6] = mt.__index == string
              results[7] = ("abc"):upper()
              return results
            end
        """)
        assert sandbox.call("attack") == [False, False, False, False, False, True, "ABC"]

    def test_pairs_over_a_library_lists_its_functions(self, make_sandbox):
        sandbox = make_sandbox()
        names = lua_eval(sandbox, "(function() local n = {} for k in pairs(math) do n[#n+1] = k end"
                                  " table.sort(n) return n end)()")
        assert "floor" in names and "sqrt" in names

    def test_each_plugin_has_its_own_libraries(self, make_sandbox):
        first = make_sandbox("""
            function attack()
              setmetatable(_G, {__index = function() return "poisoned" end})
              shared_marker = true
            end
        """)
        second = make_sandbox("function look() return shared_marker, undefined_name end")
        first.call("attack")
        assert second.call("look") is None
        assert_works(first)
        assert_works(second)


class TestFinalizers:
    def test_gc_metamethods_are_refused(self, make_sandbox):
        sandbox = make_sandbox()
        for value in ("function() end", "false", "true"):
            ok, message = lua_eval(sandbox, f"{{pcall(setmetatable, {{}}, {{__gc = {value}}})}}")
            assert ok is False and "__gc" in message

    def test_a_gc_field_added_later_never_runs(self, make_sandbox):
        sandbox = make_sandbox("""
            finalized = false
            function run()
              local mt = {}
              for i = 1, 1000 do setmetatable({}, mt) end
              mt.__gc = function() finalized = true end
              for i = 1, 200000 do local garbage = {i} end  -- let the collector run
              return finalized
            end
            function check() return finalized end
        """)
        assert sandbox.call("run") is False
        sandbox.call("probe", 100000)
        assert sandbox.call("check") is False


class TestNoPythonObjectReachesLua:
    def test_nothing_reachable_from_the_environment_is_userdata(self, make_sandbox):
        sandbox = make_sandbox("""
            function walk()
              local seen, kinds = {}, {}
              local function visit(value)
                local kind = type(value)
                kinds[kind] = true
                if kind == "table" and not seen[value] then
                  seen[value] = true
                  for k, v in pairs(value) do visit(k) visit(v) end
                  local mt = getmetatable(value)
                  if mt then visit(mt) end
                end
              end
              visit(_G)
              visit(getmetatable(""))
              local result = {}
              for kind in pairs(kinds) do result[#result + 1] = kind end
              table.sort(result)
              return result
            end
        """)
        sandbox.expose("qtui.notify", lambda text: None)
        assert sandbox.call("walk") == ["function", "number", "string", "table"]

    def test_host_functions_are_plain_lua_functions_returning_plain_tables(self, make_sandbox):
        sandbox = make_sandbox("""
            function run()
              local result = qtui.stats()
              return {type(qtui.stats), type(result), getmetatable(result) == nil,
                      type(result.queues), result.queues[2]}
            end
        """)
        sandbox.expose("qtui.stats", lambda: {"queues": ["mail", "billing"]})
        assert sandbox.call("run") == ["function", "table", True, "table", "billing"]

    def test_host_errors_reach_lua_as_catchable_strings(self, make_sandbox):
        def refuse(_text):
            raise HostError("not allowed here")

        def broken():
            raise KeyError("secret internals")

        sandbox = make_sandbox("""
            function run()
              local ok1, e1 = pcall(qtui.notify, "hi")
              local ok2, e2 = pcall(qtui.broken)
              return {ok1, type(e1), e1, ok2, type(e2), e2}
            end
        """)
        sandbox.expose("qtui.notify", refuse)
        sandbox.expose("qtui.broken", broken)
        ok1, kind1, message1, ok2, kind2, message2 = sandbox.call("run")
        assert (ok1, kind1, ok2, kind2) == (False, "string", False, "string")
        assert message1 == "qtui.notify: not allowed here"  # called by pcall: no Lua caller line
        assert message2.endswith("qtui.broken: internal error")
        assert "secret" not in message2

    def test_host_functions_take_arguments_as_lua_functions_do(self, make_sandbox):
        # Too few arguments used to reach Python as a TypeError: "internal error" for the author.
        sandbox = make_sandbox("""
            function run()
              local ok1, e1 = pcall(qtui.enqueue, "email")
              local ok2, e2 = pcall(qtui.enqueue)
              return {ok1, e1, ok2, e2, qtui.enqueue("email", "{}", 2, "extra", "more")}
            end
        """)
        sandbox.expose("qtui.enqueue", lambda queue, payload, priority=0: f"{queue} {payload} {priority}")
        assert sandbox.call("run") == [False, "qtui.enqueue: missing argument: payload",
                                       False, "qtui.enqueue: missing arguments: queue, payload", "email {} 2"]

    def test_an_uncaught_host_error_fails_the_call_at_the_plugin_line(self, make_sandbox):
        def refuse():
            raise HostError("quota used up")

        sandbox = make_sandbox("function run()\n  local x = 1\n  qtui.enqueue()\nend")
        sandbox.expose("qtui.enqueue", refuse)
        with pytest.raises(PluginError) as info:
            sandbox.call("run")
        assert (info.value.file, info.value.line) == ("main.lua", 3)
        assert info.value.message == "qtui.enqueue: quota used up"

    def test_functions_and_coroutines_cannot_be_passed_to_the_host(self, make_sandbox):
        received = []
        sandbox = make_sandbox("""
            function run()
              local a = {pcall(qtui.take, print)}
              local b = {pcall(qtui.take, {callback = function() end})}
              local c = {pcall(qtui.take, coroutine.create(print))}
              return {a[1], a[2], b[1], b[2], c[1]}
            end
        """)
        sandbox.expose("qtui.take", received.append)
        ok_a, message_a, ok_b, message_b, ok_c = sandbox.call("run")
        assert (ok_a, ok_b, ok_c) == (False, False, False)
        assert "qtui.take: bad argument #1" in message_a and "function" in message_a
        assert "['callback']" in message_b
        assert received == []

    def test_host_namespaces_are_read_only(self, make_sandbox):
        sandbox = make_sandbox("""
            function attack()
              return {pcall(function() qtui.notify = print end),
                      pcall(rawset, qtui, "notify", print),
                      pcall(function() qtui = {} end)}
            end
        """)
        sandbox.expose("qtui.notify", lambda text: None)
        assert sandbox.call("attack") == [False, False, True]

    def test_exposing_over_a_plugin_global_is_refused(self, make_sandbox):
        sandbox = make_sandbox("qtui = {mine = true}")
        with pytest.raises(ValueError, match="already used by the plugin"):
            sandbox.expose("qtui.notify", lambda text: None)
        with pytest.raises(ValueError, match="dotted Lua name"):
            sandbox.expose("qtui..notify", lambda text: None)


class TestRequire:
    @pytest.mark.parametrize(
        "name", ["../secret", "lib/util", "lib\\util", "", ".hidden", "lib.", "a..b", "x\0y",
                 "/etc/passwd", "C:\\x"]
    )
    def test_module_names_that_could_be_paths_never_reach_the_resolver(self, make_sandbox, name):
        asked = []
        sandbox = make_sandbox("function try(name) return {pcall(require, name)} end",
                               resolver=asked.append)
        ok, message = sandbox.call("try", name)
        assert ok is False and "is not allowed" in message
        assert asked == []

    def test_require_without_a_module_says_not_found(self, make_sandbox):
        sandbox = make_sandbox("function try() local ok, e = pcall(require, 'missing') return e end"
                               "\nfunction direct() require('missing') end")
        assert sandbox.call("try") == "module 'missing' not found"
        with pytest.raises(PluginError) as info:
            sandbox.call("direct")
        assert (info.value.file, info.value.line) == ("main.lua", 2)


def test_string_format_with_huge_widths_is_a_clean_error(make_sandbox):
    sandbox = make_sandbox()
    ok, message = lua_eval(sandbox, "{pcall(string.format, '%99999d', 1)}")
    assert ok is False and "invalid conversion" in message
    assert_works(sandbox)


def test_print_goes_to_the_host_not_to_the_terminal(make_sandbox, capfd):
    lines = []
    sandbox = make_sandbox("function run() print('a', 1, nil, true) end", output=lines.append)
    sandbox.call("run")
    assert lines == ["a\t1\tnil\ttrue"]
    assert capfd.readouterr().out == ""


def test_attacks_leave_other_sandboxes_untouched(make_sandbox):
    sandbox = make_sandbox("""
        function attack()
          pcall(function() string.format = nil end)
          pcall(rawset, getmetatable(""), "__index", {})
          pcall(setmetatable, {}, {__gc = function() end})
          return ("%d"):format(3)
        end
    """)
    assert sandbox.call("attack") == "3"
    assert_works(sandbox)
    assert_fresh_sandbox_works()


def test_closed_sandboxes_refuse_calls():
    sandbox = LuaSandbox("closing", clock=ManualClock())
    sandbox.load("function f() return 1 end", "main.lua")
    sandbox.close()
    with pytest.raises(PluginError, match="closed"):
        sandbox.call("f")
    assert sandbox.memory_used() == 0
