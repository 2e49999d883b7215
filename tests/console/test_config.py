"""config.toml: values, located errors, key bindings against the keymap, and the commands that read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui.cli.main import main
from qtui.config import Config, configured_database, load
from qtui.console.keymap import DEFAULT_KEYMAP
from qtui.keynames import NAMED, RESERVED, BadKey, key_label, parse_key
from qtui.console.settings import console_settings, load_config
from qtui.files.tomlfile import FileProblems

# -- key names ---------------------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(sorted(NAMED.values())),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    st.sampled_from("abdefgklnoprtuvwxy").map(lambda c: f"ctrl {c}"),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E).map(lambda c: f"meta {c}"),
)


@given(KEYS)
def test_every_key_reads_back_as_it_is_written(key: str) -> None:
    assert parse_key(key_label(key)) == key


@given(st.text(max_size=12))
def test_parsing_a_written_key_only_ever_refuses_with_a_reason(text: str) -> None:
    try:
        parse_key(text)
    except BadKey as exc:
        assert str(exc)


def test_named_keys_ignore_case_and_terminal_keys_are_refused() -> None:
    assert parse_key("pgdn") == parse_key("PgDn") == "page down"
    assert parse_key("Ctrl-r") == "ctrl r" and parse_key("Alt-x") == "meta x"
    for key in RESERVED:
        with pytest.raises(BadKey, match="terminal|same as"):
            parse_key(key_label(key))
    with pytest.raises(BadKey, match="'Hyper-x' is not a key"):
        parse_key("Hyper-x")


# -- the file ----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    try:
        load_config(path)
    except FileProblems as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load(tmp_path / "nothing.toml")
    assert config == Config(path=tmp_path / "nothing.toml")
    assert console_settings(config).keymap == DEFAULT_KEYMAP


def test_every_field_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, """
database = "~/jobs.db"
refresh = 0.5
theme = "light"
mouse = true
clipboard = "osc52"

[dock]
position = "right"
size = 40

