"""Characters the console draws with: Unicode where the locale allows, ASCII otherwise.

Under LC_ALL=C (or any non-UTF-8 locale) the terminal may not show box drawing or
block characters, so the console switches to an ASCII set and tells urwid to
encode text as ASCII (anything else shows as '?').
"""

from __future__ import annotations

import codecs
import locale

import attrs


@attrs.frozen
class Glyphs:
    spark: str  # sparkline levels, lowest first
    ellipsis: str
    bullet_ok: str
    bullet_bad: str
    mark: str
    separator: str
    dot: str  # between parts of a title line
    sort_up: str  # after the title of the column a list is sorted by
    sort_down: str


UNICODE = Glyphs(spark="▁▂▃▄▅▆▇█", ellipsis="…", bullet_ok="●", bullet_bad="○", mark="✔", separator="│",
                  dot="·", sort_up="↑", sort_down="↓")
ASCII = Glyphs(spark="_.-:=+*#", ellipsis="~", bullet_ok="*", bullet_bad="o", mark="*", separator="|", dot="-",
               sort_up="^", sort_down="v")


def locale_encoding() -> str:
    """The character encoding of the user's locale (LC_ALL / LC_CTYPE / LANG)."""
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        return "ascii"
    name = locale.nl_langinfo(locale.CODESET) or "ascii"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "ascii"


def for_encoding(encoding: str) -> Glyphs:
    return UNICODE if encoding == "utf-8" else ASCII
