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
charged), which the hook asks the host about every hundred thousand instructions or so. A
deadline on the clock's monotonic time, much later, is only a backstop against a call that
blocks. A memory cap covers the whole runtime. Library calls that run
long inside C where no hook can stop them (pattern matching, ``string.rep``, ``table.sort``,
``table.move``, ``table.concat``) are refused up front when their estimated cost exceeds
``Limits.c_steps``. A trip is sticky until the call unwinds, so ``pcall`` cannot swallow it.
Violations are counted; too many within a window quarantine the plugin.

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
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import attrs
from lupa import lua54

from qtui.clock import Clock
from qtui.plugins.bundles.lua_syntax import MAX_SOURCE_BYTES
from qtui.plugins.runtime import jsonvalues, textcells
from qtui.plugins.runtime.values import MAX_DEPTH, ConversionError, PlainValueConverter, lua_type

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
    #: Estimated cost of one uninterruptible library call, in steps of a few nanoseconds.
    c_steps: int = attrs.field(default=50_000_000, validator=_positive)
    #: Largest chunk `load`, `require` or the host will compile.
    source_bytes: int = attrs.field(default=MAX_SOURCE_BYTES, validator=_positive)
    #: Nesting depth of tables crossing between host and plugin.
    max_depth: int = attrs.field(default=MAX_DEPTH, validator=_positive)
    #: Table entries in one value crossing between host and plugin.
    max_items: int = attrs.field(default=100_000, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.memory_bytes < 2**20:
            raise ValueError(f"memory_bytes must be at least 1 MiB, not {self.memory_bytes}")


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
    """A plugin's Lua code failed; `file` and `line` say where when Lua told us."""

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        file: str | None = None,
        line: int | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.plugin = plugin
        self.file = file
        self.line = line
        self.traceback = traceback

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

    @property
    def lua_message(self) -> bytes:
        return self.message.encode("utf-8")


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


def _weak_callback(sandbox: LuaSandbox, method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of `sandbox` for Lua, holding the sandbox weakly.

    The runtime keeps its callbacks alive; strong references would make a cycle, and a
    dropped sandbox would keep its Lua heap until Python's cycle collector ran.
    """
    sandbox_ref = weakref.ref(sandbox)

    def callback(*args: Any) -> Any:
        owner = sandbox_ref()
        return None if owner is None else method(owner, *args)  # Lua only runs in a call

    return callback


def _new_runtime(memory_bytes: int) -> lua54.LuaRuntime:
    return lua54.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        encoding=None,
        max_memory=memory_bytes,
        attribute_handlers=(_refuse_attribute, _refuse_attribute),
    )


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
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        """Create the runtime.

        `clock` times calls (the wall-clock backstop, busy time, the violation window) and is
        what plugin code sees as now (``os.time``, ``os.date``, ``os.clock``). `cpu_clock`
        gives the CPU seconds of the calling thread, for the CPU budget. `resolver` serves
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
        self._resolver = resolver
        self._output = output
        self._plugin_log = logging.getLogger(f"qtui.plugins.{name}")

        self._lock = threading.RLock()  # one load/call at a time
        self._state_lock = threading.Lock()  # `_running` against interrupt()
        self._running = False
        self._trip: _Trip | None = None
        self._interrupt_reason: str | None = None
        self._cpu_clock = cpu_clock
        self._started = self._deadline = self._cpu_started = self._cpu_deadline = 0.0
        self._call_instructions = 0
        self._memory_check_level = 0.0

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
        self._segment_tables: dict[tuple[str, ...], Any] = {}  # dotted path -> Lua list
        self._chunknames: set[str] = set()

        self._runtime = _new_runtime(self.limits.memory_bytes)
        callbacks = {
            name: _weak_callback(self, method)
            for name, method in [
                (b"tick", LuaSandbox._tick),
                (b"over", LuaSandbox._over_budget),
                (b"trip", LuaSandbox._guard_tripped),
                (b"dispatch", LuaSandbox._dispatch),
                (b"resolve", LuaSandbox._resolve),
                (b"output", LuaSandbox._print),
                (b"time", LuaSandbox._wall_time),
                (b"clock", LuaSandbox._runtime_seconds),
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
            }
        )
        api = self._runtime.execute(_PRELUDE_SOURCE, host, name=_PRELUDE_CHUNKNAME, mode="t")
        self._lookup = api[b"lookup"]
        self._counted = api[b"counted"]
        self._instructions_used = api[b"used"]
        self._compile = api[b"compile"]
        self._expose = api[b"expose"]
        self._define = api[b"define"]
        self._deliver = api[b"deliver"]
        self._values = PlainValueConverter(
            self._runtime,
            empty_list=api[b"empty_list"],
            is_empty_list=api[b"is_empty_list"],
            null=api[b"null"],
            is_null=api[b"is_null"],
            max_depth=self.limits.max_depth,
            max_items=self.limits.max_items,
        )

        natives = {
            "json_decode": ("qtui.json.decode", functools.partial(decode_json, self.limits)),
            "text_clean": ("qtui.text.clean", textcells.clean),
            "text_width": ("qtui.text.width", textcells.width),
            "text_fit": ("qtui.text.fit", textcells.fit),
            "text_pad": ("qtui.text.pad", textcells.pad),
        }
        expose_native = api[b"expose_native"]
        for name, (path, func) in natives.items():
            self._host_functions.append((path, host_errors(func)))
            expose_native(name.encode(), len(self._host_functions) - 1)

    # Public API -------------------------------------------------------------------------

    def expose(self, path: str, func: Callable[..., Any]) -> None:
        """Make `func` callable from Lua at a dotted `path` (e.g. ``"qtui.notify"``).

        Lua arguments arrive as plain data; the return value goes back as plain data (None
        for no value). Raise HostError to fail the Lua call with its message; other
        exceptions are logged and Lua sees "internal error".
        """
        segments = self._segments(path)
        with self._lock:
            self._check_open()
            self._host_functions.append((path, func))
            ok, *problem = self._as_tuple(
                self._trusted(self._expose, self._segment_table(segments),
                              len(self._host_functions) - 1)
            )
            if not ok:
                self._host_functions.pop()
                raise ValueError(f"cannot expose {path}: {_lua_text(problem[0] if problem else None)}")

    def define(self, path: str, value: Any) -> None:
        """Make plain `value` readable from Lua at a dotted `path` (e.g. ``"qtui.json.null"``)."""
        segments = self._segments(path)
        with self._lock:
            self._check_open()
            lua_value = self._trusted(self._values.to_lua, value)
            ok, *problem = self._as_tuple(
                self._trusted(self._define, self._segment_table(segments), lua_value)
            )
            if not ok:
                raise ValueError(f"cannot define {path}: {_lua_text(problem[0] if problem else None)}")

    def load(self, source: str, chunkname: str) -> None:
        """Compile `source` (text only) as `chunkname` and run it under the limits."""
        with self._lock:
            self._check_callable()
            chunk = self._compile_chunk(source, chunkname)
            self._run(chunk, (), f"main chunk {chunkname}")

    def call(self, function: str, *args: Any) -> Any:
        """Call the plugin function at dotted path `function` under the limits.

        Arguments must be plain data (else ConversionError). Returns the function's first
        result as plain data. Raises PluginError (LimitExceeded for violations,
        PluginQuarantined when quarantined).
        """
        segments = self._segments(function)
        with self._lock:
            self._check_callable()
            target = self._trusted(self._lookup, self._segment_table(segments))
            if lua54.lua_type(target) != "function":
                raise PluginError(f"{function} is not a function", plugin=self.name)
            lua_args = self._trusted(lambda: [self._values.to_lua(arg) for arg in args])
            results = self._run(target, lua_args, function)
            first = results[0] if isinstance(results, tuple) else results
            try:
                return self._trusted(self._values.to_python, first)
            except ConversionError as error:
                raise PluginError(
                    f"{function} returned a value the host cannot use: {error}", plugin=self.name
                ) from None

    def deliver(self, kind: int, value: Any, changed: tuple[int, ...] = (), removed: tuple[str, ...] = ()) -> None:
        """Give an event to the plugin's `on_event` (if it has one) under the limits.

        `kind` says what `value` is (EVENT_BYTECODE, EVENT_SOURCE: a chunk; EVENT_TABLE: plain
        data). A stats event's rows at the 1-based indices `changed` get ``changed = true``, and
        its ``removed`` lists the names in `removed`. Raises PluginError as `call` does.
        """
        with self._lock:
            self._check_callable()
            if kind == EVENT_TABLE:
                try:
                    value = self._trusted(self._values.to_lua, value)
                except ConversionError as error:
                    raise PluginError(f"an event could not be handed to the plugin: {error}",
                                      plugin=self.name) from None
            names = tuple(name.encode("utf-8", "replace") for name in removed)
            self._run(self._deliver, (kind, value, len(changed), *changed, *names), "on_event")

    def has_function(self, function: str) -> bool:
        """Whether the plugin defines a function at dotted path `function` (runs no plugin code)."""
        segments = self._segments(function)
        with self._lock:
            self._check_open()
            target = self._trusted(self._lookup, self._segment_table(segments))
            return lua54.lua_type(target) == "function"

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
        """Release the runtime; later calls fail with PluginError."""
        with self._lock:
            self._closed = True
            self._runtime = None  # type: ignore[assignment]
            self._lookup = self._compile = self._expose = self._define = self._deliver = None
            self._counted = self._instructions_used = None
            self._values = None  # type: ignore[assignment]

    # Running plugin code under the limits ----------------------------------------------

    def _run(self, function: Any, args: Any, what: str) -> Any:
        if self._running:
            raise RuntimeError(f"re-entrant call into plugin {self.name} from a host function")
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
            self._trip = None
            self._interrupt_reason = None
        self._call_instructions = 0
        self._memory_check_level = self.limits.memory_bytes * _MEMORY_CHECK_SHARE
        self._started = now
        self._deadline = now + self.limits.wall_seconds
        self._cpu_started = self._cpu_clock()
        self._cpu_deadline = self._cpu_started + self.limits.cpu_seconds

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
            self._interrupt_reason = None
        self._calls += 1
        self._instructions += self._call_instructions
        self._busy_seconds += elapsed
        self._cpu_seconds += cpu
        self._last_call_instructions = self._call_instructions
        self._last_call_seconds = elapsed
        self._last_call_cpu_seconds = cpu
        return trip

    def _tick(self, used: int, collected: bool = False) -> bytes | bool | float | None:
        """The host's check, from the count hook now and then (see the prelude).

        `used` is the instructions this call has run; `collected`, that a full collection just
        ran because this check asked for one. Returns None to go on, True to ask for that
        collection, a number to go on looking closer at the heap only above that many KiB, or
        the message of a trip.
        """
        if not self._running:
            return None
        if self._trip is not None:
            return self._trip.lua_message
        self._call_instructions = used
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

    def _stopped(self) -> bytes | None:
        """The trip of an interrupted call or of one past the wall-clock backstop, or None."""
        if self._interrupt_reason is not None:
            return self._set_trip(LimitKind.INTERRUPTED, f"interrupted: {self._interrupt_reason}")
        if self._monotonic() >= self._deadline:
            return self._set_trip(
                LimitKind.WALL_TIME,
                f"time limit exceeded ({self.limits.wall_seconds:g} s of wall-clock time per call)",
            )
        return None

    def _over_budget(self, used: int) -> bytes | None:
        """The count hook found the call past its instruction budget."""
        if not self._running:
            return None
        self._call_instructions = used
        if self._trip is None:
            self._set_trip(
                LimitKind.INSTRUCTIONS, f"instruction limit exceeded ({self.limits.instructions:,} per call)"
            )
        return self._trip.lua_message

    def _set_trip(self, kind: LimitKind, message: str) -> bytes:
        self._trip = _Trip(kind, message)
        return self._trip.lua_message

    def _guard_tripped(self, message: bytes) -> None:
        if self._running and self._trip is None:
            self._trip = _Trip(LimitKind.GUARD, message.decode("utf-8", "replace"))

    def _violation(self, trip: _Trip, failure: str | None) -> LimitExceeded:
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
        now = self._monotonic()
        self._violation_count += 1
        self._violations.append(now)
        while self._violations and now - self._violations[0] > self.policy.window_seconds:
            self._violations.popleft()
        log.warning("%s", error)
        if len(self._violations) >= self.policy.max_violations and self._quarantine is None:
            self._quarantine = (
                f"{len(self._violations)} limit violations within "
                f"{self.policy.window_seconds:g} s; last: {trip.message}"
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


    # Callbacks from Lua (they must never raise) -------------------------------------------

    def _dispatch(self, index: int, *args: Any) -> tuple:
        path, func = self._host_functions[index]
        if self._trip is not None or self._stopped() is not None:  # a plugin looping over host calls that wait
            return (False, self._trip.lua_message)
        try:
            plain_args = []
            for position, arg in enumerate(args, 1):
                try:
                    plain_args.append(self._values.to_python(arg))
                except ConversionError as error:
                    return (False, f"{path}: bad argument #{position}: {error}".encode())
            result = func(*plain_args)
        except HostError as error:
            return (False, f"{path}: {error}".encode())
        except MemoryError:
            return (False, b"not enough memory")
        except Exception:
            log.exception("plugin %s: host function %s failed", self.name, path)
            return (False, f"{path}: internal error".encode())
        try:
            converted = self._values.to_lua(result)
        except ConversionError as error:
            log.error("plugin %s: host function %s returned %s", self.name, path, error)
            return (False, f"{path}: internal error".encode())
        except MemoryError:
            return (False, b"not enough memory")
        return (True, converted)  # nil too: `tostring(qtui.storage.get("missing"))` must see a value

    def _resolve(self, raw_name: bytes) -> tuple[bytes | None, bytes, bool]:
        """(source, chunk name, whether it is qtui's library) or (None, message, False)."""
        name = raw_name.decode("utf-8", "replace")
        if len(name) > _MAX_MODULE_NAME or not _MODULE_NAME.fullmatch(name):
            return (None, f"module name {name!r} is not allowed (use letters, digits, '_' "
                          "and '-' in parts separated by single dots)".encode(), False)
        library = name.partition(".")[0] == "qtui"
        found = self._library_module(name) if library else self._plugin_module(name)
        if isinstance(found, bytes):
            return (None, found, False)
        source, chunkname = found
        encoded = source.encode("utf-8", "replace")
        if len(encoded) > self.limits.source_bytes:
            return (None, f"module '{name}' is too large ({len(encoded)} bytes, limit "
                          f"{self.limits.source_bytes})".encode(), False)
        self._chunknames.add(chunkname)
        return (encoded, chunkname.encode("utf-8", "replace"), library)

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
        if self._output is None:
            self._plugin_log.info("%s", text)
            return
        try:
            self._output(text)
        except Exception:
            log.exception("plugin %s: output handler failed", self.name)

    # Helpers ----------------------------------------------------------------------------

    def _compile_chunk(self, source: str, chunkname: str) -> Any:
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
        self._chunknames.add(chunkname)
        compiled = self._as_tuple(
            self._trusted(self._compile, encoded, b"@" + chunkname.encode())
        )
        chunk = compiled[0]
        if chunk is None:
            message, file, line, _ = _split_lua_error(_lua_text(compiled[1]))
            raise PluginError(message, plugin=self.name,
                              file=self._full_chunkname(file) or chunkname, line=line)
        return chunk

    def _full_chunkname(self, file: str | None) -> str | None:
        """Lua shortens long chunk names to "...tail"; map them back to the name we gave."""
        if file is None or not file.startswith("..."):
            return file
        matches = [name for name in self._chunknames if name.endswith(file[3:])]
        return matches[0] if len(matches) == 1 else file

    def _check_open(self) -> None:
        if self._closed:
            raise PluginError("the plugin's sandbox is closed", plugin=self.name)

    def _check_callable(self) -> None:
        self._check_open()
        if self._quarantine is not None:
            raise PluginQuarantined(f"quarantined: {self._quarantine}", plugin=self.name)

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def _segments(path: str) -> tuple[str, ...]:
        if not _PATH.fullmatch(path):
            raise ValueError(f"{path!r} is not a dotted Lua name like 'qtui.notify'")
        return tuple(path.split("."))

    def _segment_table(self, segments: tuple[str, ...]) -> Any:
        table = self._segment_tables.get(segments)
        if table is None:
            table = self._runtime.table(*(segment.encode() for segment in segments))
            self._segment_tables[segments] = table
        return table

    @staticmethod
    def _as_tuple(result: Any) -> tuple:
        return result if isinstance(result, tuple) else (result,)
