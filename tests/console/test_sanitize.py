import logging
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from qtui.sanitize import LogFormatter, one_line, visible, visible_offset

UNSAFE = {chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} | set(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
INVISIBLE = "\u200b\u200c\u200d\u2060\u00ad\u034f\ufe0f\U000e0041\u3164\u00a0\u2007\u180e"


@given(st.text())
def test_no_control_character_survives(text: str) -> None:
    assert not UNSAFE & set(visible(text))


@given(st.text())
def test_multiline_keeps_only_newlines(text: str) -> None:
    out = visible(text, multiline=True)
    assert not (UNSAFE - {"\n"}) & set(out)
    assert out.count("\n") == text.replace("\r\n", "\n").count("\n")


# Unicode's default-ignorable code points outside the categories above (variation selectors, fillers)
IGNORABLE = [(0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
             (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF)]
SHOWN_AS_IS = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs")).filter(
    lambda c: not any(low <= ord(c) <= high for low, high in IGNORABLE))


@given(st.text(alphabet=SHOWN_AS_IS))
def test_printable_text_is_unchanged(text: str) -> None:
    assert visible(text) == text


def test_every_format_control_separator_and_odd_space_of_this_python_is_escaped() -> None:
    wanted = "".join(
        chr(c) for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in ("Cc", "Cf", "Cs", "Zl", "Zp") or
        (unicodedata.category(chr(c)) == "Zs" and c != 0x20)
    )
    assert not set(wanted) & set(visible(wanted))


def test_zero_width_and_invisible_characters_become_visible() -> None:
    for char in INVISIBLE:
        assert visible(f"pay{char}roll") == f"pay<U+{ord(char):04X}>roll"


NAME = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="^<\ufffd"), max_size=12)


@given(NAME, NAME)
def test_names_that_differ_look_different(a: str, b: str) -> None:
    if a != b:
        assert visible(a) != visible(b)


@given(NAME, st.sampled_from(INVISIBLE + "\u202e\u2066"), st.integers(0, 12))
def test_an_invisible_character_never_hides(name: str, char: str, at: int) -> None:
    disguised = name[:at] + char + name[at:]
    assert visible(disguised) != visible(name)


def test_escape_sequences_become_visible_notation() -> None:
    assert visible("\x1b]0;title\x07") == "^[]0;title^G"
    assert visible("a\x9bb") == "a<U+009B>b"
    assert visible("\u202eevil") == "<U+202E>evil"
    assert visible("x\ny") == "x^Jy"
    assert visible("x\r\ny\tz", multiline=True) == "x\ny   z"


def test_one_line_cuts_with_an_ellipsis() -> None:
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("ab\x1b", 10) == "ab^["


@given(st.text(max_size=20), st.data())
def test_visible_offset_points_at_the_same_character(text: str, data) -> None:
    index = data.draw(st.integers(0, len(text)))
    shown = visible(text)
    offset = visible_offset(text, index)
    assert shown[:offset] == visible(text[:index])
    assert shown[offset:] == visible(text[index:])


def test_log_records_stay_one_line_and_inert() -> None:
    formatter = LogFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("qtui", logging.WARNING, __file__, 1, "queue %s failed\nFAKE ok", ("\x1b[2J\u202e",),
                               None)
    assert formatter.format(record) == "WARNING queue ^[[2J<U+202E> failed^JFAKE ok"
    try:
        raise ValueError("bad \x1b]0;owned\x07")
    except ValueError:
        record = logging.LogRecord("qtui", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    text = formatter.format(record)
    assert "\x1b" not in text and "^[]0;owned^G" in text and "Traceback" in text and "\n" in text


def test_the_console_log_file_gets_records_made_inert(isolated_home) -> None:
    from qtui.console.launch import _log_to_file

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        _log_to_file()
        logging.getLogger("qtui.test").warning("queue %s\nFAKE line", "pay\u200broll\x1b[2J")
        for handler in root.handlers:
            handler.flush()
        text = (isolated_home / ".local/state/qtui/qtui.log").read_text()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    assert text.endswith("qtui.test: queue pay<U+200B>roll^[[2J^JFAKE line\n") and text.count("\n") == 1
