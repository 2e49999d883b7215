"""`qtui plugin grant` and `qtui plugin revoke`: decisions per version and code, audited."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability as C
from qtui.plugins.trust.audit import AuditLog, Outcome
from qtui.plugins.trust.permissions import PermissionStore


class Terminal(io.StringIO):
    """Standard input typed at a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def sla(make_plugin, user_plugins: Path) -> Path:
    return make_plugin(user_plugins, "tenant-sla", version="1.2.0",
                       permissions=["stats.read", "timers", "jobs.purge", "jobs.enqueue"])


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def verdicts(run_json) -> dict[str, str]:
    return {c["name"]: c["verdict"] for c in run_json("plugin", "info", "tenant-sla")["capabilities"]}


def test_grant_then_info_shows_granted_for_this_version_and_code(run, run_json, sla: Path) -> None:
    code, out, err = run("plugin", "grant", "tenant-sla", "stats.read", "timers")
    assert (code, out, err) == (0, "tenant-sla 1.2.0: granted stats.read, timers\n", "")
    _, out, _ = run("plugin", "info", "tenant-sla")
    granted = [line.split() for line in out.splitlines() if line.startswith(("  stats.read", "  timers"))]
    assert [row[:4] for row in granted] == [
        ["stats.read", "low", "no", "granted"], ["timers", "low", "no", "granted"],
    ]
    assert verdicts(run_json) == {"stats.read": "granted", "timers": "granted", "jobs.purge": "undecided",
                                  "jobs.enqueue": "undecided"}
    (record,) = PermissionStore().records("tenant-sla")
    assert record.version == "1.2.0" and record.hash == bundle_hash(sla)

    (sla / "init.lua").write_text("return {sneaky = true}\n")  # new code asks again
    assert set(verdicts(run_json).values()) == {"undecided"}


def test_revoke_then_list_shows_denied(run, run_json, sla: Path) -> None:
    run("plugin", "grant", "tenant-sla", "stats.read", "timers")
    code, out, _ = run("plugin", "revoke", "tenant-sla", "timers", "jobs.enqueue")
    assert code == 0 and out == "tenant-sla 1.2.0: denied timers, jobs.enqueue\n"
    _, out, _ = run("plugin", "list")
    assert "1 granted, 2 denied, 1 undecided" in out
    (plugin,) = run_json("plugin", "list")["plugins"]
    assert plugin["decisions"] == {"granted": ["stats.read"], "denied": ["timers", "jobs.enqueue"],
                                   "undecided": ["jobs.purge"], "forbidden": []}


def test_every_decision_is_audited(run, sla: Path) -> None:
    run("plugin", "grant", "tenant-sla", "stats.read")
    run("plugin", "revoke", "tenant-sla", "stats.read", "timers")
    entries = AuditLog().read(plugin="tenant-sla").entries
    assert [(e.capability, e.outcome) for e in entries] == [
        ("stats.read", Outcome.GRANTED), ("stats.read", Outcome.REVOKED), ("timers", Outcome.REVOKED),
    ]
    assert all(e.version == "1.2.0" for e in entries)
    assert entries[0].detail.startswith("qtui plugin grant; code " + bundle_hash(sla)[:23])


def test_all_decides_every_requested_capability(run_json, sla: Path) -> None:
    data = run_json("plugin", "revoke", "tenant-sla", "--all")
    assert data == {"plugin": "tenant-sla", "version": "1.2.0", "code_hash": bundle_hash(sla),
                    "changed": ["stats.read", "timers", "jobs.purge", "jobs.enqueue"], "granted": [],
                    "denied": ["jobs.enqueue", "jobs.purge", "stats.read", "timers"], "scopes": {},
                    "forbidden_by_policy": []}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["notify"], "tenant-sla does not request notify; it requests: stats.read, timers, jobs.purge, "
                     "jobs.enqueue"),
        (["jobs.nuke"], "unknown capability 'jobs.nuke' (known: stats.read,"),
        ([], "say which capabilities: their names, or --all"),
        (["timers", "--all"], "give capability names or --all, not both"),
    ],
)
@pytest.mark.parametrize("verb", ["grant", "revoke"])
def test_bad_capability_lists_are_refused_with_exit_2(run, sla: Path, verb: str, argv, message) -> None:
    code, out, err = run("plugin", verb, "tenant-sla", *argv)
    assert code == 2 and out == "" and message in err
    assert PermissionStore().records("tenant-sla") == ()
    assert AuditLog().read().entries == ()


def test_a_plugin_requesting_nothing_has_nothing_to_grant(run, make_plugin, user_plugins) -> None:
    make_plugin(user_plugins, "quiet")
    code, _, err = run("plugin", "grant", "quiet", "--all")
    assert code == 2 and "quiet it requests none" in err


def test_deciding_for_an_unknown_plugin_exits_1(run, sla: Path) -> None:
    code, _, err = run("plugin", "grant", "tenant-slaa", "timers")
    assert code == 1 and "no plugin named 'tenant-slaa'" in err


