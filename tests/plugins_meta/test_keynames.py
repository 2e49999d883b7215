"""Key names as written in manifests and config.toml, and urwid's names for them."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.keynames import NAMED, RESERVED, key_label, parse_key

_bindable = st.one_of(
    st.sampled_from(sorted(set(string.ascii_letters + string.digits + string.punctuation))),
    st.sampled_from(sorted(NAMED.values())),
    st.sampled_from([f"ctrl {c}" for c in string.ascii_lowercase if f"ctrl {c}" not in RESERVED]),
    st.sampled_from([f"meta {c}" for c in string.ascii_letters + string.digits]),
)


@given(_bindable)
def test_every_key_reads_back_from_how_it_is_written(key: str) -> None:
    assert parse_key(key_label(key)) == key


@pytest.mark.parametrize(("text", "key"), [("R", "R"), ("ctrl-r", "ctrl r"), ("CTRL-R", "ctrl r"), ("Alt-x", "meta x"),
                                           ("pgdn", "page down"), ("F12", "f12"), ("space", " "), ("esc", "esc")])
def test_written_forms_in_any_case(text: str, key: str) -> None:
    assert parse_key(text) == key


@given(st.text(max_size=30))
def test_anything_is_a_key_or_a_clear_error(text: str) -> None:
    try:
        key = parse_key(text)
    except ValueError as exc:
        assert "key" in str(exc) or "cannot be bound" in str(exc)
    else:
        assert parse_key(key_label(key)) == key


def test_keys_the_terminal_keeps_are_refused_saying_why() -> None:
    with pytest.raises(ValueError, match="Ctrl-Z cannot be bound: it is the terminal's suspend"):
        parse_key("Ctrl-Z")
