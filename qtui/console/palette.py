"""Display attributes and the themes that colour them.

A theme gives every attribute the console uses a 16-colour rendering, a monochrome
one (bold, underline, standout), and optionally a 256-colour one. urwid picks the
rendering the terminal supports, and the monochrome one whenever NO_COLOR is set, so
NO_COLOR wins over any theme. No theme paints a bright background in 16 colours: the
Linux console shows a bright background as blinking text.

Themes: ``dark`` (the default, for dark terminals), ``light`` (for light terminals),
``linux`` (the 16 colours of the Linux console and other basic terminals, nothing
else) and ``mono`` (no colour at all, as with NO_COLOR).
"""

from __future__ import annotations

#: The 16-colour backgrounds every terminal shows steadily.
STEADY_BACKGROUNDS = ("", "default", "black", "dark red", "dark green", "brown", "dark blue", "dark magenta",
                      "dark cyan", "light gray")

# (name, foreground, background, mono, 256-colour foreground, 256-colour background)
_DARK = [
    ("header", "white,bold", "dark blue", "bold,standout", "#fff,bold", "#006"),
    ("tab", "light gray", "dark blue", "", "g85", "#006"),
    ("tab active", "yellow,bold", "dark blue", "bold,underline", "#ff0,bold", "#006"),
    ("column", "bold", "", "bold,underline", "bold", ""),
    ("column key", "yellow,bold", "", "bold,standout", "#ff0,bold", ""),
    ("column sorted", "light cyan,bold", "", "bold,standout", "#8df,bold", ""),
    ("row", "", "", "", "", ""),
    ("focus", "black", "dark cyan", "standout", "#000", "#6ad"),
    ("marked", "yellow,bold", "", "bold", "#ff0,bold", ""),
    ("marked focus", "yellow,bold", "dark blue", "bold,standout", "#ff0,bold", "#06a"),
    ("match", "black", "brown", "standout", "#000", "#da0"),
    ("dim", "dark gray", "", "", "g50", ""),
    ("ok", "light green", "", "", "#8d8", ""),
    ("warn", "yellow", "", "bold", "#ff0", ""),
    ("error", "light red,bold", "", "bold", "#f66,bold", ""),
    ("dead", "light red", "", "", "#f66", ""),
    ("spark", "light cyan", "", "", "#8df", ""),
    ("status", "white", "dark blue", "standout", "#fff", "g27"),
    ("status ok", "light green,bold", "dark blue", "standout", "#8f8,bold", "g27"),
    ("status bad", "light red,bold", "dark blue", "bold,standout", "#f66,bold", "g27"),
    ("status warn", "yellow,bold", "dark blue", "bold,standout", "#ff0,bold", "g27"),
    ("hint", "light gray", "", "", "g70", ""),
    ("key", "yellow,bold", "", "bold", "#ff0,bold", ""),
    ("prompt", "yellow,bold", "", "bold", "#ff0,bold", ""),
    ("choice", "light gray", "", "", "g70", ""),
    ("choice focus", "black", "dark cyan", "standout", "#000", "#6ad"),
    ("dialog", "white", "dark red", "standout", "#fff", "#600"),
    ("dialog title", "white,bold", "dark red", "bold,standout", "#fff,bold", "#600"),
    ("label", "light cyan", "", "bold", "#8df", ""),
    ("json", "", "", "", "", ""),
    # plugin panels: the frame, and the fixed styles plugins may use (qtui.plugins.runtime.api.STYLES)
    ("panel title", "light gray", "black", "underline", "g85", "g15"),
    ("panel title focus", "white,bold", "dark blue", "bold,standout", "#fff,bold", "#006"),
    ("panel state", "yellow", "black", "bold", "#ff0", "g15"),
    ("plugin normal", "", "", "", "", ""),
    ("plugin dim", "dark gray", "", "", "g50", ""),
    ("plugin bold", "bold", "", "bold", "bold", ""),
    ("plugin title", "white,bold,underline", "", "bold,underline", "#fff,bold,underline", ""),
    ("plugin accent", "light cyan", "", "underline", "#8df", ""),
    ("plugin ok", "light green", "", "", "#8d8", ""),
    ("plugin warn", "yellow,bold", "", "bold", "#ff0,bold", ""),
    ("plugin error", "light red,bold", "", "bold,standout", "#f66,bold", ""),
]

