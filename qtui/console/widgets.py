"""Reusable console widgets: tables, text views, the tab bar, the status bar, the command line."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Sequence

import attrs
import urwid

from qtui.console.palette import ATTRIBUTES
from qtui.sanitize import one_line, visible, visible_offset

Markup = str | tuple | list


def plain(markup: Markup) -> str:
    """The text of urwid markup, without its attributes."""
    if isinstance(markup, str):
        return markup
    if isinstance(markup, tuple):
        return plain(markup[1])
    return "".join(plain(part) for part in markup)


def _lower(text: str) -> str:
    """`text` lowercased character by character, keeping every index where it was."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def highlight(markup: Markup, needle: str | None, attr: str = "match") -> Markup:
    """`markup` with every case-insensitive occurrence of `needle` drawn in `attr`."""
    if not needle:
        return markup
    text, runs = urwid.util.decompose_tagmarkup(markup)
    folded, wanted = _lower(text), _lower(needle)
    spans = [(m.start(), m.end()) for m in re.finditer(re.escape(wanted), folded)]
    if not spans:
        return markup
    attrs_by_char: list = []
    for run_attr, length in runs:
        attrs_by_char += [run_attr] * length
    attrs_by_char += [None] * (len(text) - len(attrs_by_char))
    for start, end in spans:
        attrs_by_char[start:end] = [attr] * (end - start)
    out: list = []
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or attrs_by_char[index] != attrs_by_char[start]:
            out.append((attrs_by_char[start], text[start:index]))
            start = index
    return out


@attrs.frozen
class Column:
    """A table column: a fixed width, or flexible (width None) taking what is left."""

    title: str
    width: int | None = None
    align: str = "left"


def sort_letters(columns: Sequence[Column]) -> list[str | None]:
    """The letter that sorts by each column: the first of its title no column before took."""
    used: set[str] = set()
    letters: list[str | None] = []
    for column in columns:
        letter = next((c for c in column.title.lower() if c.isalpha() and c not in used), None)
        if letter is not None:
            used.add(letter)
        letters.append(letter)
    return letters


_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)([kMsmhd]?)")
_FACTORS = {"": 1, "k": 1e3, "M": 1e6, "s": 1, "m": 60, "h": 3600, "d": 86400}


def sort_value(text: str) -> tuple:
    """How a cell sorts: numbers (with k/M and s/m/h/d suffixes) by value, before text."""
    text = text.strip()
    if text in ("", "-"):
        return (0, -math.inf, "")
    found = _NUMBER.fullmatch(text)
    if found:
        return (0, float(found.group(1)) * _FACTORS[found.group(2)], "")
    return (1, 0.0, _lower(text))


def _focus_map(focus_attr: str) -> dict:
    """Every attribute of a row drawn as the cursor's, so coloured cells keep the highlight."""
    return {None: focus_attr, **{name: focus_attr for name in ATTRIBUTES if name != "match"}}


class _Row(urwid.WidgetWrap):
    """A selectable row that passes every key on; a click on the row under the cursor activates it."""

    def __init__(self, key: Hashable, widget: urwid.Widget, on_activate: Callable[[], None] | None = None) -> None:
        self.key = key
        self._on_activate = on_activate
        super().__init__(widget)

    def selectable(self) -> bool:
        return True

    def keypress(self, size, key):  # noqa: ANN001 - urwid signature
        return key

    def mouse_event(self, size, event, button, col, row, focus):  # noqa: ANN001, ANN201 - urwid signature
        # `focus` is whether this row had the cursor before the click: a second click opens it
        if event == "mouse press" and button == 1 and focus and self._on_activate is not None:
            self._on_activate()
            return True
        return False


def _cells(columns: Sequence[Column], cells: Sequence[Markup], attr: str | None = None) -> urwid.Widget:
    parts = []
    for column, cell in zip(columns, cells, strict=True):
        text = urwid.Text(cell, align=column.align, wrap="clip")
        parts.append(("weight", 1, text) if column.width is None else (column.width, text))
    row = urwid.Columns(parts, dividechars=1)
    return urwid.AttrMap(row, attr) if attr else row