def test_destructive_grant_without_a_terminal_needs_yes(run, sla: Path, no_terminal) -> None:
    code, out, err = run("plugin", "grant", "tenant-sla", "stats.read", "jobs.purge")
    assert code == 4 and out == ""
    assert "Grant destructive jobs.purge (delete jobs permanently) to tenant-sla 1.2.0?" in err
    assert "pass --yes to confirm" in err
    assert PermissionStore().records("tenant-sla") == () and AuditLog().read().entries == ()

    code, out, _ = run("plugin", "grant", "tenant-sla", "stats.read", "jobs.purge", "--yes")
    assert code == 0 and out == "tenant-sla 1.2.0: granted stats.read, jobs.purge\n"
    code, _, _ = run("plugin", "revoke", "tenant-sla", "jobs.purge")  # taking away needs no confirmation
    assert code == 0


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 4), ("\n", 4)])
def test_destructive_grant_at_a_terminal_asks(run, sla: Path, monkeypatch, answer: str, code: int) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    assert run("plugin", "grant", "tenant-sla", "jobs.purge")[0] == code
    records = PermissionStore().records("tenant-sla")
    assert (C.JOBS_PURGE in records[0].granted) if code == 0 else records == ()


def test_granting_what_the_site_policy_forbids_warns(run, run_json, sla: Path, policy) -> None:
    path = policy('forbid = ["jobs.enqueue"]\n')
    code, out, err = run("plugin", "grant", "tenant-sla", "timers", "jobs.enqueue")
    assert code == 0 and out == "tenant-sla 1.2.0: granted timers, jobs.enqueue\n"
    assert err == f"qtui: warning: jobs.enqueue stays forbidden for tenant-sla by the site policy ({path})\n"
    assert verdicts(run_json)["jobs.enqueue"] == "forbidden"
    data = run_json("plugin", "grant", "tenant-sla", "jobs.enqueue")
    assert data["forbidden_by_policy"] == ["jobs.enqueue"] and "jobs.enqueue" in data["granted"]


def test_an_unwritable_audit_log_is_an_error_after_the_decision(run, sla: Path, xdg: Path) -> None:
    state = xdg / ".local/state/qtui"
    state.parent.mkdir(parents=True)
    state.write_text("a file where the folder should be")
    code, _, err = run("plugin", "grant", "tenant-sla", "timers")
    assert code == 5 and "cannot write the audit log" in err and "the decision was recorded" in err
    assert C.TIMERS in PermissionStore().records("tenant-sla")[0].granted


REQUESTED = ["stats.read", "timers", "jobs.purge", "jobs.enqueue"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["grant", "revoke"]),
                          st.lists(st.sampled_from(REQUESTED), min_size=1, max_size=3)),
                max_size=5))
def test_the_last_decision_on_each_capability_wins(run_json, sla: Path, xdg: Path, steps) -> None:
    (xdg / ".config/qtui/permissions.toml").unlink(missing_ok=True)
    (xdg / ".local/state/qtui/audit.jsonl").unlink(missing_ok=True)
    expected = dict.fromkeys(REQUESTED, "undecided")
    for verb, names in steps:
        confirm = ["--yes"] if verb == "grant" else []
        run_json("plugin", verb, "tenant-sla", *names, *confirm)
        expected.update(dict.fromkeys(names, "granted" if verb == "grant" else "denied"))
    (plugin,) = run_json("plugin", "list")["plugins"]
    assert {name: verdict for verdict, names in plugin["decisions"].items() for name in names} == expected
    outcomes = [(e.capability, e.outcome) for e in AuditLog().read().entries]
    assert outcomes == [(name, Outcome.GRANTED if verb == "grant" else Outcome.REVOKED)
                        for verb, names in steps for name in dict.fromkeys(names)]


def test_a_grant_can_be_scoped_to_queues_and_a_rate(run, run_json, sla: Path, no_terminal) -> None:
    code, out, _ = run("plugin", "grant", "tenant-sla", "jobs.purge", "--queues", "email*,sms", "--rate", "500/h",
                       "--yes")
    assert code == 0
    assert out == "tenant-sla 1.2.0: granted jobs.purge (queues email* sms, at most 500 jobs per hour)\n"
    purge = run_json("plugin", "info", "tenant-sla")["capabilities"][2]
    assert purge["bounds"] == [{"queues": ["email*", "sms"], "rate": "500/h", "source": "your grant"}]
    _, out, _ = run("plugin", "info", "tenant-sla")
    assert "queues email* sms, at most 500 jobs per hour (your grant)" in out
    _, out, _ = run("plugin", "list")
    assert "jobs.purge: email* sms 500/h" in out.splitlines()[1]
    assert run_json("plugin", "list")["plugins"][0]["scopes"] == {
        "jobs.purge": [{"queues": ["email*", "sms"], "rate": "500/h", "source": "your grant"}]}
    (entry,) = [e for e in AuditLog().read().entries if e.capability == "jobs.purge"]
    assert entry.detail.endswith("; queues email* sms, at most 500 jobs per hour")

    # each part changes on its own; '*' and 'none' lift them
    data = run_json("plugin", "grant", "tenant-sla", "jobs.purge", "--rate", "none", "--yes")
    assert data["scopes"] == {"jobs.purge": {"queues": ["email*", "sms"], "rate": None}}
    data = run_json("plugin", "grant", "tenant-sla", "jobs.purge", "--queues", "*", "--yes")
    assert data["scopes"] == {}
    assert verdicts(run_json)["jobs.purge"] == "granted"


def test_only_capabilities_on_jobs_can_be_scoped(run, sla: Path, capsys) -> None:
    code, _, err = run("plugin", "grant", "tenant-sla", "stats.read", "--queues", "email")
    assert code == 2 and "stats.read cannot be scoped (only jobs.peek, jobs.enqueue, jobs.requeue, jobs.purge)" in err
    for option, value in (("--rate", "500 an hour"), ("--queues", "e mail")):
        with pytest.raises(SystemExit) as exit_info:
            run("plugin", "grant", "tenant-sla", "jobs.enqueue", option, value)
        assert exit_info.value.code == 2 and value in capsys.readouterr().err
