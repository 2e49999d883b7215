"""Key names: how a key is written in help, the man page and config.toml, and back.

urwid names keys like ``"page down"``, ``"ctrl r"`` and ``" "``; people read and write
``PgDn``, ``Ctrl-R`` and ``space``. `key_label` gives the written form and `parse_key`
reads it back (`parse_key(key_label(k)) == k`), refusing keys the terminal keeps for
itself. This module imports nothing heavy: the configuration check uses it.
"""

from __future__ import annotations

import string

#: urwid's name for each named key, by its written form.
NAMED = {
    "space": " ", "Esc": "esc", "Enter": "enter", "Tab": "tab", "Shift-Tab": "shift tab",
    "Backspace": "backspace", "Delete": "delete", "Insert": "insert", "Home": "home", "End": "end",
    "PgUp": "page up", "PgDn": "page down", "Up": "up", "Down": "down", "Left": "left", "Right": "right",
    **{f"F{n}": f"f{n}" for n in range(1, 13)},
}
_LABELS = {key: label for label, key in NAMED.items()}
_NAMED_FOLDED = {label.lower(): key for label, key in NAMED.items()}

#: Control keys a terminal does not pass on as keys, or passes as another key.
RESERVED = {
    "ctrl c": "the terminal's interrupt (quits qtui)",
    "ctrl z": "the terminal's suspend",
    "ctrl s": "the terminal's flow control (stop)",
    "ctrl q": "the terminal's flow control (start)",
    "ctrl \\": "the terminal's quit signal",
    "ctrl m": "the same as Enter on a terminal",
    "ctrl j": "the same as Enter on a terminal",
    "ctrl i": "the same as Tab on a terminal",
    "ctrl h": "the same as Backspace on many terminals",
}

_PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation)
_CTRL = frozenset(string.ascii_lowercase + "\\")


class BadKey(ValueError):
    """A written key that is not a key qtui can bind."""


def key_label(key: str) -> str:
    """How `key` (urwid's name) is written: ``PgDn``, ``Ctrl-R``, ``Meta-x``, ``space``, ``j``."""
    if key in _LABELS:
        return _LABELS[key]
    if key.startswith("ctrl ") and len(key) == 6:
        return "Ctrl-" + key[5:].upper()
    if key.startswith("meta ") and len(key) == 6:
        return "Meta-" + key[5:]
    return key


def parse_key(text: str) -> str:
    """urwid's name for the written key `text`; raises BadKey saying why it is not one.

    A key is one printable ASCII character (``j``, ``G``, ``/``), a named key (``Enter``,
    ``PgDn``, ``F5``, case does not matter), ``Ctrl-`` and a letter, or ``Meta-`` (or
    ``Alt-``) and a printable character.
    """
    if len(text) == 1:
        if text in _PRINTABLE:
            return text
        raise BadKey(f"{text!r} is not a key: use a printable character, a named key or Ctrl-X")
    folded = text.lower()
    if folded in _NAMED_FOLDED:
        return _NAMED_FOLDED[folded]
    prefix, _, rest = text.partition("-")
    modifier = prefix.lower()
    if modifier == "ctrl" and len(rest) == 1 and rest.lower() in _CTRL:
        key = "ctrl " + rest.lower()
        if key in RESERVED:
            raise BadKey(f"{text} is {RESERVED[key]}")
        return key
    if modifier in ("meta", "alt") and len(rest) == 1 and rest in _PRINTABLE:
        return "meta " + rest
    raise BadKey(
        f"unknown key {text!r}: use a printable character, space, Enter, Esc, Tab, Shift-Tab, Backspace, "
        "Delete, Insert, Home, End, PgUp, PgDn, Up, Down, Left, Right, F1-F12, Ctrl-X or Meta-X"
    )
