"""The console application: layout, key dispatch, commands, and the trio nursery.

urwid runs inside the application's own trio nursery. Backend calls run in worker
threads; results come back to trio tasks that update widgets (urwid repaints
after each task step). The poller publishes typed events on the bus; the console
is one subscriber of that bus.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Any, Protocol

import trio
import urwid

from qtui.backends.base import Backend, validate_json_payload
from qtui import paths
from qtui.bus import EventBus
from qtui.clock import Clock
from qtui.console import format as fmt
from qtui.console import keymap
from qtui.console.clipboard import Clipboard
from qtui.console.glyphs import UNICODE, Glyphs
from qtui.keynames import key_label
from qtui.console.modal import Choice, ConfirmModal, Modal
from qtui.console.operations import OperationRunner
from qtui.console.palette import THEMES
from qtui.console.screens.detail import DetailScreen
from qtui.console.screens.help import HelpScreen
from qtui.console.screens.jobs import DeadScreen, JobListScreen
from qtui.console.screens.no_plugins import NoPluginsScreen
from qtui.console.screens.queues import QueuesScreen
from qtui.console.screens.workers import WorkersScreen
from qtui.console.settings import ConsoleSettings
from qtui.console.widgets import CommandLine, StatusBar, TabBar, Table
from qtui.events import BackendStatus, ConsoleKey, Event, Notice, SelectionChanged, StatsUpdated
from qtui.model import BackendError, InvalidInput, Job, JobState, Page, Snapshot
from qtui.poller import Poller
from qtui.sanitize import one_line

log = logging.getLogger(__name__)


class PluginPanels(Protocol):
    """What the console uses of its plugin side (see :mod:`qtui.console.plugin_control`)."""

    screen: Any  # the plugin manager screen
    dock: Any  # the dock of plugin panels

    async def run(self, *, task_status: trio.TaskStatus[None] = ...) -> None: ...
    def key(self, name: str, key: str) -> None: ...
    def run_command(self, plugin: str, command: str, args: str) -> bool: ...
    def completion_names(self) -> tuple[list[str], list[str]]: ...
    def command_help(self) -> list[tuple[str, str]]: ...
    def focus_order(self) -> list[str]: ...
    def refresh_panels(self, focused: str | None) -> None: ...
    def manager_opened(self) -> None: ...
    def command(self, action: str, name: str | None) -> None: ...
    def search(self, text: str | None) -> None: ...
    def resolve_key(self, key: str, context: str) -> str | None: ...
    def help_keys(self) -> list[tuple[keymap.Binding, str | None]]: ...


MAIN_SCREENS = keymap.SCREENS
#: The key hints on the bottom line: (action, what it does).
HINT_ACTIONS = (("help", "help"), ("prompt", "command"), ("prompt filter", "filter"), ("view queues", "screens"),
                ("back", "back"), ("quit", "quit"))
#: Exit status after a signal: 128 + its number, as a shell reports it.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def plural(count: int, noun: str) -> str:
    """"1 queue", "3 queues"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def hints(keys: keymap.Keymap) -> list:
    """The bottom line's key hints, with the keys in effect."""
    markup: list = []
    for action, label in HINT_ACTIONS:
        found = keys.keys_for(action, "queues")
        if not found:
            continue
        key = key_label(found[0])
        if action == "view queues" and key == "1" and keys.keys_for("view plugins", "queues")[:1] == ["5"]:
            key = "1-5"
        markup += [("key", key), f" {label}  "]
    return markup


class _KeyRouter(urwid.WidgetWrap):
    """The top widget: every key goes to the console's registry first."""

    def __init__(self, console: Console, widget: urwid.Widget) -> None:
        self._console = console
        self.size: tuple[int, int] = (80, 24)
        super().__init__(widget)

    def set_body(self, widget: urwid.Widget) -> None:
        self._w = widget

    def selectable(self) -> bool:
        return True  # keys come here even when nothing below can take focus (a dialog, an empty list)

    def keypress(self, size, key):  # noqa: ANN001 - urwid signature
        self.size = size
        self._console.handle_key(key)
        return None

    def mouse_event(self, size, event, button, col, row, focus):  # noqa: ANN001, ANN201 - urwid signature
        self.size = size
        handled = super().mouse_event(size, event, button, col, row, focus)
        self._console.after_mouse()
        return handled


