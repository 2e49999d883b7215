"""The Plugins tab when no plugin side is running: plugins are off, or still loading."""

from __future__ import annotations

import urwid


class NoPluginsScreen:
    """A line saying why there is no plugin list (yet)."""

    name = "plugins"
    title = "Plugins"

    def __init__(self, text: str) -> None:
        self.widget = urwid.Filler(urwid.Text(("dim", text), align="center"), valign="top", top=1)

    def move(self, where: str, size: tuple[int, int]) -> None:
        """Nothing to scroll."""
