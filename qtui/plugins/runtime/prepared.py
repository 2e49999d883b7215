"""Events prepared once for every plugin that receives them, as Lua chunks each runtime loads in C.

Converting an event into a fresh Lua table field by field through Python costs far more than
the plugin's own work, and it used to happen once per plugin. Here an event is prepared once,
however many plugins receive it, into a chunk that returns the event's table; each plugin's
runtime materialises it with Lua's own loader, without a Python round trip per field:

- A stats event becomes Lua *bytecode*. The code is the same for every snapshot of the same
  queues (a template per list of queue names, and which of them have ready jobs), only the
  numbers change: each snapshot's numbers are written into the template's constants, so
  preparing one costs one pass over the snapshot. The bytecode is made here from source
  qtui generates, and loaded by the sandbox's private loader, never by plugin code.
- Other events for several plugins (selection, message, lifecycle) become Lua *source* of a
  table constructor, which Lua's parser reads in C.
- Events for one plugin (keys, timers, the results of its own requests) stay plain data for
  the value converter: there is nothing to share.

A stats event also tells each plugin what changed since the stats it received before, so that
it need not diff them itself: that depends on the plugin (one that was busy missed the stats in
between), so it is computed by :func:`stats_changes`, once for each pair of snapshots.
"""

from __future__ import annotations

import collections
import itertools
import math
import operator
import re
import struct
import threading
from collections.abc import Mapping
from typing import Any

import attrs
from lupa import lua54

from qtui.events import Event, StatsUpdated
from qtui.model import JobState
from qtui.plugins.runtime.events import EVENT_TYPES, Replayed, to_plain
from qtui.plugins.runtime.sandbox import EVENT_BYTECODE, EVENT_SOURCE, EVENT_TABLE
from qtui.plugins.runtime.values import (
    INT64_MAX,
    INT64_MIN,
    JSON_NULL,
    MAX_DEPTH,
    UNBOUNDED,
    ConversionError,
    Size,
    measure,
)


_STATES = tuple(JobState)
_ZEROS = (0,) * len(_STATES)
_RATES = ("enqueued_per_min", "completed_per_min", "failed_per_min")
#: Templates kept (each a list of queue names, and which of them have ready jobs).
_TEMPLATES = 32


@attrs.frozen(eq=False)
class PreparedEvent:
    """An event in the form runtimes materialise: a `kind` of LuaSandbox.deliver with `chunk`
    (EVENT_BYTECODE, EVENT_SOURCE) or `plain` (EVENT_TABLE).

    A stats event also keeps its rows (queue name -> the values that count as a change) for
    :func:`stats_changes`. A chunk comes with the `size` of the value it makes, which each
    sandbox checks against its plugin's bounds before loading it.
    """

    type: str
    kind: int
    chunk: bytes = b""
    plain: Mapping[str, Any] | None = None
    rows: Mapping[str, tuple] | None = None
    size: Size | None = None
    _changes: dict[int, tuple[tuple[int, ...], tuple[str, ...]]] = attrs.field(factory=dict, repr=False)


def prepare(event: Event, *, shared: bool) -> PreparedEvent:
    """`event` ready for every plugin; `shared`: it goes to several plugins (worth a chunk)."""
    if isinstance(event, Replayed):  # a recording's event: plain already
        return PreparedEvent(str(event.plain.get("type")), EVENT_TABLE, plain=event.plain)
    kind = EVENT_TYPES[type(event)]
    if isinstance(event, StatsUpdated):
        return _STATS.prepare(event)
    plain = to_plain(event)
    if shared:
        try:
            chunk = ("return " + lua_source(plain)).encode("utf-8")
            return PreparedEvent(kind, EVENT_SOURCE, chunk=chunk, size=measure(plain, bounds=UNBOUNDED))
        except ConversionError:
            pass  # the converter names what is wrong, for each plugin
    return PreparedEvent(kind, EVENT_TABLE, plain=plain)


