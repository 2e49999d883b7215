"""Plain data between Python and a plugin's Lua runtime, in both directions.

Plain data is None, bool, int (64-bit), float, str, list and dict with str (or int) keys, and
:data:`JSON_NULL`, which becomes ``qtui.json.null`` in Lua (and that comes back as None).
Python -> Lua builds fresh Lua tables (lists become sequences; an empty list gets a private
marker so it comes back as a list). Lua -> Python walks tables with raw iteration only, so
no metamethod of a plugin value ever runs, and bounds depth and the number of entries, so
cycles and huge structures fail cleanly with a ConversionError naming where.

The runtime uses ``encoding=None``: Lua strings arrive as bytes and text goes in as UTF-8
bytes (a Python str would reach Lua as a Python object).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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


class ConversionError(ValueError):
    """A value cannot cross between the host and a plugin; `path` says where inside it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def __str__(self) -> str:
        where = "".join(self.path)
        return f"{where}: {self.problem}" if where else self.problem


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


class PlainValueConverter:
    """Converts plain data for one Lua runtime within depth and size bounds."""

    def __init__(
        self,
        runtime: lua54.LuaRuntime,
        *,
        empty_list: Callable[[], Any],
        is_empty_list: Callable[[Any], bool],
        null: Any,
        is_null: Callable[[Any], bool],
        max_depth: int,
        max_items: int,
    ) -> None:
        self._runtime = runtime
        self._empty_list = empty_list
        self._is_empty_list = is_empty_list
        self._null = null
        self._is_null = is_null
        self.max_depth = max_depth
        self.max_items = max_items

    # Python -> Lua ----------------------------------------------------------------------

    def to_lua(self, value: object) -> Any:
        """Return `value` as a Lua value; raise ConversionError for anything not plain."""
        return self._to_lua(value, 0, [self.max_items])

    def _to_lua(self, value: object, depth: int, budget: list[int]) -> Any:
        kind = type(value)  # exact types first: this runs for every value of every call
        if kind is str:
            return self._text(value)  # type: ignore[arg-type]
        if kind is int:
            return self._integer(value)  # type: ignore[arg-type]
        if value is None or kind is float or kind is bool:
            return value
        if kind is dict or kind is list or kind is tuple:
            return self._table(value, depth, budget)  # type: ignore[arg-type]
        if value is JSON_NULL:
            return self._null
        # subclasses (enums, OrderedDict, other mappings)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self._integer(int(value))
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return self._text(str(value))
        if isinstance(value, (list, tuple, Mapping)):
            return self._table(value, depth, budget)
        raise ConversionError(f"a {kind.__name__} is not plain data")

    @staticmethod
    def _text(value: str) -> bytes:
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ConversionError(f"text is not valid Unicode ({error.reason})") from None

    @staticmethod
    def _integer(value: int) -> int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConversionError(f"integer {value} does not fit in 64 bits")
        return value

    def _table(self, value: list | tuple | Mapping, depth: int, budget: list[int]) -> Any:
        if depth >= self.max_depth:
            raise ConversionError(f"nested deeper than {self.max_depth} levels")
        budget[0] -= len(value)
        if budget[0] < 0:
            raise ConversionError(f"more than {self.max_items} entries in all")
        if type(value) is dict or isinstance(value, Mapping):
            return self._table_from_mapping(value, depth, budget)  # type: ignore[arg-type]
        return self._table_from_sequence(value, depth, budget)  # type: ignore[arg-type]

    def _table_from_sequence(self, items: list | tuple, depth: int, budget: list[int]) -> Any:
        if not items:
            return self._empty_list()
        converted = []
        for index, item in enumerate(items, 1):
            try:
                if item is None:
                    raise ConversionError("None cannot be a list item (Lua lists have no holes)")
                converted.append(self._to_lua(item, depth + 1, budget))
            except ConversionError as error:
                error.path.insert(0, f"[{index}]")
                raise
        return self._runtime.table(*converted)

    def _table_from_mapping(self, mapping: Mapping, depth: int, budget: list[int]) -> Any:
        converted: dict[Any, Any] = {}
        for key, item in mapping.items():
            try:
                if isinstance(key, str):
                    lua_key: Any = self._text(key)
                elif isinstance(key, int) and not isinstance(key, bool):
                    lua_key = self._integer(int(key))
                else:
                    raise ConversionError(f"key {key!r} is not a str or int")
                if item is not None:  # a nil field is an absent field in Lua
                    converted[lua_key] = self._to_lua(item, depth + 1, budget)
            except ConversionError as error:
                error.path.insert(0, _key_text(key))
                raise
        return self._runtime.table_from(converted)

    # Lua -> Python ----------------------------------------------------------------------

    def to_python(self, value: Any) -> Any:
        """Return a Lua value as plain data; raise ConversionError if it has no plain form."""
        return self._to_python(value, 0, [self.max_items])

    def _to_python(self, value: Any, depth: int, budget: list[int]) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        kind = lua54.lua_type(value)
        if kind != "table":
            # lupa reports coroutines as functions too
            shown = {"function": "function or coroutine", None: "host object"}.get(kind, kind)
            raise ConversionError(f"a Lua {shown} cannot be passed to the host")
        if depth >= self.max_depth:
            raise ConversionError(f"tables nested deeper than {self.max_depth} levels (a cycle?)")
        entries: dict[Any, Any] = {}
        for key, item in value.items():  # lua_next: raw, no __pairs or __index
            budget[0] -= 1
            if budget[0] < 0:
                raise ConversionError(f"more than {self.max_items} table entries in all")
            python_key = self._key_to_python(key)
            try:
                entries[python_key] = self._to_python(item, depth + 1, budget)
            except ConversionError as error:
                error.path.insert(0, _key_text(python_key))
                raise
        if not entries:
            if self._is_empty_list(value):
                return []
            return None if self._is_null(value) else {}
        count = len(entries)
        if all(type(key) is int for key in entries) and min(entries) == 1 and max(entries) == count:
            return [entries[index] for index in range(1, count + 1)]
        return entries

    @staticmethod
    def _key_to_python(key: Any) -> str | int:
        if isinstance(key, bytes):
            try:
                return key.decode("utf-8")
            except UnicodeDecodeError:
                raise ConversionError(f"table key {key!r} is not valid UTF-8") from None
        if type(key) is int:
            return key
        kind = lua54.lua_type(key) or type(key).__name__
        shown = repr(key) if isinstance(key, (bool, float)) else f"a {kind}"
        raise ConversionError(f"table key {shown} is not a string or integer")
