"""Working in the console: keys, quitting, lists (sort, filter, search, copy), the command line, help.

The console runs on a real SQLite queue and is drawn at 80x24 without a terminal; keys go
through the same dispatch as on a terminal (the keymap registry).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from urwid.testing import render_runs

from qtui.backends import open_backend
from qtui.console.app import Console
from qtui.console.keymap import DEFAULT_KEYMAP
from qtui.console.settings import ConsoleSettings
from qtui.model import JobState
from tests.support import screen_text, wait_until


def top_attr(attr) -> object:  # noqa: ANN001 - an attribute, or urwid's layering of several
    return attr.layers[0] if hasattr(attr, "layers") else attr


class Driver:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def settle(self, until=lambda: True) -> None:
        await wait_until(lambda: until() and not self.console._nursery.child_tasks - self.resident,  # noqa: SLF001
                         "the console's backend calls")

    async def press(self, *keys: str) -> str:
        for key in keys:
            self.console.handle_key(key)
            await self.settle()
        return self.text()

    async def type(self, text: str) -> str:
        return await self.press(*text)

    async def command(self, line: str) -> str:
        await self.press(":")
        await self.type(line)
        return await self.press("enter")

    def text(self) -> str:
        return screen_text(self.console)

    def rows(self) -> list[str]:
        """The body's table rows (below the tab bar, subtitle and column header)."""
        return [line for line in self.text().splitlines()[3:-2] if line.strip()]


def open_console(backend, clock, nursery, **options) -> Console:  # noqa: ANN001
    """A console on `backend` running its tasks in `nursery` (no terminal)."""
    console = Console(backend, clock=clock, refresh=0, **options)
    console.start_tasks(nursery)
    return console


@pytest.fixture
async def make_driver(backend, clock, nursery):
    async def make(backend=backend, **options) -> Driver:  # noqa: ANN001
        driver = Driver(open_console(backend, clock, nursery, **options))
        driver.resident = set(nursery.child_tasks)
        await driver.settle(lambda: driver.console.snapshot is not None)
        return driver

    return make


@pytest.fixture
async def drive(make_driver) -> Driver:
    return await make_driver()


# -- keys that open the command line -----------------------------------------------------


async def test_slash_opens_the_filter_ready_for_its_text(drive) -> None:
    await drive.command("queue email")
    text = await drive.press("/")
    assert text.splitlines()[-1].startswith(":filter ")
    await drive.type("user1")
    text = await drive.press("enter")
    assert "filter 'user1'" in text and "unknown command" not in text
    assert all("user1" in row for row in drive.rows())


async def test_f_opens_find_ready_for_the_id(drive) -> None:
    await drive.press("f")
    await drive.type("31")
    await drive.press("enter")
    await drive.settle(lambda: "job 31" in drive.text())
    assert '"invoice": 7' in drive.text()


async def test_e_opens_enqueue_ready_for_the_queue(drive, backend) -> None:
    text = await drive.press("e")
    assert text.splitlines()[-1].startswith(":enqueue ")
    await drive.type('sms {"to": 1}')
    await drive.press("enter")
    await drive.settle(lambda: "enqueued job" in drive.text())
    assert backend.peek("sms", JobState.READY).jobs


async def test_read_only_refuses_enqueue_before_the_prompt_opens(queue_db, clock, make_driver) -> None:
    backend = open_backend(queue_db, clock=clock, read_only=True)
    drive = await make_driver(backend)
    text = await drive.press("e")
    assert "enqueue is disabled: read-only mode" in text
    assert not text.splitlines()[-1].startswith(":")
    drive.console.execute("help keys")
    help_text = " ".join(drive.console.help.view.line_text(i) for i in range(len(drive.console.help.view._lines)))
    assert "Enqueue a job (prompts for queue and JSON)  (disabled: read-only)" in help_text
    backend.close()


# -- going back and quitting -------------------------------------------------------------


async def test_esc_goes_back_and_never_quits(drive) -> None:
    await drive.press("j", "enter", "enter")
    assert "job " in drive.text().splitlines()[1]
    for _ in range(5):
        text = await drive.press("esc")
    assert not drive.console._quit_scope.cancel_called  # noqa: SLF001
    assert "Esc never quits: press q or type :q to quit" in text
    assert "QUEUE" in text


async def test_esc_clears_the_filter_before_going_back(drive) -> None:
    await drive.command("filter user2")
    assert "filter 'user2'" in drive.text()
    text = await drive.press("esc")
    assert "filter cleared" in text and "filter 'user2'" not in text
    assert "2 Jobs" in text