class Console:
    """The interactive console on one backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Clock,
        refresh: float = 2.0,
        glyphs: Glyphs = UNICODE,
        mouse: bool = False,
        plugins: Callable[[Console], PluginPanels] | None = None,
        settings: ConsoleSettings = ConsoleSettings(),
    ) -> None:
        self.backend = backend
        self.read_only = backend.read_only
        self.bus = EventBus()
        self.clock = clock  # ages on screen count to its time; the plugins see it as now
        self.poller = Poller(backend, self.bus, refresh, clock=clock.time)
        self.glyphs = glyphs
        self.mouse = mouse
        self.settings = settings
        self.keymap = settings.keymap
        self.exit_status = 0  # 128 + the signal that ended the console, if one did
        self.clipboard = Clipboard(paths.state_dir() / "copied.txt", osc52_enabled=settings.clipboard == "osc52")
        self.snapshot: Snapshot | None = None
        self.screens = {
            "queues": QueuesScreen(glyphs),
            "jobs": JobListScreen(clock.time),
            "dead": DeadScreen(clock.time),
            "workers": WorkersScreen(),
        }
        self.screens["dead"].mark_glyph = glyphs.mark
        self.focus_panel: str | None = None  # the plugin panel keys go to, if any
        # The plugin side is made after the first frame and the first poll (start_tasks).
        self._make_plugins = plugins
        self._polled = trio.Event()  # the first poll came back, with data or an error
        self._when_plugins_load: list[tuple[str, str | None]] = []  # `plugin` commands given while loading
        self.plugins: PluginPanels | None = None
        self.screens["plugins"] = NoPluginsScreen("Loading plugins…" if plugins else "Plugins are off.")
        for screen in self.screens.values():
            self._wire_table(screen)
        self.detail = DetailScreen()
        self.help = HelpScreen()
        self.operations = OperationRunner(self)
        self._server = backend.server()
        self.stack: list[Any] = [self.screens["queues"]]
        self._modals: list[Modal] = []  # the first is on screen
        self._load_generation = 0
        self._selection: tuple | None = None
        self._nursery: trio.Nursery | None = None
        self._quit_scope = trio.CancelScope()
        self._picking_sort = False  # after the sort key: the next key picks the column
        self.last_search: str | None = None

        self._tabs = TabBar()
        if mouse:
            self._tabs.on_click = lambda name: self.execute(f"view {name}")
        self._subtitle = urwid.Text("", wrap="clip")
        # The main view; relayout() puts the plugin dock below or beside it when
        # plugins have panels, and leaves it alone otherwise.
        self._main = urwid.WidgetPlaceholder(self.current.widget)
        self.status = StatusBar()
        self.command_line = CommandLine(self._complete)
        self._hint_markup = hints(self.keymap)
        self._hints = urwid.Text(self._hint_markup, wrap="clip")  # or the latest message, until the next key
        self._bottom = urwid.WidgetPlaceholder(self._hints)
        self._frame = urwid.Frame(
            self._main,
            header=urwid.Pile([urwid.AttrMap(self._tabs, "header"), urwid.AttrMap(self._subtitle, "dim")]),
            footer=urwid.Pile([self.status, self._bottom]),
        )
        self.root = _KeyRouter(self, self._frame)
        self.status.set_connection(("status warn", f" {glyphs.bullet_bad} connecting "))
        mode = backend.display_name
        if self.read_only:
            mode = "read-only " + mode.rsplit("/", 1)[-1]
        self.status.set_mode(mode, ellipsis=glyphs.ellipsis)
        self._refresh_chrome()

    # -- running -----------------------------------------------------------------

    @property
    def current(self) -> Any:
        return self.stack[-1]

    def make_loop(self, screen: urwid.BaseScreen | None = None) -> tuple[urwid.MainLoop, urwid.TrioEventLoop]:
        """The urwid main loop on trio for this console (`screen` defaults to the terminal)."""
        event_loop = urwid.TrioEventLoop()
        loop = urwid.MainLoop(
            self.root, THEMES[self.settings.theme], screen=screen, event_loop=event_loop, handle_mouse=self.mouse
        )
        self.clipboard.write_terminal = lambda text: _write_raw(loop.screen, text)
        return loop, event_loop

    async def run(self, screen: urwid.BaseScreen | None = None) -> None:
        """Run the console until the operator quits, or Ctrl-C, SIGTERM or SIGHUP ends it.

        The terminal is restored either way; after a signal `exit_status` is 128 + its number.
        The first frame is drawn before anything else starts, and the queues as soon as the
        first poll brings them: the operator sees both before the plugin system loads.
        """
        loop, event_loop = self.make_loop(screen)
        async with trio.open_nursery() as nursery:
            with trio.open_signal_receiver(*SIGNALS) as signals:
                nursery.start_soon(self._end_on_signal, signals)
                with self._quit_scope, loop.start():
                    loop.draw_screen()
                    self.start_tasks(nursery, redraw=loop.draw_screen)
                    await event_loop.run_async()
            nursery.cancel_scope.cancel()

    async def _end_on_signal(self, signals) -> None:  # noqa: ANN001 - trio's signal receiver
        async for signum in signals:
            self.exit_status = 128 + signum
            self.quit()
            return

    def start_tasks(self, nursery: trio.Nursery, redraw: Callable[[], None] | None = None) -> None:
        """Start polling, event handling and the plugins in `nursery`, which also runs backend calls.

        The plugin side is made once the first poll has come back, after `redraw` (if given)
        has put its outcome on the screen.
        """
        self._nursery = nursery
        subscription = self.bus.subscribe("console", (StatsUpdated, BackendStatus, Notice))
        nursery.start_soon(self.poller.run)
        nursery.start_soon(self._consume, subscription)
        if self._make_plugins is not None:
            nursery.start_soon(self._start_plugins, nursery, self._make_plugins, redraw)

    async def _start_plugins(self, nursery: trio.Nursery, make: Callable[[Console], PluginPanels],
                             redraw: Callable[[], None] | None) -> None:
        await self._polled.wait()
        if redraw is not None:
            redraw()  # urwid redraws when trio is idle; loading the plugin system keeps it busy
        plugins = make(self)
        await nursery.start(plugins.run)  # from here on it takes commands; the plugins load on
        loading = self.screens["plugins"]
        self.plugins = plugins
        self.screens["plugins"] = plugins.screen
        self._wire_table(plugins.screen)
        self._lay_out_dock(self.settings)
        self.stack = [plugins.screen if screen is loading else screen for screen in self.stack]
        self.relayout()  # with the panels of plugins that loaded while it started
        for action, name in self._when_plugins_load:
            plugins.command(action, name)
        self._when_plugins_load.clear()

    def quit(self) -> None:
        """Stop the running operation, close every dialog (declining it) and leave the main loop."""
        self.operations.stop()
        for modal in self._modals:
            modal.cancel()  # a plugin waiting for a confirmation gets "no"
        self._modals.clear()
        self._quit_scope.cancel()

    async def _consume(self, subscription) -> None:  # noqa: ANN001
        async for event in subscription:
            self._guarded(self.on_event, event)
            self._refresh_chrome()
            if isinstance(event, StatsUpdated) or isinstance(event, BackendStatus) and not event.connected:
                self._polled.set()

    # -- events ------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        match event:
            case StatsUpdated(snapshot=snapshot):
                self._note_server_switch()
                if snapshot.problems and (self.snapshot is None or snapshot.problems != self.snapshot.problems):
                    self.message(f"skipped: {'; '.join(snapshot.problems)}", "warning")
                self.snapshot = snapshot
                self.screens["queues"].on_snapshot(snapshot)
                self.screens["workers"].on_snapshot(snapshot)
                if self.current.name in ("jobs", "dead"):
                    self.load_jobs(self.current)
                self._publish_selection()
            case BackendStatus(connected=True):
                self.status.set_connection(("status ok", f" {self.glyphs.bullet_ok} live "))
                interval = self.poller.interval
                if not self.operations.busy:
                    self.status.set_message(f"refresh every {interval:g}s" if interval else "refresh on r")
                self.operations.connected(offer=not self.read_only)
            case BackendStatus(connected=False, message=message):
                self.status.set_connection(("status bad", f" {self.glyphs.bullet_bad} disconnected "))
                if self.poller.last_success is not None:  # the data on screen is kept, marked stale
                    self.status.set_message(f"stale: data {fmt.age(self.poller.last_success, self.clock.time())} old", "warning")
                self.message(message or "the backend is unreachable", "error")
            case Notice(text=text, level=level):
                self.message(text, level)

    def message(self, text: str, level: str = "info") -> None:
        """Show a message on the bottom line until the next key."""
        attr = {"warning": "warn", "error": "error"}.get(level, "hint")
        self._hints.set_text((attr, one_line(text)))

    # -- keys and commands -------------------------------------------------------

    def context(self) -> str:
        """Where keys are looked up now: a screen, a text view, "plugin" or "panel"."""
        if self.focus_panel is not None and self.plugins is not None:
            return "panel"
        if getattr(self.current, "plugin", None):
            return "plugin"
        return self.current.name

    def handle_key(self, key: str) -> None:
        self._hints.set_text(self._hint_markup)
        if self._modals:
            if self._modals[0].handle_key(key):
                self._close_modal()
            return
        if self._frame.focus_position == "footer":
            self._command_line_key(key)
            return
        if self._picking_sort:
            self._pick_sort(key)
            return
        context = self.context()
        line = self.keymap.resolve(key, context)
        if line is None and context in keymap.EXCLUSIVE and self.plugins is not None:
            self.plugins.key(self.focus_panel if context == "panel" else self.current.plugin, key)
            return
        if line is None and self.plugins is not None:
            line = self.plugins.resolve_key(key, context)  # a plugin command's key, after the console's
        if line is None:
            if isinstance(key, str) and len(key) == 1 or key in ("tab", "shift tab"):
                self.message(f"{key_label(key)} does nothing here; press ? for help", "warning")
        else:
            self.execute(line)
        self._publish_key(key, context)

    def _publish_key(self, key: object, context: str) -> None:
        """Tell the plugins granted keys.read (never a key typed in a dialog, on the command line or
        into a plugin's panel)."""
        if isinstance(key, str) and context != "plugin":
            self.bus.publish(ConsoleKey(key, context))

    def execute(self, line: str) -> None:
        """Run a command line; every failure becomes a status message."""
        name, _, rest = line.strip().partition(" ")
        if keymap.is_plugin_command(name):
            if self.plugins is None or not self.plugins.run_command(*name.split(".", 1), rest.strip()):
                self.message(f"no plugin command {name!r}", "error")
            return
        try:
            invocation = keymap.parse_command_line(line)
        except InvalidInput as exc:
            self.message(str(exc), "error")
            return
        command = keymap.prompted_command(line) or invocation.command
        if command.writes and self.read_only:
            self.message(f"{command.name} is disabled: read-only mode", "error")
            return
        handler = getattr(self, "cmd_" + invocation.command.name.replace("-", "_"))
        self._guarded(handler, *invocation.args)
        self._publish_selection()
        self._refresh_chrome()

    def after_mouse(self) -> None:
        """A click or wheel turn may have moved the cursor: update what depends on it."""
        self._publish_selection()
        self._refresh_chrome()

    def _guarded(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn`: a backend error becomes a message, a bug a logged message; neither ends the console."""
        try:
            fn(*args)
        except BackendError as exc:
            self.message(str(exc), "error")
        except Exception as exc:  # a console bug must not kill the operator's session
            log.exception("internal error")
            self.message(f"internal error: {type(exc).__name__}: {exc} (see the log)", "error")

    def _command_line_key(self, key: str) -> None:
        if key == "esc":
            self._close_command_line()
        elif key == "enter":
            line = self.command_line.text.strip()
            self._close_command_line()
            if line:
                self.command_line.history.append(line)
                self.execute(line)
        else:
            self.command_line.keypress((self.root.size[0],), key)

    def _close_command_line(self) -> None:
        self._bottom.original_widget = self._hints
        self._frame.focus_position = "body"

    def _complete(self, text: str) -> list[str]:
        queues = [q.name for q in self.snapshot.queues] if self.snapshot else []
        plugins: list[str] = []
        commands: list[str] = []
        if self.plugins is not None:
            plugins, commands = self.plugins.completion_names()
        table = self._table()
        columns = table.column_names() if table is not None else []
        return keymap.complete(text, queues, plugins, commands, columns)

    # -- dialogs -----------------------------------------------------------------

    def confirm(self, title: str, lines: list, accept: Callable[[], None]) -> None:
        """Ask before `accept` runs; nothing happens unless the operator presses y."""
        choice = Choice("y", "confirm", lambda: self._guarded(accept))
        self.open_modal(ConfirmModal(title, lines, [choice], lambda: self.message("cancelled"),
                                     ascii_box=self.ascii))

    def open_modal(self, modal: Modal) -> None:
        """Show `modal` now, or after the dialogs already waiting."""
        self._modals.append(modal)
        if len(self._modals) == 1:
            self._show_modal()

    def _show_modal(self) -> None:
        modal = self._modals[0]
        overlay = urwid.Overlay(modal.widget, self._frame, "center", ("relative", modal.width), "middle",
                                "pack", min_width=40)
        self.root.set_body(overlay)

    def close_modal(self, modal: Modal) -> None:
        """Take `modal` away unanswered (its question was withdrawn), shown or still waiting."""
        if modal not in self._modals:
            return
        if self._modals[0] is modal:
            self._close_modal()
        else:
            self._modals.remove(modal)

    def _close_modal(self) -> None:
        self._modals.pop(0)
        if self._modals:
            self._show_modal()
        else:
            self.root.set_body(self._frame)
        self._refresh_chrome()

    @property
    def dialog_open(self) -> bool:
        return bool(self._modals)

    @property
    def ascii(self) -> bool:
        return self.glyphs is not UNICODE

    # -- background work ---------------------------------------------------------

    def run_io(self, fn: Callable[[], Any], on_done: Callable[[Any], None], what: str) -> None:
        """Run a blocking backend call in a thread; `on_done(result)` back on the trio side."""

        async def task() -> None:
            try:
                result = await trio.to_thread.run_sync(fn)
            except BackendError as exc:
                self.message(f"{what}: {exc}", "error")
                return
            except Exception as exc:
                log.exception("%s failed", what)
                self.message(f"{what}: internal error: {type(exc).__name__}: {exc}", "error")
                return
            self._guarded(on_done, result)
            self._refresh_chrome()

        if self._nursery is None:
            raise RuntimeError("the console is not running")
        self._nursery.start_soon(task)

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start an async task of the console's own (it ends with the console)."""
        if self._nursery is None:
            raise RuntimeError("the console is not running")
        self._nursery.start_soon(fn, *args)

    def _note_server_switch(self) -> None:
        """Show it when the backend's server changed (a Sentinel failover), in the mode field too."""
        server = self.backend.server()
        if server != self._server and server is not None:
            before, self._server = self._server, server
            if before is not None:
                self.message(f"Redis master switched: {before} -> {server}", "warning")
            self.status.set_mode(f"{self.backend.display_name} @ {server}", ellipsis=self.glyphs.ellipsis)

    def load_jobs(self, screen: JobListScreen) -> None:
        """Fetch the page `screen` asks for; a newer request wins over an older one."""
        self._load_generation += 1
        generation = self._load_generation
        query = screen.query()

        def fetch() -> Page:
            return self.backend.peek(query.queue, query.state, text=query.text, cursor=query.cursor)

        def done(page: Page) -> None:
            if generation == self._load_generation:
                screen.show(page)

        self.run_io(fetch, done, "loading jobs")

    def after_change(self, text: str) -> None:
        """Say what changed, poll now and reload the job list shown."""
        self.message(text)
        self.poller.refresh()
        if self.current.name in ("jobs", "dead"):
            self.load_jobs(self.current)

    # -- layout --------------------------------------------------------------------

    def _wire_table(self, screen: Any) -> None:
        """Enter on a list's row opens it; its header marks the sorted column with the glyphs."""
        table = getattr(screen, "table", None)
        if table is not None:
            table.on_activate = lambda: self.execute("open")
            table.sort_marks = (self.glyphs.sort_up, self.glyphs.sort_down)

    def _lay_out_dock(self, settings: ConsoleSettings) -> None:
        """Place the plugin dock where config.toml says."""
        dock = self.plugins.dock
        if settings.dock_position is not None:
            dock.position = settings.dock_position
            dock.size = 8 if dock.position == "bottom" else 32
        if settings.dock_size is not None:
            dock.size = settings.dock_size

    def relayout(self) -> None:
        """Put the main view and the plugin dock together (the dock only when it has panels)."""
        dock = self.plugins.dock.widget() if self.plugins is not None else None
        if getattr(self.current, "plugin", None):
            dock = None  # a panel opened full screen takes the whole body
        if dock is None:
            self._frame.body = self._main
            self.focus_panel = None
        elif self.plugins.dock.position == "bottom":
            self._frame.body = urwid.Pile([("weight", 1, self._main), (self.plugins.dock.size, dock)])
        else:
            self._frame.body = urwid.Columns([("weight", 1, self._main), (self.plugins.dock.size, dock)],
                                             dividechars=1)
        self.refresh()

    def refresh(self) -> None:
        """Redraw the chrome and the panels' focus marks."""
        if self.plugins is not None:
            self.plugins.refresh_panels(self.focus_panel)
        self._refresh_chrome()

    def push(self, screen: Any) -> None:
        """Show `screen` over the current one (Esc goes back)."""
        self.focus_panel = None
        self._show(screen, push=True)
        self.relayout()

    # -- chrome ------------------------------------------------------------------

    def _refresh_chrome(self) -> None:
        base = next((s for s in reversed(self.stack) if s.name in MAIN_SCREENS), self.stack[0])
        tabs = [(name, f" {number} {self.screens[name].title} ", base.name == name)
                for number, name in enumerate(MAIN_SCREENS, 1)]
        self._tabs.set_tabs(" qtui ", tabs)
        current = self.current
        dot = f" {self.glyphs.dot} "
        if isinstance(current, JobListScreen):
            subtitle = current.describe(self.glyphs.dot)
        elif getattr(current, "plugin", None):
            subtitle = f"plugin {one_line(current.plugin)}{dot}keys go to the plugin{dot}Esc back"
        elif current.name == "detail" and current.job is not None:
            subtitle = f"job {one_line(current.job.id)}{dot}Esc back"
        elif current.name == "help":
            subtitle = f"help{dot}/ search{dot}Esc back"
        elif current.name == "plugins":
            subtitle = "  ".join(f"{key_label(b.key)} {b.command.split()[-1]}" for b in self.keymap.bindings
                                 if b.contexts == ("plugins",)) + "  Enter open"
        else:
            subtitle = plural(len(self.snapshot.queues) if self.snapshot else 0, "queue")
            if current.name == "workers" and self.snapshot:
                alive = sum(1 for w in self.snapshot.workers if w.alive)
                subtitle = f"{plural(alive, 'worker')} alive, {len(self.snapshot.workers)} seen"
        table = self._table()
        if table is not None:
            state = []
            # the plugins screen filters by its own search (name, description, permissions)
            filter_text = table.filter_text or getattr(current, "query", None)
            if filter_text and not isinstance(current, JobListScreen):
                state.append(f"filter {one_line(filter_text, 20)!r}")
            if table.describe_sorting():
                state.append(table.describe_sorting())
            if state:  # before the Plugins screen's key hints, which may be cut at the right
                subtitle = dot.join([subtitle, *state] if current.name != "plugins" else [*state, subtitle])
        search = getattr(getattr(current, "view", None), "search_text", None)
        if search:
            subtitle += f"{dot}search {one_line(search, 20)!r} (n/N)"
        if self.focus_panel is not None:
            subtitle = f"keys go to {self.focus_panel}{dot}Tab next panel{dot}Esc leave"
        self._subtitle.set_text(" " + subtitle)
        self._main.original_widget = current.widget
        marked = len(self.screens["dead"].marked)
        self.status.set_counter(f"{marked} marked" if marked else "")

    def _selection_now(self) -> tuple[str, str | None, JobState | None, str | None]:
        """The screen, and the queue, job state and job under the cursor."""
        current = self.current
        queue = job_id = state = None
        if current.name == "queues":
            queue = current.selected_queue()
        elif isinstance(current, JobListScreen):
            job = current.focused_job()
            queue, state, job_id = current.queue, current.state, job.id if job else None
        elif current.name == "detail" and current.job:
            queue, state, job_id = current.job.queue, current.job.state, current.job.id
        return current.name, queue, state, job_id

    def selected_row(self) -> dict[str, str]:
        """The row under the cursor, as a plugin command receives it."""
        screen, queue, state, job_id = self._selection_now()
        fields = {"screen": screen, "queue": queue, "state": state.value if state else None, "job_id": job_id}
        return {name: value for name, value in fields.items() if value is not None}

    def _publish_selection(self) -> None:
        selection = self._selection_now()
        if selection != self._selection:
            self._selection = selection
            self.bus.publish(SelectionChanged(*selection))

    def _show(self, screen: Any, *, push: bool = False) -> None:
        if push:
            if self.current is not screen:
                self.stack.append(screen)
        else:
            self.stack = [screen]

    def _job_list(self) -> JobListScreen | None:
        return self.current if isinstance(self.current, JobListScreen) else None

    def _table(self) -> Table | None:
        """The table on screen, if the current view is a list."""
        return getattr(self.current, "table", None) if self.current.name in keymap.LISTS else None

    # -- command handlers (one per registry command) -----------------------------

    def cmd_quit(self) -> None:
        self.quit()

    def cmd_back(self) -> None:
        view = getattr(self.current, "view", None)
        table = self._table()
        if getattr(view, "search_text", None):
            view.search(None)
            self.message("search cleared")
        elif (isinstance(self.current, JobListScreen) and self.current.text or table is not None and table.filter_text
              or isinstance(getattr(self.current, "query", None), str)):  # the plugins screen's search is its filter
            self.cmd_filter(None)
        elif len(self.stack) > 1:
            closing = self.stack.pop()
            if getattr(closing, "plugin", None):
                self.relayout()
            if self.current.name in ("jobs", "dead"):
                self.load_jobs(self.current)
        elif self.current.name != "queues":
            self._show(self.screens["queues"])
        else:
            quit_keys = self.keymap.keys_for("quit", "queues")
            how = f"press {key_label(quit_keys[0])} or type :q" if quit_keys else "type :q"
            self.message(f"Esc never quits: {how} to quit")

    def cmd_help(self, topic: str | None) -> None:
        plugin_commands = self.plugins.command_help() if self.plugins is not None else ()
        plugin_keys = self.plugins.help_keys() if self.plugins is not None else ()
        self.help.show(topic, self.read_only, self.keymap, plugin_commands, plugin_keys)
        self._show(self.help, push=True)

    def cmd_view(self, name: str) -> None:
        selected = self.screens["queues"].selected_queue() if self.current.name == "queues" else None
        screen = self.screens[name]
        if isinstance(screen, JobListScreen) and selected is not None:
            screen.set_scope(queue=selected)
        self._show(screen)
        if isinstance(screen, JobListScreen):
            self.load_jobs(screen)
        if name == "plugins" and self.plugins is not None:
            self.plugins.manager_opened()

    def cmd_prompt(self, text: str | None) -> None:
        self.command_line.start(f"{text} " if text else "")  # ready for the argument
        self._bottom.original_widget = self.command_line
        self._frame.focus_position = "footer"
        self._frame.footer.focus_position = 1  # the cursor is drawn on the command line

    def cmd_refresh(self) -> None:
        self.poller.refresh()
        if self._job_list():
            self.load_jobs(self.current)

    def cmd_move(self, where: str) -> None:
        self.current.move(where, self._body_size())

    def _body_size(self) -> tuple[int, int]:
        cols, rows = self.root.size
        return cols, max(1, rows - 5)

    def cmd_open(self) -> None:
        if self.current.name == "plugins":
            self.cmd_plugin("open", None)
        elif self.current.name == "queues":
            if self.screens["queues"].selected_queue() is None:
                self.message("no queue selected", "warning")
                return
            self.cmd_view("jobs")
        elif (screen := self._job_list()) is not None:
            job = screen.focused_job()
            if job is None:
                self.message("no job selected", "warning")
                return
            self._open_job(job)

    def _open_job(self, job: Job) -> None:
        self.detail.show(job)
        self._show(self.detail, push=True)
        self.run_io(lambda: self.backend.job(job.id), self._refresh_detail, "loading job")

    def _refresh_detail(self, job: Job | None) -> None:
        if job is not None and self.current is self.detail:
            self.detail.show(job)

    def cmd_queue(self, queue: str) -> None:
        target = self._job_list() or self.screens["jobs"]
        target.set_scope(queue=None if queue == "all" else queue)
        self._show(target)
        self.load_jobs(target)

    def cmd_state(self, state: JobState) -> None:
        if state is JobState.DEAD:
            self.cmd_view("dead")
            return
        screen = self.screens["jobs"]
        screen.set_scope(state=state)
        self._show(screen)
        self.load_jobs(screen)

    def cmd_next_state(self) -> None:
        screen = self._job_list()
        if screen is not None:
            screen.next_state()
            self.load_jobs(screen)

    def cmd_filter(self, text: str | None) -> None:
        if self.current.name == "plugins" and self.plugins is not None:
            self.plugins.search(text)
            self.message(f"plugins matching {text!r}" if text else "every plugin")
            return
        screen = self._job_list()
        table = self._table()
        if screen is not None:
            screen.set_scope(text=text)
            self.load_jobs(screen)
        elif table is not None:
            table.set_filter(text)
        else:
            self.message("nothing to filter here: / searches this view", "warning")
            return
        self.message(f"filter: {text!r}" if text else "filter cleared")

    def cmd_search(self, text: str | None) -> None:
        view = getattr(self.current, "view", None)
        table = self._table()
        self.last_search = text
        if view is not None and hasattr(view, "search"):
            found = view.search(text)
        elif table is not None:
            found = not text or table.find(text)
        else:
            self.message("nothing to search here", "warning")
            return
        if not found:
            self.message(f"{text!r} is not here", "warning")

    def cmd_match(self, direction: str) -> None:
        view = getattr(self.current, "view", None)
        table = self._table()
        job_list = self._job_list()
        if view is not None and getattr(view, "search_text", None):
            needle, target = view.search_text, view
        elif table is not None:
            needle = (job_list.text if job_list is not None else None) or table.filter_text or self.last_search
            target = table
        else:
            needle, target = None, None
        if not needle or target is None:
            self.message("nothing to match: / first", "warning")
        elif not target.find(needle, forward=direction == "next"):
            self.message(f"no row or line holds {needle!r}", "warning")

    def cmd_sort(self, column: str | None) -> None:
        table = self._table()
        if table is None:
            self.message("only lists can be sorted", "warning")
        elif column is None:
            self._picking_sort = True
            self.message("sort by: press the letter highlighted in a column's title (Esc cancels)")
        elif (index := table.column_by_name(column)) is None:
            self.message(f"no column {column!r} here (columns: {', '.join(table.column_names())})", "error")
        else:
            table.sort_by(index)

    def _pick_sort(self, key: str) -> None:
        self._picking_sort = False
        table = self._table()
        if key == "esc" or table is None:
            self.message("not sorted")
        elif (index := table.column_by_letter(key)) is None:
            self.message(f"no column has the key {key_label(key)}", "warning")
        else:
            table.sort_by(index)
        self._refresh_chrome()

    def cmd_copy(self, what: str) -> None:
        job = self.detail.job if self.current is self.detail else None
        if (screen := self._job_list()) is not None:
            job = screen.focused_job()
        if job is None:
            self.message("no job selected", "warning")
            return
        try:
            where = self.clipboard.copy(job.id if what == "id" else job.payload, f"job {one_line(job.id)}'s {what}")
        except OSError as exc:
            self.message(f"copy failed: {exc}", "error")
            return
        self.message(where)

    def cmd_page(self, direction: str) -> None:
        screen = self._job_list()
        if screen is None:
            return
        moved = screen.next_page() if direction == "next" else screen.prev_page()
        if moved:
            self.load_jobs(screen)
        else:
            self.message("no more pages" if direction == "next" else "already on the first page", "warning")

    def cmd_find(self, job_id: str) -> None:
        def done(job: Job | None) -> None:
            if job is None:
                self.message(f"no job with id {job_id!r}", "warning")
            else:
                self.detail.show(job)
                self._show(self.detail, push=True)

        self.operations.find(job_id, done)

    def _dead_screen(self) -> DeadScreen | None:
        if self.current.name == "dead":
            return self.current
        self.message("marks are used on the dead letter screen (3)", "warning")
        return None

    def cmd_mark(self) -> None:
        if (screen := self._dead_screen()) is not None:
            screen.toggle_mark()
            screen.move("down", self._body_size())

    def cmd_mark_all(self) -> None:
        if (screen := self._dead_screen()) is not None:
            screen.mark_all()

    def cmd_unmark_all(self) -> None:
        if (screen := self._dead_screen()) is not None:
            screen.unmark_all()

    def cmd_enqueue(self, queue: str, payload: str) -> None:
        validate_json_payload(payload)
        self.run_io(
            lambda: self.backend.enqueue(queue, payload),
            lambda job: self.after_change(f"enqueued job {job.id} on {job.queue}"),
            "enqueue",
        )

    def _targets(self) -> tuple[list[str], JobState | None]:
        """The jobs a requeue/delete acts on: marked, under the cursor, or in the detail view."""
        if self.current is self.detail and self.detail.job is not None:
            return [self.detail.job.id], self.detail.job.state
        if self.current.name == "dead":
            return self.current.targets(), JobState.DEAD
        return [], None

    def cmd_requeue(self, to_queue: str | None) -> None:
        ids, state = self._targets()
        if not ids:
            self.message("nothing to requeue: select dead jobs on the dead letter screen (3)", "warning")
            return
        if state is not JobState.DEAD:
            self.message(f"only dead jobs can be requeued; this job is {state}", "warning")
            return
        where = f"to queue {one_line(to_queue)}" if to_queue else "to their own queues"
        noun = "job" if len(ids) == 1 else "jobs"
        lines = [f"Requeue {len(ids)} dead {noun} {where}?"]
        lines += [("dim", f"  {one_line(i)}") for i in ids[:5]] + ([("dim", "  ...")] if len(ids) > 5 else [])

        def accept() -> None:
            self.operations.start(lambda: self.backend.start_requeue(ids=ids, to_queue=to_queue), self._requeued,
                                  "requeue")

        self.confirm("Requeue", lines, accept)

    def _requeued(self, count: int) -> None:
        self.screens["dead"].unmark_all()
        if self.current is self.detail:
            self.stack.pop()
        self.after_change(f"requeued {count} job{'s' if count != 1 else ''}")

    def cmd_requeue_all(self, to_queue: str | None) -> None:
        screen = self.screens["dead"]
        queue, text = screen.queue, screen.text
        scope = f"on queue {one_line(queue)}" if queue else "on every queue"
        if text:
            scope += f" whose payload or error contains {one_line(text)!r}"
        lines = [f"Requeue ALL dead jobs {scope}", f"to {one_line(to_queue) if to_queue else 'their own queues'}?"]
        if self.snapshot and not text:
            dead = sum(q.count(JobState.DEAD) for q in self.snapshot.queues if queue in (None, q.name))
            lines.append(("warn", f"About {dead} jobs will move."))

        def accept() -> None:
            self.operations.start(lambda: self.backend.start_requeue(queue=queue, text=text, to_queue=to_queue),
                                  self._requeued, "requeue")

        self.confirm("Requeue all", lines, accept)

    def cmd_delete(self) -> None:
        ids, state = self._targets()
        if not ids or state is None:
            self.message("nothing to delete: select jobs on the dead letter screen (3)", "warning")
            return
        noun = "job" if len(ids) == 1 else "jobs"
        lines = [f"Delete {len(ids)} {state} {noun}? This cannot be undone."]
        lines += [("dim", f"  {one_line(i)}") for i in ids[:5]] + ([("dim", "  ...")] if len(ids) > 5 else [])

        def accept() -> None:
            self.operations.start(lambda: self.backend.start_purge(None, state, ids=ids), self._deleted, "delete")

        self.confirm("Delete", lines, accept)

    def _deleted(self, count: int) -> None:
        self.screens["dead"].unmark_all()
        if self.current is self.detail:
            self.stack.pop()
        self.after_change(f"deleted {count} job{'s' if count != 1 else ''}")

    def cmd_purge(self, queue: str, state: JobState) -> None:
        target = None if queue == "all" else queue
        known = {q.name: q for q in self.snapshot.queues} if self.snapshot else {}
        if target is not None and self.snapshot and target not in known:
            self.message(f"unknown queue {one_line(target)!r}", "error")
            return
        if target is None:
            count = sum(q.count(state) for q in known.values())
        else:
            count = known[target].count(state) if target in known else 0
        where = f"queue {one_line(target)}" if target else "EVERY queue"
        lines = [f"Delete all {state} jobs on {where}?", ("warn", f"About {count} jobs. This cannot be undone.")]

        def accept() -> None:
            self.operations.start(lambda: self.backend.start_purge(target, state),
                                  lambda n: self.after_change(f"purged {n} {state} job{'s' if n != 1 else ''}"),
                                  "purge")

        self.confirm("Purge", lines, accept)

    def cmd_purge_selected(self, state: JobState) -> None:
        if self.current.name == "queues":
            queue = self.screens["queues"].selected_queue()
            if queue is None:
                self.message("no queue selected", "warning")
                return
        else:
            queue = self.screens["dead"].queue
        self.cmd_purge(queue or "all", state)

    def cmd_cancel(self) -> None:
        self.operations.cancel()

    def cmd_ops(self) -> None:
        self.operations.offer()

    def cmd_focus(self, where: str) -> None:
        if self.plugins is None or not self.plugins.focus_order():
            self.message("no plugin panels: enable a plugin on the plugins screen (5)", "warning")
            return
        order: list[str | None] = [None, *self.plugins.focus_order()]
        if where == "main":
            self.focus_panel = None
        else:
            index = order.index(self.focus_panel) if self.focus_panel in order else 0
            self.focus_panel = order[(index + (1 if where == "next" else -1)) % len(order)]
        self.refresh()

    def cmd_dock(self, how: str) -> None:
        if self.plugins is None:
            self.message("plugins are off", "warning")
            return
        dock = self.plugins.dock
        cols, rows = self.root.size
        if how in ("bottom", "right"):
            dock.position = how
            dock.size = 8 if how == "bottom" else 32
        else:
            limit = rows - 8 if dock.position == "bottom" else cols - 30
            dock.resize(2 if how == "grow" else -2, max(3, limit))
        self.relayout()

    def cmd_plugin(self, action: str, name: str | None) -> None:
        if self.plugins is None and self._make_plugins is not None:  # still loading: run it when loaded
            self._when_plugins_load.append((action, name))
            self.message(f"plugins are loading: plugin {action}{' ' + name if name else ''} runs when they are")
            return
        if self.plugins is None:
            self.message("plugins are off in this console", "warning")
            return
        self.plugins.command(action, name)


def _write_raw(screen: urwid.BaseScreen, text: str) -> None:
    """Send `text` (an escape sequence such as OSC 52) to the terminal, past urwid's drawing."""
    write = getattr(screen, "write", None)
    if write is None:
        raise OSError("this display cannot send escape sequences to a terminal")
    write(text)
    screen.flush()
