"""Plugin panels and the dock they live in.

A panel shows a plugin's title, its state (running, waiting for permission,
errored with the Lua file:line, quarantined, stopped), and its last rendered
lines. Rendering never waits for Lua: the panel draws the last frame the plugin
produced, marked stale while the plugin is busy. Besides its main panel a plugin
may open more at run time (qtui.panel.open); each is a zone of its own in the
dock, keyed ``PLUGIN/PANEL``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import urwid

from qtui.console.widgets import Label
from qtui.plugins.service import MAIN_PANEL, PluginHandle, PluginState, Span
from qtui.sanitize import one_line, visible

#: Between a plugin's name and a panel's in a dock key (neither may hold it).
PANEL_SEP = "/"


def dock_key(plugin: str, panel: str = MAIN_PANEL) -> str:
    """The dock's key of a plugin's panel: its name for the main one, PLUGIN/PANEL for others."""
    return plugin if panel == MAIN_PANEL else f"{plugin}{PANEL_SEP}{panel}"


def split_key(key: str) -> tuple[str, str]:
    """The plugin and panel of a dock key."""
    plugin, _, panel = key.partition(PANEL_SEP)
    return plugin, panel or MAIN_PANEL


STATE_TEXT = {
    PluginState.WAITING: "waiting for permission: press P on the plugins screen (5) or :plugin allow {name}",
    PluginState.STARTING: "starting…",
    PluginState.STOPPED: "disabled",
}


def span_markup(line: Sequence[Span]) -> list:
    return [(f"plugin {span.style}", span.text) for span in line] or [""]


def status_lines(handle: PluginHandle) -> list:
    """The panel's first lines: the plugin's state and latest error, if there is anything to say."""
    lines: list = []
    if handle.state is PluginState.ERRORED:
        lines.append(("plugin error", f"error: {visible(handle.reason or '')}"))
    elif handle.state is PluginState.QUARANTINED:
        lines.append(("plugin error", f"quarantined: {visible(handle.reason or '')}"))
        lines.append(("plugin dim", "it broke its limits too often; reload it from the plugins screen (5)"))
    elif handle.state in STATE_TEXT:
        lines.append(("plugin warn", STATE_TEXT[handle.state].format(name=handle.name)))
        if handle.state is PluginState.WAITING and handle.reason:
            lines.append(("plugin dim", visible(handle.reason)))
    if handle.state is PluginState.RUNNING and handle.error is not None:
        lines.append(("plugin error", one_line(f"error: {handle.error}")))
    return lines


class PanelWidget(urwid.WidgetWrap):
    """One panel of a plugin: a title bar and its lines; mouse clicks go to `on_mouse`."""

    def __init__(self, handle: PluginHandle,
                 on_mouse: Callable[[str, str, int, int, int, str], None] | None = None,
                 on_resize: Callable[[str, int, int, str], None] | None = None,
                 panel: str = MAIN_PANEL) -> None:
        self.name = handle.name
        self.panel = panel
        self._on_mouse = on_mouse
        self._on_resize = on_resize
        self._title = Label("", wrap="clip")
        self._shown: list[tuple] = []  # (markup, wrap) of each line drawn
        self._title_map = urwid.AttrMap(self._title, "panel title")
        self._walker = urwid.SimpleFocusListWalker([])
        self._body = urwid.ListBox(self._walker)
        super().__init__(urwid.Frame(self._body, header=self._title_map))
        self.update(handle, focused=False)

    def update(self, handle: PluginHandle, *, focused: bool) -> None:
        manifest = handle.manifest
        extra = handle.panels.get(self.panel) if self.panel != MAIN_PANEL else None
        if extra is not None:
            title, lines, status = one_line(extra.title), extra.lines, []
        else:
            title = one_line(manifest.panel.title if manifest.panel else manifest.name)
            lines, status = handle.panel, status_lines(handle)
        state = "" if handle.state is PluginState.RUNNING else f" [{handle.state}]"
        stale = " [stale]" if handle.stale else ""
        mark = "> " if focused else "  "
        self._title.set_text([mark + title, ("panel state", state + stale)])
        title_attr = {None: "panel title focus" if focused else "panel title"}
        if self._title_map.get_attr_map() != title_attr:
            self._title_map.set_attr_map(title_attr)
        # State and errors wrap, so the whole message (file:line too) is readable; the
        # plugin's own lines are clipped to the panel, as the plugin drew them.
        shown = [(line, "space") for line in status] + [(span_markup(line), "clip") for line in lines]
        if shown == self._shown:
            return  # the same lines: nothing to redraw
        before = list(zip(self._shown, self._walker, strict=True))
        widgets = [before[n][1] if n < len(before) and before[n][0] == line else urwid.Text(line[0], wrap=line[1])
                   for n, line in enumerate(shown)]
        self._shown = shown
        position = self._walker.focus if self._walker else 0
        self._walker[:] = widgets
        if widgets:
            self._walker.set_focus(min(position or 0, len(widgets) - 1))

    def scroll(self, size: tuple[int, int], key: str) -> None:
        self._body.keypress(size, key)

    def render(self, size, focus=False):  # noqa: ANN001, ANN201 - urwid signature
        if self._on_resize is not None and len(size) == 2:
            self._on_resize(self.name, size[0], max(size[1] - 1, 0), self.panel)  # the title takes a row
        return super().render(size, focus)

    def mouse_event(self, size, event, button, col, row, focus):  # noqa: ANN001, ANN201 - urwid signature
        """A press or release inside the panel goes to the plugin, in panel coordinates."""
        if self._on_mouse is None or row == 0 or event not in ("mouse press", "mouse release"):
            return False
        self._on_mouse(self.name, event.split()[1], button, col, row - 1, self.panel)  # row 0: the title
        return True


class LogPanel(urwid.WidgetWrap):
    """The newest log lines and errors of one plugin (beside its panel in plugin dev)."""

    def __init__(self, handle: PluginHandle) -> None:
        self.name = handle.name
        self._walker = urwid.SimpleFocusListWalker([])
        title = urwid.AttrMap(urwid.Text(f"  log: {one_line(handle.name)}", wrap="clip"), "panel title")
        super().__init__(urwid.Frame(urwid.ListBox(self._walker), header=title))
        self.update(handle, focused=False)

    def update(self, handle: PluginHandle, *, focused: bool) -> None:
        lines = [("plugin error", line) if line.startswith("error") else line for line in handle.log_lines[-200:]]
        if handle.error is not None and not lines:
            lines = [("plugin error", str(handle.error))]
        self._walker[:] = [urwid.Text(line, wrap="clip") for line in lines or [("plugin dim", "(no log yet)")]]
        self._walker.set_focus(len(self._walker) - 1)  # follow the newest line


class Dock:
    """The zone of the layout where plugin panels sit, below or beside the main view."""

    def __init__(self) -> None:
        self.panels: dict[str, PanelWidget] = {}
        self.position = "bottom"  # or "right"
        self.size = 8  # rows at the bottom, columns at the right
        self.zoomed: str | None = None

    def widget(self) -> urwid.Widget | None:
        if not self.panels:
            return None
        panels = list(self.panels.values())
        if self.position == "bottom":
            return urwid.Columns(panels, dividechars=1)
        return urwid.Pile(panels)

    def resize(self, step: int, limit: int) -> None:
        self.size = max(3, min(limit, self.size + step))
