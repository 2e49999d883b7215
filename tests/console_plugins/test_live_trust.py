"""Trust in a running console: decisions and policy edits apply at once, dialogs cannot be typed through,
destructive approvals take two steps, and changed code is shown before it is approved."""

from __future__ import annotations

from pathlib import Path

import trio

from qtui.cli.main import main
from qtui.model import JobState
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime.host import PluginState
from qtui.plugins.trust.audit import AuditFilter, Outcome
from qtui.plugins.trust.permissions import Verdict
from tests.support import panel_lines, wait_until
from tests.support import wait_panel as wait_host_panel

# Purges the dead jobs of the queue named on its command line, and shows the answer.
PURGER = """
    function activate() qtui.command("purge", "purge the dead jobs of a queue") end
    function on_event(e)
      if e.type == "command" then qtui.jobs.purge(e.args, "dead") end
      if e.type == "action" then qtui.render({e.ok and ("purged " .. e.result.count) or e.error}) end
    end
"""


def cli(*argv: str) -> int:
    return main(list(argv))


def panel(d, name: str) -> list[str]:
    return panel_lines(d.control.host.plugins[name])


async def wait_panel(d, name: str, needle: str) -> list[str]:
    return await wait_host_panel(d.control.host, name, needle)


async def prompted(d, name: str, lua: str, permissions: list[str]) -> Path:
    """Write plugin `name` and enable it: its permission dialog is on screen."""
    folder = d.write_plugin(name, lua, permissions)
    d.console.execute(f"plugin enable {name}")
    await d.wait_for(f"Permissions: {name}")
    return folder


async def enabled(d, name: str, lua: str, permissions: list[str], running: str | None = None) -> None:
    """Write plugin `name`, enable it and approve all it asks (the last, changing queues, in two steps)."""
    await prompted(d, name, lua, permissions)
    await d.answer("a", "j", " ", "y", "enter")
    if running is not None:
        await wait_panel(d, name, running)


def reports(d) -> int:
    return next((q.count(JobState.READY) for q in d.console.backend.stats() if q.name == "reports"), 0)


def refused_enqueues(d) -> list:
    """The audit entries of the enqueuer's refused calls."""
    where = AuditFilter(plugin="enqueuer", capability="jobs.enqueue", outcome=Outcome.REFUSED)
    return list(d.control.host.audit.read(where=where).entries)


