"""Static checks of a plugin's Lua against the API declaration, for `qtui plugin check`.

Nothing runs: each ``.lua`` file of the bundle is read as Lua tokens (comments and strings
are skipped as Lua skips them) and every reference written ``qtui.NAME`` or
``qtui.TABLE.NAME`` is resolved against :mod:`qtui.plugins.runtime.api`:

- a name the API does not have is an error, with the nearest declared name as a suggestion
  (``qtui.notiffy is not in the plugin API (did you mean qtui.notify?)``);
- a use of a function that needs a capability the manifest does not request is an error; so
  is ``qtui.subscribe("...")`` of an event that needs one, ``qtui.publish`` and
  ``qtui.listen`` outside the plugin's own topics without ``bus.*``, and an event name
  ``qtui.subscribe`` does not know;
- a deprecated name (an :data:`~qtui.plugins.runtime.api.ALIASES` entry) is a warning saying
  what replaces it;
- ``require("qtui.NAME")`` of a library module qtui does not ship is an error.

Calls through another name (``local q = qtui``) and names built at run time are not followed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from qtui.files.tomlfile import Problem
from qtui.plugins.bundles.capabilities import Capability, bus_capability
from qtui.plugins.bundles.manifest import Manifest
from qtui.plugins.runtime import api

__all__ = ["Findings", "lint_files"]


@attrs.frozen
class Findings:
    """What the checks found: errors (the plugin is wrong) and warnings (it still works)."""

    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()


# -- Lua tokens -----------------------------------------------------------------------------


@attrs.frozen
class _Token:
    kind: str  # "name", "string", "op"
    text: str  # a string token's value (escapes other than \" \' \\ left as written)
    line: int


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F.]*(?:[pP][+-]?[0-9]+)?|[0-9.]+(?:[eE][+-]?[0-9]+)?")
_LONG_OPEN = re.compile(r"\[(=*)\[")
_SPACE = re.compile(r"\s+")


def _tokens(text: str) -> Iterator[_Token]:
    """The names, strings and operators of Lua source `text`, with their lines; comments dropped.

    An unterminated string or comment ends the file (the compiler reports it).
    """
    pos, line, end = 0, 1, len(text)
    while pos < end:
        char = text[pos]
        if char in " \t\r\n\f\v":
            found = _SPACE.match(text, pos)
            assert found is not None
            line += found.group().count("\n")
            pos = found.end()
        elif text.startswith("--", pos):
            opening = _LONG_OPEN.match(text, pos + 2)
            if opening:
                close = text.find(f"]{opening.group(1)}]", opening.end())
                stop = end if close < 0 else close + len(opening.group(1)) + 2
            else:
                newline = text.find("\n", pos)
                stop = end if newline < 0 else newline
            line += text.count("\n", pos, stop)
            pos = stop
        elif char == "[" and _LONG_OPEN.match(text, pos):
            opening = _LONG_OPEN.match(text, pos)
            assert opening is not None
            close = text.find(f"]{opening.group(1)}]", opening.end())
            stop = end if close < 0 else close + len(opening.group(1)) + 2
            body = text[opening.end():close if close >= 0 else end]
            yield _Token("string", body.removeprefix("\n"), line)
            line += text.count("\n", pos, stop)
            pos = stop
        elif char in "'\"":
            pos, line, value, start = _quoted(text, pos, line)
            yield _Token("string", value, start)
        elif _NAME.match(text, pos):
            found = _NAME.match(text, pos)
            assert found is not None
            yield _Token("name", found.group(), line)
            pos = found.end()
        elif char.isdigit() or (char == "." and pos + 1 < end and text[pos + 1].isdigit()):
            found = _NUMBER.match(text, pos)
            pos = found.end() if found and found.end() > pos else pos + 1
        else:
            width = 3 if text.startswith("...", pos) else 2 if text[pos:pos + 2] in _TWO else 1
            yield _Token("op", text[pos:pos + width], line)
            pos += width


_TWO = frozenset({"..", "::", "==", "~=", "<=", ">=", "//", "<<", ">>"})


def _quoted(text: str, pos: int, line: int) -> tuple[int, int, str, int]:
    """A quoted string at `pos`: where it ends, the line after it, its value and its first line."""
    quote, start, out = text[pos], line, []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return pos + 1, line, "".join(out), start
        if char == "\n":  # unterminated: Lua refuses it; stop at the line's end
            return pos, line, "".join(out), start
        if char == "\\" and pos + 1 < len(text):
            following = text[pos + 1]
            if following == "\n":
                line += 1
            out.append(following if following in "'\"\\" else "\\" + following)
            pos += 2
            continue
        out.append(char)
        pos += 1
    return pos, line, "".join(out), start


# -- what the API declares ------------------------------------------------------------------

_FUNCTIONS: Mapping[str, api.Function] = {f.name: f for f in api.FUNCTIONS}
_SUBTABLES = frozenset(name.split(".")[0] for name in _FUNCTIONS if "." in name)
_EVENTS = {e.type: e for e in api.EVENTS if e.subscribable}
_UNASKED = frozenset(e.type for e in api.EVENTS if not e.subscribable)
_LIBRARY = {m.require_name for m in api.LIBRARY}


def _aliases() -> Mapping[str, api.Alias]:
    return {a.old: a for a in api.ALIASES}  # read each time: the declaration is the one place


def _suggestion(name: str, known: list[str], prefix: str = "qtui.") -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


# -- the checks -----------------------------------------------------------------------------


@attrs.define
class _File:
    """The checks of one Lua file."""

    path: Path
    manifest: Manifest | None
    errors: list[Problem] = attrs.field(factory=list)
    warnings: list[Problem] = attrs.field(factory=list)

    def error(self, line: int, message: str) -> None:
        self.errors.append(Problem(self.path, line, "", message))

    def check(self, tokens: list[_Token]) -> None:
        for index, token in enumerate(tokens):
            previous = tokens[index - 1] if index else None
            if token.kind != "name" or (previous is not None and previous.text in (".", ":")):
                continue
            if token.text == "qtui":
                self.reference(tokens, index)
            elif token.text == "require":
                self.required(tokens, index)

    def reference(self, tokens: list[_Token], index: int) -> None:
        """`qtui.A.B...` starting at tokens[index]."""
        parts: list[str] = []
        at = index + 1
        while at + 1 < len(tokens) and tokens[at].text == "." and tokens[at + 1].kind == "name":
            parts.append(tokens[at + 1].text)
            at += 2
        if not parts:
            return  # `qtui` itself (passed around, or its own table)
        line = tokens[index].line
        name = ".".join(parts)
        deprecated = _aliases()
        if name in _FUNCTIONS:
            self.needs(_FUNCTIONS[name], tokens, at, line)
        elif name in deprecated:
            alias = deprecated[name]
            note = f" ({alias.note})" if alias.note else ""
            self.warnings.append(Problem(self.path, line, "", f"qtui.{name} is deprecated since API {alias.since}: "
                                                              f"use qtui.{alias.new}{note}"))
            self.needs(_FUNCTIONS[alias.new], tokens, at, line)
        elif name in _SUBTABLES:
            return  # the table itself, e.g. `local jobs = qtui.jobs`
        elif parts[0] in _FUNCTIONS:
            self.error(line, f"qtui.{name} is not in the plugin API: qtui.{parts[0]} is a function")
        else:
            known = [*_FUNCTIONS, *_SUBTABLES, *deprecated]
            self.error(line, f"qtui.{name} is not in the plugin API{_suggestion(name, known)}")

    def needs(self, function: api.Function, tokens: list[_Token], after: int, line: int) -> None:
        """The capability a use of `function` needs, against the manifest's permissions."""
        if self.manifest is None:
            return  # the manifest's own problems are reported; nothing to check against
        if function.capability is not None:
            self.missing(function.capability, f"qtui.{function.name}", line)
            return
        literals = _literal_arguments(tokens, after)
        if function.name == "subscribe":
            for event, event_line in literals:
                self.subscribed(event, event_line)
        elif function.name in ("publish", "listen") and literals:
            topic, topic_line = literals[0]
            capability = bus_capability(self.manifest.name, topic, publish=function.name == "publish")
            if capability is not None:
                self.missing(capability, f'qtui.{function.name}("{topic}")', topic_line)

    def subscribed(self, event: str, line: int) -> None:
        spec = _EVENTS.get(event)
        if spec is None and event in _UNASKED:
            self.error(line, f"qtui.subscribe: '{event}' events arrive without subscribing")
        elif spec is None:
            self.error(line, f"qtui.subscribe: no event '{event}' to subscribe to"
                             f"{_suggestion(event, list(_EVENTS), prefix='')}")
        elif spec.capability is not None:
            self.missing(spec.capability, f'qtui.subscribe("{event}")', line)

    def missing(self, capability: Capability, what: str, line: int) -> None:
        assert self.manifest is not None
        if capability not in self.manifest.permissions:
            self.error(line, f"{what} needs the {capability} capability, which the manifest does not request")

    def required(self, tokens: list[_Token], index: int) -> None:
        """`require("qtui.NAME")` of a library module qtui does not ship."""
        literals = _literal_arguments(tokens, index + 1)
        if not literals:
            return
        module, line = literals[0]
        if module.startswith("qtui.") and module not in _LIBRARY:
            names = sorted(_LIBRARY)
            self.error(line, f'require("{module}"): qtui ships no module {module} (its modules: '
                             f"{', '.join(names)}){_suggestion(module, names, prefix='')}")


def _literal_arguments(tokens: list[_Token], at: int) -> list[tuple[str, int]]:
    """The string literals among the arguments of a call at tokens[at] (`f("a", "b")` or `f "a"`),
    up to the first argument that is not one."""
    if at >= len(tokens):
        return []
    if tokens[at].kind == "string":
        return [(tokens[at].text, tokens[at].line)]
    if tokens[at].text != "(":
        return []
    found = []
    at += 1
    while at < len(tokens) and tokens[at].kind == "string":
        found.append((tokens[at].text, tokens[at].line))
        if at + 1 < len(tokens) and tokens[at + 1].text == ",":
            at += 2
        else:
            break
    return found


def lint_files(files: Mapping[str, bytes], folder: Path, manifest: Manifest | None) -> Findings:
    """Check the ``.lua`` files among a bundle's `files` (relative path -> content) in `folder`.

    Without a valid `manifest` only the names are checked.
    """
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for relative, content in sorted(files.items()):
        if not relative.endswith(".lua"):
            continue
        checked = _File(folder / relative, manifest)
        checked.check(list(_tokens(content.decode("utf-8", errors="replace"))))
        errors += checked.errors
        warnings += checked.warnings
    return Findings(tuple(errors), tuple(warnings))