[keys]
"view dead" = ["3", "F3"]
"move down" = "Ctrl-N"
"tenant-sla.refresh" = "Ctrl-R"
"state scheduled" = "F4"
"mark-all" = []
""")
    config = load(path)
    assert config.database == str(Path.home() / "jobs.db")
    assert (config.refresh, config.theme, config.mouse, config.clipboard) == (0.5, "light", True, "osc52")
    assert (config.dock_position, config.dock_size) == ("right", 40)
    keymap = console_settings(config).keymap
    assert keymap.resolve("f3", "queues") == keymap.resolve("3", "jobs") == "view dead"
    assert keymap.resolve("ctrl n", "dead") == "move down" and keymap.resolve("j", "dead") is None
    assert keymap.resolve("ctrl r", "workers") == "tenant-sla.refresh"
    assert keymap.resolve("f4", "queues") == "state scheduled"
    assert keymap.resolve("a", "dead") is None  # unbound
    assert keymap.resolve("d", "queues") is None  # its default keys are replaced everywhere it was bound


@pytest.mark.parametrize(("text", "expected"), [
    ('theme = "neon"', ":1: theme: must be one of dark, light, linux, mono, not 'neon'"),
    ("refresh = -1", ":1: refresh: must be a number of seconds from 0 to 3600, not -1"),
    ('refresh = "2"', ":1: refresh: must be a number of seconds from 0 to 3600, not '2'"),
    ('mouse = "yes"', ":1: mouse: must be true or false, not a string"),
    ('clipboard = "x11"', ":1: clipboard: must be one of file, osc52, not 'x11'"),
    ("database = 3", ":1: database: must be a file path or URL, not 3"),
    ("colour = 1", ":1: colour: unknown field (known: database, refresh, theme, mouse, clipboard, dock, keys)"),
    ('[dock]\nposition = "left"', ":2: dock.position: must be one of bottom, right, not 'left'"),
    ("[dock]\nsize = 100", ":2: dock.size: must be 3 to 60 (rows, dock at the bottom), not 100"),
    ("[keys]\nquit = 7", ':2: keys.quit: a key is a string such as "j", "PgDn" or "Ctrl-R", not an integer'),
    ('[keys]\nquit = "Ctrl-C"', ":2: keys.quit: Ctrl-C cannot be bound: it is the terminal's interrupt (quits qtui)"),
    ('[keys]\nquit = ["q", "Super-Q"]', ":2: keys.quit[1]: 'Super-Q' is not a key"),
    ('[keys]\nfrobnicate = "z"', ":2: keys.frobnicate: unknown command 'frobnicate'"),
    ('[keys]\n"view nowhere" = "z"', ':2: keys."view nowhere": view: unknown screen \'nowhere\''),
    ('[keys]\n"view dead" = "x"', ':2: keys."view dead": x is also bound to \'delete\' on the dead screen'),
    ('[keys]\n"refresh" = "j"', ":2: keys.refresh: j is also bound to 'move down' on every screen"),
    ("theme = ", ":1: invalid TOML at column 9"),
])
def test_bad_values_are_reported_at_their_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text + "\n")
    found = problems(path)
    assert found and found[0].startswith(f"{path}{expected}"), found


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, 'refresh = -1\n\ntheme = "neon"\n\n[keys]\nquit = "Ctrl-Z"\n')
    assert [p.split(":")[1] for p in problems(path)] == ["1", "3", "6"]


def test_keys_may_move_when_the_old_owner_moves_too(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\n"view dead" = "x"\ndelete = "X"\n"plugin disable" = "X"\n')
    keymap = console_settings(load(path)).keymap
    assert keymap.resolve("x", "dead") == "view dead" and keymap.resolve("X", "dead") == "delete"


TOML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(["database", "refresh", "theme", "mouse", "clipboard", "dock", "keys", "other"])


def _drop_none(value):  # noqa: ANN001, ANN202 - TOML has no null
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(FIELD_NAMES, TOML_VALUES, max_size=6))
def test_any_document_is_read_or_refused_with_located_problems(tmp_path_factory, document) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(tomli_w.dumps(_drop_none(document)))
    try:
        console_settings(load(path))
    except FileProblems as exc:
        assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)


def test_the_database_alone_is_read_without_checking_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, 'database = "/srv/q.db"\ntheme = "neon"\n')
    assert configured_database(path) == "/srv/q.db"
    with pytest.raises(FileProblems, match=":1: database: must be a file path or URL"):
        configured_database(write(tmp_path, "database = false\n"))


# -- the commands --------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def config_file(home: Path, text: str) -> Path:
    path = home / ".config/qtui/config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_check_says_ok_or_lists_the_problems(capsys, isolated_home: Path) -> None:
    code, out, _ = run(capsys, "config", "check")
    assert code == 0 and out.startswith("no configuration file at ") and "the defaults apply" in out
    path = config_file(isolated_home, 'theme = "dark"\n[keys]\nquit = "F10"\n')
    code, out, _ = run(capsys, "config", "check")
    assert (code, out) == (0, f"ok: {path}\n")
    config_file(isolated_home, 'theme = "neon"\n[keys]\n"view dead" = "x"\n')
    code, out, _ = run(capsys, "config", "check")
    assert code == 1 and out.splitlines() == [
        f"{path}:1: theme: must be one of dark, light, linux, mono, not 'neon'",
        f"{path}:3: keys.\"view dead\": x is also bound to 'delete' on the dead screen",
        f"{path}:3: keys.\"view dead\": x is also bound to 'plugin disable' on the plugins screen",
        f"{path}:3: keys.\"view dead\": x is also bound to 'delete' on the detail screen",
    ]
    other = config_file(isolated_home, '[keys]\n"view dead" = "x"\n').with_name("other.toml")
    other.write_text('[keys]\n"view dead" = "x"\n')
    code, out, _ = run(capsys, "config", "check", str(other))
    assert code == 1 and out.startswith(f"{other}:2: keys.\"view dead\": x is also bound to 'delete'")
    code, _, err = run(capsys, "config", "check", str(isolated_home / "missing.toml"))
    assert code == 2 and "missing.toml: no such file" in err


def test_the_configured_database_is_used_unless_db_or_qtui_db_says_otherwise(
        capsys, isolated_home: Path, queue_db: Path, tmp_path: Path, monkeypatch) -> None:
    config_file(isolated_home, f'database = "{queue_db}"\n')
    code, out, _ = run(capsys, "stats", "--json")
    assert code == 0 and {q["name"] for q in json.loads(out)} == {"email", "billing"}
    code, _, err = run(capsys, "stats", "--db", str(tmp_path / "other.db"))
    assert code == 3 and "other.db" in err
    monkeypatch.setenv("QTUI_DB", str(tmp_path / "env.db"))
    code, _, err = run(capsys, "stats")
    assert code == 3 and "env.db" in err


def test_a_configured_database_that_is_missing_is_not_created(capsys, isolated_home: Path, tmp_path: Path) -> None:
    config_file(isolated_home, f'database = "{tmp_path / "typo.db"}"\n')
    code, _, err = run(capsys, "stats")
    assert code == 3 and "typo.db" in err and not (tmp_path / "typo.db").exists()


def test_a_bad_database_setting_stops_the_script_commands(capsys, isolated_home: Path) -> None:
    path = config_file(isolated_home, "database = 42\n")
    code, _, err = run(capsys, "stats")
    assert code == 2 and f"{path}:1: database: must be a file path or URL, not 42" in err


def test_the_console_refuses_an_invalid_configuration(capsys, isolated_home: Path, queue_db: Path) -> None:
    path = config_file(isolated_home, 'refresh = "often"\n')
    code, _, err = run(capsys, "--db", str(queue_db))
    assert code == 2
    assert f"qtui: {path}:1: refresh: must be a number of seconds" in err and "qtui config check" in err


def test_the_console_needs_a_terminal(queue_db: Path, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-m", "qtui", "--db", str(queue_db)], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("qtui: the console needs a terminal") and "Traceback" not in result.stderr


def test_a_file_over_64_kib_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "# " + "x" * 70_000 + "\n")
    assert problems(path) == [f"{path}: file is larger than 65536 bytes"]


def test_the_script_commands_ignore_fields_they_do_not_use(capsys, isolated_home: Path, queue_db: Path) -> None:
    config_file(isolated_home, f'database = "{queue_db}"\ntheme = "neon"\n')
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "email" in out


def test_the_console_takes_refresh_and_mouse_from_the_file_under_the_options(
        capsys, isolated_home: Path, queue_db: Path, monkeypatch) -> None:
    import qtui.console.launch

    started: list[dict] = []
    monkeypatch.setattr(qtui.console.launch, "run_console", lambda backend, **options: started.append(options) or 0)
    config_file(isolated_home, "refresh = 7\nmouse = true\n")
    assert main(["--db", str(queue_db)]) == 0
    assert main(["--db", str(queue_db), "--refresh", "0.5"]) == 0
    assert [(o["refresh"], o["mouse"]) for o in started] == [(7.0, True), (0.5, True)]
    assert started[0]["config"].refresh == 7.0
