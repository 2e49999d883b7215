"""The plugin host: loads plugins, gates them by permission, feeds them events, applies their effects.

Each plugin gets its own sandboxed runtime, its own mailbox on the console's event bus and
a trio task in the host's nursery for its timers. Events are prepared once for every plugin
that receives them (qtui.plugins.runtime.prepared) and handed to Lua by a few worker threads
(qtui.plugins.runtime.delivery): one at a time per plugin, as many plugins in parallel as
there are CPU cores, so a slow or runaway plugin never blocks the console or the other
plugins, and a busy plugin gets the newest stats, not a backlog. Nothing waits on a plugin's
thread past the call's budget: a call stuck inside one C function is abandoned (the plugin is
quarantined, its runtime released when the thread returns and its worker replaced), and
stopping, reloading and quitting never wait more than STOP_SECONDS for a plugin's code.
Anything that fails in a plugin's thread, conversions of events and results included, is
that plugin's error. Everything a plugin does to the world goes through effects the host
applies here, on the trio side: panel content, notices, timers, commands, bus messages and
admin requests (which are checked, confirmed when destructive, and audited).

The host's clock dates panels, timer events and audit entries and is what plugin code sees
as now; timers and the stale marker wait on the trio run's clock.
"""

from __future__ import annotations

import collections
import ctypes
import datetime
import enum
import functools
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio

from qtui.backends.base import Backend
from qtui.bus import EventBus, Listener
from qtui.clock import Clock, utc_now
from qtui.events import ConsoleKey, Event, Notice, SelectionChanged, StatsUpdated
from qtui.model import BackendError, InvalidInput
from qtui.plugins.bundles.bundle import BundleError, read_bundle
from qtui.plugins.bundles.capabilities import Capability, bus_capability
from qtui.plugins.bundles.check import check_folder
from qtui.plugins.bundles.discovery import Plugin
from qtui.plugins.bundles.manifest import Manifest
from qtui.plugins.runtime import actions
from qtui.plugins.runtime import instance as rt
from qtui.plugins.runtime.delivery import DeliveryPool, Mailbox
from qtui.plugins.runtime.events import (
    EVENT_TYPES,
    MAIN_PANEL,
    ActionResult,
    CommandInvoked,
    KeyPressed,
    MouseClicked,
    PanelResized,
    PluginLifecycle,
    PluginMessage,
    Replayed,
    SettingsChanged,
    TimerFired,
    to_plain,
)
from qtui.plugins.runtime.prepared import Offer, stats_state
from qtui.plugins.runtime.sandbox import LimitExceeded, LimitKind, PluginError
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.runtime.storage import PluginStorage
from qtui.plugins.runtime.values import ConversionError, measure
from qtui.plugins.trust import live
from qtui.plugins.trust.audit import (
    AuditError,
    AuditFilter,
    AuditLog,
    Auditor,
    Outcome,
    Reason,
    Ticket,
)
from qtui.plugins.trust.permissions import Effective, Grants, PermissionsFileError, PermissionStore, Verdict
from qtui.plugins.trust.policy import SitePolicy, load_policy
from qtui.plugins.trust.review import GrantedCopies, Review, review
from qtui.plugins.trust.scope import MAX_PERIOD, RateLedger
from qtui.ratelimit import RateLimit
from qtui.sanitize import visible

log = logging.getLogger(__name__)

# glibc keeps memory freed by worker threads (a big job page converted, a plugin's runtime) in
# their arenas; malloc_trim gives the free pages back to the system. Elsewhere: nothing to do.
_LIBC = ctypes.CDLL(None)
_malloc_trim = getattr(_LIBC, "malloc_trim", None)


def _detached(error: PluginError) -> PluginError:
    """`error` to keep, without its traceback and the exceptions behind it: their frames hold
    the Lua function called, and so the plugin's whole runtime, long after the plugin stopped."""
    error.__context__ = error.__cause__ = None
    return error.with_traceback(None)


def _stuck_reason(overdue: float) -> str:
    """Why a call overdue by `overdue` seconds of its thread's CPU time is abandoned."""
    return f"stuck in one library call {overdue * 1000:.0f} ms past its deadline; the call was abandoned"


def _give_back_free_memory() -> None:
    """Return the process's free heap pages to the system (after a plugin's memory went)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


#: Events a plugin may receive from the console's bus.
BUS_EVENTS = (StatsUpdated, SelectionChanged, PluginMessage, PluginLifecycle, ConsoleKey)
#: Events waiting per plugin that do not coalesce; past that they are dropped and counted.
CHANNEL_CAPACITY = 64
#: A call still running this long after it should have stopped, in its thread's CPU time, is
#: inside one C function the hook cannot interrupt (the hook stops Lua code within about a
#: millisecond of its CPU budget): it is abandoned.
BACKSTOP_GRACE = 0.04
#: How long stopping, reloading or quitting waits for a plugin's code (its deactivate, or
#: the batch it is in); past it the code is interrupted and its state not kept.
STOP_SECONDS = 0.08
_BACKSTOP_POLL = 0.01
#: How often floods that have ended are summed up (logs, notices, confirmation prompts).
SETTLE_SECONDS = 1.0
#: Confirmation prompts a plugin may cause: one every CONFIRM_SECONDS on average, in bursts of
#: CONFIRM_BURST; more are declined without asking, and summed up in one notice.
CONFIRM_SECONDS = 10
CONFIRM_BURST = 3

#: Hosts whose run() is going, for `all_idle`.
_RUNNING: weakref.WeakSet[PluginHost] = weakref.WeakSet()


@attrs.frozen
class Confirmation:
    """What the operator is asked to confirm: a destructive action on these jobs."""

    capability: Capability
    target: actions.Target  # the jobs it touches: their exact number and the first ids

    @property
    def summary(self) -> str:
        """E.g. "requeue 71 dead jobs on webhooks to their own queues"."""
        return self.target.summary

    @property
    def count(self) -> int | None:
        return self.target.count

    @property
    def first_ids(self) -> tuple[str, ...]:
        return self.target.first_ids

    def __str__(self) -> str:
        return self.target.describe()


#: Asks the operator to confirm a destructive plugin action -> yes? (Cancelled: the question is withdrawn.)
Confirmer = Callable[["PluginHandle", Confirmation], Awaitable[bool]]


class _Refused(Exception):
    """A request that does not go ahead, and why (audited with `reason`)."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message

    @property
    def answer(self) -> str:
        """The error the plugin's action event carries."""
        return f"refused: {self.message}"


class _Declined(Exception):
    """The operator said no."""

    def __init__(self, target: actions.Target) -> None:
        super().__init__(target.summary)
        self.target = target


class PluginState(enum.StrEnum):
    WAITING = "waiting for permission"
    STARTING = "starting"
    RUNNING = "running"
    ERRORED = "errored"
    QUARANTINED = "quarantined"
    STOPPED = "stopped"


@attrs.define(eq=False)
class Panel:
    """A panel a plugin opened at run time (qtui.panel.open), besides its main one."""

    title: str
    rows: int | None = None  # preferred height
    lines: tuple[tuple[rt.Span, ...], ...] = ()
    at: float | None = None  # when it was last drawn
    size: tuple[int, int] | None = None  # columns and rows the console last drew it at


