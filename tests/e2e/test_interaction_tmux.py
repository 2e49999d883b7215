"""The real console in tmux at 80x24: quitting and signals, config errors, themes, sort, search, copy, plugins.

Each test polls the screen for what it expects; none sleeps and hopes.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from qtui.sqlite_queue import SQLiteQueue

from .conftest import QTUI, answer

pytestmark = pytest.mark.slow

SGR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "q.db"
    with SQLiteQueue.open(path, create=True) as queue:
        for n in range(1, 6):
            queue.enqueue("email", {"n": n, "note": "timeout" if n == 4 else "ok"})
        for n in range(3):
            queue.enqueue("billing", {"invoice": n}, max_attempts=1)
        worker = queue.worker(["billing"], worker_id="w-1")
        while (job := worker.reserve(timeout=0)) is not None:
            worker.fail(job, "card declined")
    return path


def start(tmux, env: dict[str, str], db: Path, *args: str) -> None:
    tmux.start([*QTUI, "--db", str(db), "--no-plugins", *args], env)
    tmux.wait_for(lambda s: "live" in s and "email" in s)


def ended(tmux) -> tuple[str, list[str], str]:
    """Wait for qtui to exit: its status, the terminal's modes after, and the screen."""
    screen = tmux.wait_for(lambda s: "exit=" in s and "icanon" in s)
    status, *modes = screen.split("exit=")[1].split()
    return status, modes, screen


def start_on_email(tmux, env: dict[str, str], db: Path) -> None:
    """Start qtui and open the jobs of the email queue."""
    start(tmux, env, db)
    tmux.keys("j", "Enter")
    tmux.wait_for("queue email")


def command(tmux, line: str) -> None:
    tmux.keys(":")
    tmux.wait_for(lambda s: s.splitlines()[-1].startswith(":"))
    tmux.type(line)
    tmux.keys("Enter")


# -- quitting and signals ----------------------------------------------------------------------


def test_esc_never_quits_and_q_does(tmux, qtui_env, db: Path) -> None:
    start(tmux, qtui_env, db)
    tmux.keys("j", "Enter")
    tmux.wait_for("state ready")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: " job " in s.splitlines()[1])
    tmux.keys(*["Escape"] * 5)
    screen = tmux.wait_for("Esc never quits: press q or type :q to quit")
    assert "exit=" not in screen and "QUEUE" in screen
    tmux.keys("q")
    status, modes, _ = ended(tmux)
    assert status == "0" and "icanon" in modes and "echo" in modes


def test_colon_q_quits(tmux, qtui_env, db: Path) -> None:
    start(tmux, qtui_env, db)
    command(tmux, "q")
    status, modes, _ = ended(tmux)
    assert status == "0" and "icanon" in modes


def test_ctrl_c_restores_the_terminal_and_exits_130(tmux, qtui_env, db: Path) -> None:
    start(tmux, qtui_env, db)
    tmux.keys("3")
    tmux.wait_for("card declined")
    tmux.keys("C-c")
    status, modes, screen = ended(tmux)
    assert status == "130" and "icanon" in modes and "echo" in modes
    assert "Traceback" not in screen and "KeyboardInterrupt" not in screen


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, "143"), (signal.SIGHUP, "129")])
def test_sigterm_and_sighup_restore_the_terminal(tmux, qtui_env, db: Path, signum: int, status: str) -> None:
    start(tmux, qtui_env, db)
    os.kill(tmux.program_pid(), signum)
    got, modes, screen = ended(tmux)
    assert got == status and "icanon" in modes and "echo" in modes and "Traceback" not in screen


# -- configuration ---------------------------------------------------------------------------


def write_config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "qtui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_bad_configuration_stops_the_console_with_file_line_and_field(tmux, qtui_env, db: Path) -> None:
    path = write_config(qtui_env, 'theme = "neon"\n\n[keys]\n"view dead" = "x"\n')
    tmux.start([*QTUI, "--db", str(db)], qtui_env, size=(200, 24))
    status, modes, screen = ended(tmux)
    text = " ".join(screen.split())
    assert status == "2" and "icanon" in modes
    assert f"qtui: {path}:1: theme: must be one of dark, light, linux, mono, not 'neon'" in text
    assert f"{path}:4: keys.\"view dead\": x is also bound to 'delete' on the dead screen" in text
    assert "qtui config check" in text and "Traceback" not in text


