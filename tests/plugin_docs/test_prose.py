"""The text format of the documentation's prose: what it reads, and errors that name file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.authoring import prose
from qtui.authoring.docmodel import Block, Code, Heading, Item, Para

PLACEHOLDERS = {"limits.memory_mib": "16", "audit.file": "audit.jsonl"}
DIRECTIVES = {"functions": lambda: [Item("`f`()", ("Does f.",))], "code sample": lambda: [Code(("x = 1",))]}


def parse(text: str) -> prose.Document:
    return prose.parse(textwrap.dedent(text).lstrip("\n"), "guide.txt", PLACEHOLDERS, DIRECTIVES)


def error(text: str) -> str:
    with pytest.raises(prose.ProseError) as caught:
        prose.parse(text, "guide.txt", PLACEHOLDERS, DIRECTIVES)
    return str(caught.value)


def test_a_section_file_reads_into_blocks_with_values_from_code() -> None:
    document = parse("""
        # Limits of {audit.file}

        A plugin has {limits.memory_mib} MiB,
          a table `\\{n}` is literal and `{text = ...}` too.

        ## Reference
        `name` (string, {limits.memory_mib})
        : The name.
        : A second paragraph
          going on.

        ```lua
        local t = {limits.memory_mib}

        ```
        @functions

        @code sample
        """)
    assert document == prose.Document("Limits of audit.jsonl", (
        Para("A plugin has 16 MiB, a table `{n}` is literal and `{text = ...}` too."),
        Heading("Reference"),
        Item("`name` (string, 16)", ("The name.", "A second paragraph going on.")),
        Code(("local t = {limits.memory_mib}", "")),
        Item("`f`()", ("Does f.",)),
        Code(("x = 1",)),
    ))


@pytest.mark.parametrize(("text", "expected"), [
    ("# T\n\nA {limits.memory_mb} cap.\n",
     "guide.txt:3: unknown placeholder {limits.memory_mb} (did you mean limits.memory_mib?)"),
    ("# T\n\n`x` (string)\n: {nope}\n", "guide.txt:4: unknown placeholder {nope}"),
    ("# T\n\n@function\n", "guide.txt:3: unknown directive @function (did you mean @functions?)"),
    ("# T\n\n@Functions!\n", "guide.txt:3: malformed directive @Functions!"),
    ("\nText before a title.\n", "guide.txt:2: a section file starts with its title"),
    ("", "guide.txt:1: a section file starts with its title"),
    ("## Sub\n", "guide.txt:1: a section file starts with its title"),
    ("# T\n\n# Again\n", "guide.txt:3: a second title"),
    ("# T\n### Deep\n", "guide.txt:2: a heading is '# Title' (the first line) or '## Subsection'"),
    ("# T\n\n```\ncode\n", "guide.txt:3: code block not closed with ```"),
    ("# T\n```\n```\n", "guide.txt:2: empty code block"),
    ("# T\n``` lua\nx\n```\n", "guide.txt:2: a code fence is ``` alone"),
    ("# T\n\n: no term\n", "guide.txt:3: a definition (': ') follows a one-line term"),
    ("# T\n\nterm\nmore term\n: text\n", "guide.txt:5: a definition (': ') follows a one-line term"),
    ("# T\n\nterm\n: \n", "guide.txt:4: empty definition"),
    ("# T\n\nbell \x07 here\n", "guide.txt:3: a control character, U+0007"),
    ("# T\r\n", "guide.txt:1: a carriage return (save with LF line ends), U+000D"),
])
def test_a_malformed_file_is_an_error_naming_file_and_line(text: str, expected: str) -> None:
    assert error(text).startswith(expected)


def test_a_file_that_is_not_utf8_or_too_large_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "guide.txt"
    path.write_bytes(b"# T\n\nfine\ncaf\xe9\n")
    with pytest.raises(prose.ProseError, match=rf"^{path}:4: not UTF-8 text$"):
        prose.load(path, PLACEHOLDERS, DIRECTIVES)
    path.write_bytes(b"# T\n\n" + b"x" * prose.MAX_FILE_BYTES)
    with pytest.raises(prose.ProseError, match=rf"^{path}:1: larger than 256 KiB$"):
        prose.load(path, PLACEHOLDERS, DIRECTIVES)


# Lines likely to matter to the parser, mixed with arbitrary text.
_LINES = st.one_of(
    st.sampled_from(["", "# T", "## H", "### X", "```", "```lua", "@functions", "@nope", "@",
                     ": def", ": ", "term", "{limits.memory_mib}", "{x}", "\\{x}", "  indented"]),
    st.text(max_size=30),
)


@given(st.lists(_LINES, max_size=30))
def test_any_text_reads_as_a_document_or_an_error_with_a_line_in_the_file(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        document = prose.parse(text, "f.txt", PLACEHOLDERS, DIRECTIVES)
    except prose.ProseError as exc:
        assert 1 <= exc.line <= text.count("\n") + 1
        assert str(exc).startswith(f"f.txt:{exc.line}: ")
    else:
        assert document.title


# -- writing blocks back as text: what the parser reads is what was written -------------------

_WORD = st.from_regex(r"[A-Za-z0-9`*()'.,;=-]{1,8}", fullmatch=True).filter(lambda w: w[0] not in "#@:`")
_TEXT = st.lists(_WORD, min_size=1, max_size=12).map(" ".join)
_CODE_LINE = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=20).filter(
    lambda line: line.rstrip() != "```")


def _write(title: str, blocks: list[Block]) -> str:
    out = [f"# {title}"]
    for block in blocks:
        match block:
            case Heading(text):
                out.append(f"## {text}")
            case Para(text):
                out.append(textwrap.fill(text, 30, break_on_hyphens=False, break_long_words=False))
            case Item(term, paras):
                out.append("\n".join([term, *(": " + para.replace(" ", "\n  ", 1) for para in paras)]))
            case Code(lines):
                out.append("\n".join(["```", *lines, "```"]))
    return "\n\n".join(out) + "\n"


_BLOCKS = st.lists(st.one_of(
    _TEXT.map(Heading),
    _TEXT.map(Para),
    st.builds(Item, _TEXT, st.lists(_TEXT, min_size=1, max_size=3).map(tuple)),
    st.lists(_CODE_LINE, min_size=1, max_size=4).map(tuple).map(Code),
), max_size=8)


@given(_TEXT, _BLOCKS)
def test_what_is_written_in_the_format_reads_back_as_the_same_blocks(title: str, blocks: list[Block]) -> None:
    document = prose.parse(_write(title, blocks), "f.txt", {}, {})
    assert document == prose.Document(title, tuple(blocks))
