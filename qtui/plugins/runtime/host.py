"""The plugin host: loads plugins, gates them by permission, feeds them events, applies their effects.

Each plugin gets its own sandboxed runtime, its own bounded subscription to the
console's event bus and its own trio task in the host's nursery. Lua runs in a
worker thread (one at a time per plugin, many plugins in parallel), so a slow or
runaway plugin never blocks the console or the other plugins. No trio task waits
on a plugin's thread past the call's deadline: a call stuck inside one C function
is abandoned (the plugin is quarantined and its runtime released when the thread
returns), and stopping, reloading and quitting never wait more than STOP_SECONDS
for a plugin's code. Anything that fails in a plugin's thread, conversions of
events and results included, is that plugin's error. Everything a
plugin does to the world goes through effects the host applies here, on the
trio side: panel content, notices, timers, commands, bus messages and admin
requests (which are checked, confirmed when destructive, and audited).

The host's clock dates panels, timer events and audit entries and is what plugin code sees
as now; timers and the stale marker wait on the trio run's clock.
"""

from __future__ import annotations

import ctypes
import enum
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio

from qtui.backends.base import Backend
from qtui.bus import EventBus, Subscription
from qtui.clock import Clock, utc_now
from qtui.events import Event, Notice, SelectionChanged, StatsUpdated
from qtui.model import BackendError, JobState, Page
from qtui.plugins.bundles.bundle import BundleError, read_bundle
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.check import check_folder
from qtui.plugins.bundles.discovery import Plugin
from qtui.plugins.bundles.manifest import Manifest
from qtui.plugins.runtime import instance as rt
from qtui.plugins.runtime.events import (
    EVENT_TYPES,
    ActionResult,
    CommandInvoked,
    KeyPressed,
    MouseClicked,
    PanelResized,
    PluginLifecycle,
    PluginMessage,
    SettingsChanged,
    TimerFired,
    job_plain,
    to_plain,
)
from qtui.plugins.runtime.sandbox import LimitExceeded, LimitKind, PluginError
from qtui.plugins.runtime.settings import SettingsStore
from qtui.plugins.runtime.storage import PluginStorage
from qtui.plugins.runtime.values import ConversionError, measure
from qtui.plugins.trust.audit import AuditLog, Outcome
from qtui.plugins.trust.permissions import Grants, PermissionsFileError, PermissionStore, Verdict
from qtui.plugins.trust.policy import SitePolicy, load_policy
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


