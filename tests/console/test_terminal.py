"""The terminal screen writes only the cells that changed, and the terminal shows every frame right.

Checked against a terminal emulator (pyte): after any sequence of frames, a terminal fed what
QuietScreen wrote shows the same cells, with the same attributes, as one fed urwid's own
drawing of the last frame alone.
"""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator

import pyte
import pytest
import urwid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.console.palette import PALETTE
from qtui.console.terminal import QuietScreen


class _Input:
    """The terminal input the screen sets up: one end of a pseudo-terminal no one types into."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


class Terminal:
    """A started screen of class `kind` and an emulator fed everything the screen writes."""

    def __init__(self, kind: type[urwid.display.raw.Screen], size: tuple[int, int], tty: int) -> None:
        self.output = io.StringIO()
        self.screen = kind(input=_Input(tty), output=self.output)
        self.screen.register_palette(PALETTE)
        self.screen.start()
        self.emulator = pyte.Screen(*size)
        self.stream = pyte.Stream(self.emulator)
        self.written = 0

    def draw(self, size: tuple[int, int], canvas: urwid.Canvas) -> str:
        """Draw `canvas`; returns what the screen wrote for it."""
        self.screen.draw_screen(size, canvas)
        data = self.output.getvalue()
        self.output.seek(0)
        self.output.truncate()
        self.stream.feed(data)
        self.written += len(data.encode())
        return data

    def cells(self) -> list[list[tuple]]:
        rows = range(self.emulator.lines)
        return [[(c.data, c.fg, c.bg, c.bold, c.reverse, c.underscore) for c in
                 (self.emulator.buffer[y][x] for x in range(self.emulator.columns))] for y in rows]

    def stop(self) -> None:
        self.screen.stop()


@pytest.fixture
def tty() -> Iterator[int]:
    master, slave = pty.openpty()
    yield slave
    os.close(master)
    os.close(slave)


def canvas_of(lines: list[list[tuple[str | None, str]]], size: tuple[int, int], edit: int | None = None) -> urwid.Canvas:
    widgets: list[urwid.Widget] = [urwid.Text([(a, t) if a else t for a, t in line] or "", wrap="clip")
                                   for line in lines]
    if edit is not None:  # a line with the cursor in it, like the command line
        widgets[edit] = urwid.Edit(":", "requeue --to email")
    pile = urwid.Pile(widgets, focus_item=edit if edit is not None else 0)
    return urwid.Filler(pile, valign="top").render(size, focus=edit is not None)


ATTRS = [None, "header", "dead", "warn", "spark", "focus", "dim"]
# Wide and combining characters; no controls: every text reaches the screen through qtui.sanitize,
# which shows them as notation (^[), so the canvas never holds one.
PIECES = [*"ab 01:-", "界", "é", "e\u0301", "▁", "▇", "─", "…"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
LINE = st.lists(st.tuples(st.sampled_from(ATTRS), TEXT), max_size=3)


@st.composite
def frames(draw: st.DrawFn) -> tuple[tuple[int, int], list[list[list[tuple]]], list[int | None]]:
    size = (draw(st.integers(6, 24)), draw(st.integers(2, 6)))
    first = draw(st.lists(LINE, min_size=size[1], max_size=size[1]))
    sequence = [first]
    for _ in range(draw(st.integers(1, 5))):
        changed = list(sequence[-1])
        for y in draw(st.lists(st.integers(0, size[1] - 1), max_size=3)):
            changed[y] = draw(LINE)
        sequence.append(changed)
    edits = draw(st.lists(st.one_of(st.none(), st.integers(0, size[1] - 1)), min_size=len(sequence),
                          max_size=len(sequence)))
    return size, sequence, edits


# The pseudo-terminal only lets the screens start; nothing is read from it, so sharing it is harmless.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=frames())
def test_the_terminal_shows_what_urwid_would_have_drawn(tty: int, case) -> None:
    size, sequence, edits = case
    quiet = Terminal(QuietScreen, size, tty)
    try:
        for lines, edit in zip(sequence, edits, strict=True):
            canvas = canvas_of(lines, size, edit)
            quiet.draw(size, canvas)
            reference = Terminal(urwid.display.raw.Screen, size, tty)
            try:
                reference.draw(size, canvas)
                assert quiet.cells() == reference.cells()
                if canvas.cursor is not None:
                    assert (quiet.emulator.cursor.x, quiet.emulator.cursor.y) == canvas.cursor
                    assert not quiet.emulator.cursor.hidden
                else:
                    assert quiet.emulator.cursor.hidden
            finally:
                reference.stop()
    finally:
        quiet.stop()


def test_a_changed_count_writes_only_its_cells(tty: int) -> None:
    size = (80, 24)
    terminal = Terminal(QuietScreen, size, tty)

    def row(n: int, count: int) -> list[tuple[str | None, str]]:
        return [(None, f"queue-{n:<10}"), ("header", f"{count:>8}")]

    try:
        rows = [row(n, n * 10) for n in range(24)]
        terminal.draw(size, canvas_of(rows, size))
        rows[5] = row(5, 51)
        assert terminal.draw(size, canvas_of(rows, size)) == "\x1b[6;24H\x1b[0;97;1;44m1"
        rows[6], rows[7] = row(6, 61), row(7, 71)
        assert terminal.draw(size, canvas_of(rows, size)) == "\x1b[B\b1\x1b[B\b1"  # relative, same attribute
        assert terminal.draw(size, canvas_of(rows, size)) == ""  # nothing changed: nothing written
    finally:
        terminal.stop()


def test_the_same_frame_again_is_not_read_and_writes_nothing(tty: int) -> None:
    size = (20, 3)
    terminal = Terminal(QuietScreen, size, tty)
    try:
        canvas = canvas_of([[(None, "email")], [("dead", "3")], []], size)
        terminal.draw(size, canvas)
        # urwid's cache hands back the frame it drew when no widget changed: not even read again
        read = []
        original = canvas.content
        canvas.content = lambda *args: read.append(args) or original(*args)
        assert terminal.draw(size, canvas) == ""
        assert read == []
        terminal.screen.register_palette_entry("dead", "default,bold", "default", "bold")  # attributes changed
        assert terminal.draw(size, canvas) != ""  # the dead count drawn in its new colour
        assert read != []
    finally:
        terminal.stop()
