"""The console on a real SQLite queue, rendered at 80x24 without a terminal."""

from __future__ import annotations

import re

import pytest

from qtui.backends import open_backend
from qtui.console.app import Console
from qtui.console.glyphs import ASCII
from qtui.console.palette import PALETTE
from qtui.model import JobState
from tests.support import screen_text, wait_until

ESC_OR_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but the newline joining rows


async def settle(console: Console, until=lambda: True) -> None:
    """Let background backend calls finish (they run in threads)."""
    await wait_until(lambda: until() and not console._nursery.child_tasks - console._resident,  # noqa: SLF001
                     "the console's backend calls")


class Driver:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def press(self, *keys: str) -> str:
        for key in keys:
            self.console.handle_key(key)
            await settle(self.console)
        await settle(self.console)
        return screen_text(self.console)

    async def type(self, text: str) -> str:
        return await self.press(*text)


@pytest.fixture
async def drive(backend, clock, nursery):
    console = Console(backend, clock=clock, refresh=0)
    console.start_tasks(nursery)
    console._resident = set(nursery.child_tasks)  # noqa: SLF001 - poller and event loop tasks
    await settle(console, lambda: console.snapshot is not None)
    return Driver(console)


async def test_queues_screen_shows_counts_per_queue(drive) -> None:
    text = screen_text(drive.console)
    lines = text.splitlines()
    assert "1 Queues" in lines[0] and "2 Jobs" in lines[0]
    email = next(line for line in lines if line.startswith("email"))
    billing = next(line for line in lines if line.startswith("billing"))
    assert email.split()[1:6] == ["30", "0", "0", "0", "0"]  # ready, retry, run, done, dead
    assert billing.split()[1:6] == ["0", "0", "0", "1", "1"]
    assert "live" in lines[-2]


async def test_enter_peeks_the_selected_queue_and_opens_a_job(drive) -> None:
    text = await drive.press("j", "enter")  # billing is first; j moves to email
    assert "queue email · state ready · page 1" in text
    assert text.count("user") >= 19  # a full screen of jobs
    text = await drive.press("enter")
    assert '"to": "user0@example.com"' in text
    assert "attempts    0 of 3" in text
    text = await drive.press("esc")
    assert "queue email" in text


async def test_jobs_screen_cycles_states_and_pages(drive) -> None:
    text = await drive.press("j", "enter", "s")
    assert "state scheduled" in text and "No jobs here." in text
    drive.console.execute("state completed")
    await drive.press()
    drive.console.execute("queue all")
    text = await drive.press()
    assert '"invoice":7' in text.replace(" ", "")


async def test_dead_letter_shows_errors_inline_without_escape_sequences(drive) -> None:
    text = await drive.press("3")
    row = next(line for line in text.splitlines() if "card declined" in line)
    assert "^[]0;owned^G" in row
    assert not ESC_OR_CONTROL.search(text)


async def test_detail_view_neutralises_hostile_payloads(drive) -> None:
    drive.console.execute("queue billing")
    drive.console.execute("state completed")
    await drive.press()
    text = await drive.press("enter")
    assert "\\u001b]0;owned\\u0007" in text  # JSON's own escapes, shown as text
    assert "<U+009B>2J" in text
    assert not ESC_OR_CONTROL.search(text)


async def test_requeue_asks_first_and_moves_the_job(drive, backend) -> None:
    text = await drive.press("3", "R")
    assert "Requeue 1 dead job to their own queues?" in text
    text = await drive.press("n")
    assert "cancelled" in text
    assert backend.peek(None, JobState.DEAD).jobs  # nothing happened
    await drive.press("R", "y")
    await settle(drive.console, lambda: "requeued 1 job" in screen_text(drive.console))
    assert not backend.peek(None, JobState.DEAD).jobs
    assert len(backend.peek("billing", JobState.READY).jobs) == 1


async def test_marks_select_several_dead_jobs(drive, backend) -> None:
    with_more = backend.peek("billing", JobState.COMPLETED).jobs[0]
    backend.purge("billing", JobState.COMPLETED, ids=[with_more.id])
    text = await drive.press("3", " ")
    assert "✔" in next(line for line in text.splitlines() if "card declined" in line)
    text = await drive.press("x")
    assert "Delete 1 dead job?" in text
    await drive.press("y")
    await settle(drive.console, lambda: "deleted 1 job" in screen_text(drive.console))
    assert backend.peek(None, JobState.DEAD).jobs == ()


async def test_purge_from_the_queues_screen_needs_confirmation(drive, backend) -> None:
    text = await drive.press("j", "P")
    assert "Delete all ready jobs on queue email?" in text and "About 30 jobs" in text
    await drive.press("y")
    await settle(drive.console, lambda: "purged 30 ready jobs" in screen_text(drive.console))
    assert backend.peek("email", JobState.READY).jobs == ()


async def test_command_line_completes_and_runs_commands(drive, backend) -> None:
    await drive.press(":")
    await drive.type("enq")
    text = await drive.press("tab")
    assert ":enqueue " in text
    await drive.type('email {"hello": 1}')
    text = await drive.press("enter")
    await settle(drive.console, lambda: "enqueued job" in screen_text(drive.console))
    assert backend.stats()[1].count(JobState.READY) == 31