@pytest.mark.parametrize("how", [("q",), ("Q",), (":", "q", "enter"), (":", "q", "u", "i", "t", "enter")])
async def test_q_and_colon_q_quit(drive, how) -> None:
    await drive.press("3")
    await drive.press(*how)
    assert drive.console._quit_scope.cancel_called  # noqa: SLF001
    assert drive.console.exit_status == 0


# -- lists -------------------------------------------------------------------------------


async def test_sort_by_the_key_highlighted_in_the_header(drive) -> None:
    assert [row.split()[0] for row in drive.rows()] == ["billing", "email"]
    header = render_runs(drive.console.root, (80, 24), focus=True)[2]
    keys = [text for attr, text in header if top_attr(attr) == "column key"]
    assert keys[:3] == ["Q", "R", "E"]  # QUEUE, READY, rEtry
    await drive.press("o", "r")  # READY, largest first
    assert [row.split()[0] for row in drive.rows()] == ["email", "billing"]
    assert "sorted by READY ↓" in drive.text().splitlines()[1]
    await drive.press("o", "r")  # again: reversed
    assert [row.split()[0] for row in drive.rows()] == ["billing", "email"]
    await drive.command("sort queue")
    assert [row.split()[0] for row in drive.rows()] == ["billing", "email"]
    text = await drive.press("o", "z")
    assert "no column has the key z" in text


async def test_sort_keeps_the_cursor_on_its_row(drive) -> None:
    await drive.command("queue email")
    await drive.press("o", "i", "o", "i")  # ID: a left-aligned column sorts ascending first, then reversed
    ids = [int(row.split()[0]) for row in drive.rows()]
    assert ids == sorted(ids, reverse=True)
    await drive.press("enter")
    assert "job 1 " in drive.text()  # the cursor stayed on the first job, now at the bottom
    await drive.press("esc", "g", "enter")
    assert "job 30 " in drive.text()


async def test_filter_on_the_queues_screen_keeps_matching_rows(drive) -> None:
    text = await drive.command("filter bill")
    assert [row.split()[0] for row in drive.rows()] == ["billing"]
    assert "filter 'bill'" in text.splitlines()[1]
    text = await drive.command("filter nothing-like-it")
    assert "No row contains 'nothing-like-it'. Esc clears the filter." in text


async def test_n_and_shift_n_move_between_matches(drive) -> None:
    await drive.command("queue email")
    await drive.command("filter user1")  # user1, user10..user19
    await drive.press("n", "enter")
    second = drive.text().splitlines()[1]
    await drive.press("esc", "N", "enter")
    first = drive.text().splitlines()[1]
    assert second != first and "job " in first and "job " in second


async def test_search_in_the_detail_view_highlights_and_jumps(drive) -> None:
    await drive.command("find 31")
    await drive.settle(lambda: "job 31" in drive.text())
    text = await drive.press("/")
    assert text.splitlines()[-1].startswith(":search ")
    await drive.type("invoice")
    await drive.press("enter")
    runs = [run for row in render_runs(drive.console.root, (80, 24), focus=True) for run in row]
    assert ("match", "invoice") in runs
    assert "search 'invoice' (n/N)" in drive.text()
    text = await drive.press("esc")
    assert "search cleared" in text and "job 31" in text


async def test_y_copies_the_job_id_to_a_file_it_names(drive, isolated_home: Path) -> None:
    await drive.command("queue email")
    await drive.press("g")
    text = await drive.press("y")
    path = isolated_home / ".local/state/qtui/copied.txt"
    assert "copied job 1's id to ~/.local/state/qtui/copied.txt" in text
    assert path.read_text() == "1" and path.stat().st_mode & 0o777 == 0o600
    await drive.press("Y")
    assert path.read_text() == '{"to":"user0@example.com","tenant":"acme"}'


async def test_y_copies_through_the_terminal_when_enabled(make_driver) -> None:
    drive = await make_driver(settings=ConsoleSettings(clipboard="osc52"))
    sent: list[str] = []
    drive.console.clipboard.write_terminal = sent.append
    await drive.command("queue email")
    await drive.press("g", "y")
    assert sent == ["\x1b]52;c;MQ==\x07"]  # base64 of "1"
    assert "copied job 1's id to the terminal's clipboard" in drive.text()