# Dark text on a light background: no yellow, white or light foregrounds.
_LIGHT_COLOURS = {
    "header": ("white,bold", "dark blue", "#fff,bold", "#036"),
    "tab": ("light gray", "dark blue", "g85", "#036"),
    "tab active": ("white,bold,underline", "dark blue", "#fff,bold,underline", "#036"),
    "column key": ("dark blue,bold", "", "#00a,bold", ""),
    "column sorted": ("dark magenta,bold", "", "#808,bold", ""),
    "focus": ("black", "light gray", "#000", "#acd"),
    "marked": ("dark magenta,bold", "", "#808,bold", ""),
    "marked focus": ("dark magenta,bold", "light gray", "#808,bold", "#acd"),
    "match": ("black", "brown", "#000", "#fd6"),
    "dim": ("dark gray", "", "g45", ""),
    "ok": ("dark green", "", "#070", ""),
    "warn": ("brown", "", "#a60", ""),
    "error": ("dark red,bold", "", "#a00,bold", ""),
    "dead": ("dark red", "", "#a00", ""),
    "spark": ("dark blue", "", "#06a", ""),
    "status": ("white", "dark blue", "#fff", "#036"),
    "status ok": ("white,bold", "dark green", "#fff,bold", "#060"),
    "status bad": ("white,bold", "dark red", "#fff,bold", "#a00"),
    "status warn": ("white,bold", "brown", "#fff,bold", "#a60"),
    "hint": ("dark gray", "", "g40", ""),
    "key": ("dark blue,bold", "", "#00a,bold", ""),
    "prompt": ("dark blue,bold", "", "#00a,bold", ""),
    "choice": ("dark gray", "", "g40", ""),
    "choice focus": ("black", "light gray", "#000", "#acd"),
    "label": ("dark blue", "", "#06a", ""),
    "panel title": ("black", "light gray", "#000", "g85"),
    "panel title focus": ("white,bold", "dark blue", "#fff,bold", "#036"),
    "panel state": ("dark red", "light gray", "#a00", "g85"),
    "plugin dim": ("dark gray", "", "g45", ""),
    "plugin title": ("black,bold,underline", "", "#000,bold,underline", ""),
    "plugin accent": ("dark blue", "", "#06a", ""),
    "plugin ok": ("dark green", "", "#070", ""),
    "plugin warn": ("brown,bold", "", "#a60,bold", ""),
    "plugin error": ("dark red,bold", "", "#a00,bold", ""),
}


def _light() -> list[tuple]:
    themed = []
    for name, fg, bg, mono, fg_high, bg_high in _DARK:
        fg, bg, fg_high, bg_high = _LIGHT_COLOURS.get(name, (fg, bg, fg_high, bg_high))
        themed.append((name, fg, bg, mono, fg_high, bg_high))
    return themed


def _basic() -> list[tuple]:
    """The dark theme in the 16 basic colours only: what the Linux console shows well."""
    return [(name, fg.replace("dark gray", "light gray"), bg, mono) for name, fg, bg, mono, _fh, _bh in _DARK]


def _mono() -> list[tuple]:
    """No colour on any terminal: every attribute as its monochrome rendering."""
    return [(name, ",".join(["default", *filter(None, mono.split(","))]), "default", mono)
            for name, _fg, _bg, mono, _fh, _bh in _DARK]


THEMES: dict[str, list[tuple]] = {"dark": _DARK, "light": _light(), "linux": _basic(), "mono": _mono()}
DEFAULT_THEME = "dark"

#: The default theme (tests and tools that draw without a configuration use it).
PALETTE = THEMES[DEFAULT_THEME]

#: Every attribute name a theme must give.
ATTRIBUTES = tuple(entry[0] for entry in _DARK)