async def test_bad_input_is_a_status_message_not_a_crash(drive) -> None:
    drive.console.execute("enqueue email {not json")
    assert "payload is not valid JSON" in screen_text(drive.console)
    drive.console.execute("find 999999")
    await settle(drive.console)
    assert "no job with id '999999'" in screen_text(drive.console)
    drive.console.execute("purge nosuchqueue ready")
    assert "unknown queue 'nosuchqueue'" in screen_text(drive.console)
    text = await drive.press("z")
    assert "z does nothing here" in text


async def test_workers_screen_lists_workers(drive) -> None:
    text = await drive.press("4")
    assert "w-1" in text and "billing" in text


async def test_ages_count_to_the_consoles_clock(drive, clock) -> None:
    clock.advance(400)  # the jobs were made (and the worker last seen) 400 s ago
    text = await drive.press("j", "enter")
    row = next(line for line in text.splitlines() if "user0@" in line)
    assert row.split()[2] == "6m"
    text = await drive.press("3")
    row = next(line for line in text.splitlines() if "card declined" in line)
    assert row.split()[2] == "6m"
    drive.console.poller.refresh()  # SEEN counts to the time of the snapshot
    await settle(drive.console, lambda: drive.console.snapshot.taken_at == clock.now)
    text = await drive.press("4")
    assert next(line for line in text.splitlines() if "w-1" in line).split()[-1] == "6m"


async def test_the_workers_table_is_made_only_for_a_poll_it_shows(drive, clock, monkeypatch) -> None:
    """SEEN changes with every poll; while another screen shows, polls do not rebuild the
    workers table, and it shows the newest poll as soon as it is drawn."""
    table = drive.console.screens["workers"].table
    made = []
    rows = table.set_rows
    monkeypatch.setattr(table, "set_rows", lambda new: made.append(new) or rows(new))
    for _ in range(3):  # three polls, 30 s apart, while the Queues screen shows
        clock.advance(30)
        drive.console.poller.refresh()
        await settle(drive.console, lambda: drive.console.snapshot.taken_at == clock.now)
        assert "w-1" not in screen_text(drive.console)
    assert made == []
    text = await drive.press("4")
    assert len(made) == 1  # the newest poll only
    assert next(line for line in text.splitlines() if "w-1" in line).split()[-1] == "1m"  # 90 s
    clock.advance(60)
    drive.console.poller.refresh()
    await settle(drive.console, lambda: drive.console.snapshot.taken_at == clock.now)
    text = screen_text(drive.console)
    assert next(line for line in text.splitlines() if "w-1" in line).split()[-1] == "2m"
    assert len(made) == 2


async def test_help_is_generated_from_the_keymap(drive) -> None:
    text = await drive.press("?")
    assert "Show help" in text and "Quit qtui now" in text


async def test_read_only_console_refuses_changes(queue_db, clock, nursery) -> None:
    backend = open_backend(queue_db, clock=clock, read_only=True)
    console = Console(backend, clock=clock, refresh=0)
    console.start_tasks(nursery)
    console._resident = set(nursery.child_tasks)  # noqa: SLF001
    await settle(console, lambda: console.snapshot is not None)
    assert "read-only" in screen_text(console).splitlines()[-2]
    console.handle_key("3")
    console.handle_key("R")
    assert "requeue is disabled: read-only mode" in screen_text(console)
    assert not console.dialog_open
    backend.close()


async def test_ascii_glyphs_render_under_a_c_locale(backend, clock, nursery) -> None:
    console = Console(backend, clock=clock, refresh=0, glyphs=ASCII)
    console.start_tasks(nursery)
    console._resident = set(nursery.child_tasks)  # noqa: SLF001
    await settle(console, lambda: console.snapshot is not None)
    assert all(ord(ch) < 128 for ch in screen_text(console))


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (40, 10)])
async def test_every_screen_renders_at_several_sizes(drive, size) -> None:
    for keys in (["1"], ["2"], ["3"], ["4"], ["1", "enter", "enter"], ["?"]):
        await drive.press(*keys)
        assert screen_text(drive.console, size)


def test_palette_has_a_monochrome_rendering_for_every_attribute() -> None:
    names = [entry[0] for entry in PALETTE]
    assert len(names) == len(set(names))
    assert all(len(entry) in (4, 6) for entry in PALETTE)  # with 256-colour renderings or without
    # the cursor and marks must stay visible without colour
    mono = {entry[0]: entry[3] for entry in PALETTE}
    assert "standout" in mono["focus"] and mono["marked"]


async def test_a_poll_that_changed_nothing_shown_redraws_nothing(drive, clock) -> None:
    console = drive.console
    frame = console.root.render((80, 24), focus=True)
    rows = list(console.screens["queues"].table._walker)  # noqa: SLF001 - the row widgets drawn
    taken = console.snapshot.taken_at
    clock.advance(2)  # the same rate bucket: every count, rate and bar stays as it is
    console.poller.refresh()
    await settle(console, lambda: console.snapshot.taken_at > taken)
    assert list(console.screens["queues"].table._walker) == rows  # noqa: SLF001 - the same widgets
    # urwid's cache gives back the frame on the terminal: nothing to compare, nothing to write
    assert console.root.render((80, 24), focus=True) is frame
    console.backend.enqueue("email", "{}")
    console.poller.refresh()
    await settle(console, lambda: "31" in screen_text(console))
    changed = list(console.screens["queues"].table._walker)  # noqa: SLF001
    assert changed[0] is rows[0] and changed[1] is not rows[1]  # billing kept, email drawn anew
