"""The spec runner: what a spec author sees when tests pass, fail or misuse the driver."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qtui.authoring import _spec_run, spectest
from qtui.plugins.runtime.sandbox import Limits

from .conftest import run_specs

PANEL_PLUGIN = """
    function activate() qtui.subscribe("stats"); qtui.render({"waiting"}) end
    function on_event(e)
      local lines = {}
      for _, q in ipairs(e.queues) do lines[#lines + 1] = q.name .. " dead=" .. q.dead end
      qtui.render(lines)
    end
"""


def test_a_failing_assertion_names_the_test_its_line_and_expected_and_got(run_module, write_spec) -> None:
    write_spec("""\
        describe("panel", function()
          it("counts", function()
            local p = qtest.load{source = [[function activate() qtui.render({"dead=1"}) end]]}
            assert.same({"dead=2"}, p:text())
          end)
          it("passes", function() assert.is_true(true) end)
        end)
    """)
    code, out, _ = run_module("spec")
    assert code == 1
    assert out.splitlines() == [
        "FAIL panel counts",
        "  at spec/x_spec.lua:4",
        '  expected: {"dead=2"}',
        '       got: {"dead=1"}',
        "1 passed, 1 failed",
    ]


def test_passing_specs_exit_0_and_end_with_the_summary(run_module, write_spec) -> None:
    write_spec('describe("a", function() it("b", function() assert.equals(2, 1 + 1) end) end)')
    code, out, _ = run_module("spec", "-v")
    assert code == 0
    assert out.splitlines() == ["ok   a b", "1 passed, 0 failed"]


def test_no_spec_files_is_a_usage_error(run_module, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert run_module("empty") == (2, "", "qtui: empty: no *_spec.lua files\n")
    assert run_module("missing") == (2, "", "qtui: missing: no such file or folder\n")


@pytest.mark.parametrize(("body", "location", "message"), [
    ("it('x', function()\n  local t = nil\n  return t.field\nend)", ":3", "attempt to index a nil value (local 't')"),
    ("it('x', function() error('plain') end)", ":1", "plain"),
    ("it('x', function() assert.equals(1, 2, 'counts differ') end)", ":1", "counts differ\nexpected: 1\n     got: 2"),
    ("it('x', function() assert(false) end)", ":1", "assertion failed"),
    ("it('x', function() assert.is_not.same({1}, {1}) end)", ":1", "expected anything but: {1}"),
    ("it('x', function() assert.has_error(function() end) end)", ":1", "expected: an error\n     got: no error"),
    ("it('x', function()\n  assert.matches('^ok', 'not ok')\nend)", ":2",
     'expected: text matching "^ok"\n     got: "not ok"'),
])
def test_failures_carry_the_spec_line_and_message(write_spec, body: str, location: str, message: str) -> None:
    spec = write_spec(body)
    (result,) = run_specs(spec)
    assert not result.passed
    assert result.location == f"{spec}{location}"
    assert result.message == message


def test_a_spec_that_cannot_load_is_one_failure_at_its_line(write_spec) -> None:
    broken = write_spec("describe('a', function()\n  it('b', function() end\nend)\n", name="broken_spec.lua")
    failing = write_spec("describe('a', function()\n  local x = nil .. 'y'\nend)\n", name="failing_spec.lua")
    fine = write_spec("it('top-level tests run too', function() end)\n", name="fine_spec.lua")
    results = run_specs(broken, failing, fine)
    assert [(r.passed, r.location) for r in results] == [
        (False, f"{broken}:3"), (False, f"{failing}:2"), (True, None),
    ]
    assert "')' expected" in results[0].message
    assert results[1].message == "attempt to concatenate a nil value"


def test_before_each_and_after_each_wrap_each_test_outside_in(write_spec) -> None:
    spec = write_spec("""\
        local log = {}
        before_each(function() log[#log + 1] = "outer before" end)
        after_each(function() log[#log + 1] = "outer after" end)
        describe("group", function()
          before_each(function() log[#log + 1] = "inner before" end)
          after_each(function() log[#log + 1] = "inner after" end)
          it("fails", function() log[#log + 1] = "test"; error("boom") end)
          it("sees the order", function()
            assert.same({"outer before", "inner before", "test", "inner after", "outer after",
                         "outer before", "inner before"}, log)
          end)
        end)
        describe("after_each failing", function()
          after_each(function() error("cleanup failed") end)
          it("fails the test", function() end)
        end)
    """)
    results = run_specs(spec)
    assert [(r.title, r.passed, r.message) for r in results] == [
        ("group fails", False, "boom"),
        ("group sees the order", True, ""),
        ("after_each failing fails the test", False, "cleanup failed"),
    ]


def test_a_runaway_spec_is_stopped_and_the_next_test_runs(write_spec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_spec_run, "SPEC_LIMITS", Limits(instructions=1_000_000))
    spec = write_spec("""\
        it("spins", function()
          while true do end
        end)
        it("runs after", function() end)
    """)
    spins, after = run_specs(spec)
    assert (spins.passed, spins.location, spins.message) == (
        False, f"{spec}:1", "instruction limit exceeded (1,000,000 per call)")
    assert after.passed


def test_driver_misuse_is_reported_at_the_spec_line(write_spec) -> None:
    spec = write_spec("""\
        local kept
        it("loads", function()
          kept = qtest.load{source = "function activate() end", grant = {"time.travel"}}
        end)
        it("sends", function()
          local p = qtest.load{source = "function activate() end"}
          p:command("nope", "now")
        end)
        it("keeps a plugin", function()
          kept = qtest.load{source = "function activate() end"}
        end)
        it("uses it later", function()
          kept:send("stats")
        end)
        it("has no plugin under test", function()
          qtest.load{}
        end)
    """)
    results = run_specs(spec)
    assert [(r.location, r.message) for r in results] == [
        (f"{spec}:3", "grant: unknown capability 'time.travel' (known: stats.read, selection.read, timers, "
                      "notify, commands, storage, bus.publish, bus.subscribe, jobs.peek, jobs.enqueue, "
                      "jobs.requeue, jobs.purge, keys.read)"),
        (f"{spec}:7", "command: spec-plugin has no command 'nope' (registered: none)"),
        (None, ""),
        (f"{spec}:13", "this plugin's console was closed at the end of its test; "
                       "call qtest.load in the test or in before_each"),
        (f"{spec}:16", "qtest.load: no plugin under test here; give source = [[...]] or plugin = 'folder'"),
    ]


def test_specs_require_their_neighbours_and_print_to_the_output(write_spec) -> None:
    write_spec("return {double = function(n) return n * 2 end}\n", name="helpers.lua")
    spec = write_spec("""\
        local helpers = require("helpers")
        it("uses a helper", function()
          print("doubled", helpers.double(21))
          assert.equals(42, helpers.double(21))
        end)
    """)
    printed: list[str] = []
    (result,) = spectest.run_specs([spec], output=printed.append)
    assert result.passed
    assert printed == ["doubled\t42"]


def test_plugin_test_runs_the_folders_specs_against_its_plugin(run, tmp_path: Path, write_spec) -> None:
    folder = tmp_path / "dead-panel"
    folder.mkdir()
    (folder / "manifest.toml").write_text(
        'name = "dead-panel"\nversion = "1.0.0"\ndescription = "dead jobs"\napi = "1"\n'
        'permissions = ["stats.read", "notify"]\n')
    (folder / "init.lua").write_text(textwrap.dedent(PANEL_PLUGIN))
    write_spec("""\
        describe("dead-panel", function()
          it("shows dead jobs per queue, with every requested capability granted", function()
            local p = qtest.load{jobs = {{queue = "email", state = "dead", error = "smtp down"}}}
            assert.same({"waiting"}, p:text())
            p:send("stats")
            assert.same({"email dead=1"}, p:text())
          end)
          it("waits when the operator has not decided", function()
            local p = qtest.load{undecided = {"stats.read"}}
            assert.equals("waiting", p:state())
          end)
          it("can load the plugin by path too", function()
            local p = qtest.load{plugin = "..", deny = {"notify"}}
            assert.same({"waiting"}, p:text())
          end)
        end)
    """, folder=folder / "spec")
    assert run("plugin", "test", str(folder)) == (0, "3 passed, 0 failed\n", "")


def test_plugin_test_usage_errors(run, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert run("plugin", "test") == (2, "", "qtui: say which plugin folder to test, or --contract\n")
    assert run("plugin", "test", "plain", "--contract") == (2, "", "qtui: give a plugin folder or --contract, not both\n")
    assert run("plugin", "test", "nowhere") == (2, "", "qtui: nowhere: not a folder\n")
    assert run("plugin", "test", "plain") == (2, "", "qtui: plain/spec: no such file or folder\n")


def test_tick_fires_a_running_timer_now(write_spec) -> None:
    spec = write_spec("""\
        it("ticks", function()
          local p = qtest.load{grant = {"timers"}, source = [[
            local n = 0
            function activate() qtui.every("poll", 3600) end
            function on_event(e) n = n + 1; qtui.render({e.name .. " " .. n}) end
          ]]}
          p:tick("poll")
          p:send{type = "timer", name = "poll"}
          assert.same({"poll 2"}, p:text())
          p:tick("other")
        end)
    """)
    (result,) = run_specs(spec)
    assert (result.location, result.message) == (
        f"{spec}:10", "tick: spec-plugin has no timer 'other' running (running: poll)")


@pytest.mark.parametrize(("call", "message"), [
    ('p:send{type = "action", id = 1}', "action events are the results of the plugin's own qtui.jobs requests"),
    ('p:send{type = "weather"}', "send: unknown event type 'weather' (types: stats, selection, key, mouse, "
                                 "timer, command, message, lifecycle, resize, settings, action, console_key)"),
    ('p:send{type = "key"}', "send key: key is missing"),
    ('p:send{type = "mouse", action = "press", column = "left", row = 1}', "send mouse: column must be a whole number"),
    ('p:send{type = "stats", queues = {}}', "send stats: the stats come from the queue; it takes no fields"),
    ('p:send(42)', "send takes 'stats' or an event table with a type"),
    ('qtest.advance(-1)', "advance takes a number of seconds, 0 or more"),
    ('p:jobs("email", "lost")', "jobs: unknown job state 'lost' (choose from ready, scheduled, processing, "
                                "completed, dead)"),
    ('qtest.load{source = "", jobs = {{queue = "email", state = "ready", error = "x"}}}',
     "jobs[1].error: only dead jobs have an error here"),
    ('qtest.load{source = "", jobs = {{queue = "e mail"}}}', "jobs[1]: invalid queue name 'e mail': use 1-128 "
                                                            "letters, digits or _ . : @ -"),
    ('qtest.load{source = "", jobs = {{queue = "email", payload = "not json"}}}',
     "jobs[1]: payload is not valid JSON: Expecting value at line 1 column 1"),
    ('qtest.load{source = "", colour = "red"}', "qtest.load: unknown option 'colour' (options: api, confirm, deny, "
                                                "files, forbid, grant, jobs, manifest, name, no_confirm, plugin, "
                                                "recording, settings, source, undecided, version)"),
    ('qtest.load{source = "", confirm = "yes"}',
     "confirm must be true (the operator confirms), false (declines) or nil (nobody asked)"),
    ('qtest.load{source = "", files = {["../escape.lua"] = "x"}}',
     "files: '../escape.lua' must be a relative path inside the plugin, without '..'"),
    ('qtest.load{source = "", grant = {"notify"}, settings = {limit = 1}}',
     "settings: limit: spec-plugin has no such setting"),
    ('qtest.load{source = "", version = "one"}',
     "manifest.toml:2: version: 'one' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1)"),
    ('p:reload{plugin = "elsewhere"}', "reload: unknown option 'plugin' (options: files, source)"),
])
def test_driver_calls_check_what_the_spec_gives(write_spec, call: str, message: str) -> None:
    spec = write_spec(f"""\
        it("misuses the driver", function()
          local p = qtest.load{{source = "function activate() end"}}
          {call}
        end)
    """)
    (result,) = run_specs(spec)
    assert (result.location, result.message) == (f"{spec}:3", message)


def test_control_characters_reach_the_terminal_as_notation(run_module, write_spec) -> None:
    write_spec('it("\\27[31mred", function() print("a\\tb\\27]0;x\\7"); error("boom\\27[2J") end)')
    code, out, _ = run_module("spec")
    assert code == 1
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines() == ["a   b^[]0;x^G", "FAIL ^[[31mred", "  at spec/x_spec.lua:1", "  boom^[[2J",
                                "0 passed, 1 failed"]


def test_a_failing_test_prints_what_its_plugins_logged_and_their_errors(run, tmp_path: Path, write_spec) -> None:
    folder = tmp_path / "bad-panel"
    folder.mkdir()
    (folder / "manifest.toml").write_text(
        'name = "bad-panel"\nversion = "1.0.0"\ndescription = "draws wrong"\napi = "1"\n'
        'permissions = ["stats.read"]\n')
    (folder / "init.lua").write_text(textwrap.dedent("""\
        function activate() print("starting"); qtui.subscribe("stats") end
        function on_event(e)
          qtui.render({"ok", "fine", 3})
        end
    """))
    write_spec("""\
        describe("bad-panel", function()
          it("shows the queues", function()
            local p = qtest.load{jobs = {{queue = "email"}}}
            p:send("stats")
            assert.same({"email 1"}, p:text())
          end)
          it("passes, so nothing is printed for it", function()
            local p = qtest.load{}
            assert.equals("running", p:state())
          end)
          it("starts an inline helper that fails to start", function()
            local p = qtest.load{}
            p:add{name = "helper", source = "print('helping'); error('no way')"}
            assert.same({"never"}, p:text())
          end)
        end)
    """, folder=folder / "spec")
    code, out, _ = run("plugin", "test", str(folder))
    assert code == 1
    assert out.splitlines() == [
        "FAIL bad-panel shows the queues",
        "  at bad-panel/spec/x_spec.lua:5",
        '  expected: {"email 1"}',
        "       got: {}",
        "  bad-panel (running) logged:",
        "    info: starting",
        "    error: plugin bad-panel: init.lua:3: qtui.render: line 3 must be a string or a list of spans",
        "FAIL bad-panel starts an inline helper that fails to start",
        "  at bad-panel/spec/x_spec.lua:14",
        '  expected: {"never"}',
        "       got: {}",
        "  bad-panel (running) logged:",
        "    info: starting",
        "  helper (errored: plugin helper: init.lua:1: no way) logged:",
        "    info: helping",
        "    error: plugin helper: init.lua:1: no way",
        "1 passed, 2 failed",
    ]


def test_p_error_is_a_table_with_the_place_and_the_whole_text(write_spec) -> None:
    spec = write_spec("""\
        describe("errors", function()
          it("describes the latest error", function()
            local p = qtest.load{source = [[
              function activate() qtui.subscribe("key") end
              function on_event(e) error("broken by " .. e.key) end
            ]], grant = {"selection.read"}}
            assert.is_nil(p:error())
            p:send{type = "key", key = "x"}
            assert.same({message = "broken by x", file = "init.lua", line = 2,
                         text = "plugin spec-plugin: init.lua:2: broken by x"}, p:error())
            assert.equals(1, p:errors())
          end)
        end)
    """)
    (result,) = run_specs(spec)
    assert result.passed, spectest.format_failure(result)
