"""Trust in the real console at 80x24 through tmux: live revokes and policy edits, dialogs that cannot be
typed through, two-step destructive grants, the code diff, and scoped grants, audited."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from qtui.backends import open_backend
from qtui.clock import SYSTEM_CLOCK
from qtui.model import JobState
from qtui.sqlite_queue import SQLiteQueue

from tests.support import wait_until_sync, write_plugin_folder

from .conftest import QTUI, answer, command

pytestmark = pytest.mark.slow

REQUEUER = """\
function activate() qtui.command("requeue", "requeue the dead jobs of a queue") end
function on_event(e)
  if e.type == "command" then qtui.jobs.requeue{queue = e.args}
  elseif e.type == "action" then qtui.render({e.ok and ("requeued " .. e.result.count) or e.error}) end
end
"""


class Setup:
    """A user's plugins, database and environment for one console under test."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = {**env, "XDG_CONFIG_DIRS": str(tmp_path / "etc")}
        self.config = Path(env["XDG_CONFIG_HOME"]) / "qtui"
        self.db = tmp_path / "queue.db"
        with SQLiteQueue.open(self.db, create=True) as q:
            q.enqueue("email", {"n": 0})

    def plugin(self, name: str, lua: str, permissions: list[str], *, enabled: bool = True) -> Path:
        panel = f'\n[panel]\ntitle = "{name}"\nrows = 3\n'
        folder = write_plugin_folder(self.config / "plugins" / name, name, lua, permissions, extra=panel)
        if enabled:
            (self.config / "plugins.toml").write_text(f'enabled = ["{name}"]\n')
        return folder

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*QTUI, *argv], env=self.env, capture_output=True, text=True, check=False,
                              timeout=60)

    def verdicts(self, name: str) -> dict[str, str]:
        result = self.cli("plugin", "info", name, "--json")
        assert result.returncode == 0, result.stderr
        return {c["name"]: c["verdict"] for c in json.loads(result.stdout)["capabilities"]}

    def kill(self, queue: str, count: int) -> None:
        with SQLiteQueue.open(self.db) as q:
            for n in range(count):
                q.enqueue(queue, {"n": n}, max_attempts=1)
            worker = q.worker([queue], worker_id="killer")
            for _ in range(count):
                worker.fail(worker.reserve(), "boom")

    def refusals(self, name: str) -> int:
        """How many of the plugin's uses of jobs.enqueue the audit log records as refused."""
        result = self.cli("plugin", "info", name, "--json", "--audit", "1000", "--capability", "jobs.enqueue",
                          "--outcome", "refused")
        assert result.returncode == 0, result.stderr
        return len(json.loads(result.stdout)["audit"])

    def count(self, queue: str, state: JobState) -> int:
        backend = open_backend(self.db, clock=SYSTEM_CLOCK.time)
        try:
            return next((s.count(state) for s in backend.stats() if s.name == queue), 0)
        finally:
            backend.close()

    def start(self, tmux) -> None:
        tmux.start([*QTUI, "--db", str(self.db), "--refresh", "0.5"], self.env)


@pytest.fixture
def setup(tmp_path: Path, qtui_env: dict[str, str]) -> Setup:
    return Setup(tmp_path, qtui_env)


def flat(screen: str) -> str:
    """The screen's words in one line, so text wrapped in a narrow panel still matches."""
    return " ".join(screen.split())


