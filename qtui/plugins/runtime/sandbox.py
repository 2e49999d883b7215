"""A restricted Lua 5.4 runtime per plugin, with limits, a kill switch and violation accounting.

Use one :class:`LuaSandbox` per plugin, from a worker thread (never the UI thread): lupa
releases the GIL while Lua runs, so runtimes of different plugins run in parallel, and calls
into one runtime are serialised. ::

    # find_module(name) -> (source text, chunk name) | None, from the plugin's own files
    sandbox = LuaSandbox("queue-stats", clock=clock, limits=Limits(), resolver=find_module)
    sandbox.expose("qtui.notify", notify)           # Lua sees a plain closure
    sandbox.load(source, "main.lua")                 # runs the main chunk under the limits
    if sandbox.has_function("activate"):
        sandbox.call("activate", {"queues": ["mail"]})
    sandbox.interrupt("killed by the operator")      # from any thread

What plugin code gets: the safe base functions, ``string`` (no ``dump``; pattern functions,
``rep`` and friends guarded), ``table`` (guarded), ``math``, ``utf8``, ``coroutine`` (every
coroutine hooked), ``os`` with ``clock``/``date``/``difftime``/``time`` only, text-only
``load`` bound to its own environment, ``require`` (see below), ``print`` into the host's log
and ``collectgarbage("count")``. Library tables and the string metatable are read-only,
``__gc`` metamethods are refused. There is no ``debug``, ``io``, ``package``, ``python``,
``dofile``/``loadfile``, ``string.dump`` and no bytecode. The sandbox's clock is the plugin's
notion of now: ``os.time()`` and ``os.date()`` read its wall clock, and ``os.clock()`` gives the
seconds of its monotonic clock since the runtime was made.

Limits apply per call and measure the plugin's own work: an instruction budget counted in Lua
by a count hook (no lock of the host's on that path), and a budget of the calling thread's CPU
time (``time.thread_time``: waiting for a core, the disk or a host function that waits is not
charged, nor are the thread's collections of the host's Python garbage), which the hook asks
the host about every hundred thousand instructions or so. A deadline on the clock's monotonic
time, much later, is only a backstop against a call that blocks. A memory cap covers the whole
runtime. Library calls that run
long inside C where no hook can stop them are refused up front when their estimated cost
exceeds ``Limits.c_steps``: pattern matching (with the length of sets and frontier sets),
``gsub`` replacements, ``string.rep`` and ``string.pack``, ``table.sort``, ``table.move``,
``table.concat``, ``table.unpack`` and positional ``table.insert``/``table.remove``. Every
other library function does work in proportion to the data it is given or makes, which the
memory cap bounds. Compiling (``load``, ``require`` and the plugin's own files) reads the
source in pieces through hooked Lua, so a slow compile stops at the CPU budget; a chunk with
too many goto and break statements is refused before compiling. A trip is sticky until the call unwinds, so ``pcall`` cannot swallow it.
Violations are counted; too many within a window quarantine the plugin.

Values cross the boundary measured first (:mod:`.values`): depth, entries and bytes within
the bounds of :class:`Limits`, and what the host pushes within the runtime's free memory. A
value that does not fit is the plugin's violation. Lua reports a failed allocation outside a
protected call by aborting the process, so the host never lets one happen: it builds what it
hands to Lua (call arguments, host function results, module sources, error messages) with the
memory cap lifted, after checking that it fits under the cap, and passes only those tables,
strings, numbers and booleans; plugin tables reach the host as JSON text the prelude writes
inside the plugin's own call. The cap is in force whenever Lua code runs.

``require`` loads two kinds of module, and neither can stand in for the other: a name whose
first part is ``qtui`` (``require("qtui.json")``) is a module of qtui's library, the
``stdlib/*.lua`` files shipped with qtui, and every other name goes to the host's resolver
(the plugin's own files). A library module is compiled in the plugin's own runtime on its
first ``require``, runs under the plugin's limits in an environment of its own (the plugin's
globals do not reach it), and the table it returns is read-only.
"""

from __future__ import annotations

import collections
import enum
import functools
import importlib.resources
import inspect
import logging
import re
import threading
import weakref
from collections.abc import Callable
from typing import Any

import attrs
from lupa import lua54

from qtui.clock import Clock
from qtui.plugins.bundles.lua_syntax import MAX_JUMPS, MAX_SOURCE_BYTES
from qtui.plugins.runtime import cputime, jsonvalues, textcells
from qtui.plugins.runtime.values import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    Bounds,
    ConversionError,
    PlainValueConverter,
    Size,
    check_size,
    from_lua_text,
    lua_type,
    measure,
)
from qtui.sanitize import visible

__all__ = [
    "EVENT_BYTECODE",
    "EVENT_SOURCE",
    "EVENT_TABLE",
    "LIBRARY_MODULES",
    "ConversionError",
    "HostError",
    "LimitExceeded",
    "LimitKind",
    "Limits",
    "LuaSandbox",
    "ModuleResolver",
    "PluginError",
    "PluginQuarantined",
    "SandboxUsage",
    "ViolationPolicy",
    "decode_json",
    "host_errors",
]

log = logging.getLogger(__name__)

#: `require` hands a module name to this and gets (source text, chunk name) or None.
ModuleResolver = Callable[[str], "tuple[str, str] | None"]

_PRELUDE_CHUNKNAME = "=[qtui sandbox]"
_PRELUDE_SHORT_SRC = "[qtui sandbox]"
_PRELUDE_SOURCE = (
    importlib.resources.files("qtui.plugins.runtime").joinpath("_sandbox_prelude.lua").read_bytes()
)