@attrs.frozen
class _Data:
    key: Hashable
    cells: tuple
    attr: str | None
    text: str  # every cell's text, for filtering and searching


class Table(urwid.WidgetWrap):
    """A header over a scrolling list of rows, each identified by a key.

    The rows can be sorted by any column (`sort_by`; the letter that picks a column is
    highlighted in its title), filtered to those containing a text (`set_filter`), and
    searched (`find`). With the mouse, a click on the row under the cursor calls
    `on_activate`.
    """

    def __init__(self, columns: Sequence[Column], empty: str) -> None:
        self.columns = tuple(columns)
        self.letters = sort_letters(self.columns)
        self.sorting: tuple[int, bool] | None = None  # (column, descending)
        self.filter_text: str | None = None
        self.on_activate: Callable[[], None] | None = None
        self.sort_marks = ("↑", "↓")
        self._data: list[_Data] = []
        self._empty_text = empty
        self._empty = urwid.Text(("dim", empty), align="center")
        self._walker = urwid.SimpleFocusListWalker([])
        self._list = urwid.ListBox(self._walker)
        self._header = urwid.AttrMap(urwid.Text(""), "column")
        self._frame = urwid.Frame(urwid.Filler(self._empty, valign="top", top=1), header=self._header)
        self._draw_header()
        super().__init__(self._frame)

    # -- content ---------------------------------------------------------------------

    def set_rows(self, rows: Sequence[tuple[Hashable, Sequence[Markup], str | None]]) -> None:
        """Replace the rows, keeping the cursor on the same key when it is still there."""
        self._data = [_Data(key, tuple(cells), attr, "\t".join(plain(c) for c in cells)) for key, cells, attr in rows]
        self._show()

    def _show(self) -> None:
        previous = self.focused_key()
        position = self._walker.focus if self._walker else 0
        shown = self.shown()
        widgets = []
        new_position = None
        for index, data in enumerate(shown):
            focus_attr = "marked focus" if data.attr == "marked" else "focus"
            row = urwid.AttrMap(_cells(self.columns, data.cells), data.attr, _focus_map(focus_attr))
            widgets.append(_Row(data.key, row, self._activate))
            if data.key == previous:
                new_position = index
        self._walker[:] = widgets
        if widgets:
            if new_position is None:
                new_position = min(position or 0, len(widgets) - 1)
            self._walker.set_focus(new_position)
            self._frame.body = self._list
        else:
            empty = self._empty_text if not self.filter_text or not self._data else (
                f"No row contains {one_line(self.filter_text)!r}. Esc clears the filter.")
            self._empty.set_text(("dim", empty))
            self._frame.body = urwid.Filler(self._empty, valign="top", top=1)

    def shown(self) -> list[_Data]:
        """The rows on screen: filtered, then sorted."""
        rows = self._data
        if self.filter_text:
            wanted = _lower(self.filter_text)
            rows = [r for r in rows if wanted in _lower(r.text)]
        if self.sorting is not None:
            index, descending = self.sorting
            rows = sorted(rows, key=lambda r: sort_value(plain(r.cells[index])), reverse=descending)
        return list(rows)

    def _activate(self) -> None:
        if self.on_activate is not None:
            self.on_activate()

    # -- sorting, filtering, searching ------------------------------------------------------

    def column_names(self) -> list[str]:
        """Column names for `:sort` (titles in lower case)."""
        return [c.title.lower().replace(" ", "-") for c in self.columns if c.title]

    def column_by_name(self, name: str) -> int | None:
        names = [c.title.lower().replace(" ", "-") for c in self.columns]
        return names.index(name) if name in names and name else None

    def column_by_letter(self, letter: str) -> int | None:
        return self.letters.index(letter) if letter in self.letters else None

    def sort_by(self, index: int) -> None:
        """Sort by column `index`; again reverses. Numbers (right-aligned) start largest first."""
        if self.sorting is not None and self.sorting[0] == index:
            self.sorting = (index, not self.sorting[1])
        else:
            self.sorting = (index, self.columns[index].align == "right")
        self._draw_header()
        self._show()

    def describe_sorting(self) -> str | None:
        if self.sorting is None:
            return None
        index, descending = self.sorting
        return f"sorted by {self.columns[index].title} {self.sort_marks[1] if descending else self.sort_marks[0]}"

    def set_filter(self, text: str | None) -> None:
        """Show only rows containing `text` (any cell, any case); None shows every row."""
        self.filter_text = text or None
        self._show()

    def find(self, text: str, forward: bool = True) -> bool:
        """Move the cursor to the next (or previous) row containing `text`, wrapping; False if none."""
        shown = self.shown()
        if not shown:
            return False
        wanted = _lower(text)
        start = self._walker.focus or 0
        for step in range(1, len(shown) + 1):
            index = (start + step if forward else start - step) % len(shown)
            if wanted in _lower(shown[index].text):
                self._walker.set_focus(index)
                return True
        return False

    def _draw_header(self) -> None:
        cells = []
        for index, (column, letter) in enumerate(zip(self.columns, self.letters, strict=True)):
            title: Markup = column.title
            if letter is not None:
                at = column.title.lower().index(letter)
                title = [column.title[:at], ("column key", column.title[at]), column.title[at + 1:]]
            if self.sorting is not None and self.sorting[0] == index:
                mark = self.sort_marks[1] if self.sorting[1] else self.sort_marks[0]
                title = ("column sorted", [title, mark] if column.align == "left" else [mark, title])
            cells.append(title)
        self._header.original_widget = _cells(self.columns, cells)

    # -- the cursor -------------------------------------------------------------------

    def set_empty(self, text: str) -> None:
        """What the table says when it has no rows."""
        self._empty_text = text
        self._empty.set_text(("dim", text))

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


