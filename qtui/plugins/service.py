"""The plugin system as the console sees it: the one module under :mod:`qtui.plugins` it imports.

:class:`PluginService` finds the installed plugins and the catalog, starts the enabled ones in
a :class:`~qtui.plugins.runtime.host.PluginHost`, keeps ``plugins.toml``, installs and removes
plugins, reloads a plugin when its files are saved and records the operator's decisions. It
reports through the console's event bus (:class:`PanelUpdated` when a plugin changed,
:class:`~qtui.events.Notice` for the status bar) and asks the operator only through the
``confirmer`` it is given. It never imports the console.

What the command line changes while a console runs reaches it: the service watches
``plugins.toml``, ``plugin-settings.toml``, ``catalogs.toml`` and the catalog's index files
(file events: an idle console is not woken for them), and starts or stops plugins, delivers new
settings and reads the catalog again when they change. It keeps the states of its plugins in a
:class:`~qtui.plugins.runtime.running.RunningFile` for `qtui plugin list`.

The other names here are what the console shows of plugins; they are defined in the
subpackages (:mod:`.bundles`, :mod:`.trust`, :mod:`.runtime`) and listed in ``__all__``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio

from qtui.backends.base import Backend
from qtui.bus import EventBus
from qtui.clock import Clock
from qtui.events import Event, Notice
from qtui.files.tomlfile import Problem
from qtui.plugins.bundles import catalog
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.catalog import Catalog, Entry, Removed
from qtui.plugins.bundles.catalog import matches as matches_search
from qtui.plugins.bundles.discovery import Discovery, Plugin, Source, discover
from qtui.plugins.bundles.manifest import Manifest, ManifestError, Setting, SettingType, load_manifest
from qtui.plugins.bundles.watch import watch_folders
from qtui.plugins.lifecycle import Forgotten, forget
from qtui.plugins.runtime.events import MAIN_PANEL, PluginLifecycle
from qtui.plugins.runtime.host import (
    Confirmation,
    Confirmer,
    PanelUpdated,
    PluginHandle,
    PluginHost,
    PluginState,
)
from qtui.plugins.runtime.instance import Span
from qtui.plugins.runtime.recording import RECORDED, Recorder
from qtui.plugins.runtime.running import RunningFile
from qtui.plugins.runtime.sandbox import PluginError
from qtui.plugins.runtime.settings import from_text as setting_from_text
from qtui.plugins.trust.enabled import EnabledStore
from qtui.plugins.trust.live import watch_files
from qtui.plugins.trust.permissions import Grants, Pending, PermissionsFileError, Verdict
from qtui.plugins.trust.policy import policy_path
from qtui.plugins.trust.review import Review
from qtui.plugins.trust.scope import Scope
from qtui.sanitize import one_line

__all__ = [
    "MAIN_PANEL", "Capability", "Catalog", "CatalogChanged", "Confirmation", "Confirmer", "DecisionNeeded",
    "DecisionsChanged", "Discovery", "Entry", "Grants", "Manifest", "PanelUpdated",
    "Pending", "Plugin", "PluginHandle", "PluginService", "PluginState", "Recorder", "Removed", "Review", "Scope",
    "Setting", "SettingType", "Source", "Span", "Verdict", "matches_search", "setting_from_text",
]

log = logging.getLogger(__name__)


def _where(problem: Problem) -> str:
    """The file's name (no folder: the status line is 80 columns) and the line of a problem."""
    return problem.file.name + (f":{problem.line}" if problem.line is not None else "")


def _short(problem: Problem) -> str:
    """A problem with the file's name only, for the status line."""
    what = f"{problem.field}: {problem.message}" if problem.field else problem.message
    return f"{_where(problem)}: {what}"


@attrs.frozen
class CatalogChanged(Event):
    """The catalog was read again because an index file or catalogs.toml changed."""


@attrs.frozen
class DecisionNeeded(Event):
    """A plugin's code waits for the operator's decision (its older code may still be running)."""

    handle: PluginHandle


