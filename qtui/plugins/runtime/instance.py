"""One loaded plugin on the worker-thread side: its sandbox and the host API (1.1) bound to it.

Host functions run in the plugin's worker thread while its Lua code runs. They
check capabilities, validate arguments and record *effects* (render, notify,
timers, requests, ...) that the host applies on the trio side after the call,
so Lua never touches the event loop or the console directly.

Everything the host keeps for a plugin is bounded and counted in :class:`HostBytes`: its
last render (MAX_RENDER_BYTES), its log (LOG_BYTES) and its bus messages still waiting for
listeners (MESSAGE_BYTES_WAITING). Logs, prints and notifications are rate limited; a flood
is summed up in one "N suppressed" line. Plugin text is hostile: whatever reaches the screen
or the log goes through the same sanitiser as job data.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import attrs

from qtui.backends.base import DEFAULT_COUNT_SCAN, MAX_COUNT_SCAN
from qtui.backends.payload_fields import field_keys
from qtui.clock import Clock
from qtui.model import InvalidInput, JobState, check_queue_name
from qtui.plugins.bundles.bundle import Bundle
from qtui.plugins.bundles.capabilities import Capability, bus_capability
from qtui.plugins.bundles.manifest import COMMAND_NAME, MAX_COMMANDS, PANEL_MAX_ROWS, Manifest
from qtui.plugins.runtime import api, jsonvalues, textcells
from qtui.plugins.runtime.events import MAIN_PANEL
from qtui.plugins.runtime.prepared import PreparedEvent, stats_changes
from qtui.plugins.runtime.sandbox import (
    EVENT_TABLE,
    HostError,
    Limits,
    LuaSandbox,
    PluginError,
    decode_json,
    host_errors,
)
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.runtime.storage import PluginStorage, StorageError
from qtui.plugins.runtime.values import JSON_NULL, Bounds, ConversionError, lua_type, measure
from qtui.plugins.trust.audit import AuditError, Auditor, Outcome, Reason, Ticket
from qtui.plugins.trust.permissions import Grants
from qtui.ratelimit import RateLimit
from qtui.sanitize import visible

log = logging.getLogger(__name__)

MAX_LINES = 1000
MAX_SPANS = 200
_SPAN_KEYS = frozenset({"text", "style"})
_STYLES = frozenset(api.STYLES)
MAX_TEXT = 2000
#: A whole render: text bytes (UTF-8) and terminal cells (a wide character takes two).
MAX_RENDER_BYTES = 64 * 1024
MAX_RENDER_CELLS = 32 * 1024
MAX_TIMERS = 32
MIN_INTERVAL = 0.1
#: The longest a plugin may ask to go without stats in which only time passed (qtui.unchanged_stats).
MAX_UNCHANGED_STATS = 3600
MAX_TOPIC = 200
LOG_LINES = 500
#: Bytes of log lines kept for the console (the oldest lines go first).
LOG_BYTES = 64 * 1024
#: Log lines (print too) a plugin may write: this many a second on average, in bursts of LOG_BURST.
LOG_RATE = 50
LOG_BURST = 200
#: Notifications a plugin may show: one every NOTIFY_SECONDS on average, in bursts of NOTIFY_BURST.
NOTIFY_SECONDS = 2
NOTIFY_BURST = 5
#: Text bytes of one bus message's data.
MAX_MESSAGE_BYTES = 256 * 1024
#: Bytes of a plugin's messages the host holds until every listener took them.
MESSAGE_BYTES_WAITING = 1024 * 1024
#: A message reaches listeners inside a 'message' event: one level and a few entries more.
MESSAGE_WRAPPING = 1
#: Panels a plugin may open besides its main one.
MAX_PANELS = 8
#: The largest file qtui.asset hands over.
MAX_ASSET_BYTES = 256 * 1024
#: The most job ids one qtui.jobs.requeue may name.
MAX_IDS = 10_000
_TOPIC = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")


class UseFailed(HostError):
    """A granted use with good arguments that failed (e.g. storage is full): audited as failed."""


# -- effects recorded during a call ---------------------------------------------------


@attrs.frozen
class Span:
    text: str
    style: str = "normal"


@attrs.frozen
class Render:
    lines: tuple[tuple[Span, ...], ...]
    panel: str = MAIN_PANEL
    size: int = 0  # text bytes of all spans


@attrs.frozen
class OpenPanel:
    name: str
    title: str
    rows: int | None


@attrs.frozen
class ClosePanel:
    name: str


@attrs.frozen
class Notify:
    text: str
    level: str


@attrs.frozen
class SetTimer:
    name: str
    seconds: float
    repeat: bool


@attrs.frozen
class CancelTimer:
    name: str


@attrs.frozen
class RegisterCommand:
    name: str
    help: str


@attrs.frozen
class Publish:
    topic: str
    data: Any
    size: int = 0  # bytes counted in HostBytes.messages until every listener took it

@attrs.frozen
class Request:
    """An admin action the plugin asked for; `capability` was granted when it asked.

    `ticket` is its audit record: the host writes what became of it there.
    """

    id: int
    action: str
    capability: Capability
    args: Mapping[str, Any]
    ticket: Ticket


Effect = Render | OpenPanel | ClosePanel | Notify | SetTimer | CancelTimer | RegisterCommand | Publish | Request


@attrs.define
class HostBytes:
    """Bytes the host keeps for one plugin; each kind has its cap, all go when it stops."""

    panel: int = 0  # the last render (at most MAX_RENDER_BYTES)
    log: int = 0  # log lines kept for the console (at most LOG_BYTES)
    messages: int = 0  # published messages not yet taken by every listener (MESSAGE_BYTES_WAITING)

    @property
    def total(self) -> int:
        return self.panel + self.log + self.messages


def _modules(bundle: Bundle) -> Callable[[str], tuple[str, str] | None]:
    """`require("a.b")` loads a/b.lua (or a/b/init.lua) from the plugin's own files only."""

    def resolve(name: str) -> tuple[str, str] | None:
        base = PurePosixPath(*name.split("."))
        for candidate in (f"{base}.lua", f"{base}/init.lua"):
            data = bundle.files.get(candidate)
            if data is not None:
                return data.decode("utf-8", errors="replace"), candidate
        return None

    return resolve


