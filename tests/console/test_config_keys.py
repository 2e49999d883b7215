"""The [keys] table of config.toml, as the console reads it for plugin commands."""

from __future__ import annotations

from pathlib import Path

from qtui.config_keys import load_key_bindings


def test_keys_are_read_as_written_and_other_fields_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('theme = "dark"\n[dock]\nsize = 9\n[keys]\n"sla.late" = "Ctrl-L"\n"sla.retry" = ["R", "F6", "R"]\n')
    found = load_key_bindings(path)
    assert found.problems == ()
    assert dict(found.keys) == {"sla.late": ("ctrl l",), "sla.retry": ("R", "f6")}


def test_every_wrong_entry_is_named_with_its_line_and_the_rest_still_apply(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[keys]\n"a.b" = "Ctrl-C"\n"a.c" = 5\n"a.d" = []\n"a.e" = "j"\n')
    found = load_key_bindings(path)
    assert [str(p) for p in found.problems] == [
        f'{path}:2: keys."a.b": Ctrl-C cannot be bound: it is the terminal\'s interrupt',
        f'{path}:3: keys."a.c": 5 is not a key (e.g. "R", "Ctrl-R", "F5", "PgDn")',
        f'{path}:4: keys."a.d": give 1 to 10 keys',
    ]
    assert dict(found.keys) == {"a.e": ("j",)}


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    assert load_key_bindings(tmp_path / "nowhere.toml").keys == {}
    path = tmp_path / "config.toml"
    path.write_text("keys = [\n")
    (problem,) = load_key_bindings(path).problems
    assert str(problem).startswith(f"{path}:")
    path.write_text('keys = "j"\n')
    assert [str(p) for p in load_key_bindings(path).problems] == [
        f"{path}:1: keys: must be a table of actions and their keys, not a string"]