async def test_marked_jobs_are_counted_in_the_status_bar(drive) -> None:
    text = await drive.press("3", " ")
    assert "1 marked" in text.splitlines()[-2]
    text = await drive.press("u")
    assert "1 marked" not in text.splitlines()[-2]


async def test_queue_counts_are_plural_only_when_more_than_one(drive, make_driver, clock, tmp_path) -> None:
    assert "2 queues" in drive.text().splitlines()[1]
    one = open_backend(tmp_path / "one.db", clock=clock, create=True)
    one.enqueue("email", "{}")
    text = (await make_driver(one)).text()
    assert " 1 queue" in text.splitlines()[1] and "1 queues" not in text
    one.close()


async def test_the_cursor_row_keeps_its_highlight_on_coloured_cells(drive) -> None:
    await drive.press("3")
    rows = render_runs(drive.console.root, (80, 24), focus=True)
    cursor = rows[3]
    assert {attr for attr, _ in cursor} == {"focus"}  # the red error text too


# -- the command line ----------------------------------------------------------------------


async def test_completion_lists_its_candidates_under_the_line(drive) -> None:
    await drive.press(":")
    await drive.type("view ")
    text = await drive.press("tab")
    lines = text.splitlines()
    assert lines[-2].startswith(":view queues")  # the first candidate is chosen
    assert lines[-1].split() == ["queues", "jobs", "dead", "workers", "plugins"]
    assert [top_attr(a) for a, t in render_runs(drive.console.root, (80, 24), focus=True)[-1] if t.strip()][0] == \
        "choice focus"
    text = await drive.press("tab")
    assert text.splitlines()[-2].startswith(":view jobs")
    text = await drive.press("enter")
    assert "state ready" in text


async def test_completion_extends_what_every_candidate_shares(drive) -> None:
    await drive.press(":")
    await drive.type("purge-")
    text = await drive.press("tab")
    assert text.splitlines()[-1].startswith(":purge-selected ")


async def test_readline_editing_on_the_command_line(drive) -> None:
    await drive.press(":")
    await drive.type("view jobs")
    await drive.press("ctrl w")
    assert drive.console.command_line.text == "view "
    await drive.press("ctrl a")
    await drive.type("x")
    assert drive.console.command_line.text == "xview "
    await drive.press("ctrl e")
    await drive.type("dead")
    await drive.press("ctrl a", "delete")
    assert drive.console.command_line.text == "view dead"
    await drive.press("ctrl e", "ctrl u")
    assert drive.console.command_line.text == ""
    await drive.type("view queues")
    await drive.press("ctrl a", "ctrl k")
    assert drive.console.command_line.text == ""


async def test_the_command_line_shows_format_characters_as_notation(drive) -> None:
    await drive.press(":")
    await drive.type("queue pay\u200broll\u202e")
    line = drive.text().splitlines()[-1]
    assert line.startswith(":queue pay<U+200B>roll<U+202E>")
    assert drive.console.root.render((80, 24), focus=True).cursor == (len(line.rstrip()), 23)


# -- help --------------------------------------------------------------------------------


async def test_help_aligns_keys_and_indents_wrapped_lines(drive) -> None:
    text = await drive.press("?")
    lines = text.splitlines()
    shift_tab = next(line for line in lines if "Shift-Tab" in line)
    assert "Shift-Tab  Move the focus" in shift_tab
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("?"))
    column = lines[first].index("Show help")
    assert lines[first + 1][:column].strip() == "" and lines[first + 1][column:].strip()  # wrapped, indented


async def test_help_gives_each_plugins_screen_key_its_own_line() -> None:
    helps = [DEFAULT_KEYMAP.keys_for(f"plugin {action}", "plugins") for action in ("enable", "disable")]
    assert helps == [["e"], ["x"]]
    from qtui.console.keymap import binding_help

    texts = [binding_help(b) for b in DEFAULT_KEYMAP.bindings if b.contexts == ("plugins",)]
    assert len(set(texts)) == len(texts) and all(len(t) < 60 for t in texts)


# -- the mouse ---------------------------------------------------------------------------


async def test_mouse_clicks_tabs_and_opens_rows(make_driver) -> None:
    drive = await make_driver(mouse=True)
    root = drive.console.root
    tab_bar = drive.text().splitlines()[0]
    root.mouse_event((80, 24), "mouse press", 1, tab_bar.index("Dead letter"), 0, True)
    await drive.settle()
    assert "LAST ERROR" in drive.text()
    root.mouse_event((80, 24), "mouse press", 1, tab_bar.index("Queues"), 0, True)
    await drive.settle()
    root.mouse_event((80, 24), "mouse press", 1, 2, 4, True)  # the second row: the cursor moves there
    await drive.settle()
    assert "QUEUE" in drive.text()
    root.mouse_event((80, 24), "mouse press", 1, 2, 4, True)  # again: opens it
    await drive.settle()
    assert "queue email" in drive.text()


