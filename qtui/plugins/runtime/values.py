"""Plain data between Python and a plugin's Lua runtime, in both directions, measured first.

Plain data is None, bool, int (64-bit), float, str, list and dict with str (or int) keys, and
:data:`JSON_NULL`, which becomes ``qtui.json.null`` in Lua (and that comes back as None).
Every value is bounded in depth, table entries and bytes of text (:class:`Bounds`), and
checked against them *before* anything is converted, so a value over a bound costs at most
the bound to refuse, whatever its size:

- Python -> Lua: :func:`measure` walks the Python value (nothing touches Lua) and also
  estimates the Lua heap it will take, which the sandbox compares with the plugin's free
  memory; then :meth:`PlainValueConverter.to_lua` builds fresh Lua tables (lists become
  sequences; an empty list gets a private marker so it comes back as a list).
- Lua -> Python: the sandbox prelude measures and writes the plugin's value as JSON text
  inside the plugin's own call (raw iteration only, so no metamethod of a plugin value ever
  runs, and under the plugin's limits), and :func:`from_lua_text` reads that text here. The
  host never walks a plugin's table itself.

A value counts every time it occurs: a string or table referenced twice costs twice, which is
what converting it costs. The runtime uses ``encoding=None``: Lua strings arrive as bytes and
text goes in as UTF-8 bytes (a Python str would reach Lua as a Python object).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from lupa import lua54

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Deepest nesting of a value crossing between host and plugin, unless a sandbox says otherwise.
MAX_DEPTH = 32


class _JSONNull:
    """The type of :data:`JSON_NULL`."""

    def __repr__(self) -> str:
        return "JSON_NULL"


#: JSON's null where Lua would need a value (an item of a list): ``qtui.json.null`` in Lua.
JSON_NULL = _JSONNull()

#: In the prelude's JSON, a table with a key that is not a string is the object
#: ``{"\ud800": [key, value, key, value, ...]}``. No Lua string decodes to a lone surrogate,
#: so the marker cannot clash with a plugin's own key.
INTEGER_KEYS_MARK = "\ud800"

# About what one string or table takes in a Lua 5.4 heap beyond its text or its entries
# (TString and Table headers, a hash node per entry with room for the table to double).
_LUA_STRING_BYTES = 40
_LUA_TABLE_BYTES = 80
_LUA_ENTRY_BYTES = 48


class ConversionError(ValueError):
    """A value cannot cross between the host and a plugin; `path` says where inside it.

    `limit` is True when the value is plain data but over a bound (depth, entries, bytes),
    False when it is not plain data at all.
    """

    def __init__(self, problem: str, *, limit: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.limit = limit
        self.path: list[str] = []

    def __str__(self) -> str:
        where = "".join(self.path)
        return f"{where}: {self.problem}" if where else self.problem


@attrs.frozen
class Bounds:
    """The most a value crossing between host and plugin may hold."""

    #: Nesting depth of tables (a scalar is depth 0).
    max_depth: int
    #: Table entries, all tables together.
    max_items: int
    #: Bytes of text (UTF-8), keys and values together.
    max_bytes: int


@attrs.frozen
class Size:
    """What :func:`measure` found: the value's depth, entries, text bytes and Lua heap estimate."""

    depth: int
    items: int
    bytes: int
    lua_bytes: int


