"""Dialogs shown over the console, one at a time, in the order they were asked for."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import urwid

from qtui.console.widgets import Markup

ASCII_BOX = dict(tlcorner="+", tline="-", lline="|", trcorner="+", blcorner="+", rline="|", bline="-", brcorner="+")


def boxed(body: urwid.Widget, title: str, *, ascii_box: bool, attr: str = "dialog") -> urwid.Widget:
    """`body` in a titled line box with the dialog colours."""
    box = urwid.LineBox(body, title=title, **(ASCII_BOX if ascii_box else {}))
    return urwid.AttrMap(box, attr)


class Modal:
    """A dialog: `widget` is drawn over the console; `handle_key` returns True when it is done."""

    widget: urwid.Widget
    width: int = 80  # percent of the screen

    def handle_key(self, key: str) -> bool:
        raise NotImplementedError

    def cancel(self) -> None:
        """Called when the console closes the dialog without an answer (quitting)."""


class Choice:
    """One answer of a ConfirmModal: the key, its label, what it does."""

    def __init__(self, key: str, label: str, action: Callable[[], None]) -> None:
        self.key, self.label, self.action = key, label, action


class ConfirmModal(Modal):
    """A question with answers by key; n, Esc and q always decline."""

    def __init__(self, title: str, lines: Sequence[Markup], choices: Sequence[Choice],
                 on_decline: Callable[[], None], *, ascii_box: bool) -> None:
        self._choices = {c.key: c for c in choices}
        self._on_decline = on_decline
        keys: list = []
        for choice in choices:
            keys += [("key", choice.key), f" {choice.label}   "]
        keys += [("key", "n"), "/", ("key", "Esc"), " cancel"]
        body = [urwid.Text(line) for line in lines] + [urwid.Divider(), urwid.Text(keys, align="center")]
        self.widget = boxed(urwid.Pile(body), title, ascii_box=ascii_box)

    def handle_key(self, key: str) -> bool:
        choice = self._choices.get(key)
        if choice is not None:
            choice.action()
            return True
        if key in ("n", "N", "esc", "q"):
            self._on_decline()
            return True
        return False

    def cancel(self) -> None:
        self._on_decline()