def stats_plain(event: StatsUpdated) -> dict[str, Any]:
    """The table a plugin receives for `event`, as plain data (what the stats template builds)."""
    snapshot = event.snapshot
    taken_at = float(snapshot.taken_at)
    queues = []
    for queue in snapshot.queues:
        row: dict[str, Any] = {"name": queue.name}
        row.update({state.value: queue.counts.get(state, 0) for state in _STATES})
        row.update(zip(_RATES, (float(queue.enqueued_per_min), float(queue.completed_per_min),
                                float(queue.failed_per_min)), strict=True))
        if queue.oldest_ready_at is not None:
            row["oldest_ready_age"] = max(0.0, taken_at - queue.oldest_ready_at)
        queues.append(row)
    return {"type": "stats", "workers_alive": sum(1 for w in snapshot.workers if w.alive),
            "workers_seen": len(snapshot.workers), "taken_at": taken_at, "queues": queues}


def stats_changes(before: PreparedEvent | None, now: PreparedEvent) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(1-based indices of the rows of `now` that are new or changed since `before`, names gone).

    A queue's row changes when a count, a rate or its oldest ready job changes; the age of that
    job growing with time alone is no change.
    """
    rows = now.rows or {}
    if before is None:
        return tuple(range(1, len(rows) + 1)), ()
    cached = now._changes.get(id(before))  # noqa: SLF001 - the cache belongs to the prepared event
    if cached is not None:
        return cached
    old = before.rows or {}
    if tuple(old) == tuple(rows):  # the same queues (the common case): compare the rows in C
        result = tuple(itertools.compress(range(1, len(rows) + 1), map(operator.ne, old.values(), rows.values()))), ()
    else:
        changed = tuple(index for index, (name, row) in enumerate(rows.items(), 1) if old.get(name) != row)
        result = changed, tuple(name for name in old if name not in rows)
    if len(now._changes) < 64:  # noqa: SLF001
        now._changes[id(before)] = result  # noqa: SLF001 - ids stay valid: `before` is alive here
    return result


def stats_state(event: StatsUpdated) -> tuple:
    """What the stats event for `event` shows apart from the time (taken_at and the ages): equal
    for two events when :func:`stats_changes` finds no row changed or removed between them and
    the workers count the same."""
    snapshot = event.snapshot
    rows = tuple((queue.name, tuple(map(queue.counts.get, _STATES, _ZEROS)), float(queue.enqueued_per_min),
                  float(queue.completed_per_min), float(queue.failed_per_min), queue.oldest_ready_at)
                 for queue in snapshot.queues)
    return rows, sum(1 for w in snapshot.workers if w.alive), len(snapshot.workers)


# -- stats: bytecode templates --------------------------------------------------------------

_INT_MARK = 0x5A5A_0000_0000_0000
_LUA_INT, _LUA_FLOAT = 0x03, 0x13  # constant type tags of Lua 5.4's dump format


def _float_mark(index: int) -> float:
    """A placeholder float: huge, so Lua keeps it a constant, and unlike any real value."""
    return struct.unpack("<d", struct.pack("<Q", 0x7FE5_A5A5_0000_0000 + index))[0]


@attrs.frozen
class _Template:
    """Bytecode returning a stats table, and where its numbers go."""

    code: bytes
    offset: int  # where the run of numeric constants starts
    numbers: struct.Struct  # tag, value pairs: the integers, then the floats
    ints: int
    size: Size  # of the table it returns (the numbers do not change it)


class _StatsTemplates:
    """Compiles templates in a private Lua runtime (one at a time) and fills them in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runtime: lua54.LuaRuntime | None = None
        self._dump: Any = None
        self._templates: collections.OrderedDict[tuple, _Template] = collections.OrderedDict()

    def prepare(self, event: StatsUpdated) -> PreparedEvent:
        snapshot = event.snapshot
        taken_at = float(snapshot.taken_at)
        ints: list[int] = [sum(1 for w in snapshot.workers if w.alive), len(snapshot.workers)]
        floats: list[float] = [taken_at]
        names: list[str] = []
        ready: list[bool] = []
        rows: dict[str, tuple] = {}
        for queue in snapshot.queues:
            counts = queue.counts
            # Backends list every state in order: then no lookups (a JobState hashes in Python).
            counted = tuple(counts.values()) if tuple(counts) == _STATES else tuple(map(counts.get, _STATES, _ZEROS))
            rates = (float(queue.enqueued_per_min), float(queue.completed_per_min), float(queue.failed_per_min))
            oldest = queue.oldest_ready_at
            ints += counted
            floats += rates
            if oldest is not None:
                age = taken_at - oldest
                floats.append(age if age > 0.0 else 0.0)  # as max(0.0, age), NaN included
            name = queue.name
            names.append(name)
            ready.append(oldest is not None)
            rows[name] = (counted, rates, oldest)
        template = self._template(tuple(names), tuple(ready))
        code = bytearray(template.code)
        try:
            template.numbers.pack_into(code, template.offset, *_tagged(ints, floats))
        except struct.error:  # a count beyond 64 bits from a broken backend: shown as the nearest one
            saturated = [min(max(n, INT64_MIN), INT64_MAX) for n in ints]
            template.numbers.pack_into(code, template.offset, *_tagged(saturated, floats))
        return PreparedEvent("stats", EVENT_BYTECODE, chunk=bytes(code), rows=rows, size=template.size)

    def _template(self, names: tuple[str, ...], ready: tuple[bool, ...]) -> _Template:
        key = (names, ready)
        with self._lock:
            template = self._templates.get(key)
            if template is None:
                template = self._compile(names, ready)
                if len(self._templates) >= _TEMPLATES:
                    self._templates.popitem(last=False)
                self._templates[key] = template
            else:
                self._templates.move_to_end(key)
            return template

    def _compile(self, names: tuple[str, ...], ready: tuple[bool, ...]) -> _Template:
        ints = [_INT_MARK + i for i in range(2 + len(_STATES) * len(names))]
        floats = [_float_mark(i) for i in range(1 + len(_RATES) * len(names) + sum(ready))]
        int_text, float_text = iter(map(str, ints)), iter(map(float.hex, floats))
        lines = [
            # Dead code that lists every placeholder first, so that they are the chunk's first
            # constants, in this order: one run of bytes to write each snapshot's numbers into.
            f"if false then local _ = {{{','.join(map(str, ints))},{','.join(map(float.hex, floats))}}} end",
            f'return {{type = "stats", workers_alive = {next(int_text)}, workers_seen = {next(int_text)}, '
            f"taken_at = {next(float_text)}, queues = {{",
        ]
        for name, has_ready in zip(names, ready, strict=True):
            fields = [f"name = {lua_string(name)}"]
            fields += [f"{state.value} = {next(int_text)}" for state in _STATES]
            fields += [f"{rate} = {next(float_text)}" for rate in _RATES]
            if has_ready:
                fields.append(f"oldest_ready_age = {next(float_text)}")
            lines.append("{" + ", ".join(fields) + "},")
        lines.append("}}")
        code = self._compile_source("\n".join(lines).encode("utf-8"))
        numbers = struct.Struct("<" + "Bq" * len(ints) + "Bd" * len(floats))
        expected = numbers.pack(*_tagged(ints, floats))
        offset = code.find(expected)
        if offset < 0:  # the dump format is not the one this module knows: fail loudly, once
            raise RuntimeError("stats template: the numbers are not where Lua 5.4 keeps them")
        return _Template(code, offset, numbers, len(ints), _stats_size(names, ready))

    def _compile_source(self, source: bytes) -> bytes:
        if self._runtime is None:
            self._runtime = lua54.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
            self._dump = self._runtime.eval(
                b"function(source) return string.dump(assert(load(source, '=stats', 't', {})), true) end")
        return self._dump(source)


