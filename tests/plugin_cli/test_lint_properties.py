"""The checker's reading of Lua: any text is read without failing, and names inside strings and
comments are never taken for code, whatever the quoting."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from qtui.authoring.lint import lint_files

_inner = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=60)


def _findings(source: str) -> list[str]:
    found = lint_files({"init.lua": source.encode("utf-8", "surrogatepass")}, Path("p"), None)
    return [f"{p.line}: {p.message}" for p in found.errors]


@given(st.text(max_size=200))
def test_any_text_is_read_without_failing(source: str) -> None:
    _findings(source)


def _long_bracket(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text + "]":
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


@st.composite
def _hidden(draw: st.DrawFn) -> str:
    """A string or comment holding a misspelled qtui name and arbitrary text, quoted correctly."""
    text = draw(_inner) + " qtui.notiffy " + draw(_inner)
    kind = draw(st.sampled_from(["line comment", "long comment", "long string", "quoted"]))
    if kind == "line comment":
        return "-- " + text.replace("\n", " ")
    if kind == "long comment":
        return "--" + _long_bracket(text)
    if kind == "long string":
        return "local s = " + _long_bracket(text)
    quote = draw(st.sampled_from(["'", '"']))
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
    return f"local s = {quote}{escaped}{quote}"


@given(st.lists(_hidden(), min_size=1, max_size=4))
def test_names_in_strings_and_comments_are_not_code_and_lines_still_count(pieces: list[str]) -> None:
    source = "\n".join(pieces)
    last = source.count("\n") + 2
    assert _findings(source + "\nqtui.notiffy()\n") == [
        f"{last}: qtui.notiffy is not in the plugin API (did you mean qtui.notify?)"]
