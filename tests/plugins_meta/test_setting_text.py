"""Setting values typed as text (the console's editor, `qtui plugin settings KEY=VALUE`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.plugins.bundles.manifest import Setting, SettingType
from qtui.plugins.runtime.settings import from_text

NUMBER = Setting("n", SettingType.NUMBER, 1)
FLAG = Setting("f", SettingType.BOOLEAN, False)
TEXT = Setting("t", SettingType.STRING, "")
CHOICE = Setting("c", SettingType.CHOICE, "a", choices=("a", "b"))


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_whole_numbers_read_back_as_integers(value: int) -> None:
    read = from_text(NUMBER, f" {value} ")
    assert read == value and isinstance(read, int)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_decimals_read_back_as_the_same_float(value: float) -> None:
    assert from_text(NUMBER, repr(value)) == value


@given(st.text())
def test_any_text_is_a_number_or_a_clear_error(text: str) -> None:
    try:
        value = from_text(NUMBER, text)
    except ValueError as exc:
        assert str(exc) == f"{text!r} is not a number"
    else:
        assert isinstance(value, int | float)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("YES", True), (" on", True), ("1", True),
                                             ("false", False), ("No", False), ("off ", False), ("0", False)])
def test_booleans_take_the_usual_words(text: str, value: bool) -> None:
    assert from_text(FLAG, text) is value


def test_anything_else_is_not_a_boolean_and_text_stays_text() -> None:
    with pytest.raises(ValueError, match="'maybe' is not true or false"):
        from_text(FLAG, "maybe")
    assert from_text(TEXT, " spaced ") == " spaced "
    assert from_text(CHOICE, "b") == "b"
