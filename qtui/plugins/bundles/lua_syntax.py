"""Compiling a plugin's Lua source without running it, to report syntax errors with their line.

The source is compiled in a bare Lua 5.4 state of its own with a memory cap and no libraries
reachable from the chunk (it is never called), so a hostile file can at worst fail to compile.
"""

from __future__ import annotations

import re

import attrs
from lupa import lua54

#: Largest Lua file qtui compiles: `load`, `require` and the host refuse bigger chunks too.
MAX_SOURCE_BYTES = 2**20

_POSITION = re.compile(r"(?P<file>[^\n]*?):(?P<line>\d+): (?P<message>.*)", re.S)


@attrs.frozen
class SyntaxProblem:
    """Why a chunk does not compile; `line` when Lua said where."""

    message: str
    line: int | None = None


def syntax_problem(source: bytes, chunkname: str, *, memory_bytes: int,
                   max_bytes: int = MAX_SOURCE_BYTES) -> SyntaxProblem | None:
    """Compile `source` as Lua 5.4 text; the first problem (Lua's parser stops there), or None."""
    if len(source) > max_bytes:
        return SyntaxProblem(f"source is {len(source)} bytes; the limit is {max_bytes}")
    runtime = lua54.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True,
                               encoding=None, max_memory=memory_bytes)
    load = runtime.globals()[b"load"]
    try:
        result = load(source, b"@" + chunkname.encode("utf-8", "replace"), b"t", runtime.table())
    except (lua54.LuaMemoryError, MemoryError):
        return SyntaxProblem("too large to compile within the memory limit")
    if not isinstance(result, tuple) or result[0] is not None:
        return None
    raw = result[1]
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    found = _POSITION.match(text)
    if found is None:
        return SyntaxProblem(text)
    return SyntaxProblem(found["message"], int(found["line"]))
