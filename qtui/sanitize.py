"""Make hostile text safe to put on a terminal.

Job payloads, errors, queue names and plugin output may contain escape sequences
(colour, cursor moves, OSC window titles, OSC 52 clipboard writes) or bidi
overrides that disguise text. Everything that came from data passes through
`visible()` before display: control characters become visible, inert notation.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls; bidi embedding/override/isolate marks; line and
# paragraph separators; the byte-order mark and interlinear annotation marks;
# lone surrogates (undecodable input).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


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
    """Return `text` with every control character shown as inert notation.

    With `multiline`, newlines are kept and tabs become spaces; otherwise both are
    shown as notation too (^J, ^I), so one value always stays on one line.
    """
    if multiline:
        text = text.replace("\r\n", "\n").expandtabs(4)

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
