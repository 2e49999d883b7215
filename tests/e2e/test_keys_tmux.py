"""Every key the `?` help lists, pressed in the real console (tmux, 80x24), doing what its help line says.

The cases are generated from the keymap registry: one per binding and place it is listed in.
A binding without a check below fails here, so no key can be added to `?` without a
working, tested path. Checks share one console (reset between them); the quit keys each
get a console of their own.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.console.keymap import BINDINGS, binding_help, key_label
from qtui.sqlite_queue import SQLiteQueue

from .conftest import QTUI, Tmux

SCREENS = ("queues", "jobs", "dead", "workers", "plugins")

pytestmark = pytest.mark.slow

TMUX_KEYS = {" ": "Space", "esc": "Escape", "enter": "Enter", "tab": "Tab", "shift tab": "BTab",
             "page down": "NPage", "page up": "PPage", "home": "Home", "end": "End", "up": "Up", "down": "Down"}

KEYECHO_MANIFEST = """\
name = "keyecho"
version = "1.0.0"
description = "shows the last key it got"
api = "1"
permissions = ["selection.read", "commands"]

[panel]
title = "keyecho panel"

[settings.greeting]
type = "string"
default = "hello"
description = "what say prints"
"""
KEYECHO_LUA = """\
local last = "none"
local function draw()
  local lines = {"last key: " .. last}
  for i = 1, 40 do lines[#lines + 1] = "line " .. i end
  qtui.render(lines)
end
function activate() qtui.subscribe("key"); qtui.command("say", "say the greeting in the panel"); draw() end
function on_event(e)
  if e.type == "key" then last = e.key elseif e.type == "command" then last = "said " .. e.args end
  draw()
end
"""


def make_world(root: Path) -> tuple[Path, dict[str, str]]:
    """A database with paged ready and dead jobs, a worker, and the keyecho plugin enabled and granted."""
    env = {
        "TERM": "xterm", "LANG": "C.UTF-8", "HOME": str(root), "PATH": "/usr/bin:/bin",
        "XDG_DATA_HOME": str(root / "data"), "XDG_STATE_HOME": str(root / "state"),
        "XDG_CONFIG_HOME": str(root / "config"), "XDG_CONFIG_DIRS": str(root / "etc"),
    }
    db = root / "keys.db"
    with SQLiteQueue.open(db, create=True) as queue:
        for n in range(1, 61):
            queue.enqueue("email", {"n": n, "note": "timeout" if n % 7 == 0 else "ok"})
        queue.enqueue("billing", {"invoice": 1})
        for n in range(55):
            queue.enqueue("billing", {"invoice": 100 + n}, max_attempts=1)
        worker = queue.worker(["billing"], worker_id="w-1")
        worker.ack(worker.reserve())
        while (job := worker.reserve(timeout=0)) is not None:
            worker.fail(job, f"card declined {job.id}")
    plugin = root / "config" / "qtui" / "plugins" / "keyecho"
    plugin.mkdir(parents=True)
    (plugin / "manifest.toml").write_text(KEYECHO_MANIFEST)
    (plugin / "init.lua").write_text(KEYECHO_LUA)
    (root / "config" / "qtui" / "plugins.toml").write_text('enabled = ["keyecho"]\n')
    subprocess.run([*QTUI, "plugin", "grant", "keyecho", "--all", "--yes"], env=env, check=True,
                   capture_output=True)
    return db, env


class Console:
    """One qtui in tmux on the keys database, with the helpers the checks share."""

    def __init__(self, tmux: Tmux, db: Path, env: dict[str, str]) -> None:
        self.tmux, self.db, self.env = tmux, db, env

    def start(self) -> None:
        self.tmux.start([*QTUI, "--db", str(self.db), "--refresh", "0"], self.env)
        self.wait("keyecho panel")

    def alive(self) -> bool:
        return "exit=" not in self.tmux.screen()

    def press(self, *keys: str) -> None:
        for key in keys:
            if key in TMUX_KEYS:
                self.tmux.keys(TMUX_KEYS[key])
            elif key.startswith("ctrl "):
                self.tmux.keys("C-" + key[5:])
            else:
                self.tmux.type(key)

    def command(self, line: str) -> None:
        self.press(":")
        self.wait(lambda s: s.splitlines()[-1].startswith(":"))
        self.tmux.type(line)
        self.press("enter")

    def wait(self, check: Callable[[str], bool] | str, timeout: float = 20) -> str:
        return self.tmux.wait_for(check, timeout)

    @staticmethod
    def rows(screen: str) -> list[str]:
        """The main view's rows: below the column header, above the plugin dock and the status bar."""
        lines = screen.splitlines()[3:-2]
        end = next((i for i, line in enumerate(lines) if not line.strip() or "keyecho panel" in line), len(lines))
        return lines[:end]

    def screen(self, name: str) -> None:
        """Switch to a main screen by its number key."""
        marker = {"queues": "QUEUE", "jobs": "PAYLOAD", "dead": "LAST ERROR", "workers": "WORKER",
                  "plugins": "PLUGIN"}[name]
        self.press(str(SCREENS.index(name) + 1))
        self.wait(lambda s: marker in s.splitlines()[2])

    def reset(self) -> None:
        """Back to the Queues screen with nothing open, filtered or focused."""

        def at_rest(screen: str) -> bool:
            lines = screen.splitlines()
            return ("QUEUE" in lines[2] and "filter" not in lines[1] and "keys go to" not in screen
                    and not lines[-1].startswith(":"))

        self.press("esc", "1")  # Esc closes a dialog, the command line, a search, a panel's focus
        try:
            self.wait(at_rest, timeout=2)
        except AssertionError:
            self.press("esc", "esc", "1", "esc")  # and the rest: a filter, a view over another
            self.wait(at_rest)

    def jobs(self, queue: str = "email") -> None:
        self.command("state ready")
        self.command(f"queue {queue}")
        self.command("filter")
        self.wait(lambda s: f"queue {queue} · state ready" in s and re.search(r"^\d+ ", s.splitlines()[3]))

    def dead(self) -> None:
        self.press("3")
        self.wait("LAST ERROR")
        self.command("queue all")
        self.command("filter")
        self.wait(lambda s: "queue all" in s.splitlines()[1] and "filter" not in s.splitlines()[1]
                  and "card declined" in s)

    def detail(self, dead: bool = False) -> str:
        """Open a job (a dead one with `dead`); returns its id."""
        self.dead() if dead else self.jobs()
        self.press("enter")
        screen = self.wait(lambda s: re.search(r" job (\d+) ", s.splitlines()[1]))
        return re.search(r" job (\d+) ", screen.splitlines()[1]).group(1)

    def opened_job(self) -> int:
        """Enter on the row under the cursor: the id of the job it opens."""
        self.press("enter")
        screen = self.wait(lambda s: re.search(r" job (\d+) ", s.splitlines()[1]))
        return int(re.search(r" job (\d+) ", screen.splitlines()[1]).group(1))

    def plugin_row(self, name: str) -> None:
        self.press("5")
        self.wait(lambda s: "PLUGIN" in s and name in s)
        self.command(f"search {name}")

    def enter(self, context: str) -> None:
        """Open keyecho full screen ("plugin") or give its docked panel the focus ("panel")."""
        if context == "plugin":
            self.command("plugin open keyecho")
            self.wait("keys go to the plugin")
        elif context == "panel":
            self.press("tab")
            self.wait("keys go to keyecho")

    def decline(self, question: str) -> None:
        self.wait(question)
        self.press("n")
        self.wait("cancelled")

    def copied(self) -> str:
        return (Path(self.env["XDG_STATE_HOME"]) / "qtui" / "copied.txt").read_text()


# -- the checks, by command line (and place, where it matters) -------------------------------------


def check_help(c: Console, key: str, _context: str) -> None:
    c.press(key)
    c.wait(lambda s: "KEYS" in s and s.splitlines()[1].startswith(" help"))


def check_prompt(c: Console, key: str, context: str) -> None:
    c.enter(context)
    c.press(key)
    c.wait(lambda s: s.splitlines()[-1].startswith(":"))
    c.tmux.type("view workers")
    c.press("enter")
    c.wait(lambda s: "WORKER" in s.splitlines()[2])


def check_back(c: Console, key: str, context: str) -> None:
    if context == "plugin":
        c.enter(context)
        c.press(key)
        c.wait(lambda s: "QUEUE" in s.splitlines()[2])
        return
    c.detail()
    c.press(key)
    c.wait(lambda s: "state ready" in s.splitlines()[1] and "PAYLOAD" in s)


def check_view(c: Console, key: str, context: str, name: str) -> None:
    if name == "dead" and context == "queues":
        c.command("search email")
        c.press(key)
        c.wait(lambda s: "queue email" in s.splitlines()[1] and "LAST ERROR" in s)
        return
    marker = {"queues": "QUEUE", "jobs": "PAYLOAD", "dead": "LAST ERROR", "workers": "WORKER",
              "plugins": "PLUGIN"}[name]
    c.command("view workers" if name == "queues" else "view queues")
    c.press(key)
    c.wait(lambda s: marker in s.splitlines()[2])


def check_focus(c: Console, key: str, context: str) -> None:
    if context == "panel":
        c.enter(context)
        c.press(key)  # one panel: the next and the previous are the main view
        c.wait(lambda s: "keys go to" not in s and "queue" in s.splitlines()[1])
        return
    c.press(key)
    c.wait(lambda s: "keys go to keyecho" in s.splitlines()[1])
    c.press("x")
    c.wait("last key: x")  # the key went to the plugin


def _panel_lines(c: Console) -> int:
    return len(re.findall(r"^line \d+", c.tmux.screen(), re.M))


def check_dock(c: Console, key: str, _context: str, how: str) -> None:
    before = _panel_lines(c)
    c.press(key)
    c.wait(lambda s: (len(re.findall(r"^line \d+", s, re.M)) > before) == (how == "grow"))
    c.press("-" if how == "grow" else "+")


def check_refresh(c: Console, key: str, _context: str) -> None:
    with SQLiteQueue.open(c.db) as queue:
        queue.enqueue("refreshed", {})
    c.press(key)
    c.wait(lambda s: any(line.startswith("refreshed ") for line in s.splitlines()))


def check_cancel(c: Console, key: str, _context: str) -> None:
    # With nothing running it says so; stopping a requeue after its chunk in flight is
    # checked on a slowed Redis in test_operations_tmux (a SQLite requeue here is one chunk).
    c.press(key)
    c.wait("no operation is running")


def check_find(c: Console, key: str, _context: str) -> None:
    c.press(key)
    c.wait(lambda s: s.splitlines()[-1] == ":find")
    c.tmux.type("3")
    c.press("enter")
    c.wait(lambda s: " job 3 " in s.splitlines()[1] and '"n": 3' in s)


def check_match(c: Console, key: str, _context: str, direction: str) -> None:
    c.jobs()
    c.press("/")
    c.tmux.type("timeout")
    c.press("enter")
    c.wait(lambda s: "filter 'timeout'" in s)
    c.press("g", key)
    assert c.opened_job() == (14 if direction == "next" else 56)  # timeouts: 7, 14, ..., 56


def _first_panel_line(screen: str) -> int:
    """The number of the first "line N" shown (0 while "last key" is still shown)."""
    found = re.search(r"^(last key|line (\d+))", screen, re.M)
    return int(found.group(2)) if found and found.group(2) else 0


MOVES = {"down": ("g", 2), "up": ("G", 49), "top": ("G", 1), "bottom": ("g", 50)}


def check_move(c: Console, key: str, context: str, where: str) -> None:
    if context == "plugin":
        c.enter(context)
        if where == "page-up":
            c.press("page down")
            c.wait(lambda s: "last key" not in s)
        top = _first_panel_line(c.tmux.screen())
        c.press(key)
        c.wait(lambda s: (_first_panel_line(s) > top) == (where == "page-down"))
        return
    c.jobs()
    if where in MOVES:
        start, expected = MOVES[where]
        c.press(start, key)
        assert c.opened_job() == expected
    else:
        c.press("g" if where == "page-down" else "G", key)
        job = c.opened_job()
        assert job > 10 if where == "page-down" else job < 40


def check_open(c: Console, key: str, context: str) -> None:
    c.command("state ready")
    c.press("1")
    c.command("search email")
    c.press(key)
    c.wait(lambda s: "queue email · state ready" in s)
    if context == "queues":
        return  # p peeks at a queue; only Enter opens jobs too
    c.press(key)
    c.wait(lambda s: re.search(r" job \d+ ", s.splitlines()[1]) and "payload" in s)


NEEDLES = {"queues": "bill", "jobs": "timeout", "dead": "declined 9", "workers": "w-1", "plugins": "keyecho"}


def _open(c: Console, screen: str) -> None:
    if screen == "jobs":
        c.jobs()
    elif screen == "dead":
        c.dead()
    else:
        c.screen(screen)


def check_filter(c: Console, key: str, context: str) -> None:
    _open(c, context)
    needle = NEEDLES[context]
    c.press(key)
    c.wait(lambda s: s.splitlines()[-1] == ":filter")
    c.tmux.type(needle)
    c.press("enter")
    # a job list's rows come from the backend after the filter line shows: wait for them
    c.wait(lambda s: f"filter '{needle}'" in s and (rows := c.rows(s)) and all(needle in row for row in rows))


def check_sort(c: Console, key: str, context: str) -> None:
    _open(c, context)
    title = re.sub("[↑↓]", "", c.tmux.screen().splitlines()[2].split()[0])
    c.press(key)
    c.wait("sort by: press the letter")
    c.press(title[0].lower())
    c.wait(lambda s: f"sorted by {title}" in s.splitlines()[1])


def check_search(c: Console, key: str, context: str) -> None:
    if context == "help":
        c.press("?")
        c.wait("KEYS")
        needle = "Uninstall"
    else:
        c.detail()
        needle = "payload"
    c.press(key)
    c.wait(lambda s: s.splitlines()[-1] == ":search")
    c.tmux.type(needle)
    c.press("enter")
    c.wait(lambda s: f"search '{needle}' (n/N)" in s and needle in "\n".join(s.splitlines()[2:]))


def check_copy(c: Console, key: str, context: str, what: str) -> None:
    if context == "detail":
        c.detail()
    elif context == "dead":
        c.dead()
    else:
        c.jobs()
    c.press(key)
    screen = c.wait(lambda s: f"'s {what} to ~/" in s)
    job_id = re.search(r"copied job (\d+)'s", screen).group(1)
    backend = open_backend(c.db, clock=time.time, read_only=True)
    job = backend.job(job_id)
    backend.close()
    assert c.copied() == (job.id if what == "id" else job.payload)


def check_enqueue(c: Console, key: str, context: str) -> None:
    if context == "jobs":
        c.jobs()
    c.press(key)
    c.wait(lambda s: s.splitlines()[-1] == ":enqueue")
    c.tmux.type('keyed {"by": "e"}')
    c.press("enter")
    c.wait("enqueued job")


def check_next_state(c: Console, key: str, _context: str) -> None:
    c.jobs()
    c.press(key)
    c.wait("state scheduled")


def check_page(c: Console, key: str, context: str, direction: str) -> None:
    c.jobs() if context == "jobs" else c.dead()
    if direction == "prev":
        c.press("]")
        c.wait("page 2")
    c.press(key)
    c.wait(f"page {2 if direction == 'next' else 1}")


def check_mark(c: Console, key: str, _context: str) -> None:
    c.dead()
    c.press(key)
    c.wait(lambda s: "1 marked" in s.splitlines()[-2] and "✔" in s)
    c.press("u")


def check_mark_all(c: Console, key: str, _context: str) -> None:
    c.dead()
    c.press(key)
    c.wait(lambda s: "50 marked" in s.splitlines()[-2])
    c.press("u")


def check_unmark_all(c: Console, key: str, _context: str) -> None:
    c.dead()
    c.press("a")
    c.wait("50 marked")
    c.press(key)
    c.wait(lambda s: "50 marked" not in s.splitlines()[-2])


def check_destructive(question: str, dead: bool = True) -> Callable[[Console, str, str], None]:
    def check(c: Console, key: str, context: str) -> None:
        if context == "detail":
            c.detail(dead=True)
        elif context == "dead" or dead:
            c.dead()
        else:
            c.command("search email")
        c.press(key)
        c.decline(question)
    return check


def check_plugin(c: Console, key: str, _context: str, action: str) -> None:
    if action == "enable":
        c.command("plugin disable keyecho")
        c.wait(lambda s: "keyecho panel" not in s)
    if action == "reload":
        c.press("tab", "z", "esc")
        c.wait("last key: z")
    c.plugin_row("throughput" if action == "install" else "keyecho")
    c.press(key)
    match action:
        case "enable":
            c.wait(lambda s: "keyecho panel" in s and "running" in s)
        case "disable":
            c.wait(lambda s: "keyecho panel" not in s)
            c.command("plugin enable keyecho")
            c.wait("keyecho panel")
        case "reload":
            c.wait("last key: none")
        case "allow":
            c.wait("Permissions: keyecho")
            c.press("esc")
        case "settings":
            c.wait("Settings: keyecho")
            c.press("esc")
        case "log":
            c.wait("log of keyecho")
        case "install":
            c.decline("Install throughput")
        case "uninstall":
            c.decline("Uninstall keyecho 1.0.0?")


CHECKS: dict[str, Callable[[Console, str, str], None]] = {
    "help": check_help,
    "prompt": check_prompt,
    "back": check_back,
    **{f"view {name}": (lambda c, k, ctx, name=name: check_view(c, k, ctx, name))
       for name in ("queues", "jobs", "dead", "workers", "plugins")},
    "focus next": check_focus,
    "focus prev": check_focus,
    "focus main": lambda c, k, ctx: check_focus(c, k, "panel"),
    "dock grow": lambda c, k, ctx: check_dock(c, k, ctx, "grow"),
    "dock shrink": lambda c, k, ctx: check_dock(c, k, ctx, "shrink"),
    "refresh": check_refresh,
    "cancel": check_cancel,
    "prompt find": check_find,
    "match next": lambda c, k, ctx: check_match(c, k, ctx, "next"),
    "match prev": lambda c, k, ctx: check_match(c, k, ctx, "prev"),
    **{f"move {where}": (lambda c, k, ctx, where=where: check_move(c, k, ctx, where))
       for where in ("down", "up", "top", "bottom", "page-down", "page-up")},
    "open": check_open,
    "prompt filter": check_filter,
    "sort": check_sort,
    "prompt search": check_search,
    "copy id": lambda c, k, ctx: check_copy(c, k, ctx, "id"),
    "copy payload": lambda c, k, ctx: check_copy(c, k, ctx, "payload"),
    "prompt enqueue": check_enqueue,
    "purge-selected ready": check_destructive("Delete all ready jobs on queue email?", dead=False),
    "next-state": check_next_state,
    "page next": lambda c, k, ctx: check_page(c, k, ctx, "next"),
    "page prev": lambda c, k, ctx: check_page(c, k, ctx, "prev"),
    "mark": check_mark,
    "mark-all": check_mark_all,
    "unmark-all": check_unmark_all,
    "requeue": check_destructive("Requeue 1 dead job to their own queues?"),
    "requeue-all": check_destructive("Requeue ALL dead jobs on every queue"),
    "delete": check_destructive("Delete 1 dead job? This cannot be undone."),
    "purge-selected dead": check_destructive("Delete all dead jobs on EVERY queue?"),
    **{f"plugin {action}": (lambda c, k, ctx, action=action: check_plugin(c, k, ctx, action))
       for action in ("enable", "disable", "reload", "allow", "settings", "log", "install", "uninstall")},
}

#: Keys that end the console: each is pressed in a console of its own.
QUITTING = ("quit",)

CASES = [(binding, context) for binding in BINDINGS for context in binding.contexts]


def _case_id(case: tuple) -> str:
    binding, context = case
    return f"{context}:{key_label(binding.key)}:{binding.command.replace(' ', '_')}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return make_world(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def shared(system_tool, world, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    console = Console(Tmux(system_tool("tmux", "tmux"), tmp_path_factory.mktemp("tmux")), *world)
    console.start()
    yield console
    console.tmux.kill()


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_every_key_in_help_does_what_its_line_says(case, shared: Console, world, system_tool, tmp_path) -> None:
    binding, context = case
    assert binding_help(binding), "a key without a help line"
    if binding.command in QUITTING:
        check_quit(Console(Tmux(system_tool("tmux", "tmux"), tmp_path), *world), binding.key, context)
        return
    check = CHECKS.get(binding.command)
    assert check is not None, f"no end-to-end check for {key_label(binding.key)} ({binding.command}) {context}"
    if not shared.alive():
        shared.tmux.kill()
        shared.start()
    shared.reset()
    check(shared, binding.key, context)


def check_quit(c: Console, key: str, context: str) -> None:
    c.start()
    if context == "global":
        c.press("3")
        c.wait("LAST ERROR")
    c.enter(context)
    c.press(key)
    screen = c.wait(lambda s: "exit=" in s and "icanon" in s)
    modes = screen.split("exit=")[1].split()
    c.tmux.kill()
    assert modes[0] == "0" and "icanon" in modes and "echo" in modes, screen
