"""The plugin manager screen: installed plugins, their state, permissions and resource use."""

from __future__ import annotations

import attrs
import urwid

from qtui.clock import MonotonicClock
from qtui.console import format as fmt
from qtui.console.widgets import Column, Table
from qtui.plugins.service import (
    Catalog,
    Discovery,
    Entry,
    Plugin,
    PluginHandle,
    PluginState,
    Verdict,
    matches_search,
)
from qtui.sanitize import one_line

COLUMNS = (
    Column("PLUGIN"),
    Column("VERSION", 8),
    Column("FROM", 7),
    Column("STATE", 9),
    Column("CAPS", 5, "right"),
    Column("MEM", 5, "right"),
    Column("INS/s", 6, "right"),
    Column("EVENTS", 6, "right"),
    Column("DROP", 4, "right"),
    Column("ERR", 3, "right"),
)


EMPTY = "No plugins installed. Put one in ~/.config/qtui/plugins/ or see qtui-lua(7)."


@attrs.define
class _Rate:
    instructions: int
    at: float


class PluginsScreen:
    """Every installed plugin (user, system, bundled) with live resource use of the running ones,
    and the catalog's plugins not installed yet; `search` narrows both to the plugins whose name,
    description or permissions contain a text."""

    name = "plugins"
    title = "Plugins"

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock  # instructions per second are counted on it
        self.table = Table(COLUMNS, EMPTY)
        self.detail = urwid.Text("", wrap="clip")
        self.widget = urwid.Pile([("weight", 1, self.table), ("pack", urwid.AttrMap(self.detail, "dim"))])
        self.plugins: dict[str, Plugin] = {}
        self.problems: list[str] = []
        self.available: dict[str, Entry] = {}  # catalog entries not installed, or newer
        self._rates: dict[str, _Rate] = {}
        self._per_second: dict[str, float] = {}
        self.query: str | None = None  # the search, when one narrows the list
        self.shown = 0  # rows shown, of
        self.total = 0  # rows there are without the search

    def show(self, discovery: Discovery, handles: dict[str, PluginHandle], enabled: set[str],
             catalog: Catalog | None = None) -> None:
        self.plugins = {p.name: p for p in discovery.plugins}
        for name, handle in handles.items():  # a plugin run from a folder of its own (plugin dev)
            self.plugins.setdefault(name, handle.plugin)
        self.problems = discovery.messages() + [str(p) for p in (catalog.problems if catalog else ())]
        self.available = {}
        for entry in catalog.entries if catalog else ():
            installed = self.plugins.get(entry.name)
            if installed is None or entry.version > installed.manifest.version:
                newest = self.available.get(entry.name)
                if newest is None or entry.version > newest.version:
                    self.available[entry.name] = entry
        rows = []
        names = sorted(set(self.plugins) | set(self.available))
        self.total = len(names)
        for name in names:
            plugin, handle, entry = self.plugins.get(name), handles.get(name), self.available.get(name)
            if self.query and not self._matches(plugin, entry):
                continue
            if plugin is None:
                cells = [one_line(name), one_line(str(entry.version)), "catalog", "available",
                         "-", "-", "-", "-", "-", "-"]
                rows.append((name, cells, "dim"))
                continue
            cells = self._cells(plugin, handle, name in enabled)
            if entry is not None:
                cells[3] = f"{cells[3]}, {entry.version} out" if isinstance(cells[3], str) else cells[3]
            rows.append((name, cells, None if handle else "dim"))
        self.shown = len(rows)
        self.table.set_rows(rows)
        self._show_detail(handles)

    def search(self, text: str | None) -> None:
        """Show only the plugins matching `text` (None or empty: all); call show() after."""
        self.query = text.strip() if text and text.strip() else None
        self.table.set_empty(f"No plugin installed or in the catalog matches {self.query!r}." if self.query
                             else EMPTY)

    def _matches(self, plugin: Plugin | None, entry: Entry | None) -> bool:
        assert self.query is not None
        if plugin is not None:
            manifest = plugin.manifest
            if matches_search(self.query, manifest.name, manifest.description, manifest.permissions):
                return True
        return entry is not None and matches_search(self.query, entry.name, entry.description, entry.permissions)

    def _cells(self, plugin: Plugin, handle: PluginHandle | None, enabled: bool) -> list:
        manifest = plugin.manifest
        state = str(handle.state) if handle else ("enabled" if enabled else "off")
        if handle and handle.state is PluginState.WAITING:
            state = "waiting"
        granted = "-"
        memory = rate = events = dropped = errors = "-"
        if handle is not None:
            if handle.grants is not None:
                allowed = sum(1 for e in handle.grants.all() if e.allowed)
                granted = f"{allowed}/{len(manifest.permissions)}"
            errors = str(handle.errors)
            if handle.runtime is not None:
                usage = handle.runtime.sandbox.usage()
                memory = f"{usage.memory_bytes // 1024}k"
                rate = fmt.count(round(self._rate(handle.name, usage.instructions)))
            if handle.mailbox is not None:
                events = fmt.count(handle.mailbox.delivered)
                dropped = str(handle.mailbox.dropped)
        attr_state = ("error", state) if handle and handle.state in (PluginState.ERRORED,
                                                                     PluginState.QUARANTINED) else state
        return [one_line(manifest.name), one_line(str(manifest.version)), str(plugin.source)[:7], attr_state,
                granted, memory, rate, events, dropped, errors]

    def _rate(self, name: str, instructions: int) -> float:
        now = self.clock()
        previous = self._rates.get(name)
        self._rates[name] = _Rate(instructions, now)
        if previous is not None and now - previous.at >= 0.5:
            self._per_second[name] = (instructions - previous.instructions) / (now - previous.at)
        return self._per_second.get(name, 0.0)

    def _show_detail(self, handles: dict[str, PluginHandle]) -> None:
        name = self.selected()
        searched = (f"search {one_line(self.query)!r}: {self.shown} of {self.total} plugins "
                    "(/ then Enter alone shows all)\n") if self.query else ""
        if name is None:
            self.detail.set_text(searched + "\n".join(self.problems[:3]))
            return
        self._detail_of(name, handles, searched)

    def _detail_of(self, name: str, handles: dict[str, PluginHandle], searched: str) -> None:
        if name not in self.plugins:
            entry = self.available[name]
            self.detail.set_text(searched + one_line(f"{name} {entry.version} (catalog): {entry.description}") + "\n"
                                 + "asks for: " + (", ".join(c.value for c in entry.permissions) or "nothing")
                                 + "\ni installs it")
            return
        plugin = self.plugins[name]
        handle = handles.get(name)
        lines = [one_line(f"{name}: {plugin.manifest.description}")]
        if handle is not None and handle.grants is not None:
            parts = []
            for effective in handle.grants.all():
                mark = {Verdict.GRANTED: "+", Verdict.DENIED: "-", Verdict.FORBIDDEN: "!"}.get(effective.verdict, "?")
                parts.append(f"{mark}{effective.capability}")
            lines.append("permissions: " + (" ".join(parts) or "none"))
        if handle is not None and (handle.error or handle.reason):
            lines.append(one_line(handle.where()))
        self.detail.set_text(searched + "\n".join(lines))

    def selected(self) -> str | None:
        key = self.table.focused_key()
        return str(key) if key is not None else None

    def move(self, where: str, size: tuple[int, int]) -> None:
        self.table.move(where, size)
