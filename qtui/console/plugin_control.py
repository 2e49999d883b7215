"""The console's side of plugins: enabling, panels, prompts, confirmations and live reload."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from qtui.console.modal import Choice, ConfirmModal
from qtui.console.panels import Dock, LogPanel, PanelWidget
from qtui.console.plugin_modals import PermissionModal, SettingsModal
from qtui.console.screens.plugins import PluginsScreen
from qtui.console.widgets import TextView
from qtui.plugins import catalog
from qtui.plugins.capabilities import Capability
from qtui.plugins.discovery import Discovery, Plugin, Source, discover
from qtui.plugins.enabled import EnabledStore
from qtui.plugins.host import PanelUpdated, PluginHandle, PluginHost, PluginState
from qtui.plugins.manifest import ManifestError, load_manifest
from qtui.plugins.sandbox import PluginError
from qtui.plugins.watch import watch_folders
from qtui.sanitize import one_line

if TYPE_CHECKING:
    from qtui.console.app import Console

log = logging.getLogger(__name__)

#: Dock key of a plugin's log pane (plugin dev); plugin names cannot contain ':'.
LOG_PREFIX = "log:"


class PluginLogScreen:
    """A plugin's log lines and errors, full screen."""

    name = "detail"
    title = "Plugin log"

    def __init__(self) -> None:
        self.view = TextView()
        self.widget = self.view
        self.job = None

    def show(self, handle: PluginHandle) -> None:
        lines = [("label", f"log of {handle.name} {handle.manifest.version} ({handle.state})")]
        if handle.error is not None:
            lines.append(("dead", one_line(str(handle.error))))
        lines += handle.log_lines or [("dim", "(nothing logged yet)")]
        self.view.set_lines(lines)

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.view.move(where, size)


class PanelScreen:
    """One plugin panel, full screen, for reading (Esc returns; keys go to a focused dock panel)."""

    name = "detail"  # the keys of a detail view: move to scroll, Esc or q back
    title = "Plugin"

    def __init__(self, panel: PanelWidget) -> None:
        self.panel = panel
        self.widget = panel
        self.job = None
        self.plugin = panel.name

    def move(self, where: str, size: tuple[int, int]) -> None:
        key = {"up": "up", "down": "down", "page-up": "page up", "page-down": "page down"}.get(where)
        if key:
            self.panel.scroll(size, key)


