"""The terminal screen: urwid's raw display, silent when nothing changed."""

from __future__ import annotations

import urwid
from urwid.display.raw import Screen


class QuietScreen(Screen):
    """A raw display that writes nothing when a redraw would show the same frame.

    urwid redraws after every burst of work on the event loop, and each redraw
    writes a few bytes (cursor and attribute resets) even when no line changed.
    A console polling an idle queue must not write to the terminal at all.
    """

    def __init__(self) -> None:
        super().__init__()
        self._last_frame: tuple | None = None

    def draw_screen(self, size: tuple[int, int], canvas: urwid.Canvas) -> None:
        frame = (size, canvas.cursor, tuple(tuple(row) for row in canvas.content()))
        if frame == self._last_frame:
            return
        self._last_frame = frame
        super().draw_screen(size, canvas)

    def clear(self) -> None:
        self._last_frame = None
        super().clear()

    def _start(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - urwid signature
        self._last_frame = None
        return super()._start(*args, **kwargs)
