"""Copying a job's id or payload: to the terminal's clipboard (OSC 52), or to a file.

OSC 52 lets a program set the clipboard of the terminal the operator sits at, over SSH
too; it is used only when config.toml says ``clipboard = "osc52"``, since a terminal
that does not support it shows nothing. Otherwise, and for text too long for a terminal
to take, the text is written to a file (mode 0600) whose path the console shows.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from qtui.files.atomic import replace_file

#: The most text sent through OSC 52 (xterm takes about 74 kB of base64).
OSC52_LIMIT = 48 * 1024


def osc52(text: str) -> str:
    """The escape sequence that puts `text` on the terminal's clipboard."""
    return "\x1b]52;c;" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "\x07"


class Clipboard:
    """Copies text through the terminal (`write_terminal`) when enabled, else into `path`."""

    def __init__(self, path: Path, *, osc52_enabled: bool,
                 write_terminal: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.osc52_enabled = osc52_enabled
        self.write_terminal = write_terminal

    def copy(self, text: str, what: str) -> str:
        """Copy `text`; returns the message saying where `what` went."""
        size = len(text.encode("utf-8"))
        if self.osc52_enabled and self.write_terminal is not None and size <= OSC52_LIMIT:
            self.write_terminal(osc52(text))
            return f"copied {what} to the terminal's clipboard"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(self.path, text, mode=0o600)
        reason = f" ({size} bytes: too long for the terminal)" if self.osc52_enabled and size > OSC52_LIMIT else ""
        return f"copied {what} to {_shown(self.path)}{reason}"


def _shown(path: Path) -> str:
    """`path` as the operator would type it: ~ for the home folder."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
