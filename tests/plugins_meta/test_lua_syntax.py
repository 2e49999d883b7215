"""Compiling plugin source without running it: what `plugin check` and installing report."""

from __future__ import annotations

from qtui.plugins.bundles.lua_syntax import syntax_problem

MIB = 2**20


def check(source: str, **limits: float):
    return syntax_problem(source.encode(), "panel.lua", memory_bytes=16 * MIB, **limits)


def test_valid_source_has_no_errors() -> None:
    assert check("function activate() return 1 end") is None


def test_syntax_errors_are_reported_with_position() -> None:
    problem = check("local x = = 2\n")
    assert problem is not None and problem.line == 1
    assert "unexpected symbol near '='" in problem.message


def test_nothing_runs() -> None:
    assert check("while true do end os.exit(1)") is None


def test_bytecode_and_oversized_sources_are_errors() -> None:
    problem = check("\x1bLua\x54\x00")
    assert problem is not None and "binary chunk" in problem.message
    problem = check("x = 1\n" * 10, max_bytes=20)
    assert problem is not None and "limit is 20" in problem.message


def test_a_chunk_with_too_many_gotos_is_refused_before_compiling() -> None:
    problem = check("do " + "goto done " * 20_000 + "::done:: end")
    assert problem is not None and "20000 goto and break statements are too many" in problem.message


def test_a_compile_that_would_take_minutes_stops_at_the_deadline() -> None:
    # 200,000 `or` in one expression: Lua's parser needs minutes for it.
    problem = check("return x" + " or x" * 200_000, seconds=0.2)
    assert problem is not None and "took longer than 0.2 s to compile" in problem.message
    assert check("return x" + " or x" * 100, seconds=0.2) is None
