"""The console's side of plugins: enabling, panels, prompts, confirmations and live reload."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import trio

from qtui.backends.base import Backend
from qtui.bus import EventBus
from qtui.clock import Clock
from qtui.console.modal import Choice, ConfirmModal
from qtui.console.panels import Dock, LogPanel, PanelWidget
from qtui.console.plugin_modals import PermissionModal, SettingsModal
from qtui.console.screens.plugins import PluginsScreen
from qtui.console.widgets import TextView
from qtui.plugins.service import (
    Capability,
    Confirmation,
    DecisionNeeded,
    DecisionsChanged,
    PanelUpdated,
    Plugin,
    PluginHandle,
    PluginService,
    PluginState,
    Source,
)
from qtui.sanitize import one_line

log = logging.getLogger(__name__)


class ConsoleView(Protocol):
    """What the plugin side uses of the console it draws in."""

    backend: Backend
    bus: EventBus
    clock: Clock
    ascii: bool
    focus_panel: str | None

    @property
    def current(self) -> Any: ...
    def message(self, text: str, level: str = "info") -> None: ...
    def open_modal(self, modal: Any) -> None: ...
    def close_modal(self, modal: Any) -> None: ...
    def confirm(self, title: str, lines: list, accept: Any) -> None: ...
    def push(self, screen: Any) -> None: ...
    def relayout(self) -> None: ...
    def refresh(self) -> None: ...

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
    """The console's side of plugins: panels in the dock, the manager screen, dialogs and commands."""

    def __init__(self, console: ConsoleView, *, service: PluginService | None = None,
                 dev: Path | None = None) -> None:
        self.console = console
        self.service = service or PluginService(console.backend, console.bus, clock=console.clock,
                                                confirmer=self.confirm, dev=dev)
        self.host = self.service.host
        self.dock = Dock()
        self.screen = PluginsScreen(console.clock.monotonic)
        self.log_screen = PluginLogScreen()
        self._prompted: set[tuple[str, str | None]] = set()
        self._asking: dict[str, PermissionModal] = {}  # permission dialogs open, by plugin
        self._manager_shown = trio.Event()  # wakes the manager's refresh tick

    # -- running -------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        updates = self.console.bus.subscribe("plugin panels", (PanelUpdated, DecisionNeeded, DecisionsChanged),
                                             capacity=256)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow, updates)
            await nursery.start(self.service.run)
            self.refresh_manager()
            task_status.started()
            nursery.start_soon(self._tick_manager)

    async def _follow(self, updates) -> None:  # noqa: ANN001
        async for event in updates:
            match event:
                case DecisionNeeded(handle=handle):
                    self._prompt_once(handle)
                case DecisionsChanged(plugin=name):
                    self._withdraw_prompt(name)
                case PanelUpdated(plugin=name) if name in self.host.plugins:
                    self._update_panel(self.host.plugins[name])

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
        self.service.rediscover()
        self.refresh_manager()
        self._manager_shown.set()

    # -- what the console asks -----------------------------------------------------

    def key(self, name: str, key: str) -> None:
        self.host.key(name, key)

    def run_command(self, plugin: str, command: str, args: str) -> bool:
        """Run a plugin's `:PLUGIN.COMMAND`; False if there is no such command."""
        return self.host.run_command(plugin, command, args)

    def completion_names(self) -> tuple[list[str], list[str]]:
        """Plugin names and plugin commands (``NAME.COMMAND``) for the command line's completion."""
        plugins = sorted({p.name for p in self.service.discovery.plugins} | set(self.host.plugins))
        commands = [f"{h.name}.{c}" for h in self.host.plugins.values() for c in h.commands]
        return plugins, commands

    def command_help(self) -> list[tuple[str, str]]:
        """Each plugin command (``NAME.COMMAND``) with the help its plugin gave, for :help commands."""
        return [(f"{h.name}.{c}", text) for h in self.host.plugins.values() for c, text in h.commands.items()]

    def focus_order(self) -> list[str]:
        """Panels keys can go to, in dock order (log panes take no keys)."""
        return [name for name in self.dock.panels if not name.startswith(LOG_PREFIX)]

    def refresh_panels(self, focused: str | None) -> None:
        """Redraw every panel's content and focus mark."""
        for name, panel in self.dock.panels.items():
            handle = self.host.plugins.get(panel.name)
            if handle is not None:
                panel.update(handle, focused=name == focused)

    # -- panels --------------------------------------------------------------------

    def _update_panel(self, handle: PluginHandle) -> None:
        panel = self.dock.panels.get(handle.name)
        if handle.state is PluginState.STOPPED:
            if panel is not None:  # a disabled plugin leaves the dock; the manager still lists it
                self._remove_panels(handle.name)
            self._refresh_views(handle)
            return
        if panel is None:
            panel = PanelWidget(handle, on_mouse=self.host.mouse, on_resize=self.host.resize)
            self.dock.panels[handle.name] = panel
            if self.service.dev is not None and handle.plugin.folder == self.service.dev:
                self.dock.panels[LOG_PREFIX + handle.name] = LogPanel(handle)
            self.console.relayout()
        panel.update(handle, focused=self.console.focus_panel == handle.name)
        log_panel = self.dock.panels.get(LOG_PREFIX + handle.name)
        if log_panel is not None:
            log_panel.update(handle, focused=False)
        self._refresh_views(handle)
        if handle.state is PluginState.WAITING:
            self._prompt_once(handle)

    def _refresh_views(self, handle: PluginHandle) -> None:
        if self.console.current is self.screen:
            self.refresh_manager()
        if self.console.current is self.log_screen:
            self.log_screen.show(handle)
        self.console.refresh()

    def _remove_panels(self, name: str) -> None:
        self.dock.panels.pop(name, None)
        self.dock.panels.pop(LOG_PREFIX + name, None)
        if self.console.focus_panel == name:
            self.console.focus_panel = None
        self.console.relayout()

    def refresh_manager(self) -> None:
        service = self.service
        self.screen.show(service.discovery, self.host.plugins, service.shown_as_enabled(), service.catalog)

    # -- permissions and confirmations ----------------------------------------------

    def _prompt_once(self, handle: PluginHandle) -> None:
        key = (handle.name, handle.code_hash)
        if key not in self._prompted:
            self._prompted.add(key)
            self.prompt_permissions(handle)

    def prompt_permissions(self, handle: PluginHandle) -> None:
        pending = self.service.pending(handle)
        if pending is None:
            return

        def decide(grant: tuple[Capability, ...], deny: tuple[Capability, ...]) -> None:
            self._asking.pop(handle.name, None)
            waiting = handle.state is PluginState.WAITING
            try:
                self.service.decide(handle, grant=grant, deny=deny)  # a waiting plugin starts
            except Exception as exc:
                self.console.message(f"saving the decision failed: {exc}", "error")
                return
            if waiting:
                denied = f", denied {len(deny)}" if deny else ""
                self.console.message(f"{handle.name}: granted {len(grant)}{denied}")

        def later() -> None:
            self._asking.pop(handle.name, None)
            if handle.state is PluginState.WAITING:
                self.console.message(f"{handle.name} waits for your decision: :plugin allow {handle.name}",
                                     "warning")

        old = self._asking.pop(handle.name, None)
        if old is not None:
            self.console.close_modal(old)
        modal = PermissionModal(handle.manifest, pending, decide, later, ascii_box=self.console.ascii,
                                current=handle.grants, review=self.service.review(handle))
        self._asking[handle.name] = modal
        self._open_guarded(modal)

    def _withdraw_prompt(self, name: str) -> None:
        """Close a permission dialog the decisions overtook (made elsewhere, or by a file edit)."""
        modal = self._asking.pop(name, None)
        if modal is not None:
            self.console.close_modal(modal)
            self.console.message(f"{name}: its permissions changed meanwhile; :plugin allow {name} shows them now",
                                 "warning")

    async def confirm(self, handle: PluginHandle, confirmation: Confirmation) -> bool:
        """The host's confirmer: ask the operator about a destructive plugin action.

        The question drops type-ahead; if the host withdraws it (the capability was revoked
        meanwhile), the dialog goes away unanswered.
        """
        answered = trio.Event()
        answer = {"yes": False}
        capability = confirmation.capability

        def yes(remember: bool = False) -> None:
            answer["yes"] = True
            if remember:
                try:
                    self.service.decide(handle, grant=(capability,), no_confirm=(capability,))
                except Exception as exc:
                    self.console.message(f"could not remember the choice: {exc}", "error")
            answered.set()

        lines = [("dead", f"Plugin {handle.name} {handle.manifest.version} wants to:"),
                 f"  {one_line(confirmation.summary)}"]
        if confirmation.first_ids:
            more = (confirmation.count or 0) - len(confirmation.first_ids)
            ids = ", ".join(one_line(i, 24) for i in confirmation.first_ids)
            lines.append(f"  jobs {ids}" + (f" and {more} more" if more > 0 else ""))
        lines.append(("dim", f"capability {capability} ({capability.description})"))
        choices = [Choice("y", "yes", yes),
                   Choice("a", f"yes, don't ask again for {handle.name} {handle.manifest.version}",
                          lambda: yes(remember=True))]
        modal = ConfirmModal(f"{handle.name}: {capability}", lines, choices, answered.set,
                             ascii_box=self.console.ascii, guarded=True)
        self._open_guarded(modal)
        try:
            await answered.wait()
        finally:
            if not answered.is_set():
                self.console.close_modal(modal)
        return answer["yes"]

    def _open_guarded(self, modal: Any) -> None:
        """Show a dialog that opened by itself; it takes keys once it has been seen (TypeAheadGuard)."""
        self.console.open_modal(modal)
        self.service.spawn(modal.guard.arm)

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
        plugin = self.service.find(target)
        if plugin is None:
            self.console.message(f"no plugin named {target!r}", "error")
            return
        handle = self.host.plugins.get(target)
        service = self.service
        match action:
            case "enable":
                service.spawn(lambda: service.enable(plugin))
            case "disable":
                service.spawn(lambda: service.disable(target))
            case "reload":
                service.spawn(lambda: service.reload(target))
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
        entry = self.service.catalog.newest(name)
        if entry is None:
            self.console.message(f"{name} is not in the catalog", "error")
            return
        asks = ", ".join(c.value for c in entry.permissions) or "nothing"
        lines = [f"Install {one_line(name)} {entry.version} from", f"  {one_line(entry.location)}?",
                 ("dim", f"It will ask for: {asks} (nothing is granted by installing)")]

        async def run() -> None:
            await self.service.install(entry)
            self.refresh_manager()

        self.console.confirm("Install plugin", lines, lambda: self.service.spawn(run))

    def _uninstall(self, plugin: Plugin) -> None:
        if plugin.source is not Source.USER:
            self.console.message(f"{plugin.name} is a {plugin.source} plugin: only your own can be uninstalled",
                                 "warning")
            return
        lines = [f"Uninstall {one_line(plugin.name)} {plugin.manifest.version}?",
                 ("dim", f"  {one_line(str(plugin.folder))} is deleted")]

        async def run() -> None:
            await self.service.uninstall(plugin)
            self.refresh_manager()

        self.console.confirm("Uninstall plugin", lines, lambda: self.service.spawn(run))

    def _edit_settings(self, plugin: Plugin) -> None:
        values = self.service.setting_values(plugin)

        def save(changes: dict) -> None:
            self.service.spawn(lambda: self.service.save_settings(plugin, changes))

        self.console.open_modal(SettingsModal(plugin.manifest, values, save, ascii_box=self.console.ascii))
