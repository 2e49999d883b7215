"""Dialogs shown over the console, one at a time, in the order they were asked for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import trio
import urwid

from qtui.console.widgets import Markup

#: A dialog that opens by itself takes keys only once it has been on screen this long.
ARM_SECONDS = 1.0

ASCII_BOX = dict(tlcorner="+", tline="-", lline="|", trcorner="+", blcorner="+", rline="|", bline="-", brcorner="+")


def boxed(body: urwid.Widget, title: str, *, ascii_box: bool, attr: str = "dialog") -> urwid.Widget:
    """`body` in a titled line box with the dialog colours."""
    box = urwid.LineBox(body, title=title, **(ASCII_BOX if ascii_box else {}))
    return urwid.AttrMap(box, attr)


class TypeAheadGuard(urwid.WidgetWrap):
    """Wraps a dialog that opens by itself, so keys typed for the screen beneath never answer it.

    Keys are dropped until the dialog has been drawn and then shown for :data:`ARM_SECONDS`
    (:meth:`arm`); meanwhile `hint` says so, then it shows the dialog's keys.
    """

    def __init__(self, body: urwid.Widget, hint: urwid.Text, keys: Markup) -> None:
        super().__init__(body)
        self.drawn = False
        self.armed = False
        self._hint, self._keys = hint, keys
        hint.set_text(("dim", "keys wait a moment: none typed before this showed can answer it"))

    def render(self, size: tuple[int, ...], focus: bool = False) -> Any:
        self.drawn = True
        return super().render(size, focus)

    async def arm(self) -> None:
        """Take keys once the dialog has been on screen for ARM_SECONDS (run it beside the dialog)."""
        while not self.drawn:
            await trio.sleep(0.05)
        await trio.sleep(ARM_SECONDS)
        self.armed = True
        self._hint.set_text(self._keys)


class Modal:
    """A dialog: `widget` is drawn over the console; `handle_key` returns True when it is done."""

    widget: urwid.Widget
    width: int = 80  # percent of the screen
    guard: TypeAheadGuard | None = None  # set for dialogs that open by themselves

    def handle_key(self, key: str) -> bool:
        raise NotImplementedError

    def takes_keys(self) -> bool:
        """False while a guarded dialog still drops keys."""
        return self.guard is None or self.guard.armed

    def cancel(self) -> None:
        """Called when the console closes the dialog without an answer (quitting)."""


class Choice:
    """One answer of a ConfirmModal: the key, its label, what it does."""

    def __init__(self, key: str, label: str, action: Callable[[], None]) -> None:
        self.key, self.label, self.action = key, label, action


class ConfirmModal(Modal):
    """A question with answers by key; n, Esc and q always decline.

    `guarded`: the question opens by itself (a plugin asks), so it drops type-ahead (see
    :class:`TypeAheadGuard`; run ``modal.guard.arm()`` beside it).
    """

    def __init__(self, title: str, lines: Sequence[Markup], choices: Sequence[Choice],
                 on_decline: Callable[[], None], *, ascii_box: bool, guarded: bool = False) -> None:
        self._choices = {c.key: c for c in choices}
        self._on_decline = on_decline
        keys: list = []
        for choice in choices:
            keys += [("key", choice.key), f" {choice.label}   "]
        keys += [("key", "n"), "/", ("key", "Esc"), " cancel"]
        legend = urwid.Text(keys, align="center")
        body: urwid.Widget = urwid.Pile([urwid.Text(line) for line in lines] + [urwid.Divider(), legend])
        if guarded:
            body = self.guard = TypeAheadGuard(body, legend, keys)
        self.widget = boxed(body, title, ascii_box=ascii_box)

    def handle_key(self, key: str) -> bool:
        if not self.takes_keys():
            return False
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