@attrs.define(eq=False)
class PluginHandle:
    """A plugin as the host and the console see it."""

    plugin: Plugin
    state: PluginState = PluginState.STOPPED
    reason: str | None = None  # why it is errored, quarantined or waiting
    error: PluginError | None = None  # the latest error, with file:line when Lua told us
    errors: int = 0
    panel: tuple[tuple[rt.Span, ...], ...] = ()
    panel_at: float | None = None
    stale: bool = False  # the plugin has been busy for a while: its panel shows an older frame
    logs_seen: int = 0  # log lines already announced with PanelUpdated
    panel_size: tuple[int, int] | None = None  # columns and rows the console last drew the panel at
    commands: dict[str, str] = attrs.field(factory=dict)
    panels: dict[str, Panel] = attrs.field(factory=dict)  # opened at run time, by name, in order
    runtime: rt.PluginRuntime | None = None
    grants: Grants | None = None
    code_hash: str | None = None  # the bundle hash the grants and the runtime belong to
    mailbox: Mailbox | None = None  # events waiting for the plugin's Lua
    listener: Listener | None = None  # what brings the bus's events to the mailbox
    scope: trio.CancelScope | None = None
    timer_nursery: trio.Nursery | None = None
    timers: dict[str, trio.CancelScope] = attrs.field(factory=dict)
    limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(1))
    stopped: trio.Event = attrs.field(factory=trio.Event)
    kept_state: Any = None  # what deactivate last handed over, for the next start of the plugin
    kept_log: list[str] = attrs.field(factory=list)  # the log of a runtime that was closed
    drained: trio.Event = attrs.field(factory=trio.Event)  # the last batch ended after the mailbox closed
    #: Confirmations being asked, by audit request id: the capability and the scope to withdraw them.
    confirming: dict[str, tuple[Capability, trio.CancelScope]] = attrs.field(factory=dict)
    prompts: RateLimit = attrs.field(kw_only=True)  # confirmation prompts the plugin may raise
    # Whether `grants` allow each capability asked about (Grants are immutable; this is asked
    # for every event and plugin): the grants they belong to, and the answers.
    _allowed_by: Grants | None = attrs.field(default=None, init=False)
    _allowed: dict[Capability, bool] = attrs.field(factory=dict, init=False)

    @property
    def name(self) -> str:
        return self.plugin.manifest.name

    def allows(self, capability: Capability) -> bool:
        """Whether the plugin's grants let it use `capability` now (False without grants)."""
        grants = self.grants
        if grants is None:
            return False
        if self._allowed_by is not grants:
            self._allowed_by, self._allowed = grants, {}
        allowed = self._allowed.get(capability)
        if allowed is None:
            allowed = self._allowed[capability] = grants.check(capability).allowed
        return allowed

    @property
    def manifest(self) -> Manifest:
        return self.plugin.manifest

    @property
    def log_lines(self) -> list[str]:
        """The plugin's log: of its runtime, or of the last one when it stopped or failed to start."""
        return list(self.runtime.log_lines) if self.runtime else list(self.kept_log)

    def log_error(self, text: str) -> None:
        """Add an error of the host's about the plugin to its log (sanitised like the plugin's lines)."""
        if self.runtime is not None:
            self.runtime.log_error(text)
        else:
            self.kept_log = [*self.kept_log, f"error: {visible(text)[:rt.MAX_TEXT]}"][-rt.LOG_LINES:]

    def close_runtime(self) -> None:
        """Close the runtime, keeping its log."""
        if self.runtime is not None:
            self.kept_log = list(self.runtime.log_lines)
            self.runtime.close()
            self.runtime = None

    def where(self) -> str:
        """The latest error as 'file:line: message', for panels and logs."""
        return str(self.error) if self.error else (self.reason or "")


@attrs.frozen
class PanelUpdated(Event):
    """A plugin's panel content or state changed (for the console)."""

    coalesce_key = None
    plugin: str


