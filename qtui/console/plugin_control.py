"""The console's side of plugins: enabling, panels, prompts, confirmations, live reload, and the
keys of plugin commands (a manifest's default keys, or the operator's from the ``[keys]`` table
of config.toml; a key the console uses where the command would work stays the console's)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import trio

from qtui.backends.base import Backend
from qtui.bus import EventBus
from qtui.clock import Clock
from qtui.console import keymap
from qtui.console.modal import Choice, ConfirmModal
from qtui.console.panels import Dock, LogPanel, PanelWidget, dock_key, split_key
from qtui.console.plugin_modals import PermissionModal, SettingsModal
from qtui.console.screens.plugins import PluginsScreen
from qtui.console.widgets import TextView
from qtui.plugins.service import (
    Capability,
    CatalogChanged,
    Confirmation,
    DecisionNeeded,
    DecisionsChanged,
    PanelUpdated,
    Plugin,
    PluginHandle,
    PluginService,
    PluginState,
    Recorder,
    Source,
)
from qtui.sanitize import one_line

log = logging.getLogger(__name__)


class ConsoleView(Protocol):
    """What the plugin side uses of the console it draws in."""

    backend: Backend
    bus: EventBus
    clock: Clock
    keymap: keymap.Keymap  # the console's keys, with the operator's from config.toml
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
    def selected_row(self) -> dict[str, str]: ...

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
                 dev: Path | None = None, with_enabled: bool = False, recorder: Recorder | None = None) -> None:
        self.console = console
        self.service = service or PluginService(console.backend, console.bus, clock=console.clock,
                                                confirmer=self.confirm, dev=dev, with_enabled=with_enabled,
                                                recorder=recorder)
        self.host = self.service.host
        self.dock = Dock()
        self.screen = PluginsScreen(console.clock.monotonic)
        self.log_screen = PluginLogScreen()
        self._prompted: set[tuple[str, str | None]] = set()
        self._asking: dict[str, PermissionModal] = {}  # permission dialogs open, by plugin
        self._manager_shown = trio.Event()  # wakes the manager's refresh tick
        self._bindings: list[keymap.Binding] = []
        self._help_keys: list[tuple[keymap.Binding, str | None]] = []
        self._told: set[tuple[str, str, str]] = set()  # keys already said to be taken

    # -- running -------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        updates = self.console.bus.subscribe("plugin panels",
                                             (PanelUpdated, DecisionNeeded, DecisionsChanged, CatalogChanged),
                                             capacity=256)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow, updates)
            await nursery.start(self.service.run)
            self._rebind()
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
                case CatalogChanged():
                    self.refresh_manager()
                    self.console.refresh()

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

    def key(self, panel: str, key: str) -> None:
        """A key for the focused panel (its dock key) goes to its plugin."""
        plugin, name = split_key(panel)
        self.host.key(plugin, key, name)

    def run_command(self, plugin: str, command: str, args: str) -> bool:
        """Run a plugin's `:PLUGIN.COMMAND` on the row under the cursor; False if there is no such command."""
        return self.host.run_command(plugin, command, args, self.console.selected_row())

    def completion_names(self) -> tuple[list[str], list[str]]:
        """Plugin names and plugin commands (``NAME.COMMAND``) for the command line's completion."""
        plugins = sorted({p.name for p in self.service.discovery.plugins} | set(self.host.plugins))
        commands = [f"{h.name}.{c}" for h in self.host.plugins.values() for c in h.commands]
        return plugins, commands

    def resolve_key(self, key: str, context: str) -> str | None:
        """The plugin command a manifest's default key runs in `context` (the console's own keys,
        and the operator's from config.toml, are looked up first, in the console's keymap)."""
        if context in keymap.EXCLUSIVE:
            return None
        for binding in self._bindings:
            if binding.key == key and (context in binding.contexts or "global" in binding.contexts):
                return binding.command
        return None

    def help_keys(self) -> list[tuple[keymap.Binding, str | None]]:
        """Every plugin command key for `?`, with why it is not bound (None when it is)."""
        return self._help_keys

    def command_help(self) -> list[tuple[str, str]]:
        """Each plugin command (``NAME.COMMAND``) with the help its plugin gave, for :help commands."""
        return [(f"{h.name}.{c}", text) for h in self.host.plugins.values() for c, text in h.commands.items()]

    def _rebind(self) -> None:
        """Bind the commands of the running plugins: the operator's keys from config.toml (bound by
        the console's keymap) or else the manifest's default key, where qtui does not use it."""
        bindings: list[keymap.Binding] = []
        listed: list[tuple[keymap.Binding, str | None]] = []
        for name, handle in sorted(self.host.plugins.items()):
            if handle.state is not PluginState.RUNNING:
                continue
            declared = {c.name: c for c in handle.manifest.commands}
            for command in handle.commands:
                action = f"{name}.{command}"
                text = f"{name}: {handle.commands[command]}"
                operators = self.console.keymap.keys_for(action)
                if operators:
                    listed += [(keymap.Binding(key, action, ("global",), help=text), None) for key in operators]
                    continue
                spec = declared.get(command)
                if spec is None or not spec.key:
                    continue
                views = ("global",) if spec.view == "all" else (spec.view,)
                binding = keymap.Binding(spec.key, action, views, help=text)
                taken = self._taken(binding, bindings)
                listed.append((binding, taken))
                if taken is None:
                    bindings.append(binding)
                elif (action, spec.key, taken) not in self._told:
                    self._told.add((action, spec.key, taken))
                    self.console.message(f"{action}: {keymap.key_label(spec.key)} is not bound: {taken}; choose "
                                         "another in the [keys] table of config.toml", "warning")
        self._bindings, self._help_keys = bindings, listed

    def _taken(self, binding: keymap.Binding, bound: list[keymap.Binding]) -> str | None:
        """Why `binding`'s key cannot be bound where it would work (None when it can)."""
        views = keymap.SCREENS + ("detail",) if "global" in binding.contexts else binding.contexts
        for view in views:
            used = self.console.keymap.resolve(binding.key, view)
            if used is not None:
                return f"on {view} it is qtui's ({used})"
            other = next((b.command for b in bound if b.key == binding.key
                          and (view in b.contexts or "global" in b.contexts)), None)
            if other is not None:
                return f"on {view} it is {other}'s"
        return None

    def focus_order(self) -> list[str]:
        """Panels keys can go to (dock keys), in dock order (log panes take no keys)."""
        return [name for name in self.dock.panels if not name.startswith(LOG_PREFIX)]

    def refresh_panels(self, focused: str | None) -> None:
        """Redraw every panel's content and focus mark."""
        for name, panel in self.dock.panels.items():
            handle = self.host.plugins.get(panel.name)
            if handle is not None:
                panel.update(handle, focused=name == focused)

    def _new_panel(self, handle: PluginHandle, panel: str) -> PanelWidget:
        return PanelWidget(handle, on_mouse=self.host.mouse, on_resize=self.host.resize, panel=panel)

    # -- panels --------------------------------------------------------------------

    def _update_panel(self, handle: PluginHandle) -> None:
        if handle.state is PluginState.STOPPED:
            if self._panels_of(handle.name):  # a disabled plugin leaves the dock; the manager still lists it
                self._remove_panels(handle.name)
            self._rebind()
            self._refresh_views(handle)
            return
        if self._sync_panels(handle):
            self.console.relayout()
        self._rebind()
        for key in self._panels_of(handle.name):
            self.dock.panels[key].update(handle, focused=self.console.focus_panel == key)
        self._refresh_views(handle)
        if handle.state is PluginState.WAITING:
            self._prompt_once(handle)

    def _refresh_views(self, handle: PluginHandle) -> None:
        if self.console.current is self.screen:
            self.refresh_manager()
        if self.console.current is self.log_screen:
            self.log_screen.show(handle)
        self.console.refresh()

    def _panels_of(self, name: str) -> list[str]:
        """The dock keys of a plugin's panels (main, opened ones, its log in plugin dev)."""
        return [key for key, panel in self.dock.panels.items() if panel.name == name]

    def _sync_panels(self, handle: PluginHandle) -> bool:
        """Give the plugin's main panel, the panels it has open and (under development) its log a
        place in the dock, next to each other; True if the dock changed."""
        wanted = [dock_key(handle.name), *(dock_key(handle.name, name) for name in handle.panels)]
        if self.service.dev is not None and handle.plugin.folder == self.service.dev:
            wanted.append(LOG_PREFIX + handle.name)  # always beside the plugin under development
        current = self._panels_of(handle.name)
        if current == wanted:
            return False
        made = self._panels_for(handle, wanted)  # the widgets of panels still open are kept
        panels: dict[str, Any] = {}
        for key, panel in self.dock.panels.items():
            if panel.name != handle.name:
                panels[key] = panel
            elif not set(made) <= set(panels):  # where the plugin was, its panels stay together
                panels.update(made)
        panels.update(made)
        self.dock.panels = panels
        if self.console.focus_panel in current and self.console.focus_panel not in wanted:
            self.console.focus_panel = None
        return True

    def _panels_for(self, handle: PluginHandle, keys: list[str]) -> dict[str, Any]:
        made: dict[str, Any] = {}
        for key in keys:
            existing = self.dock.panels.get(key)
            if existing is not None:
                made[key] = existing
            elif key.startswith(LOG_PREFIX):
                made[key] = LogPanel(handle)
            else:
                made[key] = self._new_panel(handle, split_key(key)[1])
        return made

    def _remove_panels(self, name: str) -> None:
        for key in self._panels_of(name):
            del self.dock.panels[key]
            if self.console.focus_panel == key:
                self.console.focus_panel = None
        self.console.relayout()

    def search(self, text: str | None) -> None:
        """Narrow the manager to the plugins (installed or in the catalog) matching `text`."""
        self.screen.search(text)
        self.refresh_manager()

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
            return split_key(self.console.focus_panel)[0]
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
