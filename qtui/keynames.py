"""Key names as people write them (``R``, ``Ctrl-R``, ``F5``, ``PgDn``, ``space``) and urwid's names.

A plugin manifest's default command keys and the ``[keys]`` table of config.toml are written
this way; the console binds urwid's names (``"R"``, ``"ctrl r"``, ``"f5"``, ``"page down"``,
``" "``). :func:`parse_key` reads the written form (case matters only for single characters)
and refuses keys a terminal keeps for itself; :func:`key_label` writes a key back, so
``parse_key(key_label(k)) == k``. Imports nothing: manifests and the console both use it.
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
_FOLDED = {label.lower(): key for label, key in NAMED.items()}

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


class BadKey(ValueError):
    """A written key that is not a key qtui can bind."""


def key_label(key: str) -> str:
    """How urwid's `key` is written: ``PgDn``, ``Ctrl-R``, ``Meta-x``, ``space``, ``j``."""
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
    ``PgDn``, ``F5``; any case), ``Ctrl-`` and a letter, or ``Meta-`` (or ``Alt-``) and a
    printable character.
    """
    if not isinstance(text, str) or not text or len(text) > 20:
        raise BadKey(f"{text!r} is not a key (e.g. \"R\", \"Ctrl-R\", \"F5\", \"PgDn\")")
    if len(text) == 1:
        if text in _PRINTABLE:
            return text
        raise BadKey(f"{text!r} is not a key: one printable character, or a name such as space")
    folded = text.lower()
    if folded in _FOLDED:
        return _FOLDED[folded]
    modifier, dash, rest = text.partition("-")
    if dash and modifier.lower() == "ctrl" and len(rest) == 1 and (rest.isascii() and rest.isalpha() or rest == "\\"):
        key = f"ctrl {rest.lower()}"
        if key in RESERVED:
            raise BadKey(f"{text} cannot be bound: it is {RESERVED[key]}")
        return key
    if dash and modifier.lower() in ("meta", "alt") and len(rest) == 1 and rest in _PRINTABLE:
        return f"meta {rest}"
    raise BadKey(f"{text!r} is not a key (e.g. \"R\", \"Ctrl-R\", \"Meta-x\", \"F5\", \"PgDn\", \"space\")")
