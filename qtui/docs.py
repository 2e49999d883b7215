"""Generated parts of the man pages and the plugin type definitions, from the declarations.

`python -m qtui.docs` rewrites the generated sections of every man page in man/ (the
console's keys and commands in qtui.1; in the others the plugin documentation, its prose read
from man/plugin-docs and filled by qtui.authoring.docs) and qtui/authoring/lua/qtui.d.lua;
`python -m qtui.docs --check` only lists the stale files. A test fails when a generated file
and its source disagree.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from qtui.authoring import docs as plugin_docs
from qtui.authoring import typedefs
from qtui.authoring.prose import ProseError
from qtui.console.keymap import BINDINGS, COMMANDS, CONTEXTS, Binding, binding_help, key_label, normalise_action
from qtui.files.atomic import replace_file

BEGIN = '.\\" BEGIN GENERATED {name}'
END = '.\\" END GENERATED {name}'


def _escape(text: str) -> str:
    """Escape text for roff: backslashes, and leading dots or quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


_CONTEXT_TITLES = {"global": "Everywhere", "detail": "In a job's detail", "help": "In help",
                   "plugin": "In a plugin opened full screen", "panel": "In a docked plugin panel with the focus"}


def keys_section() -> str:
    """The KEYS section body: every binding, grouped by where it applies."""
    out: list[str] = []
    for context in CONTEXTS:
        bindings = [b for b in BINDINGS if context in b.contexts]
        if not bindings:
            continue
        out.append(".SS " + _CONTEXT_TITLES.get(context, f"On the {context} screen"))
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
        if command.aliases:
            notes.append("also " + ", ".join(f"\\fB{_escape(alias)}\\fR" for alias in command.aliases))
        text = _escape(command.help) + (f" ({'; '.join(notes)})." if notes else ".")
        out += [".TP", usage, text]
    return "\n".join(out)


def actions_section() -> str:
    """The ACTIONS section of qtui(5): every action the registry binds, with its default keys and places."""
    actions: dict[str, list[Binding]] = {}
    for binding in BINDINGS:
        actions.setdefault(normalise_action(binding.command), []).append(binding)
    out: list[str] = []
    for action, bindings in actions.items():
        places = []
        for contexts in dict.fromkeys(b.contexts for b in bindings):
            keys = ", ".join(f"\\fB{_escape(key_label(b.key))}\\fR" for b in bindings if b.contexts == contexts)
            where = ", ".join(_CONTEXT_TITLES.get(c, f"on the {c} screen").lower() for c in contexts)
            places.append(f"{keys} {where}")
        out += [".TP", f".B {_escape(action)}", f"{_escape(binding_help(bindings[0]))}.",
                f"Default: {'; '.join(places)}."]
    return "\n".join(out)


SECTIONS = {"KEYS": keys_section, "COMMANDS": commands_section}

MAN = Path(__file__).resolve().parent.parent / "man"


def _plugin_section(name: str) -> str:
    """The roff body of plugin documentation section `name`, from the prose beside the pages."""
    return plugin_docs.roff_section(name, MAN / plugin_docs.PROSE_FOLDER)


#: Every man page with generated sections, and the builders of those sections.
PAGES: dict[str, Mapping[str, Callable[[], str]]] = {
    "qtui.1": SECTIONS,
    "qtui.5": {"ACTIONS": actions_section},
    **{
        page: {name: functools.partial(_plugin_section, name) for name in names}
        for page, names in plugin_docs.MAN_PAGES.items()
    },
}


def render(page: str, sections: Mapping[str, Callable[[], str]] = SECTIONS) -> str:
    """`page` with every generated section replaced by its current content."""
    for name, build in sections.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(page):
            raise ValueError(f"man page has no {begin!r} ... {end!r} block")
        page = pattern.sub(lambda _m: f"{begin}\n{build()}\n{end}", page)
    return page


def generated() -> dict[Path, str]:
    """Every generated file and its up-to-date content."""
    files = {}
    for page, sections in PAGES.items():
        path = MAN / page
        try:
            files[path] = render(path.read_text(encoding="utf-8"), sections)
        except ProseError:
            raise  # it names its own file and line
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    files.update(typedefs.generated())
    return files


def stale(files: Mapping[Path, str] | None = None) -> list[Path]:
    """The generated files (default: all) whose content is out of date or missing."""
    files = generated() if files is None else files
    return [path for path, text in files.items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.docs", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="list stale files; exit 1 if any")
    args = parser.parse_args(argv)
    try:
        files = generated()
    except (OSError, ValueError) as exc:
        print(f"python -m qtui.docs: {exc}", file=sys.stderr)
        return 2
    outdated = stale(files)
    for path in outdated:
        if args.check:
            print(f"stale: {path}")
        else:
            replace_file(path, files[path], mode=0o644)
            print(f"updated {path}")
    return 1 if args.check and outdated else 0


if __name__ == "__main__":
    sys.exit(main())