@attrs.frozen
class Entry:
    """A term and its description, the description's wrapped lines indented under it."""

    term: Markup
    text: Markup
    indent: int


class TextView(urwid.WidgetWrap):
    """Scrollable lines of text (job detail, help) that can be searched."""

    def __init__(self) -> None:
        self._walker = urwid.SimpleFocusListWalker([])
        self._list = urwid.ListBox(self._walker)
        self._lines: list[Markup | Entry] = []
        self.search_text: str | None = None
        super().__init__(self._list)

    def set_lines(self, lines: Sequence[Markup | Entry]) -> None:
        self._lines = list(lines)
        self._draw()
        if self._walker:
            self._walker.set_focus(0)

    def _draw(self) -> None:
        position = self._walker.focus if self._walker else 0
        self._walker[:] = [_Row(i, self._line_widget(line)) for i, line in enumerate(self._lines)]
        if self._walker:
            self._walker.set_focus(min(position or 0, len(self._walker) - 1))

    def _line_widget(self, line: Markup | Entry) -> urwid.Widget:
        if isinstance(line, Entry):
            return urwid.Columns([(line.indent, urwid.Text(highlight(line.term, self.search_text), wrap="clip")),
                                  urwid.Text(highlight(line.text, self.search_text))])
        return urwid.Text(highlight(line, self.search_text))

    def line_text(self, index: int) -> str:
        line = self._lines[index]
        return f"{plain(line.term)} {plain(line.text)}" if isinstance(line, Entry) else plain(line)

    def search(self, text: str | None) -> bool:
        """Highlight `text` and move to the first line holding it; None clears. False if not found."""
        self.search_text = text or None
        self._draw()
        if not text:
            return True
        if text.lower() in self.line_text(self._walker.focus or 0).lower():
            return True
        return self.find(text)

    def find(self, text: str, forward: bool = True) -> bool:
        """Move to the next (or previous) line holding `text`, wrapping; False if none."""
        if not self._walker:
            return False
        wanted = _lower(text)
        start = self._walker.focus or 0
        count = len(self._walker)
        for step in range(1, count + 1):
            index = (start + step if forward else start - step) % count
            if wanted in _lower(self.line_text(index)):
                self._walker.set_focus(index)
                self._list.set_focus_valign("middle")
                return True
        return False

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


