"""Terminal text for plugin panels: width, fitting, padding and columns (``qtui.text`` of API 1.1).

Columns are counted as the console's terminal draws them: a character wcwidth (the table
urwid lays out the console with) calls wide takes two columns, every other character one,
combining marks and joiners included, so a sequence that a terminal draws narrower (an
accent, an emoji with a skin tone) is overestimated, never underestimated. Text is made
safe first: a control character, bidi mark or other character that would move the cursor
or reorder text becomes one '?', so what is measured is exactly what `qtui.render` shows.

Values are what plugins pass: text, numbers (shown as Lua's ``tostring`` shows them) and
booleans. Errors are ValueError with a message naming the argument; the host function
prefixes the function's name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import wcwidth

from qtui.plugins.runtime.api import STYLES
from qtui.sanitize import plain

ELLIPSIS = "…"
#: Longest text (in characters) `width` measures.
MAX_CHARS = 65536
#: Characters `clean` keeps.
CLEAN_CHARS = 200
#: Most columns in one `columns` call, and the widest column or line.
MAX_CELLS = 100
MAX_COLUMNS = 10_000
ALIGNS = ("left", "right", "center")

#: A line of a panel: strings and {text=, style=} spans, as `qtui.render` takes them.
Line = list[str | dict[str, str]]


@functools.lru_cache(maxsize=8192)
def _char_width(char: str) -> int:
    return 2 if wcwidth.wcwidth(char) == 2 else 1


def lua_text(value: Any, what: str = "value") -> str:
    """`value` (text, number or boolean; None as empty) as Lua's tostring shows it."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = _lua_float(value)
    else:
        raise ValueError(f"{what} must be text, a number or a boolean")
    return text


def _lua_float(number: float) -> str:
    if math.isnan(number):
        return "nan" if math.copysign(1.0, number) > 0 else "-nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    text = f"{number:.14g}"
    return text if any(c in text for c in ".en") else text + ".0"  # Lua 5.4 marks floats


def columns_of(value: Any, what: str) -> int:
    """A count of columns: a finite number, a fraction dropped, negative as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return max(0, min(MAX_COLUMNS, math.floor(value)))


def clean(value: Any) -> str:
    """`value` as one safe line: its first CLEAN_CHARS characters, control characters as '?'."""
    return plain(lua_text(value)[:CLEAN_CHARS])


def width(value: Any) -> int:
    """Terminal columns `value` takes once made safe."""
    text = lua_text(value)
    if len(text) > MAX_CHARS:
        raise ValueError(f"text longer than {MAX_CHARS} characters")
    return cells(plain(text))


def cells(text: str) -> int:
    """Terminal columns `text` (already safe to show) takes: one a character, two a wide one."""
    return len(text) if text.isascii() else sum(map(_char_width, text))


def _fit(text: str, columns: int) -> str:
    """Safe `text` cut to at most `columns` columns, ending in an ellipsis when cut."""
    if columns < 1:
        return ""
    text = plain(text[: columns + 1])  # a character takes at least one column
    if text.isascii():
        return text if len(text) <= columns else text[: columns - 1] + ELLIPSIS
    widths = list(map(_char_width, text))
    if sum(widths) <= columns:
        return text
    used = 0
    for index, taken in enumerate(widths):
        if used + taken > columns - 1:
            return text[:index] + ELLIPSIS
        used += taken
    return text  # not reached: the text was wider than `columns`


def fit(value: Any, columns: Any) -> str:
    """`value` made safe and cut to at most `columns` columns, with '…' when something was cut."""
    return _fit(lua_text(value), columns_of(columns, "columns"))


def clean_fit(value: Any, columns: Any) -> str:
    """`fit` of `clean(value)`, in one call."""
    return _fit(clean(value), columns_of(columns, "columns"))


def clean_pad(value: Any, columns: Any, align: Any = "left") -> str:
    """`pad` of `clean(value)`, in one call."""
    return pad(clean(value), columns, align)


def pad(value: Any, columns: Any, align: Any = "left") -> str:
    """`value` fitted into exactly `columns` columns, aligned left, right or in the center."""
    if align not in ALIGNS:
        raise ValueError(f"align must be one of {', '.join(ALIGNS)}, not {align!r}")
    return _pad(lua_text(value), columns_of(columns, "columns"), align)


def _pad(text: str, columns: int, align: str) -> str:
    cell = _fit(text, columns)
    gap = columns - (len(cell) if cell.isascii() else sum(map(_char_width, cell)))
    if align == "right":
        return " " * gap + cell
    if align == "center":
        return " " * (gap // 2) + cell + " " * (gap - gap // 2)
    return cell + " " * gap


def _cell(value: Any, number: int) -> tuple[str, str | None]:
    """A cell's text and style: a value, or {text=, style=}."""
    if isinstance(value, Mapping):
        if set(value) - {"text", "style"}:
            raise ValueError(f"cell {number} must be a value or {{text=, style=}}")
        return lua_text(value.get("text"), f"cell {number} text"), _style(value.get("style"), f"cell {number}")
    return lua_text(value, f"cell {number}"), None


