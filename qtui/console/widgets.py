"""Reusable console widgets: tables, the status bar, the command line, dialogs."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import attrs
import urwid

Markup = str | tuple | list


@attrs.frozen
class Column:
    """A table column: a fixed width, or flexible (width None) taking what is left."""

    title: str
    width: int | None = None
    align: str = "left"


class _Row(urwid.WidgetWrap):
    """A selectable table row that passes every key on to the console."""

    def __init__(self, key: Hashable, widget: urwid.Widget) -> None:
        self.key = key
        super().__init__(widget)

    def selectable(self) -> bool:
        return True

    def keypress(self, size, key):  # noqa: ANN001 - urwid signature
        return key


def _cells(columns: Sequence[Column], cells: Sequence[Markup], attr: str | None = None) -> urwid.Columns:
    parts = []
    for column, cell in zip(columns, cells, strict=True):
        text = urwid.Text(cell, align=column.align, wrap="clip")
        parts.append(("weight", 1, text) if column.width is None else (column.width, text))
    row = urwid.Columns(parts, dividechars=1)
    return urwid.AttrMap(row, attr) if attr else row


class Table(urwid.WidgetWrap):
    """A header line over a scrolling list of rows, each identified by a key."""

    def __init__(self, columns: Sequence[Column], empty: str) -> None:
        self.columns = tuple(columns)
        self._empty = urwid.Filler(urwid.Text(("dim", empty), align="center"), valign="top", top=1)
        self._walker = urwid.SimpleFocusListWalker([])
        self._list = urwid.ListBox(self._walker)
        header = urwid.AttrMap(_cells(self.columns, [c.title for c in self.columns]), "column")
        self._frame = urwid.Frame(self._empty, header=header)
        super().__init__(self._frame)

    def set_rows(self, rows: Sequence[tuple[Hashable, Sequence[Markup], str | None]]) -> None:
        """Replace the rows, keeping the cursor on the same key when it is still there."""
        previous = self.focused_key()
        position = self._walker.focus if self._walker else 0
        widgets = []
        new_position = None
        for index, (key, cells, attr) in enumerate(rows):
            focus_attr = "marked focus" if attr == "marked" else "focus"
            widgets.append(_Row(key, urwid.AttrMap(_cells(self.columns, cells), attr, focus_attr)))
            if key == previous:
                new_position = index
        self._walker[:] = widgets
        if widgets:
            if new_position is None:
                new_position = min(position or 0, len(widgets) - 1)
            self._walker.set_focus(new_position)
            self._frame.body = self._list
        else:
            self._frame.body = self._empty

    def set_empty(self, text: str) -> None:
        """What the table says when it has no rows."""
        self._empty.original_widget.set_text(("dim", text))

    def focused_key(self) -> Hashable | None:
        if not self._walker:
            return None
        return self._walker[self._walker.focus].key

    def keys(self) -> list[Hashable]:
        return [row.key for row in self._walker]

    def focus_key(self, key: Hashable) -> bool:
        """Put the cursor on the row with `key`; False if there is none."""
        for index, row in enumerate(self._walker):
            if row.key == key:
                self._walker.set_focus(index)
                return True
        return False

    def move(self, where: str, size: tuple[int, int]) -> None:
        """Move the cursor: up, down, top, bottom, page-up, page-down."""
        if not self._walker:
            return
        if where == "top":
            self._walker.set_focus(0)
        elif where == "bottom":
            self._walker.set_focus(len(self._walker) - 1)
        else:
            key = {"up": "up", "down": "down", "page-up": "page up", "page-down": "page down"}[where]
            self._frame.keypress(size, key)


class TextView(urwid.WidgetWrap):
    """Scrollable lines of text (job detail, help)."""

    def __init__(self) -> None:
        self._walker = urwid.SimpleFocusListWalker([])
        self._list = urwid.ListBox(self._walker)
        super().__init__(self._list)

    def set_lines(self, lines: Sequence[Markup]) -> None:
        self._walker[:] = [_Row(i, urwid.Text(line)) for i, line in enumerate(lines)]
        if self._walker:
            self._walker.set_focus(0)

    def move(self, where: str, size: tuple[int, int]) -> None:
        if not self._walker:
            return
        if where == "top":
            self._walker.set_focus(0)
            self._list.set_focus_valign("top")
        elif where == "bottom":
            self._walker.set_focus(len(self._walker) - 1)
        else:
            key = {"up": "up", "down": "down", "page-up": "page up", "page-down": "page down"}[where]
            self._list.keypress(size, key)


class StatusBar(urwid.WidgetWrap):
    """Connection state on the left, the latest message, the mode on the right."""

    def __init__(self) -> None:
        self._connection = urwid.Text("")
        self._message = urwid.Text("", wrap="clip")
        self._mode = urwid.Text("", align="right", wrap="clip")
        columns = urwid.Columns(
            [("pack", self._connection), ("weight", 1, self._message), ("pack", self._mode)], dividechars=1
        )
        super().__init__(urwid.AttrMap(columns, "status"))

    def set_connection(self, markup: Markup) -> None:
        self._connection.set_text(markup)

    def set_message(self, text: str, level: str = "info") -> None:
        attr = {"info": "status", "warning": "status warn", "error": "status bad"}.get(level, "status")
        self._message.set_text((attr, text))

    @property
    def message(self) -> str:
        return self._message.text

    def set_mode(self, text: str, limit: int = 36, ellipsis: str = "…") -> None:
        """Show `text` on the right, keeping its end (a file name) when it is too long."""
        self._mode.set_text(text if len(text) <= limit else ellipsis + text[-(limit - 1):])


class CommandLine(urwid.WidgetWrap):
    """The `:` prompt: an edit line with Tab completion and history."""

    def __init__(self, completer: Callable[[str], list[str]]) -> None:
        self._edit = urwid.Edit(("prompt", ":"))
        self._completer = completer
        self._choices: list[str] = []
        self._choice = -1
        self.history: list[str] = []
        self._history_pos = 0
        super().__init__(self._edit)

    def start(self, text: str = "") -> None:
        self._edit.set_edit_text(text)
        self._edit.set_edit_pos(len(text))
        self._choices, self._choice = [], -1
        self._history_pos = len(self.history)

    @property
    def text(self) -> str:
        return self._edit.edit_text

    def keypress(self, size, key):  # noqa: ANN001 - urwid signature
        if key in ("tab", "shift tab"):
            self._complete(1 if key == "tab" else -1)
            return None
        if key in ("up", "down") and self.history:
            step = -1 if key == "up" else 1
            self._history_pos = max(0, min(len(self.history), self._history_pos + step))
            line = self.history[self._history_pos] if self._history_pos < len(self.history) else ""
            self.start(line)
            self._history_pos = max(0, min(len(self.history), self._history_pos))
            return None
        self._choices, self._choice = [], -1
        return self._edit.keypress(size, key)

    def _complete(self, step: int) -> None:
        if not self._choices:
            self._choices = self._completer(self.text)
            self._choice = -1 if step > 0 else 0
            if not self._choices:
                return
        self._choice = (self._choice + step) % len(self._choices)
        text = self._choices[self._choice]
        if len(self._choices) == 1:
            self._choices = []  # a unique completion is final: the next Tab completes further
        self._edit.set_edit_text(text)
        self._edit.set_edit_pos(len(text))