class PluginControl:
    """Runs the plugin host for the console and connects it to the screen."""

    def __init__(self, console: Console, *, enabled: EnabledStore | None = None, dev: Path | None = None,
                 host: PluginHost | None = None) -> None:
        self.console = console
        self.host = host or PluginHost(console.backend, console.bus, confirmer=self.confirm)
        self.enabled_store = enabled or EnabledStore()
        self.dev = dev
        self.dock = Dock()
        self.screen = PluginsScreen()
        self.log_screen = PluginLogScreen()
        self.discovery = Discovery()
        self.catalog = catalog.Catalog()
        self.enabled: list[str] = []
        self._prompted: set[tuple[str, str | None]] = set()
        self._nursery: trio.Nursery | None = None
        self._watch_scope: trio.CancelScope | None = None
        self._manager_shown = trio.Event()  # wakes the manager's refresh tick

    # -- running -------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        updates = self.console.bus.subscribe("plugin panels", (PanelUpdated,), capacity=256)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.host.run)
            nursery.start_soon(self._follow, updates)
            self.rediscover()
            try:
                self.enabled = self.enabled_store.load()
            except Exception as exc:
                self.console.message(f"enabled plugins: {exc}", "error")
            task_status.started()
            for name in self.enabled:
                plugin = self.discovery.get(name)
                if plugin is None:
                    self.console.message(f"enabled plugin {name} is not installed", "warning")
                    continue
                await self._start(plugin)
            if self.dev is not None:
                await self._start_dev()
            self._restart_watch()
            nursery.start_soon(self._tick_manager)

    def rediscover(self) -> None:
        """Look for installed plugins and the catalog again (the files are small and local)."""
        try:
            self.discovery = discover()
        except Exception as exc:
            self.console.message(f"plugin discovery failed: {exc}", "error")
        try:
            self.catalog = catalog.load_catalog()
        except Exception as exc:
            self.catalog = catalog.Catalog()
            self.console.message(f"plugin catalog: {one_line(str(exc).splitlines()[0])}", "error")
        self.refresh_manager()

    async def _start_dev(self) -> None:
        assert self.dev is not None
        try:
            plugin = Plugin(load_manifest(self.dev), self.dev, Source.USER)
        except ManifestError as exc:
            self.console.message(one_line(str(exc).splitlines()[0]), "error")
            return
        try:  # the author's own folder: earlier decisions hold while the capabilities stay the same
            self.host.carry_decisions(plugin)
        except Exception as exc:
            self.console.message(f"{plugin.name}: {exc}", "warning")
        await self._start(plugin)

    async def _start(self, plugin: Plugin) -> None:
        old = self.host.plugins.get(plugin.name)
        if old is not None and old.state is not PluginState.WAITING:
            await self.host.stop(plugin.name)
        handle = await self.host.start(plugin)
        self._update_panel(handle)
        self._restart_watch()

    async def _follow(self, updates) -> None:  # noqa: ANN001
        async for event in updates:
            handle = self.host.plugins.get(event.plugin)
            if handle is not None:
                self._update_panel(handle)

    async def _tick_manager(self) -> None:
        """Refresh the manager's live columns each second while it is on screen; sleep otherwise."""
        while True:
            if self.console.current is not self.screen:
                self._manager_shown = trio.Event()
                await self._manager_shown.wait()
            await trio.sleep(1)
            if self.console.current is self.screen:
                self.refresh_manager()

    def manager_opened(self) -> None:
        """The manager screen is showing: keep its resource columns live."""
        self.rediscover()
        self._manager_shown.set()

    # -- panels --------------------------------------------------------------------

    def _update_panel(self, handle: PluginHandle) -> None:
        panel = self.dock.panels.get(handle.name)
        if panel is None and handle.state is PluginState.STOPPED:
            return  # a disabled plugin leaves the dock; the manager still lists it
        if panel is None:
            panel = PanelWidget(handle, on_mouse=self.host.mouse, on_resize=self.host.resize)
            self.dock.panels[handle.name] = panel
            if self.dev is not None and handle.plugin.folder == self.dev:
                self.dock.panels[LOG_PREFIX + handle.name] = LogPanel(handle)
            self.console.relayout()
        panel.update(handle, focused=self.console.focus_panel == handle.name)
        log_panel = self.dock.panels.get(LOG_PREFIX + handle.name)
        if log_panel is not None:
            log_panel.update(handle, focused=False)
        if self.console.current is self.screen:
            self.refresh_manager()
        if self.console.current is self.log_screen:
            self.log_screen.show(handle)
        if handle.state is PluginState.WAITING:
            key = (handle.name, handle.code_hash)
            if key not in self._prompted:
                self._prompted.add(key)
                self.prompt_permissions(handle)
        self.console.refresh()

    def refresh_manager(self) -> None:
        self.screen.show(self.discovery, self.host.plugins, set(self.enabled) | ({self._dev_name()} - {None}),
                         self.catalog)

    def _dev_name(self) -> str | None:
        if self.dev is None:
            return None
        return next((h.name for h in self.host.plugins.values() if h.plugin.folder == self.dev), None)

    def focus_order(self) -> list[str]:
        """Panels keys can go to, in dock order (log panes take no keys)."""
        return [name for name in self.dock.panels if not name.startswith(LOG_PREFIX)]

    def key(self, name: str, key: str) -> None:
        self.host.key(name, key)

    # -- permissions and confirmations ----------------------------------------------

    def prompt_permissions(self, handle: PluginHandle) -> None:
        if handle.code_hash is None:
            return
        pending = self.host.store.pending(handle.manifest, handle.code_hash)

        def decide(grant: tuple[Capability, ...], deny: tuple[Capability, ...]) -> None:
            try:
                self.host.decide(handle, grant=grant, deny=deny)
            except Exception as exc:
                self.console.message(f"saving the decision failed: {exc}", "error")
                return
            denied = f", denied {len(deny)}" if deny else ""
            self.console.message(f"{handle.name}: granted {len(grant)}{denied}")
            self.spawn(self._start(handle.plugin))  # a running plugin restarts under the new decision

        def later() -> None:
            if handle.state is PluginState.WAITING:
                self.console.message(f"{handle.name} waits for your decision: :plugin allow {handle.name}",
                                     "warning")

        self.console.open_modal(PermissionModal(handle.manifest, pending, decide, later, ascii_box=self.console.ascii,
                                                current=handle.grants))

    async def confirm(self, handle: PluginHandle, capability: Capability, what: str) -> bool:
        """The host's confirmer: ask the operator about a destructive plugin action."""
        answered = trio.Event()
        answer = {"yes": False}

        def yes(remember: bool = False) -> None:
            answer["yes"] = True
            if remember:
                try:
                    self.host.decide(handle, grant=(capability,), no_confirm=(capability,))
                except Exception as exc:
                    self.console.message(f"could not remember the choice: {exc}", "error")
            answered.set()

        lines = [("dead", f"Plugin {handle.name} {handle.manifest.version} wants to:"), f"  {one_line(what)}",
                 ("dim", f"capability {capability} ({capability.description})")]
        choices = [Choice("y", "yes", yes),
                   Choice("a", f"yes, don't ask again for {handle.name} {handle.manifest.version}",
                          lambda: yes(remember=True))]
        self.console.open_modal(ConfirmModal(f"{handle.name}: {capability}", lines, choices, answered.set,
                                             ascii_box=self.console.ascii))
        await answered.wait()
        return answer["yes"]

    # -- commands ------------------------------------------------------------------

    def target(self, name: str | None) -> str | None:
        if name:
            return name
        if self.console.focus_panel:
            return self.console.focus_panel
        if self.console.current is self.screen:
            return self.screen.selected()
        return None

    def command(self, action: str, name: str | None) -> None:
        target = self.target(name)
        if target is None:
            self.console.message("which plugin? select one on the plugins screen (5) or give its name", "warning")
            return
        if action == "install":
            self._install(target)
            return
        if self.discovery.get(target) is None and target not in self.host.plugins:
            self.rediscover()  # installed while the console runs
        plugin = self.discovery.get(target) or (self.host.plugins[target].plugin
                                                if target in self.host.plugins else None)
        if plugin is None:
            self.console.message(f"no plugin named {target!r}", "error")
            return
        handle = self.host.plugins.get(target)
        match action:
            case "enable":
                self._persist(target, True)
                self.spawn(self._start(plugin))
            case "disable":
                self._persist(target, False)
                self.spawn(self._disable(target))
            case "reload":
                self.spawn(self.reload(target))
            case "allow":
                if handle is None or handle.code_hash is None:
                    self.console.message(f"enable {target} first (e on the plugins screen)", "warning")
                else:
                    self.prompt_permissions(handle)
            case "settings":
                self._edit_settings(plugin)
            case "open":
                panel = self.dock.panels.get(target)
                if panel is None:
                    self.console.message(f"{target} has no panel: enable it first", "warning")
                else:
                    self.console.push(PanelScreen(panel))
            case "uninstall":
                self._uninstall(plugin)
            case "log":
                if handle is None:
                    self.console.message(f"{target} is not running", "warning")
                else:
                    self.log_screen.show(handle)
                    self.console.push(self.log_screen)

    def _install(self, name: str) -> None:
        entry = self.catalog.newest(name)
        if entry is None:
            self.console.message(f"{name} is not in the catalog", "error")
            return
        asks = ", ".join(c.value for c in entry.permissions) or "nothing"
        lines = [f"Install {one_line(name)} {entry.version} from", f"  {one_line(entry.location)}?",
                 ("dim", f"It will ask for: {asks} (nothing is granted by installing)")]

        async def run() -> None:
            installed = await trio.to_thread.run_sync(catalog.install, entry)
            self.rediscover()
            self.console.message(f"installed {installed.manifest.name} {installed.manifest.version}; "
                                 "e enables it")

        self.console.confirm("Install plugin", lines, lambda: self.spawn(run()))

    def _uninstall(self, plugin: Plugin) -> None:
        if plugin.source is not Source.USER:
            self.console.message(f"{plugin.name} is a {plugin.source} plugin: only your own can be uninstalled",
                                 "warning")
            return
        lines = [f"Uninstall {one_line(plugin.name)} {plugin.manifest.version}?",
                 ("dim", f"  {one_line(str(plugin.folder))} is deleted")]

        async def run() -> None:
            await self._disable(plugin.name)
            self._persist(plugin.name, False)
            removed = await trio.to_thread.run_sync(catalog.remove, plugin.name)
            self.rediscover()
            still = f"; the {removed.now_used.source} one is used now" if removed.now_used else ""
            self.console.message(f"uninstalled {plugin.name}{still}")

        self.console.confirm("Uninstall plugin", lines, lambda: self.spawn(run()))

    def _persist(self, name: str, enabled: bool) -> None:
        if self.dev is not None and self._dev_name() == name:
            return
        try:
            self.enabled_store.set(name, enabled)
            self.enabled = self.enabled_store.load()
        except Exception as exc:
            self.console.message(f"could not save enabled plugins: {exc}", "error")

    async def _disable(self, name: str) -> None:
        await self.host.stop(name)
        self.dock.panels.pop(name, None)
        self.dock.panels.pop(LOG_PREFIX + name, None)
        if self.console.focus_panel == name:
            self.console.focus_panel = None
        self.console.relayout()
        self._restart_watch()
        self.refresh_manager()

    async def reload(self, name: str) -> None:
        """Load the plugin's folder again (manifest and code); keeps the old code on failure."""
        handle = self.host.plugins.get(name)
        folder = handle.plugin.folder if handle else None
        if folder is None:
            plugin = self.discovery.get(name)
            folder = plugin.folder if plugin else None
        if folder is None:
            return
        source = handle.plugin.source if handle else Source.USER
        try:
            plugin = Plugin(load_manifest(folder), folder, source)
        except ManifestError as exc:
            if handle is not None:
                handle.error = PluginError(one_line(str(exc).splitlines()[0]), plugin=name)
                self._update_panel(handle)
            self.console.message(one_line(str(exc).splitlines()[0]), "error")
            return
        new = await self.host.reload(plugin, carry_decisions=self.dev is not None and folder == self.dev)
        current = self.host.plugins.get(name, new)
        self._update_panel(current)
        if new is not current and new.state is PluginState.WAITING:
            # The old code keeps running until the operator decides on the new code.
            key = (new.name, new.code_hash)
            if key not in self._prompted:
                self._prompted.add(key)
                self.prompt_permissions(new)

    def _edit_settings(self, plugin: Plugin) -> None:
        values = self.host.settings.values(plugin.manifest)[0]

        def save(changes: dict) -> None:
            async def store() -> None:
                if plugin.name in self.host.plugins:
                    await self.host.change_settings(plugin.name, changes)
                else:
                    await trio.to_thread.run_sync(self.host.settings.save, plugin.manifest, changes)
                self.console.message(f"{plugin.name}: settings saved")

            self.spawn(store())

        self.console.open_modal(SettingsModal(plugin.manifest, values, save, ascii_box=self.console.ascii))

    def spawn(self, coroutine) -> None:  # noqa: ANN001
        """Run `coroutine` in the plugin nursery; failures become status messages."""

        async def guarded() -> None:
            try:
                await coroutine
            except Exception as exc:
                log.exception("plugin operation failed")
                self.console.message(f"plugin: {exc}", "error")

        if self._nursery is not None:
            self._nursery.start_soon(guarded)

    # -- live reload -------------------------------------------------------------------

    def _restart_watch(self) -> None:
        if self._watch_scope is not None:
            self._watch_scope.cancel()
        folders = {name: handle.plugin.folder for name, handle in self.host.plugins.items()
                   if handle.state is not PluginState.STOPPED}
        if not folders or self._nursery is None:
            return
        scope = trio.CancelScope()
        self._watch_scope = scope

        async def watch() -> None:
            with scope:
                await watch_folders(folders, self._changed)

        self._nursery.start_soon(watch)

    async def _changed(self, name: str) -> None:
        await self.reload(name)
        self.console.message(f"{name} reloaded" if self.host.plugins[name].error is None
                             else f"{name}: reload failed, the previous code keeps running", "info")

