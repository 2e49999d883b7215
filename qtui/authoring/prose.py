"""The text format of the plugin documentation: one section per file, parsed into blocks.

A section file (``man/plugin-docs/NAME.txt``, described in that folder's README.md) starts with
its title, ``# Title``, and holds subsections (``## Heading``), paragraphs, definition items
(a one-line term, then paragraphs each starting with ``: ``) and fenced code blocks (three
backticks). Values taken from declarations come in through placeholders, ``{name}``, in any
line but code; ``\\{`` writes a literal brace. A line ``@name`` or ``@name argument`` is a
directive: code expands it into generated blocks. :func:`parse` fills both from the tables its
caller passes; an unknown one, like any malformed line, is a :class:`ProseError` naming the
file and line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs

from qtui.authoring.docmodel import Block, Code, Heading, Item, Para

#: The largest section file read (the longest is a few dozen KiB).
MAX_FILE_BYTES = 256 * 1024

#: What fills the ``{name}`` placeholders.
Placeholders = Mapping[str, str]
#: What expands the ``@name`` directives: a function building the blocks.
Directives = Mapping[str, Callable[[], Iterable[Block]]]

_PLACEHOLDER = re.compile(r"\\\{|\{([A-Za-z][\w.-]*)\}")
_DIRECTIVE = re.compile(r"[a-z][a-z0-9-]*(?: [a-z0-9][a-z0-9.-]*)?")
_HEADING = re.compile(r"(#{1,2}) +(\S.*)")
_FENCE = re.compile(r"```[a-z]*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_DEFINITION = ": "


class ProseError(ValueError):
    """A problem in a section file, at a line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


@attrs.frozen
class Document:
    """A parsed section file: its title and its blocks, placeholders filled and directives expanded."""

    title: str
    blocks: tuple[Block, ...]


def load(path: Path, placeholders: Placeholders, directives: Directives) -> Document:
    """The section file at `path`, parsed (OSError if it cannot be read, ProseError if it is wrong)."""
    with path.open("rb") as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ProseError(str(path), 1, f"larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProseError(str(path), data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text") from None
    return parse(text, str(path), placeholders, directives)


def parse(text: str, file: str, placeholders: Placeholders, directives: Directives) -> Document:
    """The document `text` holds; `file` names it in errors."""
    return _Parser(file, placeholders, directives).parse(text)


class _Parser:
    """One pass over the lines; a paragraph or item collects lines until a blank line ends it."""

    def __init__(self, file: str, placeholders: Placeholders, directives: Directives) -> None:
        self.file, self.placeholders, self.directives = file, placeholders, directives
        self.title: str | None = None
        self.blocks: list[Block] = []
        self.pending: list[tuple[int, str]] = []  # the lines of the paragraph or item being read

    def error(self, line: int, message: str) -> ProseError:
        return ProseError(self.file, line, message)

    def parse(self, text: str) -> Document:
        fence: int | None = None  # the line opening the code block being read
        code: list[str] = []
        for number, line in enumerate(text.split("\n"), 1):
            if control := _CONTROL.search(line):
                what = "a carriage return (save with LF line ends)" if control[0] == "\r" else "a control character"
                raise self.error(number, f"{what}, U+{ord(control[0]):04X}")
            if fence is not None:
                if line.rstrip() == "```":
                    if not code:
                        raise self.error(fence, "empty code block")
                    self.blocks.append(Code(tuple(code)))
                    fence, code = None, []
                else:
                    code.append(line)
                continue
            if not line.strip():
                self.flush()
            elif line.startswith("#"):
                self.heading(number, line.rstrip())
            elif self.title is None:
                raise self.error(number, "a section file starts with its title: # Title")
            elif line.startswith("```"):
                if not _FENCE.fullmatch(line.rstrip()):
                    raise self.error(number, "a code fence is ``` alone, or followed by a language name")
                self.flush()
                fence = number
            elif line.startswith("@"):
                self.flush()
                self.directive(number, line[1:].rstrip())
            else:
                self.pending.append((number, line))
        if fence is not None:
            raise self.error(fence, "code block not closed with ```")
        self.flush()
        if self.title is None:
            raise self.error(1, "a section file starts with its title: # Title")
        return Document(self.title, tuple(self.blocks))

    def heading(self, number: int, line: str) -> None:
        found = _HEADING.fullmatch(line)
        if not found:
            raise self.error(number, "a heading is '# Title' (the first line) or '## Subsection'")
        self.flush()
        title = self.fill(number, found[2])
        if len(found[1]) == 2:
            if self.title is None:
                raise self.error(number, "a section file starts with its title: # Title")
            self.blocks.append(Heading(title))
        elif self.title is not None:
            raise self.error(number, "a second title: '# ' starts only the first line, use '## '")
        else:
            self.title = title

    def directive(self, number: int, name: str) -> None:
        if not _DIRECTIVE.fullmatch(name):
            raise self.error(number, f"malformed directive @{name}: a directive is @name or @name argument")
        if name not in self.directives:
            raise self.error(number, f"unknown directive @{name}{_suggest(name, self.directives, '@')}")
        self.blocks.extend(self.directives[name]())

    def flush(self) -> None:
        """End the paragraph or item being read."""
        lines, self.pending = self.pending, []
        if not lines:
            return
        definitions = [index for index, (_, line) in enumerate(lines) if line.startswith(_DEFINITION)]
        if not definitions:
            self.blocks.append(Para(self.join(lines)))
            return
        if definitions[0] != 1:
            number = lines[definitions[0]][0]
            raise self.error(number, "a definition (': ') follows a one-line term, or another definition")
        paras: list[list[tuple[int, str]]] = []
        for number, line in lines[1:]:
            if line.startswith(_DEFINITION):
                line = line[len(_DEFINITION):]
                if not line.strip():
                    raise self.error(number, "empty definition")
                paras.append([])
            paras[-1].append((number, line))
        term_line, term = lines[0]
        self.blocks.append(Item(self.fill(term_line, term.strip()), tuple(self.join(p) for p in paras)))

    def join(self, lines: list[tuple[int, str]]) -> str:
        return " ".join(self.fill(number, line.strip()) for number, line in lines)

    def fill(self, number: int, text: str) -> str:
        """`text` with its placeholders filled."""

        def value(found: re.Match[str]) -> str:
            if found[1] is None:
                return "{"
            if found[1] not in self.placeholders:
                raise self.error(number, f"unknown placeholder {found[0]}{_suggest(found[1], self.placeholders, '')}")
            return self.placeholders[found[1]]

        return _PLACEHOLDER.sub(value, text)


def _suggest(name: str, known: Iterable[str], prefix: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""