class PluginHost:
    """Runs plugins inside a trio nursery; see the module docstring."""

    def __init__(
        self,
        backend: Backend,
        bus: EventBus,
        *,
        clock: Clock,
        store: PermissionStore | None = None,
        policy: SitePolicy | None = None,
        audit: AuditLog | None = None,
        settings: SettingsStore | None = None,
        storage_dir: Path | None = None,
        confirmer: Confirmer | None = None,
        copies: GrantedCopies | None = None,
    ) -> None:
        self.backend = backend
        self.bus = bus
        self.clock = clock
        self.store = store or PermissionStore()
        self.policy = policy
        self._policy_given = policy is not None
        self.audit = audit or AuditLog()
        self.auditor = Auditor(self.audit, clock=clock)
        self.ledger = RateLedger()  # jobs used under each rate-bounded grant
        # One request at a time per plugin and capability, so a burst is held to a rate one by one.
        self._request_locks: collections.defaultdict[tuple[str, Capability], trio.Lock] = (
            collections.defaultdict(trio.Lock))
        self._audit_failure: str | None = None
        self.settings = settings or SettingsStore()
        self.copies = copies or GrantedCopies()  # the code last granted, for reviewing changes
        self.storage_dir = storage_dir  # None: the default, $XDG_DATA_HOME/qtui/plugin-data
        self._confirmer = confirmer
        self.plugins: dict[str, PluginHandle] = {}
        #: Called with the jobs each successful peek or find returned (a recording keeps them).
        self.on_read: Callable[[list[dict[str, Any]]], None] | None = None
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        #: Events offered to plugins and requests started so far (from the trio side): what
        #: changes while the host is not settled (see activity()).
        self.activity = 0
        self._flooding = trio.Event()  # set when a flood (logs, notices, prompts) begins
        self._pool = DeliveryPool(on_stale=self._stale_from_thread, on_idle=self._idle_from_thread,
                                  on_running=self._stuck_from_thread)
        self._idle = trio.Event()
        self._last_offer: Offer | None = None  # the offer every plugin gets for the event being published
        self._stats_state: tuple[Event, tuple] | None = None  # the newest stats event and its stats_state
        self._latest: dict[type[Event], Event] = {}  # the newest stats and selection, for new plugins
        # Published messages not yet taken by every listener: id -> [message, sender, size, listeners left]
        self._waiting: dict[int, list[Any]] = {}
        self._waiting_lock = threading.Lock()  # workers take messages too

    # -- running ---------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host plugins until cancelled; plugin tasks live in this nursery."""
        self._token = trio.lowlevel.current_trio_token()
        self._pool.start()
        _RUNNING.add(self)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                # Kept as they are published (a listener: no task to wake for each event).
                latest = self.bus.listen("plugin host", (StatsUpdated, SelectionChanged), self._keep_latest)
                nursery.start_soon(self._settle_floods_forever)
                task_status.started()
                try:
                    await trio.sleep_forever()
                finally:
                    self.bus.unsubscribe(latest)
                    # Stopping: a batch a worker finishes from now on starts nothing here (its
                    # callback may run after this nursery has closed).
                    self._nursery = None
        finally:
            for handle in self.plugins.values():
                if handle.mailbox is not None:
                    handle.mailbox.close(lambda: None)
                if handle.runtime is not None:
                    handle.runtime.sandbox.interrupt("qtui is shutting down")
                    handle.runtime.close()
            self._pool.stop()
            _RUNNING.discard(self)
            self.auditor.flush()

    def _keep_latest(self, event: Event) -> bool:
        """The newest stats and selection, for plugins that start later."""
        self._latest[type(event)] = event
        return True

    async def idle(self) -> None:
        """Wait until no event waits for a plugin and no plugin is handling one (in this trio run).

        What the workers handed to the trio side before (a batch's effects) has been applied by
        then: the wake-up comes through the same queue, after it.
        """
        while True:
            self._idle = trio.Event()
            self._pool.want_idle()
            await self._idle.wait()
            if not self._pool.busy:
                return

    def _policy(self) -> SitePolicy:
        if self.policy is None:
            try:
                self.policy = load_policy()
            except Exception as exc:  # an unreadable policy forbids everything, visibly
                log.error("site policy: %s", exc)
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.bus.publish(Notice(f"site policy unreadable, every plugin capability is forbidden: {first}",
                                        "error"))
                self.policy = SitePolicy.forbidding_everything(None)
        return self.policy

    # -- starting and stopping ---------------------------------------------------------

    async def start(self, plugin: Plugin, *, handoff: Any = None) -> PluginHandle:
        """Load and activate `plugin`, or leave it waiting for the operator's permission decision.

        Its activate receives `handoff`, or else what its deactivate handed over when the host
        last stopped it (a restart for a permission decision, a disable and enable), so state
        survives every restart the host causes; it is kept while the plugin cannot start.
        """
        previous = self.plugins.get(plugin.manifest.name)
        if handoff is None and previous is not None:
            handoff = previous.kept_state
        handle = PluginHandle(plugin, kept_state=handoff, prompts=self._prompt_limit())
        self.plugins[plugin.manifest.name] = handle
        runtime = self._prepare(handle)
        if runtime is None:
            return handle
        self._set_state(handle, PluginState.STARTING)
        try:
            await self._in_thread(handle, runtime.load)
            await self._in_thread(handle, runtime.call, "activate", self._context(handle, handoff))
        except PluginError as error:
            self._discard(handle)
            self._failed(handle, error, fatal=True)
            return handle
        handle.kept_state = None
        await self._launch(handle)
        return handle

    async def reload(self, plugin: Plugin, *, carry_decisions: bool = False) -> PluginHandle:
        """Replace a running plugin with new code; if the new code fails, the old keeps running.

        The new code is loaded in a new runtime first; then the old plugin's deactivate()
        runs and its result is handed to the new activate(). If that activate fails, the
        old plugin is activated again with the same state. With `carry_decisions` (a
        plugin author's own folder), decisions of the previous code carry over when the
        requested capabilities did not change.
        """
        old = self.plugins.get(plugin.manifest.name)
        if old is None or old.state is not PluginState.RUNNING or old.runtime is None:
            if old is not None:
                await self.stop(old.name)
            if carry_decisions:
                self.carry_decisions(plugin)
            return await self.start(plugin)
        if carry_decisions:
            self.carry_decisions(plugin)
        broken = await trio.to_thread.run_sync(_compile_errors, plugin, abandon_on_cancel=True)
        if broken:  # say what is wrong before asking anyone to approve new code
            self._keep_old(old, broken[0])
            return old
        new = PluginHandle(plugin, prompts=self._prompt_limit())
        runtime = self._prepare(new)
        if runtime is None:  # waiting for a decision or unreadable: the old one keeps running
            old.error = PluginError(new.reason or "cannot load the new version", plugin=old.name)
            self.bus.publish(PanelUpdated(old.name))
            self.plugins[old.name] = old
            return new
        try:
            await self._in_thread(new, runtime.load)
        except PluginError as error:
            self._discard(new)
            self._keep_old(old, error)
            return old
        handoff = await self._deactivate(old)
        try:
            await self._in_thread(new, runtime.call, "activate", self._context(new, handoff))
        except PluginError as error:
            self._discard(new)
            try:
                await self._in_thread(old, old.runtime.call, "activate", self._context(old, handoff))
            except PluginError as again:
                self._failed(old, again, fatal=True)
            self._apply_effects(old)  # what the old code drew or started when it came back
            self._keep_old(old, error)
            return old
        await self._halt(old)
        old.close_runtime()
        self._release_memory()
        new.panel_size = old.panel_size  # the new code learns its panel size at once
        await self._launch(new)
        return new

    def _keep_old(self, old: PluginHandle, error: PluginError) -> None:
        self.plugins[old.name] = old
        old.error = _detached(error)
        old.errors += 1
        if old.runtime is not None:
            old.log_error(f"reload failed: {error}")
        log.warning("reload of %s failed, the previous code keeps running: %s", old.name, visible(str(error)))
        self.bus.publish(PanelUpdated(old.name))

    def carry_decisions(self, plugin: Plugin) -> None:
        """Apply the latest decision of this plugin to new code asking for the same capabilities."""
        code_hash = read_bundle(plugin.folder).hash
        pending = self.store.pending(plugin.manifest, code_hash)
        previous = pending.previous
        if not pending.undecided or previous is None or pending.added:
            return
        requested = set(plugin.manifest.permissions)
        self.store.decide(plugin.manifest, code_hash,
                          grant=tuple(requested & previous.granted), deny=tuple(requested & previous.denied),
                          confirm={c: False for c in requested & previous.no_confirm}, now=utc_now(self.clock))

    def _prepare(self, handle: PluginHandle) -> rt.PluginRuntime | None:
        """A runtime for the plugin, or None with the handle errored or waiting for permission."""
        plugin = handle.plugin
        try:
            bundle = read_bundle(plugin.folder)
            grants = self.store.grants(plugin.manifest, bundle.hash, self._policy())
        except (BundleError, PermissionsFileError) as exc:
            self._set_state(handle, PluginState.ERRORED, str(exc))
            return None
        handle.grants, handle.code_hash = grants, bundle.hash
        undecided = [e.capability for e in grants.all() if e.verdict is Verdict.UNDECIDED]
        if undecided:
            names = ", ".join(c.value for c in undecided)
            self._set_state(handle, PluginState.WAITING, f"needs a decision on: {names}")
            return None
        values, problems = self.settings.values(plugin.manifest)
        for problem in problems:
            log.warning("%s", problem)
        handle.runtime = rt.PluginRuntime(
            plugin.manifest, bundle, grants, settings=values,
            storage=PluginStorage(plugin.manifest.name, self.storage_dir), auditor=self.auditor,
            clock=self.clock, settings_store=self.settings, max_payload_bytes=self.backend.max_payload_bytes,
            on_flood=self._flood_began,
        )
        # Listen before plugin code runs, so nothing published meanwhile is missed; the mailbox
        # keeps it until the plugin is launched.
        handle.mailbox = Mailbox(handle.name, lambda batch: self._run_batch(handle, batch), capacity=CHANNEL_CAPACITY,
                                 owner=(handle, weakref.ref(handle.runtime)))
        handle.listener = self.bus.listen(
            f"plugin {handle.name}", BUS_EVENTS, lambda event: self._from_bus(handle, event),
            accept=lambda event: self._wants(handle, event),
        )
        return handle.runtime

    def _context(self, handle: PluginHandle, handoff: Any) -> dict[str, Any]:
        assert handle.runtime is not None and handle.grants is not None
        return {
            "name": handle.name,
            "version": str(handle.manifest.version),
            "api": rt.api.HOST_API_VERSION,
            "settings": dict(handle.runtime.settings),
            "granted": [e.capability.value for e in handle.grants.all() if e.allowed],
            "state": handoff,
        }

    def _discard(self, handle: PluginHandle) -> None:
        """Throw away a runtime that never ran (its load or activate failed)."""
        self._stop_listening(handle)
        handle.close_runtime()

    async def _launch(self, handle: PluginHandle) -> None:
        """Start delivering events to an activated plugin, the latest stats and selection first."""
        self.plugins[handle.name] = handle
        assert self._nursery is not None, "PluginHost.run() is not running"
        await self._nursery.start(self._serve, handle)
        self._apply_effects(handle)  # before it counts as running: its commands exist by then
        self._set_state(handle, PluginState.RUNNING)
        if handle.panel_size is not None:
            self._deliver(handle, PanelResized(*handle.panel_size))
        for event in self._latest.values():
            if handle.listener is not None and handle.listener.wants(event):
                self._deliver(handle, event)
        if handle.mailbox is not None:
            self._pool.open(handle.mailbox)

    async def _halt(self, handle: PluginHandle) -> None:
        """Stop delivering events to a plugin (its timers stop too).

        A batch running is interrupted; this waits for it at most STOP_SECONDS (a call stuck in
        C is left to the backstop, and its runtime is released when it returns).
        """
        if self._stop_listening(handle) and handle.runtime is not None:
            handle.runtime.halt("the plugin is being stopped")
            with trio.move_on_after(STOP_SECONDS):
                await handle.drained.wait()
        if handle.scope is not None:
            handle.scope.cancel()
            await handle.stopped.wait()

    def _stop_listening(self, handle: PluginHandle) -> bool:
        """Unsubscribe and close the mailbox; True when a batch still runs (`drained` will be set)."""
        if handle.listener is not None:
            self.bus.unsubscribe(handle.listener)
            handle.listener = None
        running = False
        if handle.mailbox is not None:
            while batch := handle.mailbox.take():  # never delivered: their messages count as taken
                self._take_messages(batch)
            running = handle.mailbox.close(lambda: self._to_trio(handle.drained.set))
            handle.mailbox = None
        return running

    async def _deactivate(self, handle: PluginHandle) -> Any:
        """The plugin's deactivate() result, if it returns within STOP_SECONDS (else None)."""
        if handle.runtime is None or handle.runtime.sandbox.quarantined:
            return None
        with trio.move_on_after(STOP_SECONDS):
            try:
                handoff = await self._in_thread(handle, handle.runtime.call, "deactivate")
            except PluginError as error:  # its error like any other (a state too big to take, say)
                self._failed(handle, error, fatal=False)
                return None
            return self._fitting_handoff(handle, handoff)
        handle.runtime.halt("deactivate did not finish in time")
        log.warning("%s: deactivate did not finish within %g ms; its state is not kept",
                    handle.name, STOP_SECONDS * 1000)
        return None

    def _fitting_handoff(self, handle: PluginHandle, handoff: Any) -> Any:
        """`handoff` if it fits in the next activate's ctx (one level down), else None and the plugin's error."""
        limits = handle.runtime.sandbox.limits
        try:
            measure({"state": handoff}, bounds=limits.bounds)
        except ConversionError as error:
            self._failed(handle, handle.runtime.sandbox.violation(
                LimitKind.VALUE, f"deactivate returned a state that cannot be handed over (ctx.state): {error}"),
                fatal=False)
            return None
        return handoff

    async def stop(self, name: str) -> Any:
        """Stop a plugin: its deactivate() runs and what it returns is handed back."""
        handle = self.plugins.get(name)
        if handle is None:
            return None
        running = handle.state is PluginState.RUNNING
        await self._halt(handle)
        handoff = await self._deactivate(handle) if running else None
        handle.close_runtime()
        if handoff is not None:
            handle.kept_state = handoff
        handle.panel = ()  # what the host kept for it goes (its log is kept as text)
        self.auditor.flush(name)
        self._set_state(handle, PluginState.STOPPED)
        self._release_memory()
        return handoff

    def _release_memory(self) -> None:
        """Give the memory a stopped or replaced plugin used back to the system, without waiting."""
        if self._nursery is not None:
            self._nursery.start_soon(trio.to_thread.run_sync, _give_back_free_memory)

    def forget(self, name: str) -> None:
        """Drop a stopped plugin from the host (it was uninstalled)."""
        handle = self.plugins.get(name)
        if handle is not None and handle.runtime is None:
            del self.plugins[name]

    def decide(self, handle: PluginHandle, *, grant: tuple[Capability, ...] = (),
               deny: tuple[Capability, ...] = (), no_confirm: tuple[Capability, ...] = ()) -> list[str]:
        """Record the operator's decision for the code `handle` was loaded from (the code shown).

        A running plugin is held to it at once; returns what changed for it, in words.
        """
        if handle.code_hash is None:
            raise ValueError(f"{handle.name} could not be read; nothing to decide on")
        record = self.store.decide(handle.manifest, handle.code_hash, grant=grant, deny=deny,
                                   confirm={c: False for c in no_confirm}, now=utc_now(self.clock))
        if grant and record.granted:
            self._keep_granted(handle)
        try:
            for capability, outcome in [*((c, Outcome.GRANTED) for c in grant), *((c, Outcome.REVOKED) for c in deny)]:
                self.audit.record(handle.name, str(handle.manifest.version), capability.value, outcome,
                                  f"decided in the console; code {handle.code_hash[:23]}", now=utc_now(self.clock))
        except AuditError as exc:
            self.bus.publish(Notice(f"{exc}; the decision was recorded", "error"))
        return self.refresh_grants(handle)

    def _keep_granted(self, handle: PluginHandle) -> None:
        """Keep a copy of the code just granted, to show what changes in it later."""
        try:
            bundle = handle.runtime.bundle if handle.runtime is not None else read_bundle(handle.plugin.folder)
            if bundle.hash == handle.code_hash:  # the code decided on, not a later save
                self.copies.keep(handle.name, str(handle.manifest.version), bundle)
        except (BundleError, OSError, ValueError) as exc:
            self.bus.publish(Notice(f"{handle.name}: no copy of the granted code kept: {exc}", "warning"))

    def review(self, handle: PluginHandle) -> Review | None:
        """What changed since the code last granted to this plugin (None if unreadable now)."""
        try:
            bundle = read_bundle(handle.plugin.folder)
        except BundleError:
            return None
        if bundle.hash != handle.code_hash:
            return None
        try:
            granted = self.copies.load(handle.name)
        except ValueError as exc:
            log.warning("%s", exc)
            granted = None
        return review(granted, bundle, rt.api.gated_functions())

    def reload_policy(self) -> None:
        """Read the site policy again at its next use (unless this host was given one)."""
        if not self._policy_given:
            self.policy = None

    def refresh_grants(self, handle: PluginHandle) -> list[str]:
        """Apply the current decisions and site policy to `handle` at once; what changed, in words.

        A capability lost is refused from the plugin's next call on: a confirmation waiting on it
        is withdrawn and the events it covers (stats, keys, timers, commands) are held back until
        it is granted again. Raises PermissionsFileError when permissions.toml is invalid, after
        treating every capability as undecided (nothing in a broken file is trusted).
        """
        if handle.grants is None or handle.code_hash is None:
            return []
        before = handle.grants
        try:
            after = self.store.grants(handle.manifest, handle.code_hash, self._policy())
        except PermissionsFileError:
            self._apply_grants(handle, before, Grants(handle.manifest, handle.code_hash, None, self._policy()))
            raise
        return self._apply_grants(handle, before, after)

    def _apply_grants(self, handle: PluginHandle, before: Grants, after: Grants) -> list[str]:
        handle.grants = after
        if handle.runtime is not None:
            handle.runtime.grants = after
        lost = {c for c in after.manifest.permissions if before.check(c).allowed and not after.check(c).allowed}
        for capability, scope in list(handle.confirming.values()):
            if capability in lost:
                scope.cancel()
        changed = live.changes(before, after)
        if changed:
            self.bus.publish(PanelUpdated(handle.name))
        return changed

    # -- what the console sends to plugins ---------------------------------------------

    def key(self, name: str, key: str, panel: str = MAIN_PANEL) -> None:
        self._offer(name, KeyPressed(key, panel), Capability.SELECTION_READ, "key")

    def mouse(self, name: str, action: str, button: int, column: int, row: int, panel: str = MAIN_PANEL) -> None:
        self._offer(name, MouseClicked(action, button, column, row, panel), Capability.SELECTION_READ, "mouse")

    def resize(self, name: str, width: int, height: int, panel: str = MAIN_PANEL) -> None:
        """The console drew one of the plugin's panels at this size; tell the plugin when it changed."""
        handle = self.plugins.get(name)
        if handle is None:
            return
        if panel == MAIN_PANEL:
            if handle.panel_size == (width, height):
                return
            handle.panel_size = (width, height)
        else:
            extra = handle.panels.get(panel)
            if extra is None or extra.size == (width, height):
                return
            extra.size = (width, height)
        self._offer(name, PanelResized(width, height, panel))

    def run_command(self, name: str, command: str, args: str, row: dict[str, str] | None = None) -> bool:
        """Run the plugin's `command`; `row` is the selection the operator hands it. False if unknown."""
        handle = self.plugins.get(name)
        if handle is None or command not in handle.commands or not self._may(handle, Capability.COMMANDS):
            return False
        self._offer(name, CommandInvoked(command, args, row or None))
        return True

    async def change_settings(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate, persist and deliver new settings (ValueError names the bad field)."""
        handle = self.plugins[name]
        values = await trio.to_thread.run_sync(self.settings.save, handle.manifest, changes)
        self.apply_settings(name, values)
        return values

    def apply_settings(self, name: str, values: dict[str, Any]) -> bool:
        """Give a running plugin settings saved elsewhere (qtui plugin settings); False if unchanged."""
        handle = self.plugins.get(name)
        if handle is None or handle.runtime is None or handle.runtime.settings == values:
            return False
        handle.runtime.settings = dict(values)
        self._offer(name, SettingsChanged(values))
        return True

    def _offer(self, name: str, event: Event, capability: Capability | None = None,
               subscription_type: str | None = None) -> None:
        handle = self.plugins.get(name)
        if handle is None or handle.runtime is None:
            return
        if subscription_type is not None and subscription_type not in handle.runtime.subscriptions:
            return
        if capability is not None and not handle.allows(capability):
            return
        self._deliver(handle, event)

    def fire_timer(self, name: str, timer: str) -> None:
        """Plugin `name`'s timer `timer` fired: a timer event for it, dated by the host's clock."""
        handle = self.plugins.get(name)
        if handle is not None and self._may(handle, Capability.TIMERS):
            self._deliver(handle, TimerFired(timer, self.clock.time()))

    def _deliver(self, handle: PluginHandle, event: Event) -> None:
        """Queue an event for this plugin alone."""
        if handle.mailbox is not None:
            self.activity += 1
            self._pool.offer(handle.mailbox, Offer(event, shared=False))

    def _from_bus(self, handle: PluginHandle, event: Event) -> bool:
        """Queue a bus event (True if it was); every plugin gets the same offer, so it is prepared once for all."""
        offer = self._last_offer
        if offer is None or offer.event is not event:
            offer = self._last_offer = Offer(event, shared=True)
        mailbox = handle.mailbox
        if mailbox is None:
            return False
        dropped = mailbox.dropped  # offers come from the trio side only
        self.activity += 1
        self._pool.offer(mailbox, offer)
        return mailbox.dropped == dropped

    def _wants(self, handle: PluginHandle, event: Event) -> bool:
        runtime = handle.runtime
        if runtime is None:
            return False
        if isinstance(event, PluginMessage):
            return event.sender != handle.name and any(
                event.topic.startswith(p) and self._may(handle, bus_capability(handle.name, p, publish=False))
                for p in runtime.listening)
        if isinstance(event, PluginLifecycle) and event.plugin == handle.name:
            return False
        kind = EVENT_TYPES[type(event)]
        if kind not in runtime.subscriptions or not self._may(handle, rt.api.event(kind).capability):
            return False
        if type(event) is StatsUpdated:
            return self._stats_news(handle, runtime, event)
        return True

    def _stats_news(self, handle: PluginHandle, runtime: rt.PluginRuntime, event: StatsUpdated) -> bool:
        """Whether the plugin is offered stats `event`: always, unless it takes unchanged stats
        only now and then (qtui.unchanged_stats) and `event` shows no change since the stats it
        was offered last, fewer than that many seconds of taken_at later. That request is the
        plugin's answer to what it was given: while events wait for it or it handles one, it may
        still change its mind, and stats are offered (they coalesce). An offered event becomes
        the one offered last."""
        last = runtime.stats_offered
        state = None
        if (last is not None and last[0] == runtime.stats_subscription
                and handle.mailbox is not None and handle.mailbox.settled
                and 0 <= event.snapshot.taken_at - last[1].snapshot.taken_at < runtime.unchanged_stats_every):
            state = self._state_of(event)
            before = last[2]
            if before is None:  # worked out once, however many polls it is compared with
                before = stats_state(last[1])
                runtime.stats_offered = (last[0], last[1], before)
            if before == state:
                return False
        runtime.stats_offered = (runtime.stats_subscription, event, state)
        return True

    def _state_of(self, event: StatsUpdated) -> tuple:
        """stats_state(event), worked out once for all plugins."""
        cached = self._stats_state
        if cached is None or cached[0] is not event:
            cached = self._stats_state = (event, stats_state(event))
        return cached[1]

    @staticmethod
    def _may(handle: PluginHandle, capability: Capability | None) -> bool:
        """Whether the plugin may receive what `capability` covers now (it may have been revoked)."""
        return capability is None or handle.allows(capability)

    # -- the plugin's task and its deliveries ----------------------------------------------

    async def _serve(self, handle: PluginHandle, *, task_status: trio.TaskStatus[None]) -> None:
        """The plugin's timers live here until the plugin stops."""
        try:
            with trio.CancelScope() as handle.scope:
                async with trio.open_nursery() as timers:
                    handle.timer_nursery = timers
                    task_status.started()
                    await trio.sleep_forever()
        finally:
            handle.timers.clear()
            handle.timer_nursery = None
            handle.scope = None
            handle.stopped.set()

    def _run_batch(self, handle: PluginHandle, batch: list[Offer]) -> None:
        """In a worker thread: hand a batch of events to the plugin's Lua.

        The trio side hears back only when there is something for it to do: effects, errors,
        log lines, a stale mark to clear or a quarantine. Anything failing here is the plugin's
        error.
        """
        runtime, mailbox = handle.runtime, handle.mailbox
        if runtime is None or mailbox is None:
            self._take_messages(batch)
            return
        prepared, errors = [], []
        for offer in self._deliverable(batch):
            try:
                prepared.append(offer.prepared())
            except Exception as exc:  # the host's own code failing: that event is lost, not the batch
                log.exception("%s: preparing a %s event failed", handle.name, type(offer.event).__name__)
                errors.append(PluginError(f"internal error preparing an event ({type(exc).__name__}); see qtui's log",
                                          plugin=handle.name))
        try:
            errors += runtime.deliver(prepared, stop=lambda: mailbox.closed)
        except Exception as exc:  # the host's own code failing in the plugin's thread
            log.exception("%s: delivering events failed in the plugin's thread", handle.name)
            errors.append(PluginError(f"internal error ({type(exc).__name__}); see qtui's log", plugin=handle.name))
        if (errors or runtime.has_effects or runtime.log_count != handle.logs_seen or handle.stale
                or runtime.sandbox.quarantined):
            self._to_trio(self._after_batch, handle, errors)

    def _after_batch(self, handle: PluginHandle, errors: list[PluginError]) -> None:
        """On the trio side, after a batch: apply its effects and report its errors."""
        runtime = handle.runtime
        if runtime is None or handle.mailbox is None:
            return
        if handle.stale:
            handle.stale = False
            self.bus.publish(PanelUpdated(handle.name))
        for error in errors:
            self._failed(handle, error, fatal=False)
        logged = runtime.log_count
        self._apply_effects(handle)
        if logged != handle.logs_seen:
            handle.logs_seen = logged
            self.bus.publish(PanelUpdated(handle.name))
        if runtime.sandbox.quarantined:
            if handle.state is not PluginState.QUARANTINED:
                self._set_state(handle, PluginState.QUARANTINED, runtime.sandbox.quarantined)
            self._stop_listening(handle)
            if handle.scope is not None:
                handle.scope.cancel()  # its timers stop too

    def _stale_from_thread(self, mailbox: Mailbox) -> None:
        """A plugin has been busy with one batch for a while: its panel shows an older frame."""
        self._to_trio(self._mark_stale, mailbox)

    def _stuck_from_thread(self, mailbox: Mailbox) -> bool:
        """From the pool's supervisor: abandon the batch's call if it is stuck inside one C
        function (overdue for BACKSTOP_GRACE of its thread's CPU time); True if it was."""
        handle, runtime_ref = mailbox.owner
        runtime = runtime_ref()
        if runtime is None:
            return False
        overdue = runtime.sandbox.overdue()
        if overdue is None or overdue < BACKSTOP_GRACE:
            return False
        reason = _stuck_reason(overdue)
        runtime.sandbox.abandon(reason)
        self._to_trio(self._abandoned, handle, runtime, LimitExceeded(LimitKind.WALL_TIME, reason, plugin=handle.name))
        return True

    def _abandoned(self, handle: PluginHandle, runtime: rt.PluginRuntime, error: LimitExceeded) -> None:
        """On the trio side: a batch's call was abandoned; the plugin is quarantined."""
        if handle.runtime is not runtime:
            return  # stopped or replaced meanwhile
        self._failed(handle, error, fatal=False)
        self._stop_listening(handle)
        if handle.scope is not None:
            handle.scope.cancel()

    def _deliverable(self, batch: list[Offer]) -> list[Offer]:
        """The batch without messages whose sending plugin has stopped; each message is taken once."""
        offers = []
        for offer in batch:
            if isinstance(offer.event, PluginMessage):
                sender = self._take_message(offer.event)
                if sender is not None and sender.runtime is None:
                    continue
            offers.append(offer)
        return offers

    def _take_messages(self, batch: list[Offer]) -> None:
        """Offers that will never be delivered: their messages count as taken."""
        for offer in batch:
            if isinstance(offer.event, PluginMessage):
                self._take_message(offer.event)

    def _take_message(self, message: PluginMessage) -> PluginHandle | None:
        """One listener took `message` (any thread): the plugin that sent it (None if no plugin
        did), whose account is credited when the last listener took it."""
        with self._waiting_lock:
            waiting = self._waiting.get(id(message))
            if waiting is None or waiting[0] is not message:
                return None
            sender, size = waiting[1], waiting[2]
            waiting[3] -= 1
            done = waiting[3] <= 0
            if done:
                del self._waiting[id(message)]
        runtime = sender.runtime
        if done and runtime is not None:
            runtime.message_taken(size)
        return sender

    def replay(self, name: str, plain: dict[str, Any]) -> bool:
        """Hand a recorded event (plain, one of recording.REPLAYED_TYPES) to plugin `name` as the bus
        would: only if it subscribed (and may), listens to the topic, or it is not its own. True if
        it was handed over."""
        handle = self.plugins.get(name)
        if handle is None or handle.runtime is None:
            return False
        runtime, kind = handle.runtime, plain.get("type")
        if kind == "message":
            topic = plain.get("topic")
            wanted = plain.get("sender") != name and isinstance(topic, str) and any(
                topic.startswith(prefix) and self._may(handle, bus_capability(handle.name, prefix, publish=False))
                for prefix in runtime.listening)
        elif kind == "lifecycle" and plain.get("plugin") == name:
            wanted = False
        else:
            wanted = kind in runtime.subscriptions and self._may(handle, rt.api.event(kind).capability)
        if wanted:
            self._deliver(handle, Replayed(plain))
        return wanted

    def _mark_stale(self, mailbox: Mailbox) -> None:
        handle = self.plugins.get(mailbox.name)
        if handle is not None and handle.mailbox is mailbox and mailbox.busy_since is not None:
            handle.stale = True
            self.bus.publish(PanelUpdated(handle.name))

    def _idle_from_thread(self) -> None:
        self._to_trio(self._idle.set)

    def _to_trio(self, function: Callable[..., Any], *args: Any) -> None:
        """Run `function(*args)` on the trio side soon (from any thread); not once trio is gone."""
        if self._token is None:
            return
        try:
            self._token.run_sync_soon(function, *args)
        except trio.RunFinishedError:
            pass

    async def _in_thread(self, handle: PluginHandle, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in the plugin's worker thread; any failure there is a PluginError.

        Cancelling stops waiting at once (the thread finishes on its own, its call
        interrupted by whoever cancelled). A call stuck in C past its deadline is abandoned.
        """
        sandbox = handle.runtime.sandbox if handle.runtime is not None else None
        abandoned: list[LimitExceeded] = []
        failure: PluginError | None = None
        result: Any = None
        async with trio.open_nursery() as nursery:
            if sandbox is not None:
                nursery.start_soon(self._backstop, handle, sandbox, abandoned, nursery.cancel_scope)
            try:
                result = await trio.to_thread.run_sync(fn, *args, limiter=handle.limiter, abandon_on_cancel=True)
            except PluginError as error:
                failure = error
            except Exception as exc:  # the host's own code failing in the plugin's thread
                log.exception("%s: %s failed in the plugin's thread", handle.name, getattr(fn, "__name__", fn))
                failure = PluginError(f"internal error ({type(exc).__name__}); see qtui's log", plugin=handle.name)
            nursery.cancel_scope.cancel()
        if abandoned:
            raise abandoned[0]
        if failure is not None:
            raise failure
        return result

    async def _backstop(self, handle: PluginHandle, sandbox: Any, abandoned: list[LimitExceeded],
                        scope: trio.CancelScope) -> None:
        """Abandon the call if it stays overdue (inside one C function) for BACKSTOP_GRACE."""
        while True:
            overdue = sandbox.overdue()
            if overdue is None:
                await trio.sleep(_BACKSTOP_POLL)
            elif overdue < BACKSTOP_GRACE:
                await trio.sleep(BACKSTOP_GRACE - overdue)
            else:
                reason = _stuck_reason(overdue)
                sandbox.abandon(reason)
                abandoned.append(LimitExceeded(LimitKind.WALL_TIME, reason, plugin=handle.name))
                scope.cancel()
                return

    # -- effects -------------------------------------------------------------------------

    def _apply_effects(self, handle: PluginHandle) -> None:
        self._announce_audit_failure()
        if handle.runtime is None:
            return
        for effect in handle.runtime.take_effects():
            match effect:
                case rt.Render(lines=lines, panel=panel, size=size) if panel == MAIN_PANEL:
                    handle.panel, handle.panel_at = lines, self.clock.time()
                    handle.runtime.kept.panel = size
                    self.bus.publish(PanelUpdated(handle.name))
                case rt.Render(lines=lines, panel=panel) if panel in handle.panels:
                    handle.panels[panel].lines, handle.panels[panel].at = lines, self.clock.time()
                    self.bus.publish(PanelUpdated(handle.name))
                case rt.OpenPanel(name=panel, title=title, rows=rows):
                    opened = handle.panels.setdefault(panel, Panel(title, rows))
                    opened.title, opened.rows = title, rows
                    self.bus.publish(PanelUpdated(handle.name))
                case rt.ClosePanel(name=panel):
                    handle.panels.pop(panel, None)
                    self.bus.publish(PanelUpdated(handle.name))
                case rt.Notify(text=text, level=level):
                    self.bus.publish(Notice(f"{handle.name}: {text}", level))
                case rt.SetTimer(name=name, seconds=seconds, repeat=repeat):
                    self._start_timer(handle, name, seconds, repeat)
                case rt.CancelTimer(name=name):
                    scope = handle.timers.pop(name, None)
                    if scope is not None:
                        scope.cancel()
                case rt.RegisterCommand(name=name, help=help_text):
                    handle.commands[name] = help_text
                case rt.Publish(topic=topic, data=data, size=size):
                    message = PluginMessage(topic, handle.name, data)
                    # Held by this publisher until every listener has it queued (a worker may take it sooner).
                    with self._waiting_lock:
                        self._waiting[id(message)] = [message, handle, size, 1]
                    listeners = self.bus.publish(message)
                    with self._waiting_lock:
                        self._waiting[id(message)][3] += listeners
                    self._take_message(message)
                case rt.Request() if self._nursery is None:
                    self._close(effect.ticket, Outcome.FAILED, detail="not made: qtui was stopping")
                case rt.Request():
                    self.activity += 1
                    self._nursery.start_soon(self._run_request, handle, effect)

    def _start_timer(self, handle: PluginHandle, name: str, seconds: float, repeat: bool) -> None:
        old = handle.timers.pop(name, None)
        if old is not None:
            old.cancel()
        scope = trio.CancelScope()
        handle.timers[name] = scope

        async def tick() -> None:
            with scope:
                while True:
                    await trio.sleep(seconds)
                    if self._may(handle, Capability.TIMERS):
                        self._deliver(handle, TimerFired(name, self.clock.time()))
                    if not repeat:
                        handle.timers.pop(name, None)
                        return

        handle.timer_nursery.start_soon(tick)

    async def _run_request(self, handle: PluginHandle, request: rt.Request) -> None:
        """Carry out an admin request, auditing each step: checked again, bounded, confirmed, done."""
        ticket = request.ticket
        try:
            async with self._request_locks[handle.name, request.capability]:
                result, jobs = await self._carry_out(handle, request)
        except _Refused as refusal:
            self._close(ticket, Outcome.REFUSED, reason=refusal.reason, detail=refusal.message)
            self._report(handle, request, ok=False, error=refusal.answer)
            return
        except _Declined as declined:
            self._close(ticket, Outcome.DECLINED, jobs=declined.target.count, detail=declined.target.describe())
            self._report(handle, request, ok=False, error="the operator declined")
            return
        except BackendError as exc:
            self._close(ticket, Outcome.FAILED, detail=str(exc))
            self._report(handle, request, ok=False, error=str(exc))
            return
        except Exception as exc:
            log.exception("%s: %s request failed", handle.name, request.action)
            self._close(ticket, Outcome.FAILED, detail=f"internal error: {exc}")
            self._report(handle, request, ok=False, error=f"internal error: {exc}")
            return
        except trio.Cancelled:  # qtui stops: before the backend was asked (that call is not cancelled)
            self._close(ticket, Outcome.FAILED, detail="not made: qtui was stopping")
            raise
        if self.on_read is not None and request.action in ("peek", "find") and result:
            self.on_read(result["jobs"] if request.action == "peek" else [result])
        problem = self._unfit_result(handle, request, result)
        self._close(ticket, Outcome.DONE, jobs=jobs)
        if problem is not None:
            self._report(handle, request, ok=False, error=problem)
            return
        self._report(handle, request, ok=True, result=result)

    @staticmethod
    def _unfit_result(handle: PluginHandle, request: rt.Request, result: Any) -> str | None:
        """Why the result cannot be handed to the plugin (too big, a number Lua cannot hold), or None."""
        if handle.runtime is None:
            return None
        event = to_plain(ActionResult(request.id, request.action, True, None, result))
        try:
            measure(event, bounds=handle.runtime.sandbox.limits.bounds)
        except ConversionError as error:
            hint = "; ask for fewer jobs" if error.limit else ""
            return f"the result cannot be handed to the plugin: {error}{hint}"
        return None

    async def _carry_out(self, handle: PluginHandle, request: rt.Request) -> tuple[Any, int]:
        """The request's result and the jobs it affected; _Refused or _Declined if it did not go ahead."""
        capability = request.capability
        effective = self._still_granted(handle, capability)
        if capability.changes_queues and self.backend.read_only:
            raise _Refused(Reason.READ_ONLY, "the console is in read-only mode")
        asks = capability.destructive and effective.confirm
        if asks and self._confirmer is None:
            raise _Refused(Reason.NO_OPERATOR, "destructive actions need an operator to confirm them")
        try:
            target = await trio.to_thread.run_sync(actions.resolve, self.backend, request)
        except actions.TooManyJobs as exc:
            raise _Refused(Reason.TOO_MANY_JOBS, str(exc)) from None
        except InvalidInput as exc:
            raise _Refused(Reason.BAD_ARGUMENTS, str(exc)) from None
        self._check_queues(effective, target.queues)
        remaining = await self._check_rates(handle, effective, target.count)
        if target.ids is not None and not target.ids:
            return {"count": 0}, 0  # nothing to move or delete: nothing to ask
        if asks:
            await self._confirm(handle, request, target)
        self._still_granted(handle, capability)  # decisions may have changed while the operator looked
        result, jobs = await trio.to_thread.run_sync(
            functools.partial(actions.perform, self.backend, request, target, limit=remaining))
        if request.action == "find" and result is not None and not effective.allows_queue(result["queue"]):
            raise _Refused(Reason.OUT_OF_SCOPE, f"job {request.args['id']} is on {result['queue']}, outside "
                           f"the scope of {capability}")
        if effective.bounds:
            self.ledger.charge(handle.name, capability, jobs, utc_now(self.clock))
        return result, jobs

    def _still_granted(self, handle: PluginHandle, capability: Capability) -> Effective:
        """The capability's verdict now; _Refused if it is no longer granted."""
        effective = handle.grants.check(capability)
        if not effective.allowed:  # it was granted when the plugin asked
            raise _Refused(Reason.WITHDRAWN, f"capability {capability} is {effective.verdict} ({effective.reason})")
        return effective

    @staticmethod
    def _check_queues(effective: Effective, queues: frozenset[str] | None) -> None:
        if not effective.queue_bounded:
            return
        if queues is None:
            raise _Refused(Reason.OUT_OF_SCOPE, f"{effective.capability} is scoped to some queues; "
                           "a request on every queue is outside it")
        outside = sorted(q for q in queues if not effective.allows_queue(q))
        if outside:
            bounds = "; ".join(str(b) for b in effective.bounds if b.scope.queues is not None)
            raise _Refused(Reason.OUT_OF_SCOPE, f"{', '.join(outside)} is outside the scope of "
                           f"{effective.capability} ({bounds})")

    async def _check_rates(self, handle: PluginHandle, effective: Effective, count: int | None) -> int | None:
        """Refuse a use past a rate; returns how many jobs a use of unknown size may still touch."""
        rates = [b for b in effective.bounds if b.scope.rate is not None]
        if not rates:
            return None
        capability = effective.capability
        if not self.ledger.known(handle.name, capability):
            await self._seed_ledger(handle.name, capability)
        now = utc_now(self.clock)
        remaining = None
        for bound in rates:
            rate = bound.scope.rate
            assert rate is not None
            used = self.ledger.used(handle.name, capability, rate, now)
            left = rate.jobs - used
            if left <= 0 or (count is not None and count > left):
                needs = "" if count is None else f"; this request would touch {count}"
                raise _Refused(Reason.RATE_LIMIT, f"{capability} used {used} of its {rate.jobs} jobs per "
                               f"{rate.period}{needs} ({bound})")
            remaining = left if remaining is None else min(remaining, left)
        return remaining

    async def _seed_ledger(self, plugin: str, capability: Capability) -> None:
        """Count the uses the audit log holds, so a restarted console keeps to its rates."""
        since = utc_now(self.clock) - datetime.timedelta(seconds=MAX_PERIOD)
        where = AuditFilter(plugin=plugin, capability=capability.value, outcome=Outcome.DONE, since=since)
        reading = await trio.to_thread.run_sync(functools.partial(self.audit.read, where=where))
        self.ledger.seed(plugin, capability, [(e.time, e.jobs) for e in reading.entries if e.jobs])

    async def _confirm(self, handle: PluginHandle, request: rt.Request, target: actions.Target) -> None:
        """Ask the operator; _Declined, or _Refused if the grant goes meanwhile or the plugin asks too often."""
        assert self._confirmer is not None
        ask, missed = handle.prompts.admit()
        self._prompts_suppressed(handle, missed)
        if not ask:
            raise _Refused(Reason.RATE_LIMIT, f"too many confirmation prompts (at most {CONFIRM_BURST} at once, "
                           f"then one every {CONFIRM_SECONDS} s)")
        confirmation = Confirmation(request.capability, target)
        with trio.CancelScope() as scope:
            handle.confirming[request.ticket.id] = (request.capability, scope)
            try:
                confirmed = await self._confirmer(handle, confirmation)
            finally:
                del handle.confirming[request.ticket.id]
        if scope.cancelled_caught:
            raise _Refused(Reason.WITHDRAWN, f"{request.capability} was withdrawn while the operator was asked")
        if not confirmed:
            raise _Declined(target)
        try:
            self.auditor.outcome(request.ticket, Outcome.CONFIRMED, jobs=target.count, detail=target.describe())
        except AuditError as exc:
            raise _Refused(Reason.AUDIT_UNAVAILABLE, f"it cannot be audited ({exc})") from None

    def _flood_began(self) -> None:
        """A plugin met a rate limit (any thread): wake the task that sums floods up."""
        self._to_trio(lambda: self._flooding.set())

    async def _settle_floods_forever(self) -> None:
        """Sum up the floods of each plugin that have ended, even if it is not called again;
        asleep while there is no flood."""
        while True:
            await self._flooding.wait()
            self._flooding = trio.Event()
            flooding = True
            while flooding:
                await trio.sleep(SETTLE_SECONDS)
                for handle in list(self.plugins.values()):
                    self._settle_floods(handle)
                flooding = any(handle.prompts.refused or (handle.runtime is not None and handle.runtime.flooding)
                               for handle in self.plugins.values())

    def _settle_floods(self, handle: PluginHandle) -> None:
        self._prompts_suppressed(handle, handle.prompts.settle())
        runtime = handle.runtime
        if runtime is None:
            return
        logged = runtime.log_count
        notice = runtime.settle_floods()
        if notice is not None:
            self.bus.publish(Notice(f"{handle.name}: {notice.text}", notice.level))
        if runtime.log_count != logged:
            self.bus.publish(PanelUpdated(handle.name))

    def _prompts_suppressed(self, handle: PluginHandle, missed: int) -> None:
        if missed:
            text = f"{missed} confirmation prompts suppressed (declined without asking)"
            self.bus.publish(Notice(f"{handle.name}: {text}", "warning"))
            if handle.runtime is not None:
                handle.runtime.log_error(text)

    def _report(self, handle: PluginHandle, request: rt.Request, *, ok: bool, error: str | None = None,
                result: Any = None) -> None:
        self._deliver(handle, ActionResult(request.id, request.action, ok, error, result))

    # -- state ---------------------------------------------------------------------------

    def _failed(self, handle: PluginHandle, error: PluginError, *, fatal: bool) -> None:
        handle.error = _detached(error)
        handle.errors += 1
        log.warning("%s", visible(str(error)))
        if isinstance(error, LimitExceeded):
            self._audit_violation(handle, error)
        handle.log_error(str(error))
        if handle.runtime is not None and handle.runtime.sandbox.quarantined:
            self._set_state(handle, PluginState.QUARANTINED, handle.runtime.sandbox.quarantined)
        elif fatal:
            self._set_state(handle, PluginState.ERRORED, str(error))
        else:
            self.bus.publish(PanelUpdated(handle.name))

    def _set_state(self, handle: PluginHandle, state: PluginState, reason: str | None = None) -> None:
        handle.state, handle.reason = state, reason
        lifecycle = {PluginState.RUNNING: "running", PluginState.STOPPED: "stopped",
                     PluginState.ERRORED: "errored", PluginState.QUARANTINED: "quarantined"}.get(state)
        if lifecycle is not None:
            self.bus.publish(PluginLifecycle(handle.name, str(handle.manifest.version), lifecycle, reason))
        self.bus.publish(PanelUpdated(handle.name))

    def _prompt_limit(self) -> RateLimit:
        """The rate at which one plugin may ask the operator to confirm."""
        return RateLimit(1 / CONFIRM_SECONDS, CONFIRM_BURST, clock=self.clock.monotonic, on_flood=self._flood_began)

    def _audit_violation(self, handle: PluginHandle, error: LimitExceeded) -> None:
        self.auditor.violation(handle.name, str(handle.manifest.version), f"limits.{error.kind.name.lower()}",
                               error.message)
        self._announce_audit_failure()

    def _close(self, ticket: Ticket, outcome: Outcome, **fields: Any) -> None:
        """Record what became of a request; a failure to write is shown, the outcome stands."""
        try:
            self.auditor.outcome(ticket, outcome, **fields)
        except AuditError:
            pass
        self._announce_audit_failure()

    def _announce_audit_failure(self) -> None:
        """Say in the console when the audit log stops (or starts again) being writable."""
        failure = self.auditor.failure
        if failure != self._audit_failure:
            self._audit_failure = failure
            if failure is not None:
                self.bus.publish(Notice(f"{failure}: plugin actions that change queues are refused", "error"))
            else:
                self.bus.publish(Notice("the audit log can be written again", "info"))


def any_busy() -> bool:
    """Whether a running host of this trio run has an event waiting for or in a plugin."""
    token = trio.lowlevel.current_trio_token()
    return any(host._pool.busy for host in list(_RUNNING) if host._token is token)  # noqa: SLF001


def activity() -> int:
    """Events offered and requests started by the running hosts of this trio run, so far: the
    same count before and after a wait means nothing new was set going meanwhile."""
    token = trio.lowlevel.current_trio_token()
    return sum(host.activity for host in list(_RUNNING) if host._token is token)  # noqa: SLF001


async def all_idle() -> None:
    """Wait until every running host of this trio run is idle (see PluginHost.idle)."""
    token = trio.lowlevel.current_trio_token()
    for host in list(_RUNNING):
        if host._token is token:  # noqa: SLF001 - hosts of other runs are not ours to wait for
            await host.idle()


def _compile_errors(plugin: Plugin) -> list[PluginError]:
    """What `qtui plugin check` would report for the plugin's folder (nothing is run)."""
    def where(file: Path) -> str:
        return str(file.relative_to(plugin.folder)) if file.is_relative_to(plugin.folder) else str(file)

    return [PluginError(p.message, plugin=plugin.name, file=where(p.file), line=p.line)
            for p in check_folder(plugin.folder).problems]
