from hypothesis import given
from hypothesis import strategies as st

from qtui.sanitize import one_line, visible

UNSAFE = {chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} | set(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)


@given(st.text())
def test_no_control_character_survives(text: str) -> None:
    assert not UNSAFE & set(visible(text))


@given(st.text())
def test_multiline_keeps_only_newlines(text: str) -> None:
    out = visible(text, multiline=True)
    assert not (UNSAFE - {"\n"}) & set(out)
    assert out.count("\n") == text.replace("\r\n", "\n").count("\n")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_printable_text_is_unchanged(text: str) -> None:
    assert visible(text) == text


def test_escape_sequences_become_visible_notation() -> None:
    assert visible("\x1b]0;title\x07") == "^[]0;title^G"
    assert visible("a\x9bb") == "a<U+009B>b"
    assert visible("\u202eevil") == "<U+202E>evil"
    assert visible("x\ny") == "x^Jy"
    assert visible("x\r\ny\tz", multiline=True) == "x\ny   z"


def test_one_line_cuts_with_an_ellipsis() -> None:
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("ab\x1b", 10) == "ab^["