def _stats_size(names: tuple[str, ...], ready: tuple[bool, ...]) -> Size:
    """The size of the stats table a template returns, at most: a table of the same shape with
    every row marked changed, measured."""
    queues = []
    for name, has_ready in zip(names, ready, strict=True):
        row: dict[str, Any] = {"name": name, **{state.value: 0 for state in _STATES}, **{rate: 0.0 for rate in _RATES},
                               "changed": True}
        if has_ready:
            row["oldest_ready_age"] = 0.0
        queues.append(row)
    shape = {"type": "stats", "workers_alive": 0, "workers_seen": 0, "taken_at": 0.0, "queues": queues,
             "removed": []}
    return measure(shape, bounds=UNBOUNDED)


def _tagged(ints: list[int], floats: list[float]) -> list[Any]:
    """Constant type tags and values, interleaved as the dump holds them."""
    out: list[Any] = [_LUA_INT, 0] * len(ints) + [_LUA_FLOAT, 0.0] * len(floats)
    out[1 : 2 * len(ints) : 2] = ints
    out[2 * len(ints) + 1 :: 2] = floats
    return out


_STATS = _StatsTemplates()


# -- other shared events: Lua source of a table constructor --------------------------------

_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f]')


def _escape(match: re.Match[str]) -> str:
    return f"\\{ord(match[0]):03d}"


