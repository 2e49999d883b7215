"""`qtui plugin list` and `qtui plugin info` on plugin folders written into tmp_path."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import pytest

from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.trust.audit import AuditLog, Outcome


def test_nothing_installed_says_where_it_looked(run, run_json, user_plugins: Path) -> None:
    code, out, _ = run("plugin", "list")
    assert code == 0
    assert out.startswith("no plugins found") and str(user_plugins) in out
    assert run_json("plugin", "list") == {"plugins": [], "shadowed": [], "broken": [], "conflicts": []}


def test_list_shows_every_plugin_and_what_is_wrong_with_the_rest(
    run, run_json, make_plugin, user_plugins: Path, system_plugins: Path
) -> None:
    make_plugin(user_plugins, "tenant-sla", version="1.2.0", permissions=["stats.read", "timers"])
    make_plugin(system_plugins, "tenant-sla", version="1.0.0")  # shadowed by the user's
    make_plugin(system_plugins, "dead-letters", permissions=["jobs.requeue"])
    broken = user_plugins / "broken"
    broken.mkdir()
    (broken / "manifest.toml").write_text('name = "broken"\nversion = "one"\n')
    for folder in ("twin-1", "twin-2"):
        make_plugin(user_plugins, folder, name="twin")

    code, out, _ = run("plugin", "list")
    assert code == 0
    table, *sections = out.split("\n\n")
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "VERSION", "SOURCE", "API", "CAPABILITIES", "DECISIONS", "SCOPES", "ENABLED",
                              "STATE", "FROM", "FOLDER"]
    assert [r.split()[:6] for r in rows] == [
        ["dead-letters", "1.0.0", "system", "1", "jobs.requeue", "1"],
        ["tenant-sla", "1.2.0", "user", "1", "stats.read,timers", "2"],
    ]
    assert "2 undecided" in rows[1] and rows[1].endswith(str(user_plugins / "tenant-sla"))
    titles = [s.splitlines()[0] for s in sections]
    assert titles == ["shadowed:", "broken:", "conflicts:"]
    assert f"{system_plugins / 'tenant-sla'}: plugin tenant-sla (system) is shadowed" in sections[0]
    assert f"{broken / 'manifest.toml'}:2: version: 'one' is not a semantic version" in sections[1]
    assert "plugin name 'twin' is declared by more than one folder" in sections[2]

    data = run_json("plugin", "list")
    assert [p["name"] for p in data["plugins"]] == ["dead-letters", "tenant-sla"]
    sla = data["plugins"][1]
    assert sla["source"] == "user" and sla["api"] == 1
    assert sla["code_hash"] == bundle_hash(user_plugins / "tenant-sla")
    assert sla["decisions"] == {"granted": [], "denied": [], "undecided": ["stats.read", "timers"],
                                "forbidden": []}
    assert data["shadowed"][0]["version"] == "1.0.0" and data["shadowed"][0]["by"] == sla["folder"]
    problems = [p for b in data["broken"] for p in b["problems"]]
    semver = "'one' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1)"
    problem = {"file": str(broken / "manifest.toml"), "line": 2, "field": "version", "message": semver}
    assert problem in problems
    assert data["conflicts"][0]["name"] == "twin" and len(data["conflicts"][0]["folders"]) == 2


def test_site_policy_forbids_capabilities_for_everyone_or_one_plugin(
    run, run_json, make_plugin, user_plugins: Path, policy
) -> None:
    make_plugin(user_plugins, "cleaner", permissions=["stats.read", "jobs.purge", "jobs.enqueue"])
    make_plugin(user_plugins, "feeder", permissions=["jobs.enqueue"])
    policy('forbid = ["jobs.purge"]\n[plugins.feeder]\nforbid = ["jobs.enqueue"]\n')

    _, out, _ = run("plugin", "list")
    assert "2 undecided, 1 forbidden by policy" in out.splitlines()[1]
    assert "1 forbidden by policy" in out.splitlines()[2]
    data = run_json("plugin", "list")
    assert data["plugins"][0]["decisions"]["forbidden"] == ["jobs.purge"]
    assert data["plugins"][1]["decisions"]["forbidden"] == ["jobs.enqueue"]


def test_an_invalid_policy_is_reported_and_forbids_everything(run, make_plugin, user_plugins, policy) -> None:
    make_plugin(user_plugins, "cleaner", permissions=["stats.read", "jobs.purge"])
    path = policy('forbid = ["jobs.nuke"]\n')
    code, out, err = run("plugin", "list")
    assert code == 0 and "2 forbidden by policy" in out
    assert f"{path}:1: forbid[0]: unknown capability 'jobs.nuke'" in err
    assert "every capability counts as forbidden" in err


def test_a_corrupt_decisions_file_is_named_and_nothing_is_guessed(
    run, make_plugin, user_plugins: Path, xdg: Path
) -> None:
    make_plugin(user_plugins, "cleaner", permissions=["stats.read"])
    decisions = xdg / ".config/qtui/permissions.toml"
    decisions.write_text('[[plugins.cleaner]]\nversion = "1.0.0"\nhash = "md5:abc"\n')
    for argv in (["list"], ["info", "cleaner"], ["grant", "cleaner", "stats.read"]):
        code, out, err = run("plugin", *argv)
        assert code == 3 and out == ""
        assert f"{decisions}:3: plugins.cleaner[0].hash: must be 'sha256:'" in err
        assert "Traceback" not in err
    assert decisions.read_text().endswith('hash = "md5:abc"\n')  # never written over


def test_a_plugin_whose_files_cannot_be_hashed_is_listed_as_unusable(
    run, run_json, make_plugin, user_plugins: Path, tmp_path: Path
) -> None:
    folder = make_plugin(user_plugins, "linked", permissions=["stats.read"])
    (tmp_path / "elsewhere.lua").write_text("return {}\n")
    os.symlink(tmp_path / "elsewhere.lua", folder / "extra.lua")
    code, out, _ = run("plugin", "list")
    assert code == 0 and "unusable: see broken" in out
    assert f"broken:\n  {folder / 'extra.lua'}: symbolic links are not allowed" in out
    (plugin,) = run_json("plugin", "list")["plugins"]
    assert plugin["code_hash"] is None and plugin["decisions"] is None
    assert plugin["problems"][0]["message"] == "symbolic links are not allowed inside a plugin"
    code, _, err = run("plugin", "info", "linked")
    assert code == 2 and "symbolic links are not allowed" in err


def test_control_characters_from_plugin_folders_never_reach_the_terminal(
    run, make_plugin, user_plugins: Path
) -> None:
    make_plugin(user_plugins, "evil\x1b]0;owned\x07", name="evil")
    _, out, _ = run("plugin", "list")
    assert "\x1b" not in out and "\x07" not in out and "evil^[]0;owned^G" in out


FULL_MANIFEST = dict(
    author="Ops team <ops@example.com>",
    limits={"memory_mib": 8, "instructions_per_call": 2000, "cpu_ms_per_call": 20},
    panel={"title": "Tenant SLA", "rows": 8, "width": 60, "placement": "right"},
    settings={
        "threshold_s": {"type": "number", "default": 300, "description": "Seconds before late",
                        "min": 1, "max": 86400},
        "view": {"type": "choice", "choices": ["table", "bars"], "default": "table",
                 "description": "How to draw"},
    },
)


def test_info_shows_the_whole_manifest_and_each_verdict(
    run, run_json, make_plugin, user_plugins: Path, policy
) -> None:
    folder = make_plugin(user_plugins, "tenant-sla", version="1.2.0",
                         permissions=["stats.read", "jobs.purge", "jobs.enqueue"], **FULL_MANIFEST)
    policy('forbid = ["jobs.enqueue"]\n')
    code, out, _ = run("plugin", "info", "tenant-sla")
    assert code == 0
    fields = dict(line.split(":", 1) for line in out.split("\n\n")[0].splitlines())
    assert fields["plugin"].strip() == "tenant-sla 1.2.0"
    assert fields["author"].strip() == "Ops team <ops@example.com>"
    assert fields["code hash"].strip() == bundle_hash(folder)
    assert fields["limits"].strip() == "8 MiB memory, 2000 instructions and 20 ms of CPU per call"
    assert fields["panel"].strip() == "'Tenant SLA', 8 rows, 60 columns, right"
    assert "threshold_s  number  300      300      min 1, max 86400" in out
    assert "view         choice  'table'  'table'  one of table, bars" in out
    verdicts = {line.split()[0]: line.split()[1:4] for line in out.splitlines() if line.startswith("  jobs.")}
    assert verdicts == {
        "jobs.purge": ["high", "yes", "undecided"], "jobs.enqueue": ["medium", "no", "forbidden"],
    }
    assert "delete jobs permanently" in out
    assert "pending:\n  undecided: stats.read, jobs.purge, jobs.enqueue" in out
    assert out.rstrip().endswith("audit: no entries")

    data = run_json("plugin", "info", "tenant-sla")
    assert data["manifest"]["limits"] == FULL_MANIFEST["limits"]
    assert data["manifest"]["settings"]["view"]["choices"] == ["table", "bars"]
    assert data["code_hash"] == bundle_hash(folder)
    purge = data["capabilities"][1]
    assert purge == {"name": "jobs.purge", "description": "delete jobs permanently", "risk": "high",
                     "destructive": True, "verdict": "undecided", "confirm_each_use": False,
                     "reason": "not decided yet for tenant-sla 1.2.0 with this code", "bounds": []}
    assert data["capabilities"][2]["reason"].startswith("forbidden by the site policy")


def test_info_on_an_unknown_plugin_exits_1_and_says_what_is_there(run, make_plugin, user_plugins) -> None:
    make_plugin(user_plugins, "tenant-sla")
    code, out, err = run("plugin", "info", "tenant-slaa")
    assert code == 1 and out == ""
    assert "no plugin named 'tenant-slaa' (installed: tenant-sla)" in err
    broken = user_plugins / "half-done"
    broken.mkdir()
    (broken / "manifest.toml").write_text('name = "half-done"\n')
    code, _, err = run("plugin", "info", "half-done")
    assert code == 1 and f"broken: {broken / 'manifest.toml'}" in err and "version: required field" in err


def test_info_says_what_changed_since_the_last_decision(
    run, run_json, make_plugin, user_plugins: Path
) -> None:
    folder = make_plugin(user_plugins, "tenant-sla", permissions=["stats.read", "notify"])
    assert run("plugin", "grant", "tenant-sla", "--all")[0] == 0

    (folder / "init.lua").write_text("return {changed = true}\n")
    _, out, _ = run("plugin", "info", "tenant-sla")
    assert "undecided: stats.read, notify\n  the code changed since the decision for 1.0.0 on" in out

    shutil.rmtree(folder)
    make_plugin(user_plugins, "tenant-sla", version="1.1.0", permissions=["stats.read", "jobs.peek"])
    _, out, _ = run("plugin", "info", "tenant-sla")
    assert "an upgrade from 1.0.0, decided on" in out
    assert "newly requested: jobs.peek" in out and "no longer requested: notify" in out
    pending = run_json("plugin", "info", "tenant-sla")["pending"]
    assert pending["is_upgrade"] is True and pending["code_changed"] is False
    assert pending["added"] == ["jobs.peek"] and pending["removed"] == ["notify"]
    assert pending["previous"]["granted"] == ["notify", "stats.read"]


def test_info_shows_the_plugins_last_audit_entries(run, run_json, make_plugin, user_plugins: Path) -> None:
    make_plugin(user_plugins, "tenant-sla", permissions=["jobs.purge"])
    log = AuditLog()
    start = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)
    for i in range(15):
        log.record("tenant-sla", "1.0.0", "jobs.purge", Outcome.DONE, f"purge number {i}", request=f"r-{i}",
                   jobs=i, now=start + datetime.timedelta(minutes=i))
    log.record("other", "1.0.0", "jobs.purge", Outcome.DONE, "not ours")
    _, out, _ = run("plugin", "info", "tenant-sla")
    audit = out.split("audit (last 10):\n")[1].splitlines()
    assert audit[0].split() == ["TIME", "VERSION", "CAPABILITY", "REQUEST", "OUTCOME", "JOBS", "DETAIL"]
    assert [line.rsplit(" ", 1)[1] for line in audit[1:]] == [str(i) for i in range(5, 15)]
    assert audit[-1].split()[4:8] == ["r-14", "done", "14", "purge"]
    assert "not ours" not in out
    entries = run_json("plugin", "info", "tenant-sla", "--audit", "2")["audit"]
    assert [e["detail"] for e in entries] == ["purge number 13", "purge number 14"]
    assert entries[1] == {"time": "2024-05-01T12:14:00+00:00", "version": "1.0.0", "capability": "jobs.purge",
                          "request": "r-14", "outcome": "done", "reason": "", "jobs": 14,
                          "detail": "purge number 14"}
    _, out, _ = run("plugin", "info", "tenant-sla", "--audit", "0")
    assert "audit: no entries" in out


def test_info_filters_the_audit_entries_by_capability_outcome_and_time(
    run, run_json, make_plugin, user_plugins: Path, capsys
) -> None:
    make_plugin(user_plugins, "bulk", permissions=["jobs.peek", "jobs.requeue"])
    log = AuditLog()
    start = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)
    steps = [("jobs.peek", Outcome.REQUESTED, ""), ("jobs.peek", Outcome.DONE, ""),
             ("jobs.requeue", Outcome.REQUESTED, ""), ("jobs.requeue", Outcome.REFUSED, "rate_limit"),
             ("jobs.requeue", Outcome.REQUESTED, ""), ("jobs.requeue", Outcome.DONE, "")]
    for i, (capability, outcome, reason) in enumerate(steps):
        log.record("bulk", "1.0.0", capability, outcome, f"step {i}", reason=reason,
                   now=start + datetime.timedelta(hours=i))

    def details(*options: str) -> list[str]:
        return [e["detail"] for e in run_json("plugin", "info", "bulk", *options)["audit"]]

    assert details("--capability", "jobs.requeue") == ["step 2", "step 3", "step 4", "step 5"]
    assert details("--outcome", "done") == ["step 1", "step 5"]
    assert details("--capability", "jobs.requeue", "--outcome", "refused") == ["step 3"]
    assert details("--since", "2024-05-01T14:00", "--until", "2024-05-01T16:00Z") == ["step 2", "step 3"]
    assert details("--since", "1h") == []  # those are long ago
    code, out, _ = run("plugin", "info", "bulk", "--outcome", "refused")
    assert code == 0 and "refused (rate_limit)" in out
    for option, value, message in (("--since", "yesterday", "not a time: 'yesterday'"),
                                   ("--capability", "jobs.delete", "unknown capability 'jobs.delete'")):
        with pytest.raises(SystemExit) as exit_info:
            run("plugin", "info", "bulk", option, value)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_info_names_the_plugins_it_shadows(run, make_plugin, user_plugins, system_plugins) -> None:
    make_plugin(user_plugins, "tenant-sla", version="2.0.0")
    make_plugin(system_plugins, "tenant-sla", version="1.0.0")
    _, out, _ = run("plugin", "info", "tenant-sla")
    assert f"shadows:     {system_plugins / 'tenant-sla'} (system 1.0.0)" in out


def test_plugin_needs_an_action(run, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("plugin")
    assert exit_info.value.code == 2
    assert "required: ACTION" in capsys.readouterr().err


def test_info_diff_shows_what_changed_since_the_code_last_granted(run, run_json, make_plugin, user_plugins) -> None:
    folder = make_plugin(user_plugins, "bulk", permissions=["jobs.purge", "notify"], files={
        "init.lua": 'function activate()\n  qtui.notify("hi")\nend\n'})
    _, out, _ = run("plugin", "info", "bulk", "--diff")
    assert "no copy of granted code is kept" in out and "+++ now/init.lua" in out
    assert run("plugin", "grant", "bulk", "notify")[0] == 0  # keeps a copy of this code
    _, out, _ = run("plugin", "info", "bulk", "--diff")
    assert out.startswith("bulk 1.0.0 (sha256:") and "the same code as last granted" in out
    (folder / "init.lua").write_text('function activate()\n  qtui.notify("hi")\n  qtui.jobs.purge("all", "dead")\nend\n')
    code, out, _ = run("plugin", "info", "bulk", "--diff")
    assert code == 0 and "against the code granted for 1.0.0" in out
    assert "files:\n  init.lua (changed, +1 -0)" in out
    assert 'jobs.purge:\n  + init.lua:3: qtui.jobs.purge("all", "dead")' in out
    assert 'notify:\n    init.lua:2: qtui.notify("hi")' in out
    assert '+  qtui.jobs.purge("all", "dead")' in out.splitlines()
    data = run_json("plugin", "info", "bulk", "--diff")
    assert data["granted"]["version"] == "1.0.0" and data["files"] == [
        {"path": "init.lua", "status": "changed", "added": 1, "removed": 0}]
    assert {"capability": "jobs.purge", "function": "qtui.jobs.purge", "file": "init.lua", "line": 3,
            "text": '  qtui.jobs.purge("all", "dead")', "changed": True} in data["calls"]