@attrs.frozen
class DecisionsChanged(Event):
    """What a plugin may do changed while it was loaded (a dialog about it may be out of date)."""

    plugin: str
    changes: tuple[str, ...]


class PluginService:
    """Runs the operator's plugins for one console: discovery, lifecycle, reload and decisions."""

    def __init__(self, backend: Backend, bus: EventBus, *, clock: Clock, confirmer: Confirmer,
                 enabled: EnabledStore | None = None, dev: Path | None = None, with_enabled: bool = False,
                 host: PluginHost | None = None, running: RunningFile | None = None, recorder: Recorder | None = None) -> None:
        self.bus = bus
        self.recorder = recorder  # qtui record: what the plugins see goes to a recording too
        self.host = host or PluginHost(backend, bus, clock=clock, confirmer=confirmer)
        self.enabled_store = enabled or EnabledStore()
        self.dev = dev  # a plugin folder under development (qtui plugin dev)
        # In plugin dev only the plugin under development runs, unless asked for the enabled ones too.
        self.runs_enabled = dev is None or with_enabled
        self.discovery = Discovery()
        self.catalog = Catalog()
        self.enabled: list[str] = []
        self._enabled_writes = 0  # the console's own changes of plugins.toml, so far
        self.running_file = running or RunningFile()
        self._states_written: dict[str, dict[str, str | None]] | None = None
        self._nursery: trio.Nursery | None = None
        self._waiting: list[Callable[[], Awaitable[None]]] = []
        self._watch_scope: trio.CancelScope | None = None
        # Each plugin folder's bundle hash as the reload watcher last knew it (across its restarts).
        self._folders_seen: dict[str, str] = {}
        self._decisions_scope: trio.CancelScope | None = None  # watching the decisions, while plugins are loaded

    @property
    def plugins(self) -> dict[str, PluginHandle]:
        """The plugins the host knows, by name (running, waiting, failed or stopped)."""
        return self.host.plugins

    def notice(self, text: str, level: str = "info") -> None:
        """A message for the status bar."""
        self.bus.publish(Notice(text, level))

    # -- running -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the host and the enabled plugins, then keep watching their folders and files."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                # One waiting event is enough: the states are read after it is received.
                states = self.bus.subscribe("plugin states", (PanelUpdated, PluginLifecycle), capacity=1)
                nursery.start_soon(self._record_states, states)
                if self.recorder is not None:
                    self.host.on_read = self.recorder.jobs
                    nursery.start_soon(self._record, self.bus.subscribe("recording", RECORDED, capacity=256))
                await nursery.start(self.host.run)
                self.rediscover()
                try:
                    self.enabled = self.enabled_store.load()
                except Exception as exc:
                    self.notice(f"enabled plugins: {exc}", "error")
                task_status.started()
                files = await trio.to_thread.run_sync(self._config_files)
                stamps = await trio.to_thread.run_sync(self._config_stamps, files)
                if self.dev is not None:
                    await self._start_dev()  # first: an installed plugin of its name must not start
                if self.runs_enabled:
                    for name in self.enabled:
                        await self._start_enabled(name)
                self._restart_watch()
                nursery.start_soon(self._follow_config, files, stamps)
                for work in self._waiting:
                    nursery.start_soon(work)
                self._waiting.clear()
        finally:
            try:
                self.running_file.remove()
            except OSError as exc:
                log.warning("running plugins file: %s", exc)

    async def _start_enabled(self, name: str) -> None:
        if self.dev is not None and name == self.dev_name():
            return  # the folder under development takes the name's place
        plugin = self.discovery.get(name)
        if plugin is None:
            self.notice(self._missing(name), "warning")
            return
        await self.start(plugin)

    def _missing(self, name: str) -> str:
        """Why the enabled plugin `name` cannot start: not installed, or its folder is broken."""
        broken = next((b for b in self.discovery.broken if b.folder.name == name), None)
        if broken is None or not broken.problems:
            return f"enabled plugin {name} is not installed"
        return one_line(f"enabled plugin {name} cannot be loaded: {_short(broken.problems[0])}")

    def spawn(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Run `work()` beside the plugins; a failure becomes a status message."""
        if self._nursery is not None:
            self._nursery.start_soon(self._guarded, work)
        else:
            self._waiting.append(lambda: self._guarded(work))  # asked before run() began: run() starts it

    async def _guarded(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Await `work()`; a failure becomes a status message instead of ending the console."""
        try:
            await work()
        except Exception as exc:
            log.exception("plugin operation failed")
            self.notice(f"plugin: {exc}", "error")

    def rediscover(self) -> None:
        """Look for installed plugins and the catalog again (the files are small and local)."""
        self._use_sources(*self._read_sources())

    @staticmethod
    def _read_sources() -> tuple[Discovery | None, Catalog, list[str]]:
        """The installed plugins (None if discovery failed), the catalog and what went wrong;
        safe to run in a worker thread."""
        problems = []
        found: Discovery | None = None
        listing = Catalog()
        try:
            found = discover()
        except Exception as exc:
            problems.append(f"plugin discovery failed: {exc}")
        try:
            listing = catalog.load_catalog()
        except Exception as exc:
            problems.append(f"plugin catalog: {one_line(str(exc).splitlines()[0])}")
        return found, listing, problems

    def _use_sources(self, found: Discovery | None, listing: Catalog, problems: list[str]) -> None:
        if found is not None:
            self.discovery = found
        self.catalog = listing
        for problem in problems:
            self.notice(problem, "error")

    def find(self, name: str) -> Plugin | None:
        """The installed (or running) plugin called `name`, looking again if it is new."""
        if self.discovery.get(name) is None and name not in self.host.plugins:
            self.rediscover()  # installed while the console runs
        handle = self.host.plugins.get(name)
        return self.discovery.get(name) or (handle.plugin if handle else None)

    def dev_name(self) -> str | None:
        """The name of the plugin under development, once it has been loaded."""
        if self.dev is None:
            return None
        return next((h.name for h in self.host.plugins.values() if h.plugin.folder == self.dev), None)

    def shown_as_enabled(self) -> set[str]:
        """Enabled plugins, and the one under development."""
        return set(self.enabled) | ({self.dev_name()} - {None})

    # -- lifecycle -----------------------------------------------------------------------

    async def _start_dev(self) -> None:
        assert self.dev is not None
        try:
            plugin = Plugin(load_manifest(self.dev), self.dev, Source.USER)
        except ManifestError as exc:
            self.notice(one_line(str(exc).splitlines()[0]), "error")
            return
        try:  # the author's own folder: earlier decisions hold while the capabilities stay the same
            self.host.carry_decisions(plugin)
        except Exception as exc:
            self.notice(f"{plugin.name}: {exc}", "warning")
        await self.start(plugin)

    async def start(self, plugin: Plugin) -> PluginHandle:
        """(Re)start `plugin`: a running one stops first (handing its state over) and comes back
        under the current decisions."""
        old = self.host.plugins.get(plugin.name)
        handoff = None
        if old is not None and old.state is not PluginState.WAITING:
            handoff = await self.host.stop(plugin.name)
        handle = await self.host.start(plugin, handoff=handoff)
        self._changed(handle)
        self._restart_watch()
        if handle.state is PluginState.WAITING:
            self.bus.publish(DecisionNeeded(handle))
        return handle

    async def enable(self, plugin: Plugin) -> None:
        """Remember `plugin` as enabled and start it."""
        self._persist(plugin.name, True)
        await self.start(plugin)

    async def disable(self, name: str) -> None:
        """Stop the plugin and remember it as disabled."""
        self._persist(name, False)
        await self.stop(name)

    async def stop(self, name: str) -> None:
        """Stop the plugin (it stays enabled)."""
        await self.host.stop(name)
        handle = self.host.plugins.get(name)
        if handle is not None:
            self._changed(handle)
        self._restart_watch()

    async def install(self, entry: Entry) -> None:
        """Install a catalog entry (nothing is granted by installing)."""
        installed = await trio.to_thread.run_sync(catalog.install, entry)
        self.rediscover()
        self.notice(f"installed {installed.manifest.name} {installed.manifest.version}; e enables it")

    async def uninstall(self, plugin: Plugin) -> Removed:
        """Stop and delete the user's install of `plugin`, and clear every trace of it but the
        audit log, as `qtui plugin remove` does (:func:`~qtui.plugins.lifecycle.forget`)."""
        await self.disable(plugin.name)
        removed = await trio.to_thread.run_sync(catalog.remove, plugin.name)
        await trio.to_thread.run_sync(self.forget, plugin.name)
        self.host.forget(plugin.name)
        self.rediscover()
        still = f"; the {removed.now_used.source} one is used now" if removed.now_used else ""
        self.notice(f"uninstalled {plugin.name}{still}")
        return removed

    def forget(self, name: str) -> Forgotten:
        """Clear the plugin's enabled state, settings, storage and decisions (not the audit log)."""
        forgotten = forget(name, enabled=self.enabled_store, settings=self.host.settings,
                           storage_dir=self.host.storage_dir, permissions=self.host.store)
        self.enabled = [n for n in self.enabled if n != name]
        self._enabled_writes += 1
        return forgotten

    async def reload(self, name: str) -> PluginHandle | None:
        """Load the plugin's folder again (manifest and code); keeps the old code on failure.

        Returns the handle of the new code: the running one, or one waiting for the operator's
        decision while the old code keeps running. None when nothing could be loaded.
        """
        handle = self.host.plugins.get(name)
        folder = handle.plugin.folder if handle else None
        if folder is None:
            plugin = self.discovery.get(name)
            folder = plugin.folder if plugin else None
        if folder is None:
            return None
        source = handle.plugin.source if handle else Source.USER
        try:
            plugin = Plugin(load_manifest(folder), folder, source)
        except ManifestError as exc:
            if handle is not None:
                handle.error = PluginError(one_line(str(exc).splitlines()[0]), plugin=name)
                self._changed(handle)
            self.notice(one_line(str(exc).splitlines()[0]), "error")
            return None
        new = await self.host.reload(plugin, carry_decisions=self.dev is not None and folder == self.dev)
        self._changed(self.host.plugins.get(name, new))
        if new.state is PluginState.WAITING:
            self.bus.publish(DecisionNeeded(new))
        return new

    def _persist(self, name: str, enabled: bool) -> None:
        if self.dev is not None and self.dev_name() == name:
            return
        self._enabled_writes += 1
        try:
            self.enabled_store.set(name, enabled)
            self.enabled = self.enabled_store.load()
        except Exception as exc:
            self.notice(f"could not save enabled plugins: {exc}", "error")

    def _changed(self, handle: PluginHandle) -> None:
        self.bus.publish(PanelUpdated(handle.name))

    # -- decisions and settings ----------------------------------------------------------

    def pending(self, handle: PluginHandle) -> Pending | None:
        """What the operator has yet to decide for the plugin's current code."""
        if handle.code_hash is None:
            return None
        return self.host.store.pending(handle.manifest, handle.code_hash)

    def decide(self, handle: PluginHandle, *, grant: tuple[Capability, ...] = (),
               deny: tuple[Capability, ...] = (), no_confirm: tuple[Capability, ...] = ()) -> None:
        """Record the operator's decisions for the plugin's current version and code.

        A running plugin is held to them at once; code waiting for them starts.
        """
        changed = self.host.decide(handle, grant=grant, deny=deny, no_confirm=no_confirm)
        if handle.state is PluginState.WAITING:  # what it may do is news only for running code
            self.spawn(lambda: self.start(handle.plugin))
        else:
            self._changed_decisions(handle, changed, "decided here")

    # -- decisions made elsewhere ----------------------------------------------------------

    def decision_files(self) -> tuple[Path, Path]:
        """The files whose changes apply to running plugins: the decisions and the site policy."""
        return self.host.store.path, policy_path()

    def _watch_decisions(self, loaded: bool) -> None:
        """Watch the decision files while any plugin is loaded (an idle console never wakes up)."""
        if not loaded and self._decisions_scope is not None:
            self._decisions_scope.cancel()
            self._decisions_scope = None
        elif loaded and self._decisions_scope is None and self._nursery is not None:
            scope = self._decisions_scope = trio.CancelScope()

            async def watch() -> None:
                with scope:
                    await watch_files(self.decision_files(), lambda: self._guarded(self.apply_decisions))

            self._nursery.start_soon(watch)

    async def apply_decisions(self) -> None:
        """Hold every loaded plugin to the decisions and policy on disk now, and say what changed.

        Runs when permissions.toml or policy.toml changed: a revoke or a new forbid applies from
        the plugin's next call, a grant completing a waiting plugin's decisions starts it.
        """
        self.host.reload_policy()
        broken: PermissionsFileError | None = None
        for handle in list(self.host.plugins.values()):
            try:
                changed = self.host.refresh_grants(handle)
            except PermissionsFileError as exc:  # each plugin is held to no decision at all
                broken = exc
                continue
            self._changed_decisions(handle, changed, "changed on disk")
            if handle.state is PluginState.WAITING and handle.grants is not None and not any(
                    e.verdict is Verdict.UNDECIDED for e in handle.grants.all()):
                await self.start(handle.plugin)
        if broken is not None:  # the place first: the status line is 80 columns
            problem = broken.problems[0]
            self.notice(one_line(f"{_where(problem)} is invalid, every plugin capability is refused: "
                                 f"{problem.field}: {problem.message}"), "error")

    def _changed_decisions(self, handle: PluginHandle, changed: list[str], origin: str) -> None:
        if not changed:
            return
        self.notice(one_line(f"{handle.name}: {', '.join(changed)} ({origin})"),
                    "warning" if any(not c.endswith("granted") for c in changed) else "info")
        self.bus.publish(DecisionsChanged(handle.name, tuple(changed)))

    def review(self, handle: PluginHandle) -> Review | None:
        """What changed in the plugin's code since the code last granted to it."""
        return self.host.review(handle)

    def setting_values(self, plugin: Plugin) -> dict[str, Any]:
        """The plugin's current settings (the operator's values over the manifest's defaults)."""
        return self.host.settings.values(plugin.manifest)[0]

    async def save_settings(self, plugin: Plugin, changes: dict[str, Any]) -> None:
        """Validate and keep new setting values; a running plugin gets a settings event."""
        if plugin.name in self.host.plugins:
            await self.host.change_settings(plugin.name, changes)
        else:
            await trio.to_thread.run_sync(self.host.settings.save, plugin.manifest, changes)
        self.notice(f"{plugin.name}: settings saved")

    # -- what others change: the files, and the states others read ------------------------

    def _config_files(self) -> list[Path]:
        files = [self.enabled_store.path, self.host.settings.path, *catalog.catalogs_paths()]
        for config in catalog.catalogs_paths():
            try:
                files += catalog.configured_indexes(config)
            except catalog.CatalogError:
                pass  # reported when the catalog is read
        return files

    @staticmethod
    def _config_stamps(files: list[Path]) -> dict[Path, tuple[int, int, int] | None]:
        """Each file's inode, size and modification time (None when missing)."""
        stamps: dict[Path, tuple[int, int, int] | None] = {}
        for path in files:
            try:
                info = os.stat(path)
            except OSError:
                stamps[path] = None
            else:
                stamps[path] = (info.st_ino, info.st_size, info.st_mtime_ns)
        return stamps

    async def _follow_config(self, files: list[Path], stamps: dict[Path, tuple[int, int, int] | None]) -> None:
        """Apply what changes in the config files as it changes, until cancelled: through file
        events, so an idle console sleeps (where the system has none, the files are looked at
        twice a second). `stamps` are the files as they were when the console read them."""
        while True:
            with trio.CancelScope() as watching:

                async def look() -> None:
                    nonlocal stamps
                    now = await trio.to_thread.run_sync(self._config_stamps, files)
                    changed = {path for path in stamps.keys() | now.keys() if stamps.get(path) != now.get(path)}
                    stamps = now
                    await self._apply_config(changed)
                    if changed - {self.enabled_store.path, self.host.settings.path}:
                        watching.cancel()  # a catalog changed: it may name other index files

                await watch_files(files, lambda: self._guarded(look))
            files = await trio.to_thread.run_sync(self._config_files)

    async def _apply_config(self, changed: set[Path]) -> None:
        """Follow the config files that changed: the catalogs, the enabled plugins, the settings."""
        if changed - {self.enabled_store.path, self.host.settings.path}:
            before = len(self.catalog.entries)
            self._use_sources(*await trio.to_thread.run_sync(self._read_sources))
            self.notice(f"plugin catalog read again: {len(self.catalog.entries)} entries (was {before})")
            self.bus.publish(CatalogChanged())
        if self.enabled_store.path in changed:
            await self._apply_enabled()
        if self.host.settings.path in changed:
            await self._apply_settings()

    async def _apply_enabled(self) -> None:
        """Start the plugins enabled elsewhere since, stop those disabled."""
        while True:
            writes = self._enabled_writes
            try:
                names = await trio.to_thread.run_sync(self.enabled_store.load)
            except Exception as exc:
                self.notice(f"enabled plugins: {exc}", "error")
                return
            if writes == self._enabled_writes:
                break  # else the console changed the file meanwhile: what was read may be older
        added = [n for n in names if n not in self.enabled]
        removed = [n for n in self.enabled if n not in names]
        self.enabled = names
        if not self.runs_enabled:
            return
        for name in removed:
            handle = self.host.plugins.get(name)
            if handle is not None and handle.state is not PluginState.STOPPED and name != self.dev_name():
                await self.stop(name)
                self.notice(f"{name} was disabled elsewhere and stopped")
        for name in added:
            handle = self.host.plugins.get(name)
            if handle is None or handle.state is PluginState.STOPPED:
                if self.find(name) is not None:
                    self.notice(f"{name} was enabled elsewhere")
                await self._start_enabled(name)

    async def _apply_settings(self) -> None:
        """Give running plugins the setting values saved elsewhere."""
        for name, handle in list(self.host.plugins.items()):
            if handle.runtime is None:
                continue
            values, _problems = await trio.to_thread.run_sync(self.host.settings.values, handle.manifest)
            if self.host.apply_settings(name, values):
                self.notice(f"{name}: settings changed elsewhere")

    def plugin_states(self) -> dict[str, dict[str, str | None]]:
        """What the running file says: each plugin's version, state and reason."""
        return {
            name: {"version": str(handle.manifest.version), "state": handle.state.name.lower(),
                   "reason": handle.reason}
            for name, handle in self.host.plugins.items()
        }

    async def _record(self, events: Any) -> None:
        """Write each event plugins may see to the recording (qtui record)."""
        assert self.recorder is not None
        async for event in events:
            self.recorder.event(event)

    async def _record_states(self, changes: Any) -> None:
        """Keep the running file up to date with the plugins' states (others read it)."""
        await trio.to_thread.run_sync(self.running_file.remove_stale)
        async for _event in changes:
            states = self.plugin_states()
            if states == self._states_written:
                continue
            self._states_written = states
            try:
                await trio.to_thread.run_sync(self.running_file.write, states)
            except OSError as exc:
                log.warning("running plugins file: %s", exc)

    # -- live reload ---------------------------------------------------------------------

    def _restart_watch(self) -> None:
        if self._watch_scope is not None:
            self._watch_scope.cancel()
        folders = {name: handle.plugin.folder for name, handle in self.host.plugins.items()
                   if handle.state is not PluginState.STOPPED}
        self._watch_decisions(bool(folders))
        if not folders or self._nursery is None:
            return
        scope = trio.CancelScope()
        self._watch_scope = scope

        async def watch() -> None:
            with scope:
                await watch_folders(folders, self._saved, self._folders_seen)

        self._nursery.start_soon(watch)

    async def _saved(self, name: str) -> None:
        await self.reload(name)
        self.notice(f"{name} reloaded" if self.host.plugins[name].error is None
                    else f"{name}: reload failed, the previous code keeps running", "info")