async def test_n_and_shift_n_jump_between_search_matches_in_help(drive) -> None:
    await drive.press("?")
    await drive.press("/")
    await drive.type("dock")
    await drive.press("enter")
    view = drive.console.help.view
    matches = [i for i in range(len(view._lines)) if "dock" in view.line_text(i).lower()]  # noqa: SLF001
    assert len(matches) >= 3 and view._walker.focus == matches[0]  # noqa: SLF001
    await drive.press("n")
    assert view._walker.focus == matches[1]  # noqa: SLF001
    await drive.press("N", "N")
    assert view._walker.focus == matches[-1]  # noqa: SLF001 - it wraps


async def test_completion_of_columns_shift_tab_history_and_yank(drive) -> None:
    await drive.press(":")
    await drive.type("sort re")
    text = await drive.press("tab")
    assert drive.console.command_line.text == "sort ready"  # the Queues screen's columns
    assert text.splitlines()[-1].split() == ["ready", "retry"]  # listed under the line
    await drive.press("enter")
    assert "sorted by READY" in drive.text()
    await drive.press(":")
    await drive.type("view ")
    await drive.press("shift tab")
    assert drive.console.command_line.text == "view plugins"  # Shift-Tab steps back from the end
    await drive.press("ctrl w", "ctrl y")
    assert drive.console.command_line.text == "view plugins"  # what Ctrl-W deleted comes back
    await drive.press("esc", ":", "up")
    assert drive.console.command_line.text == "sort ready"


async def test_a_completed_queue_name_shows_its_format_characters(drive, queue_db) -> None:
    import sqlite3

    with sqlite3.connect(queue_db) as raw:  # a name another program wrote
        raw.execute("UPDATE queues SET name = ? WHERE name = 'billing'", ("\u202ebilling",))
        raw.execute("UPDATE jobs SET queue = ? WHERE queue = 'billing'", ("\u202ebilling",))
    drive.console.poller.refresh()
    await drive.settle(lambda: any(q.name.startswith("\u202e") for q in drive.console.snapshot.queues))
    await drive.press(":")
    await drive.type("queue ")
    text = await drive.press("tab")
    assert "\u202e" not in text
    assert "<U+202E>billing" in text.splitlines()[-1]  # the list of candidates
    while not drive.console.command_line.text.startswith("queue \u202e"):
        text = await drive.press("tab")
    assert text.splitlines()[-2].startswith(":queue <U+202E>billing")  # the line itself
    assert "\u202e" not in text


async def test_the_mouse_wheel_scrolls_a_list(make_driver) -> None:
    drive = await make_driver(mouse=True)
    await drive.command("queue email")
    table = drive.console.current.table
    first = table.focused_key()
    for _ in range(3):
        drive.console.root.mouse_event((80, 24), "mouse press", 5, 10, 8, True)  # wheel down
    await drive.settle()
    assert table.focused_key() != first


async def test_dock_layout_comes_from_the_settings(backend, clock, nursery, isolated_home) -> None:
    from qtui.console.plugin_control import PluginControl

    for settings, size in ((ConsoleSettings(dock_position="right", dock_size=40), 40),
                           (ConsoleSettings(dock_position="right"), 32)):
        console = Console(backend, clock=clock, refresh=0, plugins=lambda c: PluginControl(c), settings=settings)
        console.start_tasks(nursery)  # the plugin side is made after the first poll
        await wait_until(lambda: console.plugins is not None, "the plugin side")
        assert (console.plugins.dock.position, console.plugins.dock.size) == ("right", size)


def test_text_too_long_for_the_terminal_goes_to_the_file(tmp_path: Path) -> None:
    from qtui.console.clipboard import OSC52_LIMIT, Clipboard

    sent: list[str] = []
    clipboard = Clipboard(tmp_path / "copied.txt", osc52_enabled=True, write_terminal=sent.append)
    text = "x" * (OSC52_LIMIT + 1)
    message = clipboard.copy(text, "job 1's payload")
    assert sent == [] and (tmp_path / "copied.txt").read_text() == text
    assert message.endswith(f"({OSC52_LIMIT + 1} bytes: too long for the terminal)")