def test_a_revoke_and_a_policy_edit_stop_a_plugin_that_is_acting(
    tmux, setup: Setup, enqueuer_lua: str
) -> None:
    setup.plugin("enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    assert setup.cli("plugin", "grant", "enqueuer", "--all").returncode == 0
    setup.start(tmux)
    tmux.wait_for("sent 3")

    assert setup.cli("plugin", "revoke", "enqueuer", "jobs.enqueue").returncode == 0
    tmux.wait_for("enqueuer: jobs.enqueue denied (changed on disk)")
    screen = tmux.wait_for(lambda s: "refused: capability jobs.enqueue is denied" in flat(s))
    sent = int(screen.split("sent ", 1)[1].split()[0])
    jobs = setup.count("reports", JobState.READY)
    assert jobs <= sent  # a call made just before may be refused as it is carried out
    refused = setup.refusals("enqueuer")
    wait_until_sync(lambda: setup.refusals("enqueuer") >= refused + 3, "three more refused calls")  # it keeps trying
    assert setup.count("reports", JobState.READY) == jobs and f"sent {sent}" in tmux.screen()

    assert setup.cli("plugin", "grant", "enqueuer", "jobs.enqueue").returncode == 0
    tmux.wait_for("enqueuer: jobs.enqueue granted (changed on disk)")
    tmux.wait_for(f"sent {sent + 2}")
    policy = setup.tmp_path / "etc" / "qtui" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('forbid = ["jobs.enqueue"]\n')
    tmux.wait_for("enqueuer: jobs.enqueue forbidden (changed on disk)")
    tmux.wait_for("qtui.jobs.enqueue: refused: capability jobs.enqueue is forbidden")


def test_keys_typed_ahead_at_start_up_grant_nothing(tmux, setup: Setup, enqueuer_lua: str) -> None:
    setup.plugin("enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    setup.start(tmux)
    # typed at once, as an operator starting to work would: before and while the dialog shows
    tmux.type("/data")
    tmux.keys("Enter", "a", "Enter", "y", "Enter")
    screen = tmux.wait_for("Permissions: enqueuer 1.0.0")
    tmux.keys("a", "Enter")
    screen = tmux.wait_for("Enter save")  # it takes keys only now
    assert "Permissions: enqueuer" in screen and "[ ] timers" in screen and "[ ] jobs.enqueue" in screen
    assert setup.verdicts("enqueuer") == {"timers": "undecided", "jobs.enqueue": "undecided"}
    assert setup.count("reports", JobState.READY) == 0


def test_approving_a_destructive_capability_takes_two_steps(tmux, setup: Setup) -> None:
    setup.plugin("requeuer", REQUEUER, ["commands", "jobs.requeue"])
    setup.start(tmux)
    tmux.wait_for("Permissions: requeuer")
    answer(tmux, "a")
    tmux.wait_for("jobs.requeue change queues: approve each with space, then y")
    tmux.keys("j", " ")
    tmux.wait_for(lambda s: "Approve jobs.requeue: it may move dead or scheduled jobs back" in flat(s))
    tmux.keys("Enter")  # not y: no approval, and the dialog stays
    screen = tmux.wait_for("jobs.requeue left unapproved")
    assert "[x] commands" in screen and "[ ] jobs.requeue" in screen
    tmux.keys(" ", "y")
    tmux.wait_for("[x] jobs.requeue")
    tmux.keys("Enter")
    tmux.wait_for("requeuer: granted 2")
    assert setup.verdicts("requeuer") == {"commands": "granted", "jobs.requeue": "granted"}


def test_a_one_line_code_change_shows_the_diff_before_asking_again(
    tmux, setup: Setup, enqueuer_lua: str
) -> None:
    folder = setup.plugin("enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    assert setup.cli("plugin", "grant", "enqueuer", "--all").returncode == 0  # keeps a copy of this code
    setup.start(tmux)
    tmux.wait_for("sent 1")
    (folder / "init.lua").write_text(enqueuer_lua.replace('"reports"', '"payments"'))
    screen = tmux.wait_for("Its code changed")
    assert "Changed since the code you granted: init.lua (changed, +1 -1)" in screen
    assert "jobs.enqueue: init.lua:5: local ok, err = pcall(qtui.jobs.enqueue" in screen
    assert "[ ] timers" in screen and "[ ] jobs.enqueue" in screen  # nothing carries over
    answer(tmux, "v")
    screen = tmux.wait_for('+    local ok, err = pcall(qtui.jobs.enqueue, "payments", {n = sent})')
    assert '-    local ok, err = pcall(qtui.jobs.enqueue, "reports", {n = sent})' in screen
    assert "@@ " in screen and "+++ now/init.lua" in screen
    tmux.keys("v")
    tmux.wait_for("Enter save")
    tmux.keys("Escape")
    tmux.wait_for("enqueuer waits for your decision")
    assert setup.count("payments", JobState.READY) == 0


def test_a_scoped_grant_refuses_other_queues_and_uses_past_its_rate_audited(tmux, setup: Setup) -> None:
    setup.kill("webhooks", 1)
    setup.kill("email-eu", 2)
    setup.kill("email-us", 1)
    setup.plugin("requeuer", REQUEUER, ["commands", "jobs.requeue"])
    assert setup.cli("plugin", "grant", "requeuer", "commands").returncode == 0
    result = setup.cli("plugin", "grant", "requeuer", "jobs.requeue", "--queues", "email*", "--rate", "2/h", "--yes")
    assert result.returncode == 0 and "queues email*, at most 2 jobs per hour" in result.stdout
    setup.start(tmux)
    tmux.wait_for("requeuer")

    command(tmux, "requeuer.requeue webhooks")
    tmux.wait_for(lambda s: "refused: webhooks is outside the scope of jobs.requeue" in flat(s))
    command(tmux, "requeuer.requeue email-eu")
    screen = tmux.wait_for("Plugin requeuer 1.0.0 wants to:")
    assert "requeue 2 dead jobs on email-eu to their own queues" in screen
    answer(tmux, "y")
    tmux.wait_for("requeued 2")
    command(tmux, "requeuer.requeue email-us")
    tmux.wait_for("refused: jobs.requeue used 2 of its 2 jobs per hour; this request would touch 1")
    assert "Plugin requeuer 1.0.0 wants to:" not in tmux.screen()  # refused before anyone is asked
    assert (setup.count("webhooks", JobState.DEAD), setup.count("email-us", JobState.DEAD)) == (1, 1)
    assert setup.count("email-eu", JobState.READY) == 2

    result = setup.cli("plugin", "info", "requeuer", "--capability", "jobs.requeue", "--json", "--audit", "50")
    entries = json.loads(result.stdout)["audit"]
    refused = [(e["reason"], e["detail"]) for e in entries if e["outcome"] == "refused"]
    assert [r for r, _ in refused] == ["out_of_scope", "rate_limit"]
    assert refused[0][1].startswith("webhooks is outside the scope of jobs.requeue")
    assert refused[1][1].startswith("jobs.requeue used 2 of its 2 jobs per hour")
    done = [e for e in entries if e["outcome"] == "done"]
    assert [e["jobs"] for e in done] == [2]
    requests = {e["request"] for e in entries if e["outcome"] == "requested"}
    assert len(requests) == 3 and {e["request"] for e in entries if e["request"]} == requests