def _style(style: Any, what: str) -> str | None:
    if style is None:
        return None
    if style not in STYLES:
        raise ValueError(f"{what}: unknown style {style!r} (styles: {', '.join(STYLES)})")
    return style


def layout(widths: Sequence[int], total: int | None) -> list[int]:
    """The columns that fit and their widths: `widths` as given (0 for flexible) and `total`.

    Columns are separated by one space. Without `total` no column may be flexible. With it,
    columns that do not fit whole are left out, the last first (a flexible one needs at least
    one column), and the flexible ones share what is left.
    """
    kept = list(widths)
    if total is None:
        if 0 in kept:
            raise ValueError("a flexible column (width 0) needs the line's width")
        return [abs(w) for w in kept]

    def needed(ws: list[int]) -> int:
        return sum(max(abs(w), 1) for w in ws) + max(len(ws) - 1, 0)

    while kept and needed(kept) > total:
        kept.pop()
    flexible = kept.count(0)
    if not flexible:
        return [abs(w) for w in kept]
    spare = total - (sum(abs(w) for w in kept) + len(kept) - 1)
    share, extra = divmod(spare, flexible)
    result = []
    for w in kept:
        if w == 0:
            result.append(share + (1 if extra > 0 else 0))
            extra -= 1
        else:
            result.append(abs(w))
    return result


def columns(cells: Sequence[Any], widths: Sequence[Any], total: Any = None, style: Any = None) -> Line:
    """One line of fixed-width columns, as spans for `qtui.render`.

    `widths[i]` is the width of column i: a positive number left-aligns its cell, a negative
    one right-aligns it in that many columns, 0 makes it flexible. Missing cells are empty.
    A cell is a value or {text=, style=}; `style` applies to cells without one.
    """
    if len(widths) > MAX_CELLS:
        raise ValueError(f"at most {MAX_CELLS} columns")
    if len(cells) > len(widths):
        raise ValueError(f"{len(cells)} cells but only {len(widths)} widths")
    signed = []
    for number, w in enumerate(widths, 1):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise ValueError(f"width {number} must be a finite number")
        signed.append(max(-MAX_COLUMNS, min(MAX_COLUMNS, math.trunc(w))))
    line_width = None if total is None else columns_of(total, "the line's width")
    default = _style(style, "style")
    sized = layout(signed, line_width)
    line: Line = []
    for index, size in enumerate(sized):
        text, cell_style = _cell(cells[index], index + 1) if index < len(cells) else ("", None)
        shown = _pad(text, size, "right" if signed[index] < 0 else "left")
        if index < len(sized) - 1:
            shown += " "
        _append(line, shown, cell_style or default)
    return line


def lua_columns(cells: Any, widths: Any, total: Any = None, style: Any = None) -> Line:
    """`columns` of the cells and widths as they come from Lua (an empty table is an empty list)."""
    cells = [] if cells == {} else cells
    widths = [] if widths == {} else widths
    if not isinstance(cells, list) or not isinstance(widths, list):
        raise ValueError("columns takes a list of cells and a list of widths")
    return columns(cells, widths, total, style)


def _append(line: Line, text: str, style: str | None) -> None:
    """Add a span, joining it to the previous one when both have the same style."""
    style = None if style == "normal" else style
    if line:
        last = line[-1]
        last_style = None if isinstance(last, str) else last["style"]
        if last_style == style:
            line[-1] = (last if isinstance(last, str) else last["text"]) + text
            if style is not None:
                line[-1] = {"text": line[-1], "style": style}
            return
    line.append(text if style is None else {"text": text, "style": style})