def test_rebound_keys_work_and_show_in_help(tmux, qtui_env, db: Path) -> None:
    write_config(qtui_env, '[keys]\n"view dead" = ["3", "F3"]\n"move down" = ["j", "Ctrl-N"]\nquit = "F10"\n')
    start(tmux, qtui_env, db)
    tmux.keys("F3")
    tmux.wait_for("card declined")
    tmux.keys("?")
    screen = tmux.wait_for("KEYS")
    assert re.search(r"^  F3 +Switch to a screen: dead", screen, re.M)
    tmux.keys("q")  # no longer quits
    tmux.wait_for("q does nothing here")
    tmux.keys("F10")
    assert ended(tmux)[0] == "0"


def _colours(screen: str) -> set[str]:
    """Every SGR parameter the screen uses."""
    return {param for found in SGR.findall(screen) for param in found.split(";") if param}


def test_linux_console_gets_no_blink_and_no_bright_background(tmux, qtui_env, db: Path) -> None:
    start(tmux, {**qtui_env, "TERM": "linux"}, db)
    screen = tmux._run("capture-pane", "-e", "-p", "-t", "t")  # noqa: SLF001 - with attributes
    used = _colours(screen)
    assert "5" not in used and not used & {str(n) for n in range(100, 108)}
    cursor_row = screen.splitlines()[3]
    assert "\x1b[46m" in cursor_row  # the cursor row has a steady background (dark cyan)


def test_no_color_wins_over_the_theme(tmux, qtui_env, db: Path) -> None:
    write_config(qtui_env, 'theme = "light"\n')
    start(tmux, {**qtui_env, "TERM": "xterm-256color", "NO_COLOR": "1"}, db)
    screen = tmux._run("capture-pane", "-e", "-p", "-t", "t")  # noqa: SLF001 - with attributes
    colours = {p for p in _colours(screen) if re.fullmatch(r"3[0-8]|4[0-8]|9\d|10\d", p)}
    assert colours == set()
    assert "\x1b[7m" in screen.splitlines()[3] or "7" in SGR.findall(screen.splitlines()[3])[0].split(";")


@pytest.mark.parametrize(("theme", "wanted", "unwanted"), [("light", "38", None), ("linux", None, "38")])
def test_the_configured_theme_is_used(tmux, qtui_env, db: Path, theme: str, wanted, unwanted) -> None:
    write_config(qtui_env, f'theme = "{theme}"\n')
    start(tmux, {**qtui_env, "TERM": "xterm-256color"}, db)
    used = _colours(tmux._run("capture-pane", "-e", "-p", "-t", "t"))  # noqa: SLF001 - with attributes
    assert (wanted is None or wanted in used) and (unwanted is None or unwanted not in used)


# -- lists -------------------------------------------------------------------------------------


def _queue_column(screen: str) -> list[str]:
    return [line.split()[0] for line in screen.splitlines()[3:6] if line.strip()]


def test_sort_by_a_column(tmux, qtui_env, db: Path) -> None:
    start(tmux, qtui_env, db)
    assert _queue_column(tmux.screen()) == ["billing", "email"]
    tmux.keys("o")
    tmux.wait_for("sort by: press the letter")
    tmux.keys("r")  # READY: email has 5, billing none
    screen = tmux.wait_for("sorted by READY ↓")
    assert _queue_column(screen) == ["email", "billing"]
    assert "READY" in screen.splitlines()[2] and "↓" in screen.splitlines()[2]
    tmux.keys("o", "r")
    assert _queue_column(tmux.wait_for("sorted by READY ↑")) == ["billing", "email"]


def test_filter_and_search_with_n(tmux, qtui_env, db: Path) -> None:
    start_on_email(tmux, qtui_env, db)
    tmux.keys("/")
    tmux.type("timeout")
    tmux.keys("Enter")
    screen = tmux.wait_for("filter 'timeout'")
    assert [line.split()[0] for line in screen.splitlines()[3:] if re.match(r"\d", line)] == ["4"]
    tmux.keys("Enter")
    tmux.wait_for(" job 4 ")
    tmux.keys("/")
    tmux.type("note")
    tmux.keys("Enter")
    screen = tmux._run("capture-pane", "-e", "-p", "-t", "t")  # noqa: SLF001 - with attributes
    assert "search 'note' (n/N)" in screen
    assert re.search(r"\x1b\[[0-9;]*43m[^\x1b]*note", screen)  # the match is highlighted (brown)
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "search cleared" in s)