def _give_back_free_memory() -> None:
    """Return the process's free heap pages to the system (after a plugin's memory went)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


#: Events a plugin may receive from the console's bus.
BUS_EVENTS = (StatsUpdated, SelectionChanged, PluginMessage, PluginLifecycle)
#: Bounded channel per plugin; stats coalesce (latest wins), other overflow is dropped and counted.
CHANNEL_CAPACITY = 64
#: Events handed to Lua per worker-thread hop.
BATCH = 64
#: A plugin busy this long has its panel marked stale until it renders again.
STALE_AFTER = 0.5
#: A call still running this long after its deadline is inside one C function the hook
#: cannot interrupt (the hook stops Lua code within about a millisecond): it is abandoned.
BACKSTOP_GRACE = 0.04
#: How long stopping, reloading or quitting waits for a plugin's code (its deactivate, or
#: the call it is in); past it the code is interrupted and its state not kept.
STOP_SECONDS = 0.08
_BACKSTOP_POLL = 0.01
#: How often floods that have ended are summed up (logs, notices, prompts, audit entries).
SETTLE_SECONDS = 1.0
#: Confirmation prompts a plugin may cause: one every CONFIRM_SECONDS on average, in bursts of
#: CONFIRM_BURST; more are declined without asking, and summed up in one notice.
CONFIRM_SECONDS = 10
CONFIRM_BURST = 3

#: Asks the operator to confirm a destructive plugin action: (plugin, capability, what) -> yes?
Confirmer = Callable[["PluginHandle", Capability, str], Awaitable[bool]]


class PluginState(enum.StrEnum):
    WAITING = "waiting for permission"
    STARTING = "starting"
    RUNNING = "running"
    ERRORED = "errored"
    QUARANTINED = "quarantined"
    STOPPED = "stopped"


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
    runtime: rt.PluginRuntime | None = None
    grants: Grants | None = None
    code_hash: str | None = None  # the bundle hash the grants and the runtime belong to
    subscription: Subscription | None = None
    scope: trio.CancelScope | None = None
    timer_nursery: trio.Nursery | None = None
    timers: dict[str, trio.CancelScope] = attrs.field(factory=dict)
    limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(1))
    stopped: trio.Event = attrs.field(factory=trio.Event)
    prompts: RateLimit = attrs.field(kw_only=True)  # confirmation prompts the plugin may raise

    @property
    def name(self) -> str:
        return self.plugin.manifest.name

    @property
    def manifest(self) -> Manifest:
        return self.plugin.manifest

    @property
    def log_lines(self) -> list[str]:
        return list(self.runtime.log_lines) if self.runtime else []

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
    ) -> None:
        self.backend = backend
        self.bus = bus
        self.clock = clock
        self.store = store or PermissionStore()
        self.policy = policy
        self.audit = audit or AuditLog()
        self.settings = settings or SettingsStore()
        self._storage_dir = storage_dir
        self._confirmer = confirmer
        self.plugins: dict[str, PluginHandle] = {}
        self._nursery: trio.Nursery | None = None
        self._plain_cache: dict[int, tuple[Event, dict[str, Any]]] = {}
        self._latest: dict[type[Event], Event] = {}  # the newest stats and selection, for new plugins
        # Published messages not yet taken by every listener: id -> [message, sender, size, listeners left]
        self._waiting: dict[int, list[Any]] = {}

    # -- running ---------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host plugins until cancelled; plugin tasks live in this nursery."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                latest = self.bus.subscribe("plugin host", (StatsUpdated, SelectionChanged), capacity=4)
                nursery.start_soon(self._settle_floods_forever)
                task_status.started()
                async for event in latest:
                    self._latest[type(event)] = event
        finally:
            for handle in self.plugins.values():
                if handle.runtime is not None:
                    handle.runtime.sandbox.interrupt("qtui is shutting down")
                    handle.runtime.close()

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
        """Load and activate `plugin`, or leave it waiting for the operator's permission decision."""
        handle = PluginHandle(plugin, prompts=self._prompt_limit())
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
        old.runtime.close()
        old.runtime = None
        self._release_memory()
        new.panel_size = old.panel_size  # the new code learns its panel size at once
        await self._launch(new)
        return new

    def _keep_old(self, old: PluginHandle, error: PluginError) -> None:
        self.plugins[old.name] = old
        old.error = _detached(error)
        old.errors += 1
        if old.runtime is not None:
            old.runtime.log_error(f"reload failed: {error}")
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
            storage=PluginStorage(plugin.manifest.name, self._storage_dir), audit=self.audit, clock=self.clock,
            max_payload_bytes=self.backend.max_payload_bytes,
        )
        # Subscribe before plugin code runs, so nothing published meanwhile is missed.
        handle.subscription = self.bus.subscribe(
            f"plugin {handle.name}", BUS_EVENTS, capacity=CHANNEL_CAPACITY,
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
        if handle.subscription is not None:
            self.bus.unsubscribe(handle.subscription)
            handle.subscription = None
        if handle.runtime is not None:
            handle.runtime.close()
            handle.runtime = None

    async def _launch(self, handle: PluginHandle) -> None:
        """Start delivering events to an activated plugin, the latest stats and selection first."""
        self.plugins[handle.name] = handle
        self._set_state(handle, PluginState.RUNNING)
        assert self._nursery is not None, "PluginHost.run() is not running"
        await self._nursery.start(self._serve, handle)
        self._apply_effects(handle)
        if handle.panel_size is not None:
            handle.subscription.offer(PanelResized(*handle.panel_size))
        for event in self._latest.values():
            if handle.subscription is not None and handle.subscription.wants(event):
                handle.subscription.offer(event)

    async def _halt(self, handle: PluginHandle) -> None:
        """Stop delivering events to a plugin (its timers stop too); never waits for its thread."""
        if handle.scope is not None and handle.runtime is not None:
            handle.runtime.halt("the plugin is being stopped")
            handle.scope.cancel()
            await handle.stopped.wait()
        elif handle.subscription is not None:
            self.bus.unsubscribe(handle.subscription)
            handle.subscription = None

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
        if handle.runtime is not None:
            handle.runtime.close()
            handle.runtime = None
        handle.panel = ()  # what the host kept for it goes (its log went with the runtime)
        self._set_state(handle, PluginState.STOPPED)
        self._release_memory()
        return handoff

    def _release_memory(self) -> None:
        """Give the memory a stopped or replaced plugin used back to the system, without waiting."""
        if self._nursery is not None:
            self._nursery.start_soon(trio.to_thread.run_sync, _give_back_free_memory)

    def decide(self, handle: PluginHandle, *, grant: tuple[Capability, ...] = (),
               deny: tuple[Capability, ...] = (), no_confirm: tuple[Capability, ...] = ()) -> None:
        """Record the operator's decision for the code `handle` was loaded from (the code shown)."""
        if handle.code_hash is None:
            raise ValueError(f"{handle.name} could not be read; nothing to decide on")
        self.store.decide(handle.manifest, handle.code_hash, grant=grant, deny=deny,
                          confirm={c: False for c in no_confirm}, now=utc_now(self.clock))
        for capability in grant:
            self._audit(handle, capability, Outcome.GRANTED, "decided in the console")
        for capability in deny:
            self._audit(handle, capability, Outcome.REVOKED, "decided in the console")
        # A running plugin sees the new decision at once (e.g. "don't ask again").
        handle.grants = self.store.grants(handle.manifest, handle.code_hash, self._policy())
        if handle.runtime is not None:
            handle.runtime.grants = handle.grants

    # -- what the console sends to plugins ---------------------------------------------

    def key(self, name: str, key: str) -> None:
        self._offer(name, KeyPressed(key), Capability.SELECTION_READ, "key")

    def mouse(self, name: str, action: str, button: int, column: int, row: int) -> None:
        self._offer(name, MouseClicked(action, button, column, row), Capability.SELECTION_READ, "mouse")

    def resize(self, name: str, width: int, height: int) -> None:
        """The console drew the plugin's panel at this size; tell the plugin when it changed."""
        handle = self.plugins.get(name)
        if handle is None or handle.panel_size == (width, height):
            return
        handle.panel_size = (width, height)
        self._offer(name, PanelResized(width, height))

    def run_command(self, name: str, command: str, args: str) -> bool:
        handle = self.plugins.get(name)
        if handle is None or command not in handle.commands:
            return False
        self._offer(name, CommandInvoked(command, args))
        return True

    async def change_settings(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate, persist and deliver new settings (ValueError names the bad field)."""
        handle = self.plugins[name]
        values = await trio.to_thread.run_sync(self.settings.save, handle.manifest, changes)
        if handle.runtime is not None:
            handle.runtime.settings = dict(values)
        self._offer(name, SettingsChanged(values))
        return values

    def _offer(self, name: str, event: Event, capability: Capability | None = None,
               subscription_type: str | None = None) -> None:
        handle = self.plugins.get(name)
        if handle is None or handle.subscription is None or handle.runtime is None:
            return
        if subscription_type is not None and subscription_type not in handle.runtime.subscriptions:
            return
        if capability is not None and not handle.grants.check(capability).allowed:
            return
        handle.subscription.offer(event)

    def _wants(self, handle: PluginHandle, event: Event) -> bool:
        runtime = handle.runtime
        if runtime is None:
            return False
        if isinstance(event, PluginMessage):
            return event.sender != handle.name and any(event.topic.startswith(p) for p in runtime.listening)
        if isinstance(event, PluginLifecycle) and event.plugin == handle.name:
            return False
        return EVENT_TYPES[type(event)] in runtime.subscriptions

    # -- the plugin's task ---------------------------------------------------------------

    async def _serve(self, handle: PluginHandle, *, task_status: trio.TaskStatus[None]) -> None:
        assert handle.subscription is not None and handle.runtime is not None
        try:
            with trio.CancelScope() as handle.scope:
                async with trio.open_nursery() as timers:
                    handle.timer_nursery = timers
                    task_status.started()
                    await self._deliver_forever(handle)
        finally:
            handle.timers.clear()
            handle.timer_nursery = None
            self.bus.unsubscribe(handle.subscription)
            self._drain(handle.subscription)
            handle.subscription = None
            handle.scope = None
            handle.stopped.set()

    async def _deliver_forever(self, handle: PluginHandle) -> None:
        subscription, runtime = handle.subscription, handle.runtime
        while True:
            batch = [await subscription.receive()]
            while len(batch) < BATCH:
                try:
                    batch.append(subscription.receive_nowait())
                except trio.WouldBlock:
                    break
            plain = [self._plain(event) for event in self._deliverable(batch)]
            async with trio.open_nursery() as watchdog:
                watchdog.start_soon(self._mark_stale, handle)
                try:
                    errors = await self._in_thread(handle, runtime.deliver, plain)
                except PluginError as error:  # abandoned, or the host failed in its thread
                    errors = [error]
                watchdog.cancel_scope.cancel()
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
                self._set_state(handle, PluginState.QUARANTINED, runtime.sandbox.quarantined)
                return

    async def _mark_stale(self, handle: PluginHandle) -> None:
        await trio.sleep(STALE_AFTER)
        handle.stale = True
        self.bus.publish(PanelUpdated(handle.name))

    def _deliverable(self, batch: list[Event]) -> list[Event]:
        """The batch without messages whose sending plugin has stopped; each message is taken once."""
        events = []
        for event in batch:
            if isinstance(event, PluginMessage):
                sender = self._take_message(event)
                if sender is not None and sender.runtime is None:
                    continue
            events.append(event)
        return events

    def _take_message(self, message: PluginMessage) -> PluginHandle | None:
        """One listener took `message`: the plugin that sent it (None if no plugin did), whose
        account is credited when the last listener took it."""
        waiting = self._waiting.get(id(message))
        if waiting is None or waiting[0] is not message:
            return None
        sender, size = waiting[1], waiting[2]
        waiting[3] -= 1
        if waiting[3] <= 0:
            del self._waiting[id(message)]
            if sender.runtime is not None:
                sender.runtime.message_taken(size)
        return sender

    def _drain(self, subscription: Subscription) -> None:
        """Messages left in a closed subscription count as taken."""
        while True:
            try:
                event = subscription.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            if isinstance(event, PluginMessage):
                self._take_message(event)

    def _plain(self, event: Event) -> dict[str, Any]:
        """The plain form of `event`; the console's stats and selection are converted once
        however many plugins receive them (a plugin's message is never kept here)."""
        if not isinstance(event, (StatsUpdated, SelectionChanged)):
            return to_plain(event)
        cached = self._plain_cache.get(id(event))
        if cached is not None and cached[0] is event:
            return cached[1]
        plain = to_plain(event)
        if len(self._plain_cache) > 256:
            self._plain_cache.clear()
        self._plain_cache[id(event)] = (event, plain)
        return plain

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
                reason = (f"stuck in one library call {overdue * 1000:.0f} ms past its deadline; "
                          "the call was abandoned")
                sandbox.abandon(reason)
                abandoned.append(LimitExceeded(LimitKind.WALL_TIME, reason, plugin=handle.name))
                scope.cancel()
                return

    # -- effects -------------------------------------------------------------------------

    def _apply_effects(self, handle: PluginHandle) -> None:
        if handle.runtime is None:
            return
        for effect in handle.runtime.take_effects():
            match effect:
                case rt.Render(lines=lines, size=size):
                    handle.panel, handle.panel_at = lines, self.clock.time()
                    handle.runtime.kept.panel = size
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
                    listeners = self.bus.publish(message)
                    if listeners:
                        self._waiting[id(message)] = [message, handle, size, listeners]
                    else:
                        handle.runtime.message_taken(size)
                case rt.Request():
                    assert self._nursery is not None
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
                    if handle.subscription is not None:
                        handle.subscription.offer(TimerFired(name, self.clock.time()))
                    if not repeat:
                        handle.timers.pop(name, None)
                        return

        handle.timer_nursery.start_soon(tick)

    async def _run_request(self, handle: PluginHandle, request: rt.Request) -> None:
        """Carry out an admin request: confirm if destructive, call the backend, report back."""
        outcome = await self._confirm_if_needed(handle, request)
        if outcome is not None:
            self._report(handle, request, ok=False, error=outcome)
            return
        try:
            result = await trio.to_thread.run_sync(self._perform, request)
        except BackendError as exc:
            self._report(handle, request, ok=False, error=str(exc))
            return
        except Exception as exc:
            log.exception("%s: %s request failed", handle.name, request.action)
            self._report(handle, request, ok=False, error=f"internal error: {exc}")
            return
        problem = self._unfit_result(handle, request, result)
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

    async def _confirm_if_needed(self, handle: PluginHandle, request: rt.Request) -> str | None:
        """None to go ahead, or why not."""
        if not request.capability.destructive:
            return None
        effective = handle.grants.check(request.capability)
        if not effective.allowed:
            return f"{request.capability} is {effective.verdict}"
        if not effective.confirm:
            self._audit(handle, request.capability, Outcome.ALLOWED, f"{request.action} (no confirmation asked)")
            return None
        what = describe_request(request)
        if self._confirmer is None:
            self._audit(handle, request.capability, Outcome.DECLINED, f"{what}: nobody to confirm")
            return "refused: destructive actions need an operator to confirm them"
        ask, missed = handle.prompts.admit()
        self._prompts_suppressed(handle, missed)
        if not ask:
            self._audit(handle, request.capability, Outcome.DECLINED, f"{what}: too many confirmation prompts")
            return (f"refused: too many confirmation prompts (at most {CONFIRM_BURST} at once, then one every "
                    f"{CONFIRM_SECONDS} s)")
        confirmed = await self._confirmer(handle, request.capability, what)
        self._audit(handle, request.capability, Outcome.CONFIRMED if confirmed else Outcome.DECLINED, what)
        return None if confirmed else "the operator declined"

    def _perform(self, request: rt.Request) -> Any:
        args, backend = request.args, self.backend
        match request.action:
            case "peek":
                page: Page = backend.peek(args["queue"], JobState(args["state"]), text=args["text"],
                                          cursor=args["cursor"], limit=args["limit"])
                return {"jobs": [job_plain(j) for j in page.jobs], "next_cursor": page.next_cursor}
            case "find":
                job = backend.job(args["id"])
                return job_plain(job) if job else None
            case "enqueue":
                return job_plain(backend.enqueue(args["queue"], args["payload"]))
            case "requeue":
                if args["ids"] is not None:
                    count = backend.requeue(ids=args["ids"], to_queue=args["to"])
                else:
                    count = backend.requeue(queue=args["queue"], text=args["text"], to_queue=args["to"])
                return {"count": count}
            case "purge":
                return {"count": backend.purge(args["queue"], JobState(args["state"]))}
        raise ValueError(f"unknown action {request.action}")

    async def _settle_floods_forever(self) -> None:
        """Sum up the floods of each plugin that have ended, even if it is not called again."""
        while True:
            await trio.sleep(SETTLE_SECONDS)
            for handle in list(self.plugins.values()):
                self._settle_floods(handle)

    def _settle_floods(self, handle: PluginHandle) -> None:
        self._prompts_suppressed(handle, handle.prompts.settle())
        try:
            self.audit.settle(handle.name, str(handle.manifest.version), now=utc_now(self.clock))
        except Exception as exc:
            log.warning("audit log: %s", exc)
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
        if handle.subscription is not None:
            handle.subscription.offer(ActionResult(request.id, request.action, ok, error, result))

    # -- state ---------------------------------------------------------------------------

    def _failed(self, handle: PluginHandle, error: PluginError, *, fatal: bool) -> None:
        handle.error = _detached(error)
        handle.errors += 1
        log.warning("%s", visible(str(error)))
        if isinstance(error, LimitExceeded):
            self._audit_violation(handle, error)
        if handle.runtime is not None:
            handle.runtime.log_error(str(error))
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
        return RateLimit(1 / CONFIRM_SECONDS, CONFIRM_BURST, clock=self.clock.monotonic)

    def _audit_violation(self, handle: PluginHandle, error: LimitExceeded) -> None:
        try:
            self.audit.record(handle.name, str(handle.manifest.version), f"limits.{error.kind.name.lower()}",
                              Outcome.VIOLATION, error.message, now=utc_now(self.clock))
        except Exception as exc:
            log.warning("audit log: %s", exc)

    def _audit(self, handle: PluginHandle, capability: Capability, outcome: Outcome, detail: str) -> None:
        try:
            self.audit.record(handle.name, str(handle.manifest.version), capability.value, outcome, detail,
                              now=utc_now(self.clock))
        except Exception as exc:
            log.warning("audit log: %s", exc)


def _compile_errors(plugin: Plugin) -> list[PluginError]:
    """What `qtui plugin check` would report for the plugin's folder (nothing is run)."""
    def where(file: Path) -> str:
        return str(file.relative_to(plugin.folder)) if file.is_relative_to(plugin.folder) else str(file)

    return [PluginError(p.message, plugin=plugin.name, file=where(p.file), line=p.line)
            for p in check_folder(plugin.folder).problems]


def describe_request(request: rt.Request) -> str:
    """What a destructive request will touch, in words for a confirmation dialog."""
    args = request.args
    if request.action == "purge":
        return f"delete every {args['state']} job on {args['queue'] or 'every queue'}"
    if args.get("ids") is not None:
        target = f"{len(args['ids'])} selected dead jobs"
    else:
        target = "every dead job" + (f" on {args['queue']}" if args.get("queue") else "")
        target += f" matching {args['text']!r}" if args.get("text") else ""
    return f"requeue {target} to {args.get('to') or 'their own queues'}"

