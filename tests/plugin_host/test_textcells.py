"""qtui.text (API 1.1): measured as urwid draws the console, so a fitted line is never wider than counted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urwid.str_util import calc_width

from qtui.plugins.runtime import textcells
from qtui.sanitize import visible

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60) | st.sampled_from(
    ["日本語テキスト", "e\u0301te\u0301", "👩🏽‍💻 dev", "\x1b[31mred\x07", "\u202eevil"])


def drawn(line: list) -> str:
    return "".join(span if isinstance(span, str) else span["text"] for span in line)


def columns_of(text: str) -> int:
    return calc_width(text, 0, len(text))


@given(text=texts, columns=st.integers(0, 30))
def test_fit_is_safe_and_never_wider_than_asked(text: str, columns: int) -> None:
    fitted = textcells.fit(text, columns)
    assert visible(fitted) == fitted  # nothing left for qtui.render to neutralise
    assert columns_of(fitted) <= textcells.width(fitted) <= columns
    if textcells.width(text) <= columns:
        assert fitted == textcells.clean(text) or len(text) > textcells.CLEAN_CHARS


@given(text=texts, columns=st.integers(0, 30), align=st.sampled_from(textcells.ALIGNS))
def test_pad_takes_exactly_the_columns(text: str, columns: int, align: str) -> None:
    padded = textcells.pad(text, columns, align)
    assert textcells.width(padded) == columns
    assert padded.strip() == textcells.fit(text, columns).strip()


widths = st.lists(st.integers(-12, 12), min_size=1, max_size=6)


@given(cells=st.lists(texts | st.integers(), max_size=6), widths=widths, total=st.integers(0, 80))
def test_columns_never_clip_and_never_overflow_the_line(cells: list, widths: list[int], total: int) -> None:
    cells = cells[: len(widths)]
    line = textcells.columns(cells, widths, total)
    text = drawn(line)
    assert columns_of(text) <= textcells.width(text) <= total
    kept = textcells.layout(widths, total)
    assert len(kept) <= len(widths)
    # A column is left out whole, the last first; one that is kept shows its cell fitted, as fit would.
    start = 0
    for index, size in enumerate(kept):
        cell = text[start:][: len(textcells.pad(cells[index] if index < len(cells) else "", size))]
        value = cells[index] if index < len(cells) else ""
        assert cell.strip() == textcells.fit(value, size).strip()
        start += len(cell) + 1
    fixed = [abs(w) for w in widths]
    if sum(max(w, 1) for w in fixed) + len(widths) - 1 <= total:
        assert len(kept) == len(widths)


def test_numbers_and_booleans_show_as_lua_shows_them() -> None:
    assert [textcells.fit(v, 20) for v in (3, 3.0, 0.1, 1e20, 1 / 3, -0.0, True, float("inf"))] == [
        "3", "3.0", "0.1", "1e+20", "0.33333333333333", "-0.0", "true", "inf"]


def test_styles_join_neighbouring_cells_of_the_same_style() -> None:
    line = textcells.columns(["a", {"text": "b", "style": "error"}, {"text": "c", "style": "error"}, "d"],
                             [2, 2, 2, 2], style="dim")
    assert line == [{"text": "a  ", "style": "dim"}, {"text": "b  c  ", "style": "error"}, {"text": "d ",
                                                                                          "style": "dim"}]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: textcells.fit("x", float("nan")), "columns must be a finite number"),
    (lambda: textcells.fit({}, 3), "value must be text, a number or a boolean"),
    (lambda: textcells.columns(["a"], [0]), "a flexible column (width 0) needs the line's width"),
    (lambda: textcells.columns(["a"], ["3"]), "width 1 must be a finite number"),
    (lambda: textcells.width("x" * (textcells.MAX_CHARS + 1)), "text longer than 65536 characters"),
])
def test_wrong_arguments_are_named(call, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