#: The modules of qtui's library for plugins (``stdlib/NAME.lua`` is ``qtui.NAME``), by name.
_LIBRARY: dict[str, str] = {
    f"qtui.{entry.name.removesuffix('.lua')}": entry.read_text(encoding="utf-8")
    for entry in importlib.resources.files("qtui.plugins.runtime").joinpath("stdlib").iterdir()
    if entry.name.endswith(".lua")
}
#: What `require` finds in qtui's library, e.g. ``qtui.json``; names starting with ``qtui.``
#: never load a plugin's file.
LIBRARY_MODULES: tuple[str, ...] = tuple(sorted(_LIBRARY))

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_MODULE_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_MAX_MODULE_NAME = 200
_POSITION = re.compile(r"(?P<file>[^\n]*?):(?P<line>\d+): (?P<message>.*)", re.S)
_FRAME = re.compile(r"^\t(?P<file>[^\n]+?):(?P<line>\d+): ", re.M)
_TRACEBACK_MARK = "\nstack traceback:\n"
_MAX_MESSAGE = 2000
_MAX_TRACEBACK = 4000
_MAX_OUTPUT_LINE = 4000
# A `print` line is cut to this many bytes in Lua, before the host copies it.
_OUTPUT_BYTES = 4 * _MAX_OUTPUT_LINE
# Free memory a call needs beyond what the host pushes (Lua frames, short strings).
_PUSH_RESERVE = 16 * 1024
# How far the cap is lifted while the host builds Lua values it has measured to fit: it only
# absorbs the estimate's error (a string table growing, say), so the build can never fail.
_LIFT_BYTES = 64 * 2**20
# What a host function call gives back to Lua (see the prelude's dispatch).
_FAILED, _RETURNED, _BOXED = 0, 1, 2

#: How an event reaches `LuaSandbox.deliver`: Lua bytecode or source returning the event's
#: table (made by the host, qtui.plugins.runtime.prepared), or plain data for the converter.
EVENT_BYTECODE, EVENT_SOURCE, EVENT_TABLE = 1, 2, 3

# The count hook runs every `step` VM instructions (a hundredth of the budget, between
# _SHORTEST_STEP and _LONGEST_STEP) and counts them in Lua, so the budget is exact to a step
# whatever the machine's speed, and the common path of a check takes no lock of the host's.
# About every _CHECK_INSTRUCTIONS (a millisecond or two of Lua work), or when the heap nears
# the cap, it asks the host, which reads the thread's CPU time, the interrupt flag, the
# wall-clock backstop and the heap: a call shorter than that never takes the GIL for a check.
_SHORTEST_STEP = 100
_LONGEST_STEP = 10_000
_CHECK_INSTRUCTIONS = 100_000
# The prelude's GC sentinel forces a check when none ran for this much process CPU time (one
# instruction can take long: a concatenation of megabytes).
_OVERDUE_SECONDS = 0.005
# The hook looks closer at the heap above this share of the cap, and trips above the second
# share if a full collection cannot get below it.
_MEMORY_CHECK_SHARE = 0.90
_MEMORY_TRIP_SHARE = 0.95


class LimitKind(enum.StrEnum):
    """Which limit a plugin call ran into."""

    INSTRUCTIONS = "instructions"
    CPU_TIME = "cpu time"
    WALL_TIME = "wall time"
    MEMORY = "memory"
    GUARD = "library guard"  # a pattern, sort, rep, move or concat too costly for one C call
    VALUE = "value size"  # a value crossing the boundary is too deep, too big or not plain data
    INTERRUPTED = "interrupted"


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


@attrs.frozen
class Limits:
    """Resource limits of one plugin runtime; the first three are the ones to tune."""

    #: Lua heap of the whole runtime in bytes (lupa ``max_memory``), at least 1 MiB.
    memory_bytes: int = attrs.field(default=32 * 2**20, validator=_positive)
    #: VM instructions per call (counted exactly, to a thousand).
    instructions: int = attrs.field(default=500_000_000, validator=_positive)
    #: CPU seconds per call: the calling thread's own (not time waiting for the GIL, for the
    #: disk or in a host function that waits), counted to a few milliseconds.
    cpu_seconds: float = attrs.field(default=2.0, validator=_positive)
    #: Wall-clock seconds per call: a backstop against a call that blocks, much larger than
    #: cpu_seconds so that a loaded machine pausing the thread never trips it.
    wall_seconds: float = attrs.field(default=20.0, validator=_positive)
    #: Estimated cost of one uninterruptible library call, in steps of a few nanoseconds: the
    #: default keeps each within a few tens of milliseconds, well inside the host's backstop.
    c_steps: int = attrs.field(default=10_000_000, validator=_positive)
    #: Largest chunk `load`, `require` or the host will compile.
    source_bytes: int = attrs.field(default=MAX_SOURCE_BYTES, validator=_positive)
    #: Nesting depth of tables crossing between host and plugin.
    max_depth: int = attrs.field(default=MAX_DEPTH, validator=_positive)
    #: Table entries in one value crossing between host and plugin.
    max_items: int = attrs.field(default=100_000, validator=_positive)
    #: Bytes of text in one value crossing between host and plugin (all arguments of a call
    #: together).
    max_bytes: int = attrs.field(default=4 * 2**20, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.memory_bytes < 2**20:
            raise ValueError(f"memory_bytes must be at least 1 MiB, not {self.memory_bytes}")

    @property
    def bounds(self) -> Bounds:
        """The bounds of values crossing between host and plugin."""
        return Bounds(self.max_depth, self.max_items, self.max_bytes)


@attrs.frozen
class ViolationPolicy:
    """Quarantine a plugin after `max_violations` limit violations within `window_seconds`."""

    max_violations: int = attrs.field(default=3, validator=_positive)
    window_seconds: float = attrs.field(default=300.0, validator=_positive)


@attrs.frozen
class SandboxUsage:
    """Counters of one sandbox; instructions/s is the change in `instructions` over time."""

    calls: int
    #: VM instructions run in calls (to a thousand per call).
    instructions: int
    #: Wall time spent inside calls.
    busy_seconds: float
    #: CPU time of the calling threads inside calls.
    cpu_seconds: float
    last_call_instructions: int
    last_call_seconds: float
    last_call_cpu_seconds: float
    memory_bytes: int
    violations: int
    quarantined: str | None


class PluginError(Exception):
    """A plugin's Lua code failed; `file` and `line` say where when Lua told us.

    The texts are the plugin's (hostile): they are kept sanitised, control characters and
    escape sequences shown as inert notation, so they are safe on a terminal and in a log.
    """

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        file: str | None = None,
        line: int | None = None,
        traceback: str | None = None,
    ) -> None:
        message = visible(message, multiline=True)
        super().__init__(message)
        self.message = message
        self.plugin = plugin
        self.file = None if file is None else visible(file)
        self.line = line
        self.traceback = None if traceback is None else visible(traceback, multiline=True)

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        owner = f"plugin {self.plugin}: " if self.plugin else ""
        return f"{owner}{where}{self.message}"


