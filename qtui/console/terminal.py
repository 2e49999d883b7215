"""The terminal screen: urwid's raw display, writing only the cells that changed.

On a slow SSH link every byte counts. urwid redraws each line that changed from its
start, and writes a few bytes (cursor and attribute resets) even when nothing did. This
screen keeps what is on the terminal cell by cell and writes only the cells whose text
or attribute changed, moving the cursor the cheapest way (absolute or relative) and
switching attributes only when they differ from the terminal's current one. A poll that
changes one count on twenty rows writes a few bytes a row; a poll that changes nothing
writes nothing.

urwid still draws a frame whole when this screen cannot follow it cell by cell: the first
frame, a new size, a frame with DEC line-drawing or raw ("U") runs or characters whose
width it cannot place, and a change to the bottom right cell (writing there can scroll
the screen; urwid knows how to avoid that).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Any

import urwid
import wcwidth
from urwid.display.raw import Screen

#: A cell on the terminal: the attribute escape it is drawn with and its text ("" for the
#: right half of a wide character; a base character with its combining marks otherwise).
Cell = tuple[str, str]

#: Control characters are drawn as "?", as urwid draws them.
_UNPRINTABLE = {code: "?" for code in (*range(0x20), *range(0x7F, 0xA0))}

_HIDE_CURSOR = "\x1b[?25l"
_SHOW_CURSOR = "\x1b[?25h"


class QuietScreen(Screen):
    """A raw display that writes only the cells that changed since the last frame."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reset()

    def _reset(self) -> None:
        """Forget what is on the terminal: the next frame is drawn whole."""
        self._cells: list[list[Cell]] | None = None  # what the terminal shows
        self._size: tuple[int, int] | None = None
        self._at: tuple[int, int] | None = None  # the terminal cursor (column, row), None if unknown
        self._attr: str | None = None  # the attribute escape in effect, None if unknown
        self._cursor_shown = False
        self._urwid_knows_the_screen = False  # urwid's own line buffer matches the terminal
        self._canvas: urwid.Canvas | None = None  # the frame on the terminal, as urwid gave it
        self._rows: list[tuple[list, list[Cell]]] = []  # each row's canvas content and its cells

    def draw_screen(self, size: tuple[int, int], canvas: urwid.Canvas) -> None:
        if canvas is self._canvas and size == self._size and not self._resized:
            return  # urwid's cache gave back the frame on the terminal: nothing changed
        self._canvas = None
        cells = self._cells_of(canvas, size)
        if cells is None or self._cells is None or size != self._size or self._resized:
            self._draw_whole(size, canvas, cells)
            return
        runs = [(y, run) for y, (old, new) in enumerate(zip(self._cells, cells, strict=True)) if old != new
                for run in _runs(old, new, size[0])]
        if runs and runs[-1][0] == size[1] - 1 and runs[-1][1][1] == size[0]:
            self._draw_whole(size, canvas, cells)  # the bottom right cell
            return
        out: list[str] = []
        cursor = canvas.cursor
        if self._cursor_shown and (cursor is None or runs):
            out.append(_HIDE_CURSOR)
            self._cursor_shown = False
        for y, (start, end) in runs:
            self._write_run(out, cells[y], start, end, y, size[0])
        if runs:
            self._cells = cells
            self._urwid_knows_the_screen = False
        if cursor is not None and (not self._cursor_shown or self._at != cursor):
            out.append(self._move(*cursor))
            self._at = cursor
            if not self._cursor_shown:
                out.append(_SHOW_CURSOR)
                self._cursor_shown = True
        if out:
            self._send("".join(out))
        self._canvas = canvas

    def clear(self) -> None:
        self._reset()
        super().clear()

    def register_palette_entry(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - urwid signature
        super().register_palette_entry(*args, **kwargs)
        self._forget_frame()

    def set_terminal_properties(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - urwid signature
        super().set_terminal_properties(*args, **kwargs)
        self._forget_frame()

    def _forget_frame(self) -> None:
        """Attributes draw differently now: convert every row again (the terminal still shows its cells)."""
        self._canvas = None
        self._rows = []

    def _start(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - urwid signature
        self._reset()
        return super()._start(*args, **kwargs)

    # -- drawing -----------------------------------------------------------------------

    def _draw_whole(self, size: tuple[int, int], canvas: urwid.Canvas, cells: list[list[Cell]] | None) -> None:
        if not self._urwid_knows_the_screen:
            self.screen_buf = None  # urwid's line buffer is stale: it repaints every line
        super().draw_screen(size, canvas)
        if self._resized:  # urwid drew nothing: the frame after the resize is drawn whole
            self._reset()
            return
        self._urwid_knows_the_screen = True
        self._canvas = canvas
        self._cells, self._size = cells, size
        self._at, self._attr = None, None
        self._cursor_shown = canvas.cursor is not None

    def _write_run(self, out: list[str], row: list[Cell], start: int, end: int, y: int, cols: int) -> None:
        out.append(self._move(start, y))
        for attr, text in row[start:end]:
            if attr != self._attr:
                out.append(attr)
                self._attr = attr
            out.append(text)
        # After the last column the cursor waits to wrap: where it is next depends on the terminal.
        self._at = (end, y) if end < cols else None

    def _move(self, x: int, y: int) -> str:
        """The shortest escape moving the cursor from where it is to column `x` of row `y`."""
        absolute = f"\x1b[{y + 1}H" if x == 0 else f"\x1b[{y + 1};{x + 1}H"
        if self._at is None:
            return absolute
        cx, cy = self._at
        vertical = "" if y == cy else _csi(cy - y, "A") if y < cy else _csi(y - cy, "B")
        if x == cx:
            horizontal = ""
        elif x > cx:
            horizontal = _csi(x - cx, "C")
        else:
            horizontal = min("\b" * (cx - x), _csi(cx - x, "D"), "\r" + (_csi(x, "C") if x else ""), key=len)
        return min(absolute, vertical + horizontal, key=len)

    def _send(self, data: str) -> None:
        try:
            self.write(data)
            self.flush()
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise

    # -- reading the canvas ----------------------------------------------------------------

    def _cells_of(self, canvas: urwid.Canvas, size: tuple[int, int]) -> list[list[Cell]] | None:
        """The canvas cell by cell, or None when it holds something only urwid can draw."""
        if self.hyperlinks:
            return None
        encoding = urwid.util.get_encoding()
        rows = []
        known = self._rows
        converted = []
        for y, content in enumerate(canvas.content()):
            if y < len(known) and known[y][0] == content:  # the same row as last frame: same cells
                row = known[y][1]
            else:
                row = []
                for attr, charset, run in content:
                    if charset is not None:
                        return None
                    escape = self._attr_to_escape(attr)
                    text = run.decode(encoding, "replace").translate(_UNPRINTABLE)
                    if not _add_cells(row, escape, text):
                        return None
                if len(row) != size[0]:
                    return None
            converted.append((content, row))
            rows.append(row)
        if len(rows) != size[1]:
            return None
        self._rows = converted
        return rows


def _add_cells(row: list[Cell], attr: str, text: str) -> bool:
    """Append the cells of `text`; False if a character's width cannot be placed."""
    if text.isascii():
        row.extend((attr, char) for char in text)
        return True
    for char in text:
        width = wcwidth.wcwidth(char)
        if width == 1:
            row.append((attr, char))
        elif width == 2:
            row += [(attr, char), (attr, "")]
        elif width == 0 and row and row[-1][1]:
            row[-1] = (row[-1][0], row[-1][1] + char)  # a combining mark joins its base
        else:
            return False
    return True


def _runs(old: list[Cell], new: list[Cell], cols: int) -> Iterable[tuple[int, int]]:
    """[start, end) column ranges to write so the terminal's row `old` shows `new`.

    A range never ends inside a wide character. Short stretches of unchanged
    cells between two changes are written again when that is cheaper than moving over them.
    """
    changed = [x for x in range(cols) if old[x] != new[x]]
    if not changed:
        return
    start = end = changed[0]
    for x in changed:
        if x > end and not _cheaper_to_rewrite(new, end, x):
            yield start, _character_end(new, end, cols)
            start = x
        end = x + 1
    yield start, _character_end(new, end, cols)


def _cheaper_to_rewrite(row: list[Cell], start: int, end: int) -> bool:
    """Is writing the unchanged cells [start, end) again shorter than moving the cursor over them?"""
    attr = row[start - 1][0]
    cost = sum(len(text.encode()) for _, text in row[start:end])
    cost += sum(len(a) for a, _ in row[start:end] if a != attr)  # at most: one switch a cell
    return cost <= len(_csi(end - start, "C"))


def _character_end(row: list[Cell], end: int, cols: int) -> int:
    """`end` moved past the right half of a wide character it would split.

    (A range never starts in a right half: that changes only with its left half.)
    """
    while end < cols and row[end][1] == "":
        end += 1
    return end


def _csi(count: int, final: str) -> str:
    return f"\x1b[{final}" if count == 1 else f"\x1b[{count}{final}"
