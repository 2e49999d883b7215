"""The real qtui in a pseudo-terminal (tmux) at 80x24: keys in, screen out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.model import JobState
from qtui.sqlite_queue import SQLiteQueue
from tests.support import wait_until_sync

from .conftest import QTUI

pytestmark = pytest.mark.slow


def quit_and_check_terminal(tmux) -> None:
    """Q quits with status 0 and leaves the terminal in canonical mode with echo on."""
    tmux.keys("Q")
    screen = tmux.wait_for(lambda s: "exit=" in s and "icanon" in s)
    modes = screen.split("exit=")[1].split()
    assert modes[0] == "0", screen
    assert "icanon" in modes and "echo" in modes, screen


def test_demo_peek_requeue_and_quit(tmux, qtui_env, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    tmux.start([*QTUI, "demo", "--db", str(db)], qtui_env)
    screen = tmux.wait_for(lambda s: "live" in s and "email" in s)
    assert "1 Queues" in screen.splitlines()[0]

    # select a queue and peek at one of its jobs
    tmux.keys("g")
    screen = tmux.screen()
    first_queue = screen.splitlines()[3].split()[0]
    tmux.keys("Enter")
    for state in ("ready", "scheduled", "processing", "completed", "dead"):
        # live workers may have drained 'ready': step through the states to a page with jobs
        screen = tmux.wait_for(lambda s, state=state: f"state {state}" in s and (
            "No jobs here." in s or s.splitlines()[3].strip()))
        if "No jobs here." not in screen:
            break
        tmux.keys("s")
    assert f"queue {first_queue}" in screen
    tmux.keys("Enter")
    screen = tmux.wait_for("payload")
    assert "attempts" in screen
    tmux.keys("Escape", "Escape")

    # requeue a dead job, with confirmation
    tmux.keys("3")
    screen = tmux.wait_for(lambda s: "LAST ERROR" in s and "dead letter queue is empty" not in s)
    tmux.keys("R")
    tmux.wait_for("Requeue 1 dead job to their own queues?")
    tmux.keys("y")
    tmux.wait_for("requeued 1 job")

    # quit: the terminal is back to normal (canonical mode, echo) and the exit status is 0
    quit_and_check_terminal(tmux)


def _wakeups(pid: int) -> int:
    """Context switches of every thread of `pid` so far: how often it woke up."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def test_idle_console_without_polling_does_not_wake_up(tmux, qtui_env, tmp_path: Path) -> None:
    db = tmp_path / "static.db"
    with SQLiteQueue.open(db, create=True) as queue:
        queue.enqueue("email", {"n": 1})
    tmux.start([*QTUI, "--db", str(db), "--refresh", "0"], qtui_env)
    tmux.wait_for("live")
    pid = tmux.program_pid()

    def quiet_for_3_seconds() -> bool:  # once started up: nothing to do, no timers, no polling
        before = _wakeups(pid)
        time.sleep(3.0)
        return _wakeups(pid) - before <= 3

    wait_until_sync(quiet_for_3_seconds, "three seconds without waking up more than 3 times", poll=0)
    tmux.keys("r")  # a refresh on demand still works
    tmux.wait_for("live")
    quit_and_check_terminal(tmux)


def test_idle_console_writes_nothing(tmux, qtui_env, tmp_path: Path) -> None:
    db = tmp_path / "static.db"
    with SQLiteQueue.open(db, create=True) as queue:
        for n in range(5):
            queue.enqueue("email", {"n": n})
    tmux.start([*QTUI, "--db", str(db), "--refresh", "0.2"], qtui_env)
    tmux.wait_for("live")
    written = tmp_path / "written"
    tmux.pipe_output(written)
    wait_until_sync(written.exists, "tmux to start copying the output")

    def quiet_for_2_seconds() -> bool:  # ten polls of an unchanged database, once started up
        before = written.stat().st_size
        time.sleep(2.0)
        return written.stat().st_size == before

    wait_until_sync(quiet_for_2_seconds, "two seconds without output", poll=0)
    tmux.keys("j")  # a key that changes nothing visible writes little
    quit_and_check_terminal(tmux)


@pytest.mark.parametrize("term", ["xterm", "screen", "linux"])
def test_works_under_each_term_with_no_color_and_c_locale(tmux, qtui_env, tmp_path: Path, term: str) -> None:
    db = tmp_path / "q.db"
    with SQLiteQueue.open(db, create=True) as queue:
        queue.enqueue("email", {"subject": "caf\u00e9 \x1b]0;owned\x07"})
    env = {**qtui_env, "TERM": term, "NO_COLOR": "1", "LC_ALL": "C"}
    env.pop("LANG")
    tmux.start([*QTUI, "--db", str(db)], env)
    tmux.wait_for("live")
    tmux.keys("Enter")
    # the job list, loaded: the queue list also has a row 3, and Enter before the page is there opens nothing
    tmux.wait_for(lambda s: "state ready" in s and '"subject"' in s)
    tmux.keys("Enter")
    screen = tmux.wait_for("payload")
    assert "\\u001b]0;owned\\u0007" in screen  # escape shown as text; the title was not set
    quit_and_check_terminal(tmux)


def test_purge_from_the_console_needs_confirmation(tmux, qtui_env, tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with SQLiteQueue.open(db, create=True) as queue:
        for n in range(3):
            queue.enqueue("email", {"n": n})
    tmux.start([*QTUI, "--db", str(db)], qtui_env)
    tmux.wait_for("live")
    tmux.keys("P")
    tmux.wait_for("Delete all ready jobs on queue email?")
    tmux.keys("n")
    tmux.wait_for("cancelled")
    tmux.keys("P", "y")
    tmux.wait_for("purged 3 ready jobs")
    quit_and_check_terminal(tmux)
    backend = open_backend(db, clock=time.time)
    assert backend.stats()[0].count(JobState.READY) == 0
    backend.close()