class LimitExceeded(PluginError):
    """A call was aborted because it ran into a limit (a violation)."""

    def __init__(self, kind: LimitKind, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.kind = kind


class PluginQuarantined(PluginError):
    """The plugin broke its limits too often; calls are refused until the quarantine is lifted."""


class HostError(Exception):
    """Raised by a host function to fail the Lua call with this message (pcall can catch it)."""


@attrs.frozen
class _Trip:
    kind: LimitKind
    message: str


def _lua_text(raw: bytes | str | None) -> str:
    """Text from Lua: bytes as UTF-8; lupa's error messages come decoded as Latin-1."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw).encode("latin-1", "replace").decode("utf-8", "replace")


def _lua_error_text(error: BaseException) -> str:
    return _lua_text(error.args[0] if error.args else None)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split_lua_error(text: str) -> tuple[str, str | None, int | None, str | None]:
    """Split Lua error text into (message, file, line, traceback).

    The position comes from the message ("file:line: message"), or else from the innermost
    plugin frame of the traceback.
    """
    if text.startswith(_TRACEBACK_MARK[1:]):
        text = "\n" + text
    message, _, traceback = text.partition(_TRACEBACK_MARK)
    file: str | None = None
    line: int | None = None
    found = _POSITION.match(message)
    if found and found["file"] != _PRELUDE_SHORT_SRC:
        file, line, message = found["file"], int(found["line"]), found["message"]
    elif traceback:
        for frame in _FRAME.finditer(traceback):
            if frame["file"] != _PRELUDE_SHORT_SRC:
                file, line = frame["file"], int(frame["line"])
                break
    return _clip(message, _MAX_MESSAGE), file, line, _clip(traceback, _MAX_TRACEBACK) or None


def decode_json(limits: Limits, text: Any) -> Any:
    """The plain value of JSON `text`, bounded by a plugin's `limits` (HostError says why not).

    The text may take a quarter of the plugin's memory; the value's depth and entries are
    those of any value crossing to the plugin.
    """
    if not isinstance(text, str):
        raise HostError(f"bad argument #1 (string expected, got {lua_type(text)})")
    try:
        return jsonvalues.decode(text, max_bytes=limits.memory_bytes // 4, max_depth=limits.max_depth,
                                 max_items=limits.max_items)
    except jsonvalues.JSONValueError as error:
        raise HostError(str(error)) from None


def host_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as a host function: its ValueError fails the Lua call with the message."""

    @functools.wraps(func)
    def call(*args: Any) -> Any:
        try:
            return func(*args)
        except ValueError as error:
            raise HostError(str(error)) from None

    return call


def _refuse_attribute(obj: object, name: object, value: object = None) -> None:
    raise AttributeError("Python attributes are not accessible from plugins")


def _weak_callback(sandbox: LuaSandbox, method: Callable[..., Any], failed: Any) -> Callable[..., Any]:
    """`method` of `sandbox` for Lua, holding the sandbox weakly and never raising.

    The runtime keeps its callbacks alive; strong references would make a cycle, and a
    dropped sandbox would keep its Lua heap until Python's cycle collector ran. An exception
    would reach Lua as a new userdata, an allocation the cap could refuse where Lua cannot
    recover: it is logged and Lua gets `failed` instead.
    """
    sandbox_ref = weakref.ref(sandbox)

    def callback(*args: Any) -> Any:
        owner = sandbox_ref()
        if owner is None:
            return failed  # Lua only runs in a call
        try:
            return method(owner, *args)
        except BaseException:
            log.exception("plugin %s: sandbox callback %s failed", owner.name, method.__name__)
            return failed

    return callback


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"


def _new_runtime(memory_bytes: int) -> lua54.LuaRuntime:
    return lua54.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        encoding=None,
        max_memory=memory_bytes,
        attribute_handlers=(_refuse_attribute, _refuse_attribute),
    )


class _CapLifted:
    """The context of LuaSandbox._lifted (a class: this is on the path of every event)."""

    __slots__ = ("_cap", "_runtime")

    def __init__(self, runtime: lua54.LuaRuntime, cap: int) -> None:
        self._runtime = runtime
        self._cap = cap

    def __enter__(self) -> None:
        self._runtime.set_max_memory(self._cap + _LIFT_BYTES)

    def __exit__(self, *exc_info: object) -> None:
        self._runtime.set_max_memory(self._cap)


class _Entered:
    """The context of LuaSandbox._entered (a class: this is on the path of every event)."""

    __slots__ = ("_sandbox",)

    def __init__(self, sandbox: LuaSandbox) -> None:
        self._sandbox = sandbox

    def __enter__(self) -> None:
        self._sandbox._enter()  # noqa: SLF001 - the sandbox's own helper

    def __exit__(self, *exc_info: object) -> None:
        self._sandbox._leave()  # noqa: SLF001