async def test_a_revoke_from_another_shell_refuses_the_next_call_and_the_console_says_so(
    make_console, enqueuer_lua
) -> None:
    d = await make_console()
    await enabled(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"], running="sent 3")
    assert cli("plugin", "revoke", "enqueuer", "jobs.enqueue") == 0
    await d.wait_for("enqueuer: jobs.enqueue denied (changed on disk)")
    lines = await wait_panel(d, "enqueuer", "refused: capability jobs.enqueue is denied")
    sent, jobs = int(lines[0].split()[1]), reports(d)
    assert jobs <= sent  # a call made just before may be refused as it is carried out
    refusals = len(refused_enqueues(d))
    await wait_until(lambda: len(refused_enqueues(d)) >= refusals + 3, "three more refused calls")  # it keeps trying
    assert int(panel(d, "enqueuer")[0].split()[1]) == sent and reports(d) == jobs
    assert d.control.host.plugins["enqueuer"].state is PluginState.RUNNING


async def test_a_forbid_added_to_the_site_policy_applies_at_once(make_console, tmp_path: Path, enqueuer_lua) -> None:
    d = await make_console()
    await enabled(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"], running="sent 2")
    policy = tmp_path / "etc" / "qtui" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('[plugins.enqueuer]\nforbid = ["jobs.enqueue"]\n')
    await d.wait_for("enqueuer: jobs.enqueue forbidden (changed on disk)")
    await wait_panel(d, "enqueuer", "jobs.enqueue is forbidden (forbidden by the site policy")
    policy.write_text("")  # lifted again: allowed from the next call
    await d.wait_for("enqueuer: jobs.enqueue granted (changed on disk)")
    before = reports(d)
    await wait_until(lambda: reports(d) > before, "a job enqueued again")


async def test_an_unreadable_permissions_file_refuses_everything_until_it_is_fixed(
    make_console, tmp_path, enqueuer_lua
) -> None:
    d = await make_console()
    await enabled(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"], running="sent 1")
    path = tmp_path / "config" / "qtui" / "permissions.toml"
    good = path.read_text()
    path.write_text(good + "\n[[plugins.enqueuer]]\n")
    line = len(good.splitlines()) + 2
    await d.wait_for(f"permissions.toml:{line} is invalid, every plugin capability is refused")
    handle = d.control.host.plugins["enqueuer"]
    assert all(e.verdict is Verdict.UNDECIDED for e in handle.grants.all())
    sent = reports(d)
    await trio.sleep(0.5)  # its timer events are held back: it does nothing
    assert reports(d) == sent
    path.write_text(good)
    await d.wait_for("enqueuer: timers granted, jobs.enqueue granted (changed on disk)")
    await wait_until(lambda: reports(d) > sent, "a job enqueued again")


async def test_a_revoke_withdraws_a_confirmation_the_operator_has_not_answered(make_console) -> None:
    d = await make_console()
    await enabled(d, "purger", PURGER, ["commands", "jobs.purge"])
    await d.wait_for(lambda t: d.control.host.plugins["purger"].state is PluginState.RUNNING)
    d.console.execute("purger.purge email")
    await d.wait_for("Plugin purger 1.0.0 wants to:")
    assert cli("plugin", "revoke", "purger", "jobs.purge") == 0
    await d.wait_for(lambda t: "wants to:" not in t)
    await wait_panel(d, "purger", "refused: jobs.purge was withdrawn while the operator was asked")
    assert d.console.backend.stats()[0].count(JobState.DEAD) == 1
    entries = d.control.host.audit.read(plugin="purger").entries
    assert (entries[-1].outcome, entries[-1].reason) == ("refused", "withdrawn")


async def test_a_grant_from_another_shell_starts_a_waiting_plugin_and_closes_its_dialog(
    make_console, enqueuer_lua
) -> None:
    d = await make_console()
    await prompted(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    assert cli("plugin", "grant", "enqueuer", "--all", "--yes") == 0
    await d.wait_for("its permissions changed meanwhile")
    assert "Permissions: enqueuer" not in d.text()
    await wait_panel(d, "enqueuer", "sent 1")


async def test_keys_typed_before_the_dialog_showed_do_not_answer_it(make_console, enqueuer_lua) -> None:
    d = await make_console()
    d.write_plugin("enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    d.console.execute("plugin enable enqueuer")
    await d.wait_for(lambda t: d.console.dialog_open)
    d.press("a", "enter")  # typed ahead, before the dialog was drawn
    text = d.text()  # drawn now
    d.press("a", "enter")  # and at once after: still too early
    assert "Permissions: enqueuer" in text and "keys wait a moment" in text
    await d.answer("esc")
    await d.wait_for("enqueuer waits for your decision")
    handle = d.control.host.plugins["enqueuer"]
    assert handle.state is PluginState.WAITING
    assert all(e.verdict is Verdict.UNDECIDED for e in handle.grants.all())


async def test_approving_a_capability_that_changes_queues_takes_a_second_step(
    make_console, enqueuer_lua
) -> None:
    d = await make_console()
    await prompted(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    await d.answer("a")
    text = await d.wait_for("jobs.enqueue change queues: approve each with space, then y")
    assert "[x] timers" in text and "[ ] jobs.enqueue" in text
    d.press("j", " ")
    text = await d.wait_for("Approve jobs.enqueue: it may add new jobs to queues. Press y")
    assert "[ ] jobs.enqueue" in text
    d.press("enter")  # not y: the second step is not taken, and Enter did not save
    text = await d.wait_for("jobs.enqueue left unapproved")
    assert "[ ] jobs.enqueue" in text and "Permissions: enqueuer" in text
    d.press(" ", "y")
    text = await d.wait_for("[x] jobs.enqueue")
    d.press("enter")
    await wait_panel(d, "enqueuer", "sent 1")
    assert d.control.host.plugins["enqueuer"].grants.check(Capability.JOBS_ENQUEUE).allowed


async def test_changed_code_asks_again_with_nothing_approved_and_shows_the_diff(
    make_console, enqueuer_lua
) -> None:
    d = await make_console()
    folder = await prompted(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    await d.answer("a", "j", " ", "y", "enter")
    await wait_panel(d, "enqueuer", "sent 1")
    source = (folder / "init.lua").read_text()
    changed = source.replace('qtui.jobs.enqueue, "reports"', 'qtui.jobs.enqueue, "payments"')
    text = await d.save_until(folder / "init.lua", changed, "Its code changed")
    assert "Changed since the code you granted: init.lua (changed, +1 -1)" in text
    assert "jobs.enqueue: init.lua:5:" in text  # the changed line that uses a capability
    assert "[ ] timers" in text and "[ ] jobs.enqueue" in text  # nothing pre-approved
    await d.answer("v")
    text = await d.wait_for('+    local ok, err = pcall(qtui.jobs.enqueue, "payments"')
    assert '-    local ok, err = pcall(qtui.jobs.enqueue, "reports"' in text
    d.press("v", "enter")  # Enter saves: nothing approved means everything denied
    await d.wait_for(lambda t: d.control.host.plugins["enqueuer"].grants.check(Capability.JOBS_ENQUEUE).verdict
                     is Verdict.DENIED)


async def test_the_dialog_shows_the_bounds_a_grant_will_have(make_console, tmp_path: Path, enqueuer_lua) -> None:
    policy = tmp_path / "etc" / "qtui" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('[scopes."jobs.enqueue"]\nrate = "100/h"\n')
    d = await make_console()
    folder = d.write_plugin("enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"])
    assert cli("plugin", "grant", "enqueuer", "timers") == 0
    assert cli("plugin", "grant", "enqueuer", "jobs.enqueue", "--queues", "reports", "--rate", "20/m",
               "--yes") == 0
    (folder / "init.lua").write_text(enqueuer_lua + "-- changed\n")  # new code: the grant goes, its bounds stay
    d.console.execute("plugin enable enqueuer")
    text = await d.wait_for("Its code changed")
    assert "[ ] jobs.enqueue" in text
    assert "scope: queues reports, at most 20 jobs per minute (your grant)" in text
    assert "scope: at most 100 jobs per hour (site policy)" in text


async def test_a_failure_applying_changed_decisions_is_shown_and_the_watch_goes_on(
    make_console, enqueuer_lua, monkeypatch
) -> None:
    d = await make_console()
    await enabled(d, "enqueuer", enqueuer_lua, ["timers", "jobs.enqueue"], running="sent 1")
    host = d.control.host
    refresh = host.refresh_grants

    def broken(handle):
        raise RuntimeError("the host could not apply it")

    monkeypatch.setattr(host, "refresh_grants", broken)
    assert cli("plugin", "revoke", "enqueuer", "jobs.enqueue") == 0
    await d.wait_for("plugin: the host could not apply it")
    monkeypatch.setattr(host, "refresh_grants", refresh)
    assert cli("plugin", "revoke", "enqueuer", "timers") == 0  # still watched: both apply now
    await d.wait_for("enqueuer: timers denied, jobs.enqueue denied (changed on disk)")