def lua_type(value: Any) -> str:
    """The Lua name of a converted value's type, for error messages plugin authors read."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, dict)):
        return "table"
    return "string" if isinstance(value, str) else type(value).__name__


def _key_text(key: object) -> str:
    return f"[{key!r}]"


def _text_bytes(value: str) -> int:
    if value.isascii():
        return len(value)
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise ConversionError(f"text is not valid Unicode ({error.reason})") from None


def _check_integer(value: int) -> None:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ConversionError(f"integer {value} does not fit in 64 bits")


def measure(*values: object, bounds: Bounds) -> Size:
    """Check that `values` together are plain data within `bounds` and say how big they are.

    Raises ConversionError naming where a value goes wrong; the walk stops there, so a value
    far over a bound costs no more than the bound.
    """
    max_depth = bounds.max_depth
    items = bounds.max_items
    text = bounds.max_bytes
    deepest = tables = strings = 0

    def count_text(value: str) -> None:
        nonlocal text, strings
        text -= len(value) if value.isascii() else _text_bytes(value)
        strings += 1
        if text < 0:
            raise ConversionError(f"more than {bounds.max_bytes} bytes of text in all", limit=True)

    def scalar(value: object) -> None:  # anything but an exact str, int, float, bool, None or table
        if isinstance(value, (bool, float)) or value is JSON_NULL:  # subclasses (enums, other mappings)
            return
        if isinstance(value, int):
            _check_integer(value)
        elif isinstance(value, str):
            count_text(value)
        else:
            raise ConversionError(f"a {type(value).__name__} is not plain data")

    def table(value: list | tuple | Mapping, depth: int) -> None:
        nonlocal items, deepest, tables
        if depth > max_depth:
            raise ConversionError(f"nested deeper than {max_depth} levels", limit=True)
        if depth > deepest:
            deepest = depth
        items -= len(value)
        tables += 1
        if items < 0:
            raise ConversionError(f"more than {bounds.max_items} entries in all", limit=True)
        if isinstance(value, Mapping):
            pairs: Any = value.items()
        else:
            pairs = enumerate(value, 1)
        mapping = isinstance(value, Mapping)
        for key, item in pairs:
            try:
                if mapping:
                    kind = type(key)
                    if kind is str:
                        count_text(key)
                    elif kind is int:
                        _check_integer(key)
                    elif isinstance(key, str):
                        scalar(key)
                    elif not isinstance(key, int) or isinstance(key, bool):
                        raise ConversionError(f"key {key!r} is not a str or int")
                    else:
                        _check_integer(key)
                elif item is None:
                    raise ConversionError("None cannot be a list item (Lua lists have no holes)")
                kind = type(item)
                if kind is str:
                    count_text(item)
                elif kind is int:
                    if not INT64_MIN <= item <= INT64_MAX:
                        _check_integer(item)
                elif item is None or kind is float or kind is bool:
                    pass
                elif kind is dict or kind is list or kind is tuple or isinstance(item, (list, tuple, Mapping)):
                    table(item, depth + 1)
                else:
                    scalar(item)
            except ConversionError as error:
                error.path.insert(0, _key_text(key))
                raise

    for value in values:
        if isinstance(value, (list, tuple, Mapping)):
            table(value, 1)
        elif value is not None:
            scalar(value)
    used_items = bounds.max_items - items
    used_text = bounds.max_bytes - text
    return Size(deepest, used_items, used_text,
                used_text + _LUA_STRING_BYTES * strings + _LUA_TABLE_BYTES * tables + _LUA_ENTRY_BYTES * used_items)


#: Bounds no value reaches: what :func:`measure` takes to size a value for any plugin's bounds.
UNBOUNDED = Bounds(2**31, 2**62, 2**62)


def check_size(size: Size, bounds: Bounds) -> None:
    """Raise ConversionError (a limit) if a value of `size` is over `bounds`, as :func:`measure` would."""
    if size.depth > bounds.max_depth:
        raise ConversionError(f"nested deeper than {bounds.max_depth} levels", limit=True)
    if size.items > bounds.max_items:
        raise ConversionError(f"more than {bounds.max_items} entries in all", limit=True)
    if size.bytes > bounds.max_bytes:
        raise ConversionError(f"more than {bounds.max_bytes} bytes of text in all", limit=True)


def _integer_keys(table: dict[str, Any]) -> dict[Any, Any]:
    pairs = table.get(INTEGER_KEYS_MARK)
    if pairs is None or len(table) != 1:
        return table
    return {pairs[index]: pairs[index + 1] for index in range(0, len(pairs), 2)}


_DECODER = json.JSONDecoder(object_hook=_integer_keys)


def from_lua_text(text: bytes) -> Any:
    """The plain value the prelude wrote as JSON (text that is not UTF-8 becomes U+FFFD)."""
    if text == b"null":  # what most plugin calls return
        return None
    if text == b"[]":  # the arguments of most host functions that take none
        return []
    return _DECODER.decode(text.decode("utf-8", "replace"))


class PlainValueConverter:
    """Builds Lua values from plain data for one runtime, within `bounds`."""

    def __init__(self, runtime: lua54.LuaRuntime, *, empty_list: Callable[[], Any], null: Any, bounds: Bounds) -> None:
        self._runtime = runtime
        self._empty_list = empty_list
        self._null = null
        self.bounds = bounds

    def to_lua(self, value: object) -> Any:
        """Return `value` as a Lua value; call :func:`measure` first (this assumes it passed)."""
        kind = type(value)  # exact types first: this runs for every value of every call
        if kind is str:
            return value.encode("utf-8")  # type: ignore[union-attr]
        if value is None or kind is int or kind is float or kind is bool:
            return value
        if kind is dict or kind is list or kind is tuple:
            return self._table(value)  # type: ignore[arg-type]
        if value is JSON_NULL:
            return self._null
        # subclasses (enums, OrderedDict, other mappings)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value).encode("utf-8")
        return self._table(value)  # type: ignore[arg-type]

    def _table(self, value: list | tuple | Mapping) -> Any:
        if isinstance(value, Mapping):
            return self._runtime.table_from({
                (key.encode("utf-8") if isinstance(key, str) else int(key)): self.to_lua(item)
                for key, item in value.items() if item is not None  # a nil field is an absent field
            })
        if not value:
            return self._empty_list()
        return self._runtime.table_from([self.to_lua(item) for item in value])
