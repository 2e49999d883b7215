"""Compiling a plugin's Lua source without running it, to report syntax errors with their line.

The source is compiled in a bare Lua 5.4 state of its own with a memory cap and no libraries
reachable from the chunk (it is never called), so a hostile file can at worst fail to compile.
Compiling runs in C and some shapes of code compile in time that grows with the square of
their length: the parser reads the source in pieces and stops at a deadline, and a chunk with
more goto and break statements than the sandbox compiles is refused before compiling.
"""

from __future__ import annotations

import re
import time

import attrs
from lupa import lua54

#: Largest Lua file qtui compiles: `load`, `require` and the host refuse bigger chunks too.
MAX_SOURCE_BYTES = 2**20
#: Most goto and break statements in one chunk: Lua resolves them when their block closes, in
#: one stretch of C whose time grows with the square of their count (10,000 take about 0.1 s).
MAX_JUMPS = 10_000
#: Longest a syntax check of one file may take.
COMPILE_SECONDS = 2.0
_PIECE = 1024

_POSITION = re.compile(r"(?P<file>[^\n]*?):(?P<line>\d+): (?P<message>.*)", re.S)


@attrs.frozen
class SyntaxProblem:
    """Why a chunk does not compile; `line` when Lua said where."""

    message: str
    line: int | None = None


def jump_count(source: bytes) -> int:
    """An upper bound of the goto and break statements in `source` (the words anywhere)."""
    return source.count(b"goto") + source.count(b"break")


def syntax_problem(source: bytes, chunkname: str, *, memory_bytes: int,
                   max_bytes: int = MAX_SOURCE_BYTES, seconds: float = COMPILE_SECONDS) -> SyntaxProblem | None:
    """Compile `source` as Lua 5.4 text; the first problem (Lua's parser stops there), or None."""
    if len(source) > max_bytes:
        return SyntaxProblem(f"source is {len(source)} bytes; the limit is {max_bytes}")
    jumps = jump_count(source)
    if jumps > MAX_JUMPS:
        return SyntaxProblem(f"{jumps} goto and break statements are too many to compile (limit {MAX_JUMPS})")
    runtime = lua54.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True,
                               encoding=None, max_memory=memory_bytes)
    load = runtime.globals()[b"load"]
    deadline = time.monotonic() + seconds
    offset = 0

    def reader() -> bytes | None:  # the parser's next piece; nothing more once it ran too long
        nonlocal offset
        if time.monotonic() > deadline:
            return None
        piece = source[offset:offset + _PIECE]
        offset += _PIECE
        return piece

    lua_reader = runtime.eval(b"function(read) return function() return read() end end")(reader)
    try:
        result = load(lua_reader, b"@" + chunkname.encode("utf-8", "replace"), b"t", runtime.table())
    except (lua54.LuaMemoryError, MemoryError):
        return SyntaxProblem("too large to compile within the memory limit")
    if offset < len(source) or time.monotonic() > deadline:
        return SyntaxProblem(f"took longer than {seconds:g} s to compile (very long elseif or and/or chains?)")
    if not isinstance(result, tuple) or result[0] is not None:
        return None
    raw = result[1]
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    found = _POSITION.match(text)
    if found is None:
        return SyntaxProblem(text)
    return SyntaxProblem(found["message"], int(found["line"]))