def test_copy_the_job_id_to_a_file_or_the_terminal(tmux, qtui_env, db: Path) -> None:
    start_on_email(tmux, qtui_env, db)
    tmux.keys("y")
    tmux.wait_for("copied job 1's id to ~/state/qtui/copied.txt")
    assert (Path(qtui_env["XDG_STATE_HOME"]) / "qtui" / "copied.txt").read_text() == "1"
    tmux.keys("Q")
    ended(tmux)


def test_copy_through_the_terminal_with_osc52(tmux, qtui_env, db: Path) -> None:
    write_config(qtui_env, 'clipboard = "osc52"\n')
    start_on_email(tmux, qtui_env, db)
    tmux._run("set-option", "-g", "set-clipboard", "on")  # noqa: SLF001 - tmux keeps what OSC 52 sets
    tmux.keys("j", "Y")
    tmux.wait_for("copied job 2's payload to the terminal's clipboard")
    assert tmux._run("show-buffer") == '{"n":2,"note":"ok"}'  # noqa: SLF001
    assert not (Path(qtui_env["XDG_STATE_HOME"]) / "qtui" / "copied.txt").exists()


def test_completion_lists_candidates_and_shows_format_characters(tmux, qtui_env, db: Path) -> None:
    with SQLiteQueue.open(db) as queue:
        queue.enqueue("email-retry", {})
    start(tmux, qtui_env, db)
    tmux.keys(":")
    tmux.type("queue em")
    tmux.keys("Tab")
    screen = tmux.wait_for(lambda s: s.splitlines()[-1].split() == ["email", "email-retry"])
    assert screen.splitlines()[-2].startswith(":queue email")
    tmux.keys("C-u")
    tmux.type("queue pay\u200broll")
    tmux.wait_for(lambda s: s.splitlines()[-1].startswith(":queue pay<U+200B>roll"))


# -- plugins -------------------------------------------------------------------------------------


def test_a_plugin_opened_full_screen_gets_the_keys(tmux, qtui_env, db: Path) -> None:
    folder = Path(qtui_env["XDG_CONFIG_HOME"]) / "qtui" / "plugins" / "echo"
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text('name = "echo"\nversion = "1.0.0"\ndescription = "echo"\napi = "1"\n'
                                          'permissions = ["selection.read"]\n\n[panel]\ntitle = "echo panel"\n')
    (folder / "init.lua").write_text('function activate() qtui.subscribe("key"); qtui.render({"got nothing"}) end\n'
                                     'function on_event(e) qtui.render({"got " .. e.key}) end\n')
    tmux.start([*QTUI, "--db", str(db)], qtui_env)
    tmux.wait_for("live")
    command(tmux, "plugin enable echo")
    tmux.wait_for("Permissions: echo")
    answer(tmux, "a", "Enter")
    tmux.wait_for("got nothing")
    command(tmux, "plugin open echo")
    tmux.wait_for("keys go to the plugin")
    for key, shown in (("Tab", "tab"), ("j", "j"), ("q", "q"), ("Enter", "enter")):
        tmux.keys(key)
        tmux.wait_for(f"got {shown}")
    tmux.keys("Escape")
    screen = tmux.wait_for(lambda s: "QUEUE" in s.splitlines()[2])
    assert "echo panel" in screen


def click(tmux, column: int, row: int) -> None:
    """A left click at 0-based (column, row), as an xterm sends it (SGR mouse reporting)."""
    for end in ("M", "m"):  # press, release
        tmux.type(f"\x1b[<0;{column + 1};{row + 1}{end}")


def test_with_mouse_tabs_and_rows_are_clickable(tmux, qtui_env, db: Path) -> None:
    start(tmux, qtui_env, db, "--mouse")
    tabs = tmux.screen().splitlines()[0]
    click(tmux, tabs.index("Dead letter"), 0)
    tmux.wait_for("LAST ERROR")
    click(tmux, tabs.index("Queues"), 0)
    tmux.wait_for(lambda s: "QUEUE" in s.splitlines()[2])
    click(tmux, 2, 4)  # email, the second row: the cursor moves there
    click(tmux, 2, 4)  # and a second click opens it
    tmux.wait_for("queue email · state ready")

