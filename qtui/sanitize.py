"""Make hostile text safe to put on a terminal, and tell apart names that look alike.

Job payloads, errors, queue names and plugin output may contain escape sequences
(colour, cursor moves, OSC window titles, OSC 52 clipboard writes), bidi overrides
that disguise text, or characters that draw nothing (zero-width spaces, joiners,
variation selectors, tag characters) or look like a plain space, so that two
different names look the same. Everything that came from data passes through
`visible()` before it is shown, on every path: the console (its command line and
completion too), the command line's tables and the log file (`LogFormatter`).
Each such character becomes visible, inert notation: ``^[`` for ESC, ``<U+200B>``
for a zero-width space.
"""

from __future__ import annotations

import logging
import re

#: Every character shown as notation. C0 and C1 controls and DEL; every Unicode format
#: character (category Cf: bidi embeddings, overrides and isolates, zero-width space and
#: joiners, word joiner, invisible operators, the byte-order mark, interlinear annotation,
#: tags); every space but U+0020 (category Zs, which includes no-break spaces); line and
#: paragraph separators; lone surrogates (undecodable input); and the other code points
#: Unicode lists as default-ignorable (soft hyphen, combining grapheme joiner, Hangul
#: fillers, Mongolian and standard variation selectors).
UNSAFE_CHARACTERS = (
    "\x00-\x1f\x7f-\xa0\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u1680\u17b4\u17b5\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164"
    "\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")


def _notation(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC -> ^[, BEL -> ^G
    if code == 0x7F:
        return "^?"
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"<U+{code:04X}>"


def visible(text: str, *, multiline: bool = False) -> str:
    """Return `text` with every control, format and invisible character shown as inert notation.

    With `multiline`, newlines are kept and tabs become spaces; otherwise both are
    shown as notation too (^J, ^I), so one value always stays on one line.
    """
    if multiline:
        text = text.replace("\r\n", "\n").expandtabs(4)
    elif _UNSAFE.search(text) is None:  # most text: nothing to show differently
        return text

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if multiline and char == "\n":
            return char
        return _notation(char)

    return _UNSAFE.sub(replace, text)


def plain(text: str) -> str:
    """Return `text` with every control character replaced by one '?' (one column for one)."""
    return _UNSAFE.sub("?", text)


def one_line(text: str, limit: int | None = None) -> str:
    """`visible()` on a single line, cut to `limit` characters with an ellipsis."""
    line = visible(text)
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)] + "…"
    return line


def visible_offset(text: str, index: int) -> int:
    """Where `text[index]` lands in `visible(text)`: for a cursor drawn over the visible form."""
    return len(visible(text[:index]))


class LogFormatter(logging.Formatter):
    """A log formatter whose records cannot write escapes into the log file.

    A record is one line: its message and arguments (plugin output, queue names, errors)
    are shown with `visible()`, newlines included, so no record can fake another. The
    lines of a traceback stay lines, each made visible.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return visible(super().formatMessage(record))

    def formatException(self, ei) -> str:  # noqa: ANN001, N802 - logging's signature
        return visible(super().formatException(ei), multiline=True)

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return visible(super().formatStack(stack_info), multiline=True)
