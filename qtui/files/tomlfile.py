"""Reading TOML files with errors that name the file, the line and the field.

tomllib reports line and column for syntax errors but forgets where each key was once parsed.
:class:`KeyLines` scans the (already valid) source again and records the line of every table
header, key and array element, so a validation problem can point at the line to fix.
"""

from __future__ import annotations

import bisect
import datetime
import re
import tomllib
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs

#: A field's place in the document: table keys and array indexes, outermost first.
FieldPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = "(at end of document)"


@attrs.frozen
class Problem:
    """One thing wrong with a file, printed as ``file:line: field: message``."""

    file: Path
    line: int | None
    field: str  # e.g. "permissions[2]" or "settings.mode.default"; "" for syntax errors
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{place}: {self.field}: {self.message}" if self.field else f"{place}: {self.message}"


class FileProblems(Exception):
    """A file could not be used; `problems` lists everything found wrong with it."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def field_name(path: FieldPath) -> str:
    """Render a field path as ``a.b[2]."odd key"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            if len(part) > 64:
                part = part[:61] + "..."
            key = part if _BARE_KEY.fullmatch(part) else _quote(part)
            out += f".{key}" if out else key
    return out


def _quote(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def read_toml(path: Path, *, max_bytes: int) -> tuple[dict[str, Any], str]:
    """Read and parse `path`; raise FileProblems naming the file (and line, for syntax errors)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise FileProblems([Problem(path, None, "", f"cannot read: {e.strerror or e}")]) from None
    if len(raw) > max_bytes:
        raise FileProblems([Problem(path, None, "", f"file is larger than {max_bytes} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FileProblems([Problem(path, line, "", "not UTF-8 text")]) from None
    return parse_toml(text, path), text


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """Parse TOML text read from `path`, turning a syntax error into FileProblems with its line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        if message.endswith(_AT_END):
            line = max(1, len(text.splitlines()))
            detail = message[: -len(_AT_END)].rstrip()
            raise FileProblems([Problem(path, line, "", f"invalid TOML at end of file: {detail}")]) from None
        found = _SYNTAX_POSITION.search(message)
        if found is None:
            raise FileProblems([Problem(path, None, "", f"invalid TOML: {message}")]) from None
        line, column = int(found.group(1)), int(found.group(2))
        detail = message[: found.start()]
        raise FileProblems(
            [Problem(path, line, "", f"invalid TOML at column {column}: {detail}")]
        ) from None


def type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    match value:
        case bool():
            return "a boolean"
        case int():
            return "an integer"
        case float():
            return "a float"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "a table"
        case datetime.datetime() | datetime.date() | datetime.time():
            return "a date/time"
    return type(value).__name__


def show(value: object, limit: int = 60) -> str:
    """A short repr of a (possibly hostile) value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Reporter:
    """Collects the problems of one TOML document, each with its field's line."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self.problems: list[Problem] = []

    @cached_property
    def _lines(self) -> KeyLines:
        return KeyLines(self.text)  # scanned only once there is a problem to place

    def error(self, path: FieldPath, message: str) -> None:
        self.problems.append(Problem(self.file, self._lines.line(path), field_name(path), message))

    def sorted_problems(self) -> list[Problem]:
        """The problems in file order (those without a line first)."""
        return sorted(self.problems, key=lambda p: p.line or 0)

    def table(self, value: object, path: FieldPath, known: Iterable[str]) -> dict[str, Any]:
        """`value` as a table with its unknown fields reported; {} (after reporting) if not a table."""
        if not isinstance(value, dict):
            self.error(path, f"must be a table, not {type_name(value)}")
            return {}
        known = tuple(known)
        for key in value:
            if key not in known:
                self.error(path + (key,), f"unknown field (known: {', '.join(known)})")
        return value


class KeyLines:
    """The line where each table, key and array element of a valid TOML document starts."""

    def __init__(self, text: str) -> None:
        self._lines: dict[FieldPath, int] = {}
        self._text = text
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._pos = 0
        try:
            self._document()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            pass  # the text was not valid TOML after all: keep what was found so far

    def line(self, path: FieldPath) -> int | None:
        """The line of `path`, else of its nearest recorded parent, else None."""
        for end in range(len(path), 0, -1):
            found = self._lines.get(path[:end])
            if found is not None:
                return found
        return None

    # -- scanning --------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: FieldPath, pos: int, *, parents: bool = True) -> None:
        line = self._line_at(pos)
        if parents:
            for end in range(1, len(path)):
                self._lines.setdefault(path[:end], line)
        self._lines.setdefault(path, line)

    def _peek(self, n: int = 1) -> str:
        return self._text[self._pos : self._pos + n]

    def _skip_blank(self, *, newlines: bool) -> None:
        text = self._text
        while self._pos < len(text):
            c = text[self._pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self._pos += 1
            elif c == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: FieldPath = ()
        array_lengths: dict[FieldPath, int] = {}
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            start = self._pos
            if self._peek(2) == "[[":
                self._pos += 2
                table = self._header(self._key(), array_lengths, start, array=True)
                self._expect("]]")
            elif self._peek() == "[":
                self._pos += 1
                table = self._header(self._key(), array_lengths, start, array=False)
                self._expect("]")
            else:
                self._key_value(table)

    def _header(
        self, keys: list[str], array_lengths: dict[FieldPath, int], pos: int, *, array: bool
    ) -> FieldPath:
        path: FieldPath = ()
        for i, key in enumerate(keys):
            path += (key,)
            last = i == len(keys) - 1
            if last and array:
                index = array_lengths.get(path, 0)
                array_lengths[path] = index + 1
                path += (index,)
            elif path in array_lengths:
                path += (array_lengths[path] - 1,)  # a sub-table of the latest array element
        self._record(path, pos)
        return path

    def _key_value(self, table: FieldPath) -> None:
        start = self._pos
        path = table + tuple(self._key())
        self._record(path, start)
        self._skip_blank(newlines=False)
        self._expect("=")
        self._value(path)

    def _expect(self, token: str) -> None:
        self._skip_blank(newlines=False)
        if self._peek(len(token)) != token:
            raise ValueError(f"expected {token!r}")
        self._pos += len(token)

    def _key(self) -> list[str]:
        keys = []
        while True:
            self._skip_blank(newlines=False)
            c = self._peek()
            if c in ("'", '"'):
                start = self._pos
                self._string()
                keys.append(tomllib.loads("k = " + self._text[start : self._pos])["k"])
            else:
                found = _BARE_KEY.match(self._text, self._pos)
                if found is None:
                    raise ValueError("expected a key")
                keys.append(found.group())
                self._pos = found.end()
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._pos += 1

    def _value(self, path: FieldPath) -> None:
        self._skip_blank(newlines=False)
        c = self._peek()
        if c in ("'", '"'):
            self._string()
        elif c == "[":
            self._array(path)
        elif c == "{":
            self._inline_table(path)
        else:  # number, boolean or date: none of them contains these characters
            while self._pos < len(self._text) and self._text[self._pos] not in ",]}#\n":
                self._pos += 1

    def _string(self) -> None:
        text = self._text
        quote = text[self._pos]
        if self._peek(3) == quote * 3:
            self._pos += 3
            while self._peek(3) != quote * 3:
                self._pos += 2 if quote == '"' and text[self._pos] == "\\" else 1
                if self._pos >= len(text):
                    raise ValueError("unterminated string")
            self._pos += 3
            for _ in range(2):  # up to two quotes may end the content: """a"""""
                if self._peek() == quote:
                    self._pos += 1
            return
        self._pos += 1
        while text[self._pos] != quote:
            self._pos += 2 if quote == '"' and text[self._pos] == "\\" else 1
        self._pos += 1

    def _array(self, path: FieldPath) -> None:
        self._pos += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "]":
                self._pos += 1
                return
            self._record(path + (index,), self._pos, parents=False)
            self._value(path + (index,))
            index += 1
            self._skip_blank(newlines=True)
            self._separator("]")

    def _inline_table(self, path: FieldPath) -> None:
        self._pos += 1
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "}":
                self._pos += 1
                return
            start = self._pos
            key_path = path + tuple(self._key())
            self._record(key_path, start, parents=False)
            self._expect("=")
            self._value(key_path)
            self._skip_blank(newlines=True)
            self._separator("}")

    def _separator(self, closing: str) -> None:
        """Step over the comma after an element; anything but a comma or `closing` is invalid."""
        if self._peek() == ",":
            self._pos += 1
        elif self._peek() != closing:
            raise ValueError(f"expected ',' or {closing!r}")