class LuaSandbox:
    """One plugin's restricted Lua 5.4 runtime. Thread-safe; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock,
        limits: Limits | None = None,
        resolver: ModuleResolver | None = None,
        policy: ViolationPolicy | None = None,
        output: Callable[[str], None] | None = None,
        cpu_clock: Callable[[], float] = cputime.thread_seconds,
    ) -> None:
        """Create the runtime.

        `clock` times calls (the wall-clock backstop, busy time, the violation window) and is
        what plugin code sees as now (``os.time``, ``os.date``, ``os.clock``). `cpu_clock`
        gives the CPU seconds of the calling thread, for the CPU budget (by default without
        the thread's Python garbage collections: see :mod:`.cputime`). `resolver` serves
        `require` (module names are letters, digits, ``_`` and ``-`` in dot-separated parts;
        never paths). `output` receives each `print` line; without it
        lines go to the ``qtui.plugins.<name>`` logger.
        """
        self.name = name
        self._clock = clock
        self._monotonic = clock.monotonic
        self._born = self._monotonic()
        self.limits = limits or Limits()
        self.policy = policy or ViolationPolicy()
        self._bounds = self.limits.bounds
        self._resolver = resolver
        self._output = output
        self._plugin_log = logging.getLogger(f"qtui.plugins.{name}")

        self._lock = threading.RLock()  # one load/call at a time
        self._state_lock = threading.Lock()  # `_running`, `_inside` and `_closing` against other threads
        self._running = False  # Lua code of a call is running
        self._in_host = 0  # host callbacks running inside the call (not Lua work)
        self._responsive_until = 0.0  # the call should have stopped by then, unless in the host
        self._thread_cpu: cputime.ThreadCPU | None = None  # the CPU clock of the thread running the call
        self._answered_cpu = 0.0  # that thread's CPU time when Lua last answered (a tick, a host return)
        self._inside = 0  # threads inside a public method that holds `_lock`
        self._closing = False  # release the runtime as soon as no thread is inside
        self._trip: _Trip | None = None
        self._trip_box: Any = None  # {message} for Lua, built when the trip was set
        self._interrupt_reason: str | None = None
        self._cpu_clock = cpu_clock
        self._started = self._deadline = self._cpu_started = self._cpu_deadline = 0.0
        self._call_instructions = 0
        self._memory_check_level = 0.0
        self._size_checked: Size | None = None  # the last event size found within the bounds

        self._calls = 0
        self._instructions = 0
        self._busy_seconds = 0.0
        self._cpu_seconds = 0.0
        self._last_call_instructions = 0
        self._last_call_seconds = 0.0
        self._last_call_cpu_seconds = 0.0
        self._violations: collections.deque[float] = collections.deque()
        self._violation_count = 0
        self._quarantine: str | None = None
        self._closed = False

        self._host_functions: list[tuple[str, Callable[..., Any]]] = []
        self._function_ids: dict[str, int] = {}  # dotted path -> id registered in the prelude
        self._chunknames: set[str] = set()

        self._runtime = _new_runtime(self.limits.memory_bytes)
        with self._lifted():
            callbacks = {
                name: _weak_callback(self, method, failed)
                for name, method, failed in [
                    (b"tick", LuaSandbox._tick, None),
                    (b"over", LuaSandbox._over_budget, None),
                    (b"trip", LuaSandbox._guard_tripped, None),
                    (b"dispatch", LuaSandbox._dispatch, (_FAILED, None)),
                    (b"compute", LuaSandbox._compute, (_FAILED, None)),
                    (b"resolve", LuaSandbox._resolve, (False, None)),
                    (b"output", LuaSandbox._print, None),
                    (b"time", LuaSandbox._wall_time, 0.0),
                    (b"clock", LuaSandbox._runtime_seconds, 0.0),
                ]
            }
            step = min(_LONGEST_STEP, max(_SHORTEST_STEP, self.limits.instructions // 100))
            host = self._runtime.table_from(
                {
                    **callbacks,
                    b"step": step,
                    b"check_steps": max(1, _CHECK_INSTRUCTIONS // step),
                    b"instructions": self.limits.instructions,
                    b"memory_check_kib": self.limits.memory_bytes * _MEMORY_CHECK_SHARE / 1024,
                    b"overdue_seconds": _OVERDUE_SECONDS,
                    b"c_steps": self.limits.c_steps,
                    b"source_bytes": self.limits.source_bytes,
                    b"max_jumps": MAX_JUMPS,
                    b"max_depth": self.limits.max_depth,
                    b"max_items": self.limits.max_items,
                    b"max_bytes": self.limits.max_bytes,
                    b"output_bytes": _OUTPUT_BYTES,
                }
            )
            api = self._runtime.execute(_PRELUDE_SOURCE, host, name=_PRELUDE_CHUNKNAME, mode="t")
            self._api_register = api[b"register"]
            self._api_defined = api[b"defined"]
            self._api_call = api[b"call"]
            self._api_run = api[b"run"]
            self._api_expose = api[b"expose"]
            self._api_define = api[b"define"]
            self._api_deliver = api[b"deliver"]
            self._counted = api[b"counted"]
            self._instructions_used = api[b"used"]
            self._values = PlainValueConverter(self._runtime, empty_list=api[b"empty_list"], null=api[b"null"],
                                               bounds=self._bounds)

        natives = {
            "json_decode": ("qtui.json.decode", functools.partial(decode_json, self.limits)),
            "text_clean": ("qtui.text.clean", textcells.clean),
            "text_width": ("qtui.text.width", textcells.width),
            "text_fit": ("qtui.text.fit", textcells.clean_fit),
            "text_pad": ("qtui.text.pad", textcells.clean_pad),
            "text_columns": ("qtui.text.columns", textcells.lua_columns),
        }
        expose_native = api[b"expose_native"]
        with self._lifted():
            for name, (path, func) in natives.items():
                self._host_functions.append((path, host_errors(func)))
                expose_native(name.encode(), path.encode(), len(self._host_functions) - 1)

    # Public API -------------------------------------------------------------------------

    def expose(self, path: str, func: Callable[..., Any]) -> None:
        """Make `func` callable from Lua at a dotted `path` (e.g. ``"qtui.notify"``).

        Lua arguments arrive as plain data, within the value bounds (one budget for all
        arguments of a call; beyond it the Lua call is a violation before `func` runs), as Lua
        passes them: arguments beyond `func`'s parameters are dropped, and too few fail the
        call with a message naming the missing ones; the return value goes back as plain data
        (None for no value). Raise HostError to fail the
        Lua call with its message; other exceptions are logged and Lua sees "internal error".
        """
        segments = self._segments(path)
        with self._entered():
            self._host_functions.append((path, _called_as_lua_calls(func)))
            with self._lifted():
                ok, *problem = self._as_tuple(
                    self._trusted(self._api_expose, self._lua_list(segments), len(self._host_functions) - 1)
                )
            if not ok:
                self._host_functions.pop()
                raise ValueError(f"cannot expose {path}: {_lua_text(problem[0] if problem else None)}")

    def define(self, path: str, value: Any) -> None:
        """Make plain `value` readable from Lua at a dotted `path` (e.g. ``"qtui.json.null"``)."""
        segments = self._segments(path)
        with self._entered():
            box = self._push((value,), path)
            with self._lifted():
                ok, *problem = self._as_tuple(self._trusted(self._api_define, self._lua_list(segments), box))
            if not ok:
                raise ValueError(f"cannot define {path}: {_lua_text(problem[0] if problem else None)}")

    def load(self, source: str, chunkname: str) -> None:
        """Compile `source` (text only) as `chunkname` and run it under the limits."""
        with self._entered():
            self._check_callable()
            self._check_source(source, chunkname)
            self._chunknames.add(chunkname)
            chunk = self._push((source, chunkname), f"main chunk {chunkname}")
            ok, *problem = self._as_tuple(self._run(self._api_run, (chunk,), f"main chunk {chunkname}"))
            if not ok:
                message, file, line, _ = _split_lua_error(_lua_text(problem[0] if problem else None))
                raise PluginError(message, plugin=self.name,
                                  file=self._full_chunkname(file) or chunkname, line=line)

    def call(self, function: str, *args: Any) -> Any:
        """Call the plugin function at dotted path `function` under the limits.

        Arguments must be plain data within the value bounds and fit in the plugin's free
        memory, or the call is a violation (LimitExceeded) and does not happen. Returns the
        function's first result as plain data. Raises PluginError (LimitExceeded for
        violations, PluginQuarantined when quarantined).
        """
        with self._entered():
            self._check_callable()
            target = self._function_id(function)
            if not self._trusted(self._api_defined, target):
                raise PluginError(f"{function} is not a function", plugin=self.name)
            lua_args = self._push(args, f"the arguments of {function}")
            text, *problem = self._as_tuple(self._run(self._api_call, (target, lua_args), function))
            if text is None:
                message = _lua_text(problem[0] if problem else None)
                if len(problem) > 1 and problem[1]:
                    raise self._violation(_Trip(LimitKind.VALUE, f"{function} returned a value over the "
                                                                 f"limits: {message}"), None)
                raise PluginError(f"{function} returned a value the host cannot use: {message}", plugin=self.name)
            return from_lua_text(text)

    def deliver(self, kind: int, value: Any, changed: tuple[int, ...] = (), removed: tuple[str, ...] = (),
                size: Size | None = None) -> None:
        """Give an event to the plugin's `on_event` (if it has one) under the limits.

        `kind` says what `value` is (EVENT_BYTECODE, EVENT_SOURCE: a chunk; EVENT_TABLE: plain
        data). A stats event's rows at the 1-based indices `changed` get ``changed = true``, and
        its ``removed`` lists the names in `removed`. A chunk's value, of `size`, must be within
        the value bounds and fit in the plugin's free memory, or the delivery is a violation
        and does not happen. Raises PluginError as `call` does.
        """
        with self._entered():
            self._check_callable()
            names = [name.encode("utf-8", "replace") for name in removed] if removed else []
            what = "the arguments of on_event"
            if kind == EVENT_TABLE:
                box = self._push((value, *changed, *names), what)
            else:  # a chunk the host made (qtui.plugins.runtime.prepared), materialised in a protected call
                if size is not None and size is not self._size_checked:
                    try:
                        check_size(size, self._bounds)
                    except ConversionError as error:
                        raise self._violation(_Trip(LimitKind.VALUE, f"cannot hand {what} to the plugin: {error}"),
                                              None) from None
                    self._size_checked = size  # the same size comes again with the next snapshot of the queues
                extra = 16 * (len(changed) + len(names)) + (sum(map(len, names)) if names else 0)
                self._make_room(len(value) + (0 if size is None else size.lua_bytes) + extra, what)
                with self._lifted():
                    box = self._runtime.table_from([value, *changed, *names])
            self._run(self._api_deliver, (kind, box, len(changed)), "on_event", room_made=kind != EVENT_TABLE)

    def has_function(self, function: str) -> bool:
        """Whether the plugin defines a function at dotted path `function` (runs no plugin code)."""
        with self._entered():
            return bool(self._trusted(self._api_defined, self._function_id(function)))

    def interrupt(self, reason: str) -> bool:
        """Stop the call in progress (from any thread); False if no call was running.

        The call fails with LimitExceeded(INTERRUPTED) within about a millisecond of Lua
        work, or when a host function it is in returns.
        """
        with self._state_lock:
            if not self._running:
                return False
            self._interrupt_reason = reason or "interrupted"
            return True

    def memory_used(self) -> int:
        """Bytes of Lua heap in use (from any thread)."""
        runtime = self._runtime
        return 0 if runtime is None else runtime.get_memory_used()

    def usage(self) -> SandboxUsage:
        """A snapshot of the counters (from any thread)."""
        return SandboxUsage(
            calls=self._calls,
            instructions=self._instructions,
            busy_seconds=self._busy_seconds,
            cpu_seconds=self._cpu_seconds,
            last_call_instructions=self._last_call_instructions,
            last_call_seconds=self._last_call_seconds,
            last_call_cpu_seconds=self._last_call_cpu_seconds,
            memory_bytes=self.memory_used(),
            violations=self._violation_count,
            quarantined=self._quarantine,
        )

    @property
    def busy(self) -> bool:
        """Whether a load or call is running now (from any thread)."""
        return self._running

    def overdue(self) -> float | None:
        """Seconds the call running now is past the moment it should have stopped (any thread).

        That moment is when its CPU budget could have run out (its start plus the budget), or
        the return of the last host function it called if later; None while no Lua code runs
        or a host function does. The hook stops Lua code within a few milliseconds of CPU time
        past the budget, so a call overdue by more is inside one C function: see
        :meth:`abandon`. A thread the machine is too busy to run is not: the answer is at most
        the CPU time the thread spent since Lua last answered.
        """
        with self._state_lock:
            if not self._running or self._in_host:
                return None
            past = self._monotonic() - self._responsive_until
            if past <= 0 or self._thread_cpu is None:
                return past
            return min(past, self._thread_cpu.seconds() - self._answered_cpu)

    def violation(self, kind: LimitKind, message: str) -> LimitExceeded:
        """Count a violation the host found between calls (a value it cannot hand over, say)."""
        return self._violation(_Trip(kind, visible(message)), None)

    def abandon(self, reason: str) -> None:
        """Give up on the call in progress (any thread, never waits): quarantine the plugin.

        The call's thread may be stuck in C for any time; when it returns, the runtime is
        released and nothing runs in it again.
        """
        with self._state_lock:
            self._quarantine = reason
        log.warning("plugin %s quarantined: %s", self.name, reason)
        self.close()

    @property
    def quarantined(self) -> str | None:
        """Why calls are refused, or None."""
        return self._quarantine

    def lift_quarantine(self) -> None:
        """Accept calls again and forget past violations (an operator's decision)."""
        with self._lock:
            self._quarantine = None
            self._violations.clear()

    def close(self) -> None:
        """Release the runtime; later calls fail with PluginError. Never waits (any thread).

        A call in progress is interrupted, and the runtime is released when it returns.
        """
        with self._state_lock:
            self._closing = True
            if self._running:
                self._interrupt_reason = self._interrupt_reason or "the plugin's sandbox is closing"
            if self._inside:
                return  # the thread inside releases it on its way out
        with self._lock:  # held only in the moments around a call: never long
            self._release()

    # Running plugin code under the limits ----------------------------------------------

    def _entered(self) -> _Entered:
        """Hold the runtime for one public operation; release it on the way out if closing."""
        return _Entered(self)

    def _enter(self) -> None:
        self._lock.acquire()
        with self._state_lock:
            if self._closing or self._closed:
                self._lock.release()
                raise PluginError("the plugin's sandbox is closed", plugin=self.name)
            self._inside += 1

    def _leave(self) -> None:
        try:
            with self._state_lock:
                self._inside -= 1
                release = self._closing and not self._inside
            if release:
                self._release()
        finally:
            self._lock.release()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._runtime = None  # type: ignore[assignment]
        self._api_register = self._api_defined = self._api_call = self._api_run = self._api_expose = None
        self._api_define = self._api_deliver = self._counted = self._instructions_used = None
        self._values = None  # type: ignore[assignment]
        self._trip_box = None

    def _run(self, function: Any, args: Any, what: str, *, room_made: bool = False) -> Any:
        """Call `function(*args)` in Lua under the limits; `room_made`: the caller already left
        the call its reserve of free memory."""
        if self._running:
            raise RuntimeError(f"re-entrant call into plugin {self.name} from a host function")
        if not room_made:
            self._make_room(0, what)
        self._arm()
        failure: str | None = None
        out_of_memory = False
        results: Any = None
        used: int | None = None
        try:
            # counts from zero, calls `function`, returns the instructions it ran and its results
            out = self._counted(function, *args)
            if type(out) is tuple:
                used, results = out[0], (out[1] if len(out) == 2 else out[1:])
            else:
                used = out
        except lua54.LuaMemoryError:
            out_of_memory = True
        except lua54.LuaError as error:
            failure = _lua_error_text(error)
        except MemoryError:
            out_of_memory = True
        except Exception as error:  # a lupa or host-side failure, not the plugin's text
            log.exception("plugin %s: unexpected failure in %s", self.name, what)
            failure = f"internal error in the sandbox ({type(error).__name__})"
        finally:
            trip = self._disarm(used)
        if trip is not None:
            raise self._violation(trip, failure)
        if out_of_memory or (failure is not None and "not enough memory" in failure):
            raise self._violation(_Trip(LimitKind.MEMORY, self._memory_message(what)), failure)
        if failure is not None:
            message, file, line, traceback = _split_lua_error(failure)
            raise PluginError(
                message or "error value is not a string",
                plugin=self.name,
                file=self._full_chunkname(file),
                line=line,
                traceback=traceback,
            )
        return results

    def _arm(self) -> None:
        now = self._monotonic()
        with self._state_lock:
            self._running = True
            self._trip = self._trip_box = None
            self._interrupt_reason = "the plugin's sandbox is closing" if self._closing else None
        self._call_instructions = 0
        self._memory_check_level = self.limits.memory_bytes * _MEMORY_CHECK_SHARE
        self._started = now
        self._deadline = now + self.limits.wall_seconds
        # The hook stops Lua code at the CPU budget; a call past it (in CPU time) is in C.
        self._responsive_until = now + self.limits.cpu_seconds
        self._cpu_started = self._cpu_clock()
        self._cpu_deadline = self._cpu_started + self.limits.cpu_seconds
        self._thread_cpu = cputime.this_thread()
        # One system call fewer when the budget's clock is the thread's own (the default).
        self._answered_cpu = (self._cpu_started if self._cpu_clock is cputime.thread_seconds
                              else self._thread_cpu.seconds())

    def _disarm(self, used: int | None) -> _Trip | None:
        """End the call; `used` is the instructions it ran, None when it failed."""
        elapsed = self._monotonic() - self._started
        cpu = self._cpu_clock() - self._cpu_started
        try:
            self._call_instructions = self._instructions_used() if used is None else used
        except lua54.LuaError:
            pass  # the state is out of memory: keep what the last check counted
        with self._state_lock:
            self._running = False
            trip, self._trip = self._trip, None
            self._trip_box = None
            self._interrupt_reason = None
        self._calls += 1
        self._instructions += self._call_instructions
        self._busy_seconds += elapsed
        self._cpu_seconds += cpu
        self._last_call_instructions = self._call_instructions
        self._last_call_seconds = elapsed
        self._last_call_cpu_seconds = cpu
        return trip

    def _tick(self, used: int, collected: bool = False) -> Any:
        """The host's check, from the count hook now and then (see the prelude).

        `used` is the instructions this call has run; `collected`, that a full collection just
        ran because this check asked for one. Returns None to go on, True to ask for that
        collection, a number to go on looking closer at the heap only above that many KiB, or
        the {message} box of a trip.
        """
        if not self._running:
            return None
        if self._trip is not None:
            return self._trip_box
        self._call_instructions = used
        self._answered_cpu = self._thread_cpu.seconds()
        level = None
        heap = self._runtime.get_memory_used()
        if heap > self._memory_check_level:
            # Near the cap every allocation runs an emergency full collection and the plugin
            # crawls instead of failing. Ask for one collection (a check with `collected`
            # comes after it) and trip if the live heap is still within 5% of the cap.
            if not collected:
                return True
            if heap > self.limits.memory_bytes * _MEMORY_TRIP_SHARE:
                return self._set_trip(LimitKind.MEMORY, self._memory_message("this call"))
            self._memory_check_level = heap + self.limits.memory_bytes // 32
            level = self._memory_check_level / 1024
        if self._interrupt_reason is None and self._cpu_clock() >= self._cpu_deadline:
            return self._set_trip(
                LimitKind.CPU_TIME, f"time limit exceeded ({self.limits.cpu_seconds:g} s of CPU time per call)"
            )
        return self._stopped() or level

    def _stopped(self) -> Any:
        """The {message} box of the trip of an interrupted call or of one past the wall-clock backstop, or None."""
        if self._interrupt_reason is not None:
            return self._set_trip(LimitKind.INTERRUPTED, f"interrupted: {self._interrupt_reason}")
        if self._monotonic() >= self._deadline:
            return self._set_trip(
                LimitKind.WALL_TIME,
                f"time limit exceeded ({self.limits.wall_seconds:g} s of wall-clock time per call)",
            )
        return None

    def _over_budget(self, used: int) -> Any:
        """The count hook found the call past its instruction budget: the trip's {message} box."""
        if not self._running:
            return None
        self._call_instructions = used
        if self._trip is None:
            self._set_trip(
                LimitKind.INSTRUCTIONS, f"instruction limit exceeded ({self.limits.instructions:,} per call)"
            )
        return self._trip_box

    def _set_trip(self, kind: LimitKind, message: str) -> Any:
        """Record a trip (from the call's own thread) and return its {message} box for Lua."""
        message = visible(message)  # a guard's message may quote the plugin's names and keys
        self._trip = _Trip(kind, message)
        self._trip_box = self._box(message)
        return self._trip_box

    def _guard_tripped(self, message: bytes, kind: bytes | None = None) -> None:
        if self._running and self._trip is None:
            self._set_trip(LimitKind.VALUE if kind == b"value" else LimitKind.GUARD,
                           message.decode("utf-8", "replace"))

    def _violation(self, trip: _Trip, failure: str | None) -> LimitExceeded:
        """The error for `trip`, counted as a violation (an interruption, the host's doing, is not)."""
        file = line = traceback = None
        if failure is not None:
            _, file, line, traceback = _split_lua_error(failure)
        error = LimitExceeded(
            trip.kind,
            trip.message,
            plugin=self.name,
            file=self._full_chunkname(file),
            line=line,
            traceback=traceback,
        )
        if trip.kind is LimitKind.INTERRUPTED:
            return error
        now = self._monotonic()
        self._violation_count += 1
        self._violations.append(now)
        while self._violations and now - self._violations[0] > self.policy.window_seconds:
            self._violations.popleft()
        log.warning("%s", error)
        if len(self._violations) >= self.policy.max_violations and self._quarantine is None:
            self._quarantine = (
                f"{len(self._violations)} limit violations within "
                f"{self.policy.window_seconds:g} s; last: {visible(trip.message)}"
            )
            log.warning("plugin %s quarantined: %s", self.name, self._quarantine)
        return error

    def _trusted(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run host-side work that touches the Lua state (no plugin code runs in it)."""
        try:
            return func(*args)
        except MemoryError:  # lupa's LuaMemoryError too: the plugin holds the heap
            raise self._violation(
                _Trip(LimitKind.MEMORY, self._memory_message("host-side work")), None
            ) from None
        except lua54.LuaError as error:
            log.error("plugin %s: sandbox operation failed: %s", self.name, _lua_error_text(error))
            raise PluginError("internal error in the sandbox", plugin=self.name) from None

    def _memory_message(self, what: str) -> str:
        return f"memory limit exceeded ({self.limits.memory_bytes / 2**20:g} MiB) in {what}"

    # Values the host hands to Lua ---------------------------------------------------------

    def _lifted(self) -> _CapLifted:
        """Lift the memory cap while the host builds Lua values it has measured to fit.

        lupa builds them outside any protected call, where a refused allocation aborts the
        process; no Lua code of the plugin runs meanwhile.
        """
        return _CapLifted(self._runtime, self.limits.memory_bytes)

    def _free_memory(self) -> int:
        return self.limits.memory_bytes - self._runtime.get_memory_used()

    def _fits(self, size: int) -> bool:
        """Whether `size` bytes fit under the cap with the reserve to spare (collecting first if not)."""
        if size + _PUSH_RESERVE <= self._free_memory():
            return True
        self._runtime.gccollect()
        return size + _PUSH_RESERVE <= self._free_memory()

    def _make_room(self, size: int, what: str) -> None:
        if not self._fits(size):
            raise self._violation(_Trip(LimitKind.MEMORY, self._no_room_message(size, what)), None)

    def _no_room_message(self, size: int, what: str) -> str:
        return (f"no room for {what} ({_kib(size)}): the plugin has {_kib(max(self._free_memory(), 0))} of its "
                f"{self.limits.memory_bytes / 2**20:g} MiB free")

    def _push(self, args: tuple, what: str) -> Any:
        """`args` as one Lua table {n = count, ...}, measured first; a value that does not fit is a violation."""
        try:
            size = measure(*args, bounds=self._bounds)
        except ConversionError as error:
            raise self._violation(_Trip(LimitKind.VALUE, visible(f"cannot hand {what} to the plugin: {error}")),
                                  None) from None
        self._make_room(size.lua_bytes, what)
        with self._lifted():
            return self._runtime.table_from(
                {b"n": len(args), **{index: self._values.to_lua(arg) for index, arg in enumerate(args, 1)
                                     if arg is not None}}
            )

    def _box(self, *values: bytes | None) -> Any:
        """A Lua list of small strings for a callback to return (built with the cap lifted)."""
        with self._lifted():
            return self._runtime.table_from({index: value for index, value in enumerate(values, 1)
                                             if value is not None})

    def _function_id(self, function: str) -> int:
        target = self._function_ids.get(function)
        if target is None:
            with self._lifted():
                target = self._trusted(self._api_register, self._lua_list(self._segments(function)))
            self._function_ids[function] = target
        return target

    def _lua_list(self, segments: tuple[str, ...]) -> Any:
        return self._runtime.table(*(segment.encode() for segment in segments))

    # Callbacks from Lua (they never raise: see _weak_callback) ---------------------------

    # Only the call's own thread writes these; overdue() reads them from another (a stale read
    # only delays the backstop's next look).

    def _enter_host(self) -> None:
        """Host work inside a call begins: the backstop waits for it (see overdue)."""
        self._in_host += 1

    def _leave_host(self) -> None:
        self._responsive_until = max(self._started + self.limits.cpu_seconds, self._monotonic())
        self._answered_cpu = self._thread_cpu.seconds()
        self._in_host -= 1

    def _dispatch(self, index: int, arguments: bytes | bool, *scalars: Any) -> tuple[int, Any]:
        """A host function call: `arguments` as JSON text, or False and the `scalars` themselves."""
        self._enter_host()
        try:
            return self._dispatch_call(index, arguments, scalars)
        finally:
            self._leave_host()

    def _compute(self, index: int, arguments: bytes | bool, *scalars: Any) -> tuple[int, Any]:
        """A library native's call (see :meth:`_dispatch`): it never waits, so its time is the
        plugin's own work, as if Lua had done it, and the call is no host work to wait for."""
        return self._dispatch_call(index, arguments, scalars)

    def _dispatch_call(self, index: int, arguments: bytes | bool, scalars: tuple) -> tuple[int, Any]:
        path, func = self._host_functions[index]
        if self._trip is not None or self._stopped() is not None:  # a plugin looping over host calls that wait
            return (_FAILED, self._trip_box)
        try:
            if arguments is False:
                result = func(*(value.decode("utf-8", "replace") if type(value) is bytes else value
                                for value in scalars))
            else:
                result = func(*from_lua_text(arguments))
        except HostError as error:
            return (_FAILED, self._box(f"{path}: {error}".encode()))
        except MemoryError:
            return (_FAILED, self._box(b"not enough memory"))
        except Exception:
            log.exception("plugin %s: host function %s failed", self.name, path)
            return (_FAILED, self._box(f"{path}: internal error".encode()))
        kind = type(result)
        if result is None or kind is bool or kind is float or (kind is int and INT64_MIN <= result <= INT64_MAX):
            return (_RETURNED, result)  # pushing these allocates nothing
        try:
            size = measure(result, bounds=self._bounds)
        except ConversionError as error:
            log.error("plugin %s: host function %s returned %s", self.name, path, error)
            return (_FAILED, self._box(f"{path}: internal error".encode()))
        if not self._fits(size.lua_bytes):
            return (_FAILED, self._set_trip(LimitKind.MEMORY, self._no_room_message(size.lua_bytes,
                                                                                    f"{path}'s result")))
        with self._lifted():
            return (_BOXED, self._runtime.table_from([self._values.to_lua(result)]))

    def _resolve(self, raw_name: bytes) -> tuple[bool, Any]:
        """(True, {source, chunk name, "library" if it is qtui's library}) or (False, {message})."""
        self._enter_host()
        try:
            return self._resolve_module(raw_name.decode("utf-8", "replace"))
        finally:
            self._leave_host()

    def _resolve_module(self, name: str) -> tuple[bool, Any]:
        if len(name) > _MAX_MODULE_NAME or not _MODULE_NAME.fullmatch(name):
            return (False, self._box(f"module name {name!r} is not allowed (use letters, digits, '_' "
                                     "and '-' in parts separated by single dots)".encode()))
        library = name.partition(".")[0] == "qtui"
        found = self._library_module(name) if library else self._plugin_module(name)
        if isinstance(found, bytes):
            return (False, self._box(found))
        source, chunkname = found
        encoded = source.encode("utf-8", "replace")
        if len(encoded) > self.limits.source_bytes:
            return (False, self._box(f"module '{name}' is too large ({len(encoded)} bytes, limit "
                                     f"{self.limits.source_bytes})".encode()))
        if not self._fits(len(encoded)):
            return (False, self._box(self._no_room_message(len(encoded), f"module '{name}'").encode()))
        self._chunknames.add(chunkname)
        return (True, self._box(encoded, chunkname.encode("utf-8", "replace"), b"library" if library else None))

    @staticmethod
    def _library_module(name: str) -> tuple[str, str] | bytes:
        source = _LIBRARY.get(name)
        if source is None:
            return (f"module '{name}' not found: names starting with 'qtui.' are qtui's library "
                    f"({', '.join(LIBRARY_MODULES)})").encode()
        return source, f"[qtui]/{name.removeprefix('qtui.')}.lua"

    def _plugin_module(self, name: str) -> tuple[str, str] | bytes:
        if self._resolver is None:
            return f"module '{name}' not found".encode()
        try:
            found = self._resolver(name)
            if found is None:
                return f"module '{name}' not found".encode()
            source, chunkname = found
        except HostError as error:
            return f"cannot load module '{name}': {error}".encode()
        except OSError as error:
            return f"cannot read module '{name}': {error.strerror or error}".encode()
        except Exception:
            log.exception("plugin %s: module resolver failed for %r", self.name, name)
            return f"cannot load module '{name}'".encode()
        return source, chunkname

    def _wall_time(self) -> float:
        """`os.time()` and `os.date()` of plugin code: the clock's wall time."""
        return self._clock.time()

    def _runtime_seconds(self) -> float:
        """`os.clock()` of plugin code: monotonic seconds since the runtime was made."""
        return self._monotonic() - self._born

    def _print(self, line: bytes) -> None:
        text = _clip(line.decode("utf-8", "replace"), _MAX_OUTPUT_LINE)
        self._enter_host()
        try:
            if self._output is None:
                self._plugin_log.info("%s", visible(text))
            else:
                self._output(text)
        except Exception:
            log.exception("plugin %s: output handler failed", self.name)
        finally:
            self._leave_host()

    # Helpers ----------------------------------------------------------------------------

    def _check_source(self, source: str, chunkname: str) -> None:
        try:
            encoded = source.encode("utf-8")
        except UnicodeEncodeError as error:
            raise PluginError(f"source is not valid Unicode ({error.reason})",
                              plugin=self.name, file=chunkname) from None
        if len(encoded) > self.limits.source_bytes:
            raise PluginError(
                f"source is {len(encoded)} bytes; the limit is {self.limits.source_bytes}",
                plugin=self.name, file=chunkname,
            )

    def _full_chunkname(self, file: str | None) -> str | None:
        """Lua shortens long chunk names to "...tail"; map them back to the name we gave."""
        if file is None or not file.startswith("..."):
            return file
        matches = [name for name in self._chunknames if name.endswith(file[3:])]
        return matches[0] if len(matches) == 1 else file

    def _check_callable(self) -> None:
        if self._quarantine is not None:
            raise PluginQuarantined(f"quarantined: {self._quarantine}", plugin=self.name)

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def _segments(path: str) -> tuple[str, ...]:
        if not _PATH.fullmatch(path):
            raise ValueError(f"{path!r} is not a dotted Lua name like 'qtui.notify'")
        return tuple(path.split("."))

    @staticmethod
    def _as_tuple(result: Any) -> tuple:
        return result if isinstance(result, tuple) else (result,)


def _called_as_lua_calls(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` taking arguments as a Lua function does: extra ones dropped, missing ones a HostError."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return func
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return func
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   and p.default is p.empty)
    most = len(positional)

    @functools.wraps(func)
    def call(*arguments: Any) -> Any:
        if len(arguments) > most:
            arguments = arguments[:most]
        elif len(arguments) < required:
            missing = ", ".join(positional[len(arguments):required])
            raise HostError(f"missing argument{'s' if required - len(arguments) > 1 else ''}: {missing}")
        return func(*arguments)

    return call