class TabBar(urwid.Text):
    """The screens' tabs; with the mouse on, a click on a tab calls `on_click(name)`."""

    def __init__(self) -> None:
        super().__init__("", wrap="clip")
        self.on_click: Callable[[str], None] | None = None
        self._spans: list[tuple[int, int, str]] = []

    def set_tabs(self, lead: str, tabs: Sequence[tuple[str, str, bool]]) -> None:
        """Show `lead`, then each (name, label, active) tab."""
        markup: list = [lead]
        column = len(lead)
        self._spans = []
        for name, label, active in tabs:
            markup.append(("tab active" if active else "tab", label))
            self._spans.append((column, column + len(label), name))
            column += len(label)
        self.set_text(markup)

    def mouse_event(self, size, event, button, col, row, focus):  # noqa: ANN001, ANN201 - urwid signature
        if event != "mouse press" or button != 1 or self.on_click is None:
            return False
        for start, end, name in self._spans:
            if start <= col < end:
                self.on_click(name)
                return True
        return False


class StatusBar(urwid.WidgetWrap):
    """Connection state on the left, the latest message, unfinished operations, a counter (marked jobs),
    the mode on the right."""

    def __init__(self) -> None:
        self._connection = urwid.Text("")
        self._message = urwid.Text("", wrap="clip")
        self._unfinished = urwid.Text("", wrap="clip")
        self._counter = urwid.Text("", wrap="clip")
        self._mode = urwid.Text("", align="right", wrap="clip")
        columns = urwid.Columns(
            [("pack", self._connection), ("weight", 1, self._message), ("pack", self._unfinished),
             ("pack", self._counter), ("pack", self._mode)], dividechars=1
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

    def set_unfinished(self, text: str) -> None:
        """Show `text` (such as "1 unfinished op (:ops)") as a warning; "" hides it."""
        self._unfinished.set_text(("status warn", f" {text} ") if text else "")

    @property
    def unfinished(self) -> str:
        return self._unfinished.text.strip()

    def set_counter(self, text: str) -> None:
        """Show `text` (such as "3 marked") before the mode; "" hides it."""
        self._counter.set_text(("status warn", f" {text} ") if text else "")

    def set_mode(self, text: str, limit: int = 36, ellipsis: str = "…") -> None:
        """Show `text` on the right, keeping its end (a file name) when it is too long."""
        self._mode.set_text(text if len(text) <= limit else ellipsis + text[-(limit - 1):])


class _SafeEdit(urwid.Edit):
    """An edit line that draws its text with `visible()`: pasted or completed escapes stay inert."""

    def get_text(self):  # noqa: ANN201 - urwid signature
        return self._caption + visible(self._edit_text), self._attrib

    def position_coords(self, maxcol: int, pos: int) -> tuple[int, int]:
        return super().position_coords(maxcol, visible_offset(self._edit_text, pos))

    def move_cursor_to_coords(self, size, x, y) -> bool:  # noqa: ANN001 - urwid signature
        if not super().move_cursor_to_coords(size, x, y):
            return False
        shown = self.edit_pos  # an offset into the visible text: back to one into the text
        raw = max((i for i in range(len(self._edit_text) + 1) if visible_offset(self._edit_text, i) <= shown),
                  default=0)
        self.set_edit_pos(raw)
        return True


class _Choices(urwid.Widget):
    """Completion candidates under the command line, the chosen one highlighted, at most 3 rows."""

    _sizing = frozenset([urwid.Sizing.FLOW])
    ROWS = 3

    def __init__(self) -> None:
        super().__init__()
        self.candidates: list[str] = []
        self.chosen = -1

    def show(self, candidates: list[str], chosen: int) -> None:
        self.candidates, self.chosen = candidates, chosen
        self._invalidate()

    def rows(self, size, focus=False) -> int:  # noqa: ANN001 - urwid signature
        return len(self._lines(size[0]))

    def render(self, size, focus=False):  # noqa: ANN001, ANN201 - urwid signature
        lines = self._lines(size[0])
        if not lines:
            return urwid.SolidCanvas(" ", size[0], 0)
        canvases = [(urwid.Text(line, wrap="clip").render(size), None, False) for line in lines]
        return urwid.CanvasCombine(canvases)

    def _lines(self, width: int) -> list[list]:
        if len(self.candidates) < 2:
            return []
        common = _common_prefix(self.candidates)
        head = len(common.rpartition(" ")[0]) + 1 if " " in common else 0  # list only the word completed
        labels = [one_line(c[head:], 30) for c in self.candidates]
        cell = max(len(label) for label in labels) + 2
        per_row = max(1, width // cell)
        rows = math.ceil(len(labels) / per_row)
        first = 0 if self.chosen < 0 else max(0, min(self.chosen // per_row - 1, rows - self.ROWS))
        lines = []
        for row in range(first, min(rows, first + self.ROWS)):
            line = []
            for index in range(row * per_row, min(len(labels), (row + 1) * per_row)):
                attr = "choice focus" if index == self.chosen else "choice"
                line.append((attr, labels[index].ljust(cell - 2)))
                line.append("  ")
            lines.append(line)
        hidden = len(labels) - min(len(labels), (first + self.ROWS) * per_row)
        if hidden > 0 and lines:
            lines[-1] = [*lines[-1], ("dim", f"+{hidden}")]
        return lines


class CommandLine(urwid.WidgetWrap):
    """The `:` prompt: readline editing, Tab completion with its candidates listed below, history."""

    def __init__(self, completer: Callable[[str], list[str]]) -> None:
        self._edit = _SafeEdit(("prompt", ":"), kill_buffer=[])  # what Ctrl-U/K/W delete, for Ctrl-Y
        keys = urwid.command_map.copy()
        keys.bind_readline()  # Ctrl-A/E, Ctrl-U/K, Ctrl-W, Meta-B/F, Ctrl-Y
        self._edit._command_map = keys  # noqa: SLF001 - urwid's per-widget command map
        self._choices_widget = _Choices()
        self._completer = completer
        self._choices: list[str] = []
        self._choice = -1
        self.history: list[str] = []
        self._history_pos = 0
        super().__init__(urwid.Pile([self._edit, self._choices_widget]))

    def start(self, text: str = "") -> None:
        self._edit.set_edit_text(text)
        self._edit.set_edit_pos(len(text))
        self._set_choices([])
        self._history_pos = len(self.history)

    @property
    def text(self) -> str:
        return self._edit.edit_text

    @property
    def candidates(self) -> list[str]:
        """The completions listed under the line (none once one is final)."""
        return list(self._choices)

    def keypress(self, size, key):  # noqa: ANN001 - urwid signature
        if key in ("tab", "shift tab"):
            self._complete(1 if key == "tab" else -1)
            return None
        if key in ("up", "down") and self.history:
            step = -1 if key == "up" else 1
            self._history_pos = max(0, min(len(self.history), self._history_pos + step))
            line = self.history[self._history_pos] if self._history_pos < len(self.history) else ""
            position = self._history_pos
            self.start(line)
            self._history_pos = position
            return None
        self._set_choices([])
        return self._edit.keypress(size[:1], key)

    def _set_choices(self, choices: list[str], chosen: int = -1) -> None:
        self._choices, self._choice = choices, chosen
        self._choices_widget.show(choices, chosen)

    def _complete(self, step: int) -> None:
        if not self._choices:
            choices = self._completer(self.text)
            if not choices:
                return
            if len(choices) == 1:  # a unique completion is final: the next Tab completes further
                self._set_text(choices[0])
                return
            common = _common_prefix(choices)
            self._set_choices(choices)
            if len(common) > len(self.text):
                self._set_text(common)  # as far as every candidate agrees; the next Tab picks one
                return
            self._choice = -1 if step > 0 else 0
        self._choice = (self._choice + step) % len(self._choices)
        self._choices_widget.show(self._choices, self._choice)
        self._set_text(self._choices[self._choice])

    def _set_text(self, text: str) -> None:
        self._edit.set_edit_text(text)
        self._edit.set_edit_pos(len(text))


def _common_prefix(words: Sequence[str]) -> str:
    first, last = min(words), max(words)
    length = next((i for i, (a, b) in enumerate(zip(first, last)) if a != b), min(len(first), len(last)))
    return first[:length]
