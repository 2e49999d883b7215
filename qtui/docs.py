"""Generated parts of the man pages, from the same registries the console uses.

`python -m qtui.docs` rewrites the generated sections of man/qtui.1 in place;
a test fails when the page and the registries disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from qtui.console.keymap import BINDINGS, COMMANDS, CONTEXTS, binding_help, key_label

BEGIN = '.\\" BEGIN GENERATED {name}'
END = '.\\" END GENERATED {name}'


def _escape(text: str) -> str:
    """Escape text for roff: backslashes, and leading dots or quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def keys_section() -> str:
    """The KEYS section body: every binding, grouped by where it applies."""
    out: list[str] = []
    for context in CONTEXTS:
        bindings = [b for b in BINDINGS if context in b.contexts]
        if not bindings:
            continue
        out.append(".SS " + ("Everywhere" if context == "global" else f"On the {context} screen"))
        for binding in bindings:
            out += [".TP", f".B {_escape(key_label(binding.key))}", _escape(binding_help(binding))]
    return "\n".join(out)


def commands_section() -> str:
    """The CONSOLE COMMANDS section body: every command of the : command line."""
    out: list[str] = []
    for command in sorted(COMMANDS.values(), key=lambda c: c.name):
        usage = " ".join(
            [f"\\fB{_escape(command.name)}\\fR"]
            + [f"[\\fI{p.name.upper()}\\fR]" if p.optional else f"\\fI{p.name.upper()}\\fR" for p in command.params]
        )
        notes = []
        if command.destructive:
            notes.append("asks for confirmation")
        if command.writes:
            notes.append("disabled in read-only mode")
        text = _escape(command.help) + (f" ({'; '.join(notes)})." if notes else ".")
        out += [".TP", usage, text]
    return "\n".join(out)


SECTIONS = {"KEYS": keys_section, "COMMANDS": commands_section}


def render(page: str) -> str:
    """`page` with every generated section replaced by its current content."""
    for name, build in SECTIONS.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(page):
            raise ValueError(f"man page has no {begin!r} ... {end!r} block")
        page = pattern.sub(lambda _m: f"{begin}\n{build()}\n{end}", page)
    return page


def main() -> int:
    path = Path(__file__).resolve().parent.parent / "man" / "qtui.1"
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
