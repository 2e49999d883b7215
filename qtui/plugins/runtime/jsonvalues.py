"""JSON text and plain data for plugins: ``qtui.json.decode`` and ``qtui.json.encode`` of API 1.1.

Both run Python's JSON code (its parser and encoder are written in C) in the plugin's
worker thread, so their time counts against the plugin's own budget; the sizes are bounded
by the plugin's limits before anything is built: the text by a share of the plugin's
memory, the value by the nesting depth and the number of entries a value crossing to or
from the plugin may have.

Decoding gives plain data for the value converter: objects become dicts (a member whose
value is null is left out, as a nil field), arrays lists (a null item becomes
:data:`~qtui.plugins.runtime.values.JSON_NULL`, which the plugin sees as ``qtui.json.null``,
and so does a text that is only null), numbers without a fraction or exponent that fit in
64 bits integers, other numbers floats. NaN and Infinity are not JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from qtui.plugins.runtime.values import INT64_MAX, INT64_MIN, JSON_NULL


class JSONValueError(ValueError):
    """The text is not JSON the plugin may have, or the value has no JSON form."""


def _integer(text: str) -> int | float:
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else float(value)


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_constant=_not_a_number)
#: An escaped surrogate: a text with one may hold a half of a pair, which is not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _byte_offset(text: str, index: int) -> int:
    """The 1-based byte position of character `index` of `text` in UTF-8."""
    return len(text[:index].encode("utf-8", "surrogatepass")) + 1


def decode(text: str, *, max_bytes: int, max_depth: int, max_items: int) -> Any:
    """The plain value of the JSON `text`; JSONValueError says why and where it is not JSON."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JSONValueError(f"text of {size} bytes is longer than the plugin's limit of {max_bytes}")
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        problem = exc.msg.lower().removesuffix(" at")  # "invalid control character at"
        raise JSONValueError(f"{problem} at byte {_byte_offset(text, exc.pos)}") from None
    except ValueError as exc:  # NaN or Infinity
        raise JSONValueError(str(exc)) from None
    except RecursionError:
        raise JSONValueError(f"nested deeper than {max_depth} levels") from None
    return _Marker(max_depth, max_items, check_text=_SURROGATE_ESCAPE.search(text) is not None).mark(value, 0)


class _Marker:
    """Marks null array items (and a null text) as JSON_NULL, within the depth and entry bounds."""

    def __init__(self, max_depth: int, max_items: int, *, check_text: bool) -> None:
        self.max_depth = max_depth
        self.max_items = max_items
        self.left = max_items
        self.check_text = check_text

    def mark(self, value: Any, depth: int) -> Any:
        if value is None:
            return JSON_NULL
        if isinstance(value, str):
            return self.text(value)
        if not isinstance(value, (dict, list)):
            return value
        if depth >= self.max_depth:
            raise JSONValueError(f"nested deeper than {self.max_depth} levels")
        self.left -= len(value)
        if self.left < 0:
            raise JSONValueError(f"more than {self.max_items} entries in all")
        if isinstance(value, dict):
            return {self.text(key): self.mark(item, depth + 1) for key, item in value.items() if item is not None}
        return [self.mark(item, depth + 1) for item in value]

    def text(self, value: str) -> str:
        if self.check_text:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise JSONValueError("a string holds half of a surrogate pair, which is not text") from None
        return value


def _encodable(value: object) -> None:
    if value is JSON_NULL:
        return None
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def encode(value: Any) -> str:
    """Compact JSON text for plain `value`, keys sorted; JSONValueError when it has no JSON form."""
    try:
        return json.dumps(_string_keys(value), allow_nan=False, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True, default=_encodable)
    except ValueError:
        raise JSONValueError("NaN and infinite numbers have no JSON form") from None
    except TypeError as exc:
        raise JSONValueError(str(exc)) from None


def _string_keys(value: Any) -> Any:
    """Integer keys of a table that is not a list become text, so that keys sort as text."""
    if isinstance(value, dict):
        return {str(key): _string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise JSONValueError("NaN and infinite numbers have no JSON form")
    return value