def lua_string(text: str) -> str:
    """A Lua string literal for `text` (bytes past ASCII are kept as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ConversionError(f"text is not valid Unicode ({error.reason})") from None
    return '"' + _ESCAPE.sub(_escape, text) + '"'


def lua_source(value: Any, depth: int = 0) -> str:
    """A Lua expression building plain `value` (an empty list is L(), JSON's null N)."""
    kind = type(value)
    if kind is str:
        return lua_string(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise ConversionError(f"integer {value} does not fit in 64 bits")
        return str(value)
    if kind is float:
        if math.isnan(value):
            return "(0/0)"
        if math.isinf(value):
            return "(1/0)" if value > 0 else "(-1/0)"
        return repr(value)
    if value is None or value is JSON_NULL:
        return "N"
    if depth >= MAX_DEPTH:
        raise ConversionError(f"nested deeper than {MAX_DEPTH} levels")
    if kind is list or kind is tuple:
        if not value:
            return "L()"
        return "{" + ",".join(lua_source(item, depth + 1) for item in value) + "}"
    if isinstance(value, Mapping):
        fields = []
        for key, item in value.items():
            if item is None:
                continue  # a nil field is an absent field
            if isinstance(key, str):
                fields.append(f"[{lua_string(key)}]={lua_source(item, depth + 1)}")
            elif isinstance(key, int) and not isinstance(key, bool):
                fields.append(f"[{lua_source(key)}]={lua_source(item, depth + 1)}")
            else:
                raise ConversionError(f"key {key!r} is not a str or int")
        return "{" + ",".join(fields) + "}"
    for base in (bool, int, float, str):  # subclasses: enums and the like
        if isinstance(value, base):
            return lua_source(base(value), depth)
    raise ConversionError(f"a {kind.__name__} is not plain data")


class Offer:
    """An event on its way to plugins, prepared once, by the first worker that needs it.

    The host makes one offer per event and puts the same offer in each plugin's mailbox.
    """

    __slots__ = ("_lock", "_prepared", "_shared", "event")

    def __init__(self, event: Event, *, shared: bool) -> None:
        self.event = event
        self._shared = shared
        self._prepared: PreparedEvent | None = None
        self._lock = threading.Lock()

    def prepared(self) -> PreparedEvent:
        """The event prepared for plugins (from any thread; the work is done once)."""
        prepared = self._prepared
        if prepared is None:
            with self._lock:
                if self._prepared is None:
                    self._prepared = prepare(self.event, shared=self._shared)
                prepared = self._prepared
        return prepared
