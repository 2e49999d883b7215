"""The document model of the plugin documentation and its two renderings, roff and plain text.

A document is a list of blocks: :class:`Heading`, :class:`Para`, :class:`Item` and
:class:`Code`. Prose marks code with backticks (bold in roff) and names with asterisks, as in
``*name*`` (italic in roff); plain text drops both marks. :func:`to_roff` gives man(7) source for
the generated blocks of the man pages, :func:`to_text` the text of the console's ``:help TOPIC``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

import attrs


@attrs.frozen
class Heading:
    """A title: level 1 a section (``.SH`` in roff), level 2 a subsection (``.SS``)."""

    title: str
    level: int = 2


@attrs.frozen
class Para:
    """A paragraph of prose."""

    text: str


@attrs.frozen
class Item:
    """A term (a function's signature, a field) and the paragraphs describing it."""

    term: str
    paras: tuple[str, ...]


@attrs.frozen
class Code:
    """Lines shown verbatim: Lua, TOML, shell."""

    lines: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Code:
        return cls(tuple(textwrap.dedent(text).strip("\n").split("\n")))


Block = Heading | Para | Item | Code

# -- rendering ----------------------------------------------------------------------------

_CODE_MARK = re.compile(r"`([^`]+)`")
_NAME_MARK = re.compile(r"\*(\S(?:[^*]*\S)?)\*")


def _roff_chars(text: str) -> str:
    """Escape roff specials: backslash, minus, and anything outside ASCII."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\e")
        elif char == "-":
            out.append("\\-")
        elif ord(char) > 126:
            out.append(f"\\[u{ord(char):04X}]")
        else:
            out.append(char)
    return "".join(out)


def _roff_line(text: str) -> str:
    """A line that roff will not read as a request."""
    return "\\&" + text if text[:1] in (".", "'") else text


def roff_inline(text: str) -> str:
    """Prose as one roff text line: escaped, with the code and name marks as fonts."""
    text = _roff_chars(" ".join(text.split()))
    text = _CODE_MARK.sub(lambda m: f"\\fB{m[1]}\\fR", text)
    text = _NAME_MARK.sub(lambda m: f"\\fI{m[1]}\\fR", text)
    return _roff_line(text)


def plain(text: str) -> str:
    """Prose without its marks, whitespace collapsed."""
    text = " ".join(text.split())
    return _NAME_MARK.sub(lambda m: m[1], _CODE_MARK.sub(lambda m: m[1], text))


def to_roff(blocks: Iterable[Block]) -> str:
    """The blocks as man(7) source, to sit under a ``.SH`` line."""
    out: list[str] = []
    fresh = True  # right after .SH or .SS, where a paragraph needs no .PP
    for block in blocks:
        match block:
            case Heading(title, level):
                out.append((".SH " if level == 1 else ".SS ") + _roff_chars(title))
                fresh = True
                continue
            case Para(text):
                if not fresh:
                    out.append(".PP")
                out.append(roff_inline(text))
            case Item(term, paras):
                out += [".TP", roff_inline(term)]
                for index, para in enumerate(paras):
                    if index:
                        out.append(".IP")
                    out.append(roff_inline(para))
            case Code(lines):
                if not fresh:
                    out.append(".PP")
                out += [".RS 4", ".EX"]
                out += [_roff_line(_roff_chars(line)) for line in lines]
                out += [".EE", ".RE"]
        fresh = False
    return "\n".join(out)


def to_text(blocks: Iterable[Block], width: int = 78) -> str:
    """The blocks as plain text lines of at most `width` columns (code lines excepted)."""
    out: list[str] = []
    previous: Block | None = None
    for block in blocks:
        if previous is not None and not _packed(previous, block):
            out.append("")
        match block:
            case Heading(title, 1):
                out.append(title.upper())
            case Heading(title):
                out += [title, "-" * len(title)]
            case Para(text):
                out += textwrap.wrap(plain(text), width, break_on_hyphens=False)
            case Item(term, paras):
                out.append("  " + plain(term))
                for para in paras:
                    out += textwrap.wrap(plain(para), width, initial_indent=" " * 6,
                                         subsequent_indent=" " * 6, break_on_hyphens=False)
            case Code(lines):
                out += ["    " + line if line else "" for line in lines]
        previous = block
    return "\n".join(out)


def _packed(previous: Block, block: Block) -> bool:
    """Short items follow each other without a blank line; longer ones get one."""
    return (isinstance(previous, Item) and isinstance(block, Item)
            and len(previous.paras) <= 1 and len(block.paras) <= 1)