def _listing(files: Mapping[str, bytes], most: int = 10) -> str:
    names = sorted(files)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _has_null_in_list(value: Any) -> bool:
    if isinstance(value, list):
        return any(item is None or _has_null_in_list(item) for item in value)
    if isinstance(value, dict):
        return any(_has_null_in_list(item) for item in value.values())
    return False


#: The values of the API's constants (api.CONSTANTS), by name.
_CONSTANT_VALUES: dict[str, Any] = {"json.null": JSON_NULL}


#: The wall-clock backstop of a plugin call: this many times its CPU-time budget, and at least
#: BACKSTOP_SECONDS (a loaded machine may give a plugin's thread a small share of a core).
BACKSTOP_FACTOR = 10
BACKSTOP_SECONDS = 5.0


def sandbox_limits(manifest: Manifest) -> Limits:
    """The sandbox limits a manifest asks for (already checked against the host maxima)."""
    return Limits(
        memory_bytes=manifest.limits.memory_bytes,
        instructions=manifest.limits.instructions_per_call,
        cpu_seconds=manifest.limits.cpu_ms_per_call / 1000,
        wall_seconds=max(BACKSTOP_FACTOR * manifest.limits.cpu_ms_per_call / 1000, BACKSTOP_SECONDS),
    )


class PluginRuntime:
    """A plugin's sandbox with the v1 host API exposed; used from one worker thread at a time."""

    def __init__(
        self,
        manifest: Manifest,
        bundle: Bundle,
        grants: Grants,
        *,
        settings: Mapping[str, Any],
        storage: PluginStorage,
        auditor: Auditor,
        clock: Clock,
        max_payload_bytes: int | None = None,
        settings_store: SettingsStore | None = None,
        on_flood: Callable[[], None] | None = None,
    ) -> None:
        """`on_flood()` is called (from any thread) when a flood of logs or notices begins."""
        self.manifest = manifest
        self.bundle = bundle
        self.grants = grants
        self.settings = dict(settings)
        self._storage = storage
        self._settings_store = settings_store or SettingsStore()
        self._auditor = auditor
        self.subscriptions: set[str] = set()
        #: Stats in which only time passed reach the plugin at most this often, in seconds of
        #: taken_at (qtui.unchanged_stats); the host reads it on the trio side.
        self.unchanged_stats_every = 0.0
        #: Counts the plugin's subscriptions to stats: what the host last offered it belongs to one.
        self.stats_subscription = 0
        #: The host's (trio side): the subscription, the stats event it last offered and that
        #: event's stats_state when it was worked out.
        self.stats_offered: tuple[int, Any, tuple | None] | None = None
        self.listening: set[str] = set()
        self.log_lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.log_count = 0  # lines ever logged, to notice new ones
        self.kept = HostBytes()
        self._max_payload_bytes = max_payload_bytes
        self._log_limit = RateLimit(LOG_RATE, LOG_BURST, clock=clock.monotonic, on_flood=on_flood)
        self._notify_limit = RateLimit(1 / NOTIFY_SECONDS, NOTIFY_BURST, clock=clock.monotonic, on_flood=on_flood)
        self._log = logging.getLogger(f"qtui.plugins.{manifest.name}")
        self._effects: list[Effect] = []
        # each panel's lines as last rendered: as the plugin gave them, and as shown
        self._rendered: dict[str, tuple[list, tuple[tuple[Span, ...], ...]]] = {}
        self._timers: set[str] = set()
        self._commands: set[str] = set()
        self._panels: set[str] = set()  # opened with qtui.panel.open
        self._next_request = 1
        self._halted = False
        self._last_stats: PreparedEvent | None = None  # the stats event the plugin received last
        self._lock = threading.Lock()
        self.sandbox = LuaSandbox(
            manifest.name, clock=clock, limits=sandbox_limits(manifest), resolver=_modules(bundle),
            output=self._print,
        )
        limits = self.sandbox.limits
        self._message_bounds = Bounds(limits.max_depth - MESSAGE_WRAPPING, limits.max_items, MAX_MESSAGE_BYTES)
        for spec in api.FUNCTIONS:
            self.sandbox.expose(spec.lua_name, getattr(self, "api_" + spec.name.replace(".", "_")))
        for alias in api.ALIASES:
            self.sandbox.expose(alias.lua_name, self._shim(alias))
        for constant in api.CONSTANTS:
            self.sandbox.define(constant.lua_name, _CONSTANT_VALUES[constant.name])
        if manifest.commands and grants.check(Capability.COMMANDS).allowed:
            for command in manifest.commands:  # registered as if the plugin called qtui.command
                self._commands.add(command.name)
                self._effects.append(RegisterCommand(command.name, command.help))

    # -- running plugin code (worker thread) ---------------------------------------------

    def load(self) -> None:
        """Run the entry file's main chunk."""
        entry = self.manifest.entry
        source = self.bundle.files.get(entry)
        if source is None:  # the file went away, or the bundle leaves it out: never a KeyError
            raise PluginError("the entry file is not among the plugin's files", plugin=self.manifest.name,
                              file=entry)
        self.sandbox.load(source.decode("utf-8", errors="replace"), entry)

    def call(self, function: str, *args: Any) -> Any:
        """Call a plugin function if it defines it; PluginError on failure."""
        if not self.sandbox.has_function(function):
            return None
        return self.sandbox.call(function, *args)

    def deliver(self, events: Sequence[PreparedEvent], stop: Callable[[], bool] = lambda: False) -> list[PluginError]:
        """Give each event to on_event, in order, until `stop()` says so or the plugin is halted.

        Errors are collected; a quarantine stops the batch. A stats event tells the plugin
        what changed since the stats it received before.
        """
        errors: list[PluginError] = []
        for prepared in events:
            if self._halted or stop():
                break
            changed: tuple[int, ...] = ()
            removed: tuple[str, ...] = ()
            if prepared.rows is not None:
                changed, removed = stats_changes(self._last_stats, prepared)
                self._last_stats = prepared
            value = prepared.plain if prepared.kind == EVENT_TABLE else prepared.chunk
            try:
                self.sandbox.deliver(prepared.kind, value, changed, removed, size=prepared.size)
            except PluginError as error:
                errors.append(error)
                if self.sandbox.quarantined:
                    break
        return errors

    def halt(self, reason: str) -> None:
        """Stop the call in progress and the rest of its batch (any thread, never waits)."""
        self._halted = True
        self.sandbox.interrupt(reason)

    @property
    def has_effects(self) -> bool:
        """Whether effects were recorded since the last take (from any thread)."""
        return bool(self._effects)

    def take_effects(self) -> list[Effect]:
        """The effects recorded since the last take (called after a call returned)."""
        with self._lock:
            effects, self._effects = self._effects, []
        return effects

    @property
    def flooding(self) -> bool:
        """Whether a flood of logs or notices waits to be summed up."""
        return bool(self._log_limit.refused or self._notify_limit.refused)

    def settle_floods(self) -> Notify | None:
        """Sum up floods of logs and notices that have ended (any thread, between calls or not).

        The log's summary line is written here; the notices' is returned for the host to show.
        """
        missed = self._log_limit.settle()
        if missed:
            self._keep_log_line("warning", self._suppressed_logs(missed))
        missed = self._notify_limit.settle()
        return Notify(self._suppressed_notices(missed), "warning") if missed else None

    @staticmethod
    def _suppressed_notices(missed: int) -> str:
        return f"{missed} notifications suppressed"

    def message_taken(self, size: int) -> None:
        """Every listener took a message of `size` bytes this plugin published (any thread)."""
        with self._lock:
            self.kept.messages = max(0, self.kept.messages - size)

    def close(self) -> None:
        self.sandbox.close()

    # -- helpers --------------------------------------------------------------------

    def _shim(self, alias: api.Alias) -> Callable[..., Any]:
        """The deprecated call `alias.old`: warns in the plugin's log once, then calls the new one."""
        target = getattr(self, "api_" + alias.new.replace(".", "_"))
        warned = False

        def shim(*args: Any) -> Any:
            nonlocal warned
            if not warned:
                warned = True
                note = f" ({alias.note})" if alias.note else ""
                self._write_log("warning", f"qtui.{alias.old} is deprecated since API {alias.since}: "
                                           f"use qtui.{alias.new}{note}")
            return target(*args)

        return shim

    def _emit(self, effect: Effect) -> None:
        with self._lock:
            self._effects.append(effect)

    def _print(self, line: str) -> None:
        self._write_log("info", line)

    def _write_log(self, level: str, text: str) -> None:
        go, missed = self._log_limit.admit()
        if missed:
            self._keep_log_line("warning", self._suppressed_logs(missed))
        if go:
            self._keep_log_line(level, text)

    @staticmethod
    def _suppressed_logs(missed: int) -> str:
        return f"{missed} log lines suppressed (more than {LOG_RATE} a second)"

    def _keep_log_line(self, level: str, text: str, *, to_log: bool = True) -> None:
        """Keep a line (sanitised, cut) for the console, within LOG_BYTES, and log it to qtui's log."""
        line = visible(text)[:MAX_TEXT]
        entry = f"{level}: {line}"
        with self._lock:
            if len(self.log_lines) == self.log_lines.maxlen:
                self.kept.log -= len(self.log_lines[0])
            self.log_lines.append(entry)
            self.kept.log += len(entry)
            while self.kept.log > LOG_BYTES and len(self.log_lines) > 1:
                self.kept.log -= len(self.log_lines.popleft())
            self.log_count += 1
        if to_log:
            self._log.log(logging.getLevelName(level.upper()), "%s", line)

    def log_error(self, text: str) -> None:
        """An error the host reports about the plugin (and logs itself), kept with its log lines."""
        self._keep_log_line("error", text, to_log=False)

    def _gate(self, capability: Capability, what: str) -> Ticket:
        """Open the audit record of a use of `capability`; HostError (audited) unless it is granted.

        A granted use that changes queues must be recorded: if the log cannot be written, the
        use is refused.
        """
        effective = self.grants.check(capability)
        # Lua sees "qtui.notify: refused: ..."; a detail beyond the function name stays in.
        subject = "" if what.startswith("qtui.") else f"{what} "
        name, version = self.manifest.name, str(self.manifest.version)
        if not effective.allowed:
            ticket = self._auditor.request(name, version, capability, what)
            self._auditor.outcome(ticket, Outcome.REFUSED, reason=Reason.of(effective.verdict),
                                  detail=effective.reason)
            raise HostError(f"{subject}refused: capability {capability} is {effective.verdict} ({effective.reason})")
        try:
            return self._auditor.request(name, version, capability, what, essential=capability.changes_queues)
        except AuditError as exc:
            raise HostError(f"{subject}refused: it cannot be audited ({exc})") from None

    @contextlib.contextmanager
    def _use(self, capability: Capability, what: str) -> Iterator[Ticket]:
        """Audit one synchronous use of `capability`: refused, done, failed, or bad arguments."""
        ticket = self._gate(capability, what)
        try:
            yield ticket
        except UseFailed as exc:
            self._close(ticket, Outcome.FAILED, detail=str(exc))
            raise
        except HostError as exc:
            self._close(ticket, Outcome.REFUSED, reason=Reason.BAD_ARGUMENTS, detail=str(exc))
            raise
        self._close(ticket, Outcome.DONE)

    def _close(self, ticket: Ticket, outcome: Outcome, **fields: Any) -> None:
        try:
            self._auditor.outcome(ticket, outcome, **fields)
        except AuditError:
            pass  # it happened either way; the console shows the audit failure

    def _request(self, action: str, capability: Capability, arguments: Callable[[], Mapping[str, Any]]) -> int:
        """Ask the host for an admin action: checked and audited now, carried out (or not) by the host."""
        ticket = self._gate(capability, f"qtui.jobs.{action}")
        try:
            args = arguments()
        except HostError as exc:
            self._close(ticket, Outcome.REFUSED, reason=Reason.BAD_ARGUMENTS, detail=str(exc))
            raise
        with self._lock:
            request_id = self._next_request
            self._next_request += 1
            self._effects.append(Request(request_id, action, capability, dict(args), ticket))
        return request_id

    @staticmethod
    def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
        if not isinstance(value, str):
            raise HostError(f"{what} must be a string, not {lua_type(value)}")
        if len(value) > limit:
            raise HostError(f"{what} is longer than {limit} characters")
        return value

    # -- the API v1 functions (names follow qtui.plugins.runtime.api.FUNCTIONS) ------------------

    def api_subscribe(self, *types: Any) -> None:
        specs = [self._event_spec(name) for name in types]
        with contextlib.ExitStack() as uses:  # one use per gated type; a refusal subscribes to none
            for spec in specs:
                if spec.capability is not None:
                    uses.enter_context(self._use(spec.capability, f"subscribe to {spec.type}"))
            self.subscriptions.update(types)
        if "stats" in types:
            self.stats_subscription += 1

    def api_unsubscribe(self, *types: Any) -> None:
        for name in types:
            self._event_spec(name)
        self.subscriptions.difference_update(types)

    def api_unchanged_stats(self, seconds: Any) -> None:
        if (not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds != seconds
                or not 0 <= seconds <= MAX_UNCHANGED_STATS):
            raise HostError(f"seconds must be a number from 0 to {MAX_UNCHANGED_STATS}")
        self.unchanged_stats_every = float(seconds)

    @staticmethod
    def _event_spec(name: Any) -> api.EventSpec:
        subscribable = [e.type for e in api.EVENTS if e.subscribable]
        if name not in subscribable:
            raise HostError(f"cannot subscribe to {name!r} (events: {', '.join(subscribable)})")
        return api.event(name)

    def api_render(self, lines: Any, panel: Any = None) -> None:
        if not isinstance(lines, list):
            raise HostError("render takes a list of lines")
        if len(lines) > MAX_LINES:
            raise HostError(f"render takes at most {MAX_LINES} lines")
        panel = MAIN_PANEL if panel is None else panel
        if panel != MAIN_PANEL and panel not in self._panels:
            raise HostError(f"no panel {self._text(panel, 'panel', 100)!r} is open ({self._open_panels()})")
        last = self._rendered.get(panel)
        if last is not None and last[0] == lines:  # the very lines it rendered last: nothing to check or redraw
            return
        rendered = tuple(self._line(line, n) for n, line in enumerate(lines, 1))
        texts = [span.text for line in rendered for span in line]
        size = sum(len(text.encode("utf-8", "replace")) for text in texts)
        if size > MAX_RENDER_BYTES:
            raise HostError(f"render takes at most {MAX_RENDER_BYTES} bytes of text in all, not {size}")
        shown = sum(textcells.cells(text) for text in texts)
        if shown > MAX_RENDER_CELLS:
            raise HostError(f"render takes at most {MAX_RENDER_CELLS} cells of text in all, not {shown}")
        self._rendered[panel] = (lines, rendered)
        if last is None or rendered != last[1]:  # the same lines again (a refresh that changed nothing) cost no redraw
            self._emit(Render(rendered, panel, size))

    def _open_panels(self) -> str:
        return "open: " + ", ".join([MAIN_PANEL, *sorted(self._panels)])

    def _line(self, line: Any, number: int) -> tuple[Span, ...]:
        if isinstance(line, str):
            return (Span(visible(self._text(line, f"line {number}")),),)
        if not isinstance(line, list):
            raise HostError(f"line {number} must be a string or a list of spans")
        if len(line) > MAX_SPANS:
            raise HostError(f"line {number} has more than {MAX_SPANS} spans")
        return tuple(self._span(span, number) for span in line)

    def _span(self, span: Any, number: int) -> Span:
        if isinstance(span, str):
            text, style, what = span, "normal", "line"
        elif isinstance(span, dict) and _SPAN_KEYS.issuperset(span):
            text, style, what = span.get("text", ""), span.get("style", "normal"), "line text"
            if type(style) is not str or style not in _STYLES:
                raise HostError(f"line {number}: unknown style {style!r} (styles: {', '.join(api.STYLES)})")
        else:
            raise HostError(f"line {number}: a span is a string or {{text=, style=}}")
        if type(text) is not str or len(text) > MAX_TEXT:  # an error: its label is made only then
            text = self._text(text, what.replace("line", f"line {number}"))
        return Span(visible(text), style)

    def api_notify(self, text: Any, level: Any = None) -> None:
        with self._use(Capability.NOTIFY, "qtui.notify"):
            level = level or "info"
            if level not in ("info", "warning", "error"):
                raise HostError("notify level must be info, warning or error")
            text = visible(self._text(text, "notify text", 500))
            go, missed = self._notify_limit.admit()
            if missed:
                self._emit(Notify(self._suppressed_notices(missed), "warning"))
            if go:
                self._emit(Notify(text, level))

    def api_log(self, level: Any, text: Any) -> None:
        if level not in api.LEVELS:
            raise HostError(f"log level must be one of {', '.join(api.LEVELS)}")
        self._write_log(level, self._text(text, "log text"))

    def _timer(self, name: Any, seconds: Any, repeat: bool) -> None:
        with self._use(Capability.TIMERS, "qtui.every" if repeat else "qtui.after"):
            name = self._text(name, "timer name", 100)
            if not isinstance(seconds, (int, float)) or seconds != seconds or seconds < MIN_INTERVAL:
                raise HostError(f"timer interval must be a number of at least {MIN_INTERVAL} seconds")
            if name not in self._timers and len(self._timers) >= MAX_TIMERS:
                raise HostError(f"at most {MAX_TIMERS} timers")
            self._timers.add(name)
            self._emit(SetTimer(name, float(seconds), repeat))

    def api_every(self, name: Any, seconds: Any) -> None:
        self._timer(name, seconds, True)

    def api_after(self, name: Any, seconds: Any) -> None:
        self._timer(name, seconds, False)

    def api_cancel(self, name: Any) -> None:
        with self._use(Capability.TIMERS, "qtui.cancel"):
            self._timers.discard(name)
            self._emit(CancelTimer(self._text(name, "timer name", 100)))

    def api_command(self, name: Any, help: Any) -> None:  # noqa: A002 - the API's parameter name
        with self._use(Capability.COMMANDS, "qtui.command"):
            if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name):
                raise HostError("command name must be lowercase letters, digits and -, starting with a letter")
            if name not in self._commands and len(self._commands) >= MAX_COMMANDS:
                raise HostError(f"at most {MAX_COMMANDS} commands")
            self._commands.add(name)
            self._emit(RegisterCommand(name, visible(self._text(help, "command help", 200))))

    def api_setting(self, name: Any) -> Any:
        if self.manifest.setting(name) is None:
            declared = ", ".join(s.name for s in self.manifest.settings) or "none"
            raise HostError(f"no setting {name!r} in the manifest (declared: {declared})")
        return self.settings.get(name)

    def api_settings(self) -> dict[str, Any]:
        return dict(self.settings)

    def api_update_settings(self, changes: Any) -> dict[str, Any]:
        if changes == []:
            changes = {}
        if not isinstance(changes, dict):
            raise HostError("update_settings takes a table of setting names and values")
        for name in changes:
            if self.manifest.setting(name) is None:
                declared = ", ".join(s.name for s in self.manifest.settings) or "none"
                raise HostError(f"no setting {str(name)[:100]!r} in the manifest (declared: {declared})")
        try:
            values = self._settings_store.save(self.manifest, changes)
        except ValueError as exc:
            raise HostError(str(exc)) from None
        except OSError as exc:
            raise HostError(f"the settings could not be saved: {exc.strerror or exc}") from None
        self.settings = dict(values)
        shown = ", ".join(f"{name}={changes[name]!r}" for name in sorted(changes))
        self._write_log("info", f"settings changed by the plugin: {shown or 'nothing'}")
        return dict(values)

    def api_asset(self, path: Any) -> str:
        path = self._text(path, "asset path", 255)
        parts = PurePosixPath(path).parts
        if not parts or PurePosixPath(path).is_absolute() or ".." in parts or "\\" in path:
            raise HostError(f"{path!r} must be a relative path inside the plugin folder, without '..'")
        data = self.bundle.files.get(str(PurePosixPath(*parts)))
        if data is None:
            raise HostError(f"no file {path!r} in the plugin (files: {_listing(self.bundle.files)})")
        if len(data) > MAX_ASSET_BYTES:
            raise HostError(f"{path} has {len(data)} bytes, more than the {MAX_ASSET_BYTES} an asset may have")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HostError(f"{path} is not UTF-8 text (byte {exc.start + 1})") from None

    def api_panel_open(self, name: Any, options: Any = None) -> None:
        name = self._panel_name(name)
        options = {} if options in (None, []) else options
        if not isinstance(options, dict) or set(options) - {"title", "rows"}:
            raise HostError("panel.open takes a name and optionally {title=, rows=}")
        title = visible(self._text(options.get("title", name), "panel title", 80))
        rows = options.get("rows")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int)
                                 or not 1 <= rows <= PANEL_MAX_ROWS):
            raise HostError(f"panel rows must be a whole number from 1 to {PANEL_MAX_ROWS}")
        if name not in self._panels and len(self._panels) >= MAX_PANELS:
            raise HostError(f"at most {MAX_PANELS} panels besides {MAIN_PANEL} ({self._open_panels()})")
        self._panels.add(name)
        self._emit(OpenPanel(name, title, rows))

    def api_panel_close(self, name: Any) -> None:
        name = self._panel_name(name)
        if name not in self._panels:
            raise HostError(f"no panel {name!r} is open ({self._open_panels()})")
        self._panels.discard(name)
        self._rendered.pop(name, None)
        self._emit(ClosePanel(name))

    def _panel_name(self, name: Any) -> str:
        if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name):
            raise HostError("a panel name is lowercase letters, digits and -, starting with a letter (at most 40)")
        if name == MAIN_PANEL:
            raise HostError(f"{MAIN_PANEL} is the plugin's own panel: it is always open")
        return name

    def api_storage_get(self, key: Any) -> Any:
        with self._use(Capability.STORAGE, "qtui.storage.get"):
            try:
                value = self._storage.get(self._text(key, "storage key", 200))
            except StorageError as exc:
                raise UseFailed(str(exc)) from None
            if _has_null_in_list(value):  # a hand-edited file: Lua lists cannot hold nil
                raise HostError(f"the stored value of {key!r} has null inside a list, which Lua cannot hold; "
                                "store it again")
        return value

    def api_storage_set(self, key: Any, value: Any = None) -> None:
        with self._use(Capability.STORAGE, "qtui.storage.set"):
            try:
                self._storage.set(self._text(key, "storage key", 200), value)
            except StorageError as exc:
                raise UseFailed(f"storage.set: {exc}") from None
            except (ValueError, TypeError) as exc:
                raise HostError(f"storage.set: {exc}") from None

    def api_storage_keys(self) -> list[str]:
        with self._use(Capability.STORAGE, "qtui.storage.keys"):
            try:
                keys = self._storage.keys()
            except StorageError as exc:
                raise UseFailed(str(exc)) from None
        return keys

    def _topic(self, topic: Any) -> str:
        topic = self._text(topic, "topic", MAX_TOPIC)
        if not _TOPIC.fullmatch(topic):
            raise HostError("a topic is dot-separated words of letters, digits, _ and -")
        return topic

    def _bus_use(self, capability: Capability | None, what: str) -> contextlib.AbstractContextManager[Any]:
        """The audited use of a bus capability; nothing to audit on the plugin's own topics."""
        return contextlib.nullcontext() if capability is None else self._use(capability, what)

    def api_publish(self, topic: Any, data: Any = None) -> None:
        topic = self._topic(topic)
        with self._bus_use(bus_capability(self.manifest.name, topic, publish=True), f"publish to {topic}"):
            # Refused here, for the sender, rather than for each listener it would not fit.
            try:
                size = measure(data, bounds=self._message_bounds).bytes + len(topic)
            except ConversionError as error:
                raise HostError(f"message data cannot be sent: {error}") from None
            with self._lock:
                if self.kept.messages + size > MESSAGE_BYTES_WAITING:
                    raise HostError(f"{self.kept.messages} bytes of this plugin's messages are still waiting for "
                                    f"listeners; a {size}-byte message would pass the limit of "
                                    f"{MESSAGE_BYTES_WAITING}")
                self.kept.messages += size
                self._effects.append(Publish(topic, data, size))

    def api_listen(self, prefix: Any) -> None:
        prefix = self._topic(prefix)
        with self._bus_use(bus_capability(self.manifest.name, prefix, publish=False), f"listen to {prefix}"):
            self.listening.add(prefix)

    def api_jobs_peek(self, query: Any) -> int:
        def arguments() -> dict[str, Any]:
            if not isinstance(query, dict):
                raise HostError("jobs.peek takes a table {queue=, state=, text=, cursor=, limit=}")
            unknown = set(query) - {"queue", "state", "text", "cursor", "limit"}
            if unknown:
                raise HostError(f"jobs.peek: unknown field {sorted(unknown)[0]!r}")
            queue = query.get("queue")
            args = {
                "queue": None if queue in (None, "all") else self._queue(queue),
                "state": self._state(query.get("state", "ready")),
                "text": self._text(query["text"], "text", 200) if query.get("text") else None,
                "cursor": self._text(query["cursor"], "cursor", 200) if query.get("cursor") else None,
                "limit": query.get("limit", 50),
            }
            if not isinstance(args["limit"], int) or not 1 <= args["limit"] <= 500:
                raise HostError("jobs.peek: limit must be a whole number from 1 to 500")
            return args

        return self._request("peek", Capability.JOBS_PEEK, arguments)

    def api_jobs_find(self, job_id: Any) -> int:
        return self._request("find", Capability.JOBS_PEEK, lambda: {"id": self._text(job_id, "job id", 200)})

    def api_jobs_enqueue(self, queue: Any, payload: Any) -> int:
        def arguments() -> dict[str, Any]:
            try:
                text = json.dumps(payload, allow_nan=False)
            except (TypeError, ValueError):
                raise HostError("jobs.enqueue: the payload must be plain data") from None
            size = len(text.encode("utf-8"))
            if self._max_payload_bytes is not None and size > self._max_payload_bytes:
                raise HostError(f"the payload is {size} bytes as JSON; the queue takes at most "
                                f"{self._max_payload_bytes}")
            return {"queue": self._queue(queue), "payload": text}

        return self._request("enqueue", Capability.JOBS_ENQUEUE, arguments)

    def api_jobs_requeue(self, selection: Any) -> int:
        def arguments() -> dict[str, Any]:
            if not isinstance(selection, dict) or set(selection) - {"ids", "queue", "text", "to"}:
                raise HostError("jobs.requeue takes {ids=} or {queue=, text=}, and optionally to=")
            ids = selection.get("ids")
            if ids is not None:
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_IDS:
                    raise HostError(f"jobs.requeue: ids must be a list of at most {MAX_IDS} job id strings")
                if "queue" in selection or "text" in selection:
                    raise HostError("jobs.requeue: give ids, or queue/text, not both")
            return {
                "ids": ids,
                "queue": self._queue(selection["queue"]) if selection.get("queue") else None,
                "text": self._text(selection["text"], "text", 200) if selection.get("text") else None,
                "to": self._queue(selection["to"]) if selection.get("to") else None,
            }

        return self._request("requeue", Capability.JOBS_REQUEUE, arguments)

    def api_jobs_purge(self, queue: Any, state: Any) -> int:
        return self._request("purge", Capability.JOBS_PURGE, lambda: {
            "queue": None if queue == "all" else self._queue(queue), "state": self._state(state)})

    def api_jobs_oldest(self, query: Any = None) -> int:
        def arguments() -> dict[str, Any]:
            found = self._query(query, "jobs.oldest", ("queue", "state"))
            queue = found.get("queue")
            return {"queue": None if queue in (None, "all") else self._queue(queue),
                    "state": self._state(found.get("state", "ready"))}

        return self._request("oldest", Capability.JOBS_PEEK, arguments)

    def api_jobs_count_by(self, query: Any) -> int:
        def arguments() -> dict[str, Any]:
            found = self._query(query, "jobs.count_by", ("queue", "state", "field", "older_than", "limit"))
            queue = found.get("queue")
            field = found.get("field")
            if not isinstance(field, str):
                raise HostError("jobs.count_by: field must be a string, e.g. 'tenant'")
            try:
                field_keys(field)
            except InvalidInput as exc:
                raise HostError(str(exc)) from None
            older_than = found.get("older_than")
            if older_than is not None and (isinstance(older_than, bool) or not isinstance(older_than, (int, float))
                                           or older_than != older_than):
                raise HostError("jobs.count_by: older_than must be a Unix time")
            limit = found.get("limit", DEFAULT_COUNT_SCAN)
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_COUNT_SCAN:
                raise HostError(f"jobs.count_by: limit must be a whole number from 1 to {MAX_COUNT_SCAN}")
            return {"queue": None if queue in (None, "all") else self._queue(queue),
                    "state": self._state(found.get("state", "ready")), "field": field,
                    "older_than": None if older_than is None else float(older_than), "limit": limit}

        return self._request("count_by", Capability.JOBS_PEEK, arguments)

    @staticmethod
    def _query(query: Any, what: str, fields: tuple[str, ...]) -> dict[str, Any]:
        if query is None:
            query = {}
        if not isinstance(query, dict):
            raise HostError(f"{what} takes a table {{{'=, '.join(fields)}=}}")
        unknown = set(query) - set(fields)
        if unknown:
            raise HostError(f"{what}: unknown field {sorted(map(str, unknown))[0]!r}")
        return query

    # -- API 1.1: JSON and text, computed by the host --------------------------------------

    def api_json_decode(self, text: Any) -> Any:
        return decode_json(self.sandbox.limits, text)

    def api_json_encode(self, value: Any = None) -> str:
        try:
            return jsonvalues.encode(value)
        except jsonvalues.JSONValueError as exc:
            raise HostError(str(exc)) from None

    def api_text_width(self, value: Any = None) -> int:
        return host_errors(textcells.width)(value)

    def api_text_fit(self, value: Any = None, columns: Any = None) -> str:
        return host_errors(textcells.fit)(value, columns)

    def api_text_pad(self, value: Any = None, columns: Any = None, align: Any = None) -> str:
        return host_errors(textcells.pad)(value, columns, "left" if align is None else align)

    def api_text_columns(self, cells: Any, widths: Any, width: Any = None, style: Any = None) -> list[Any]:
        return host_errors(textcells.lua_columns)(cells, widths, width, style)

    @staticmethod
    def _queue(name: Any) -> str:
        try:
            return check_queue_name(name)
        except InvalidInput as exc:
            raise HostError(str(exc)) from None

    @staticmethod
    def _state(name: Any) -> str:
        if not isinstance(name, str):
            raise HostError("state must be a string")
        try:
            return JobState.parse(name).value
        except InvalidInput as exc:
            raise HostError(str(exc)) from None
