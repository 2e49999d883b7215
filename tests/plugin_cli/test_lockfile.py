"""`qtui plugin lock` and `qtui plugin apply`: one host's plugins and decisions, repeated on another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui.plugins.bundles import catalog
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability as C
from qtui.plugins.lockfile import LockedPlugin, LockFileError, lock_text, read_lock
from qtui.plugins.trust.audit import AuditLog
from qtui.plugins.trust.enabled import EnabledStore
from qtui.plugins.trust.scope import SCOPABLE, Rate, Scope

SETTINGS = {"page_size": {"type": "number", "default": 50, "description": "jobs per page", "min": 1, "max": 500}}
LUA = 'function activate() qtui.command("go", "go") end\n'


@pytest.fixture
def fleet(tmp_path: Path, make_plugin, monkeypatch: pytest.MonkeyPatch, run, user_plugins: Path):
    """The first host: bulk 1.2.0 (packed into a catalog index too) and tenant-sla, decided and configured."""
    source = make_plugin(tmp_path / "src", "bulk", version="1.2.0", settings=SETTINGS,
                         permissions=["commands", "jobs.peek", "jobs.requeue"], files={"init.lua": LUA})
    (tmp_path / "dist").mkdir()
    packed = catalog.pack(source, tmp_path / "dist")
    index = tmp_path / "dist" / "index.toml"
    index.write_text(packed.index_entry())
    assert run("plugin", "install", str(source))[0] == 0
    make_plugin(user_plugins, "tenant-sla", permissions=["stats.read"])
    assert run("plugin", "grant", "bulk", "commands")[0] == 0
    assert run("plugin", "grant", "bulk", "jobs.requeue", "--queues", "email*", "--rate", "500/h", "--yes")[0] == 0
    assert run("plugin", "revoke", "bulk", "jobs.peek")[0] == 0
    EnabledStore().set("bulk", True)
    (user_plugins.parent / "plugin-settings.toml").write_text(tomli_w.dumps({"bulk": {"page_size": 200}}))
    return index


def other_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "b") -> Path:
    home = tmp_path / f"host-{name}"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    return home


def test_a_lockfile_records_each_plugin_its_code_decisions_settings_and_state(run, fleet, user_plugins) -> None:
    code, out, _ = run("plugin", "lock")
    assert code == 0 and out.startswith("# qtui plugin lockfile")
    path = user_plugins.parent / "qtui.lock"
    path.write_text(out)
    bulk, sla = read_lock(path)
    assert (bulk.name, bulk.version, bulk.hash, bulk.enabled) == (
        "bulk", "1.2.0", bundle_hash(user_plugins / "bulk"), True)
    assert bulk.granted == (C.COMMANDS, C.JOBS_REQUEUE) and bulk.denied == (C.JOBS_PEEK,) and bulk.no_confirm == ()
    assert bulk.scopes == {C.JOBS_REQUEUE: Scope(("email*",), Rate(500, 3600))}
    assert bulk.settings == {"page_size": 200}
    assert (sla.name, sla.enabled, sla.granted, sla.denied) == ("tenant-sla", False, (), ())


def test_apply_on_another_host_installs_verifies_and_decides_as_the_first(
    run, run_json, fleet, tmp_path, monkeypatch
) -> None:
    lock = tmp_path / "qtui.lock"
    lock.write_text(run("plugin", "lock")[1])
    home = other_host(tmp_path, monkeypatch)
    (home / ".config/qtui/plugins").mkdir(parents=True)
    # tenant-sla is in no catalog here: it is missing, the rest is applied
    code, out, _ = run("plugin", "apply", str(lock), "--catalog", str(fleet))
    assert code == 1
    rows = {line.split()[0]: line.split(None, 3)[2:] for line in out.splitlines()[1:]}
    assert rows["bulk"] == ["installed", "installed and verified; 2 granted, 1 denied, enabled"]
    assert rows["tenant-sla"][0] == "missing"
    info = run_json("plugin", "info", "bulk")
    verdicts = {c["name"]: (c["verdict"], c["bounds"]) for c in info["capabilities"]}
    assert verdicts == {
        "commands": ("granted", []), "jobs.peek": ("denied", []),
        "jobs.requeue": ("granted", [{"queues": ["email*"], "rate": "500/h", "source": "your grant"}]),
    }
    assert EnabledStore().load() == ["bulk"]
    assert "page_size = 200" in (home / ".config/qtui/plugin-settings.toml").read_text()
    entries = AuditLog().read(plugin="bulk").entries
    assert {(e.capability, e.outcome) for e in entries} == {
        ("commands", "granted"), ("jobs.requeue", "granted"), ("jobs.peek", "revoked")}
    assert all(e.detail.startswith(f"qtui plugin apply {lock}") for e in entries)

    # applied again, the installed code verifies
    code, out, _ = run("plugin", "apply", str(lock), "--catalog", str(fleet), "--json")
    assert code == 1
    assert {r["name"]: r["status"] for r in json.loads(out)["results"]} == {"bulk": "verified", "tenant-sla": "missing"}


def test_a_plugin_whose_code_differs_is_refused_disabled_and_left_undecided(
    run, run_json, fleet, tmp_path, monkeypatch, make_plugin
) -> None:
    lock = tmp_path / "qtui.lock"
    lock.write_text(run("plugin", "lock")[1])
    home = other_host(tmp_path, monkeypatch)
    plugins = home / ".config/qtui/plugins"
    make_plugin(plugins, "bulk", version="1.2.0", settings=SETTINGS,
                permissions=["commands", "jobs.peek", "jobs.requeue"], files={"init.lua": LUA + "-- changed\n"})
    EnabledStore().set("bulk", True)
    code, out, _ = run("plugin", "apply", str(lock), "--catalog", str(fleet), "--json")
    assert code == 4  # refused wins over tenant-sla missing
    bulk = next(r for r in json.loads(out)["results"] if r["name"] == "bulk")
    assert bulk["status"] == "refused" and "the lockfile's is sha256:" in bulk["message"]
    assert EnabledStore().load() == []  # no console starts it
    assert {c["verdict"] for c in run_json("plugin", "info", "bulk")["capabilities"]} == {"undecided"}


def test_an_invalid_lockfile_applies_nothing_and_names_the_line(run, tmp_path: Path) -> None:
    lock = tmp_path / "qtui.lock"
    lock.write_text('lockfile = 1\n\n[[plugin]]\nname = "bulk"\nversion = "1.2"\nhash = "sha256:x"\n'
                    'granted = ["jobs.delete"]\n')
    code, out, err = run("plugin", "apply", str(lock))
    assert code == 2 and out == ""
    assert f"{lock}:5: plugin[0].version: '1.2' is not a semantic version" in err
    assert f"{lock}:6: plugin[0].hash: must be 'sha256:' followed by 64 hex digits" in err
    assert f"{lock}:7: plugin[0].granted[0]: unknown capability 'jobs.delete'" in err
    assert err.rstrip().endswith("nothing was applied")
    lock.write_text("lockfile = 2\n")
    assert "lockfile: must be 1" in run("plugin", "apply", str(lock))[2]


_capabilities = st.lists(st.sampled_from(C), unique=True)
_scopes = st.dictionaries(st.sampled_from(SCOPABLE), st.builds(
    Scope, st.none() | st.lists(st.from_regex(r"[a-z][a-z0-9*-]{0,20}", fullmatch=True), min_size=1, max_size=3,
                                unique=True).filter(lambda q: "*" not in q).map(tuple),
    st.none() | st.builds(Rate, st.integers(1, 10**6), st.sampled_from([1, 60, 1800, 3600, 86400]))))


@settings(max_examples=60, deadline=None)
@given(granted=_capabilities, denied=_capabilities, scopes=_scopes, enabled=st.booleans(),
       values=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                              st.integers(-10**9, 10**9) | st.text(max_size=20) | st.booleans(), max_size=4))
def test_every_lock_written_reads_back_the_same(tmp_path_factory, granted, denied, scopes, enabled, values) -> None:
    denied = [c for c in denied if c not in granted]
    scopes = {c: s for c, s in scopes.items() if c in granted and s.bounded}
    plugin = LockedPlugin("bulk", "1.2.0-rc.1+build.7", "sha256:" + "ab" * 32, enabled, tuple(granted),
                          tuple(denied), tuple(c for c in granted if c.destructive), scopes, values)
    path = tmp_path_factory.mktemp("lock") / "qtui.lock"
    path.write_text(lock_text([plugin]))
    assert read_lock(path) == [plugin]


def test_a_plugin_locked_twice_is_an_error(tmp_path: Path) -> None:
    one = LockedPlugin("bulk", "1.0.0", "sha256:" + "a" * 64)
    path = tmp_path / "qtui.lock"
    path.write_text(lock_text([one, one]))
    with pytest.raises(LockFileError, match=r"qtui.lock:\d+: plugin\[1\].name: bulk is locked twice"):
        read_lock(path)


@pytest.mark.parametrize(("edit", "message"), [
    (("page_size = 200", "page_size = 9999"), "setting page_size: "),
    (('    "jobs.requeue",\n]', '    "jobs.requeue",\n    "jobs.purge",\n]'), "jobs.purge"),
])
def test_an_entry_that_does_not_fit_its_plugin_is_invalid_and_applies_nothing(
    run, run_json, fleet, tmp_path, edit, message
) -> None:
    text = run("plugin", "lock")[1]
    assert edit[0] in text, text
    lock = tmp_path / "qtui.lock"
    lock.write_text(text.replace(*edit))
    run("plugin", "revoke", "bulk", "commands")  # this host differs from the lockfile before
    code, out, _ = run("plugin", "apply", str(lock), "--json")
    assert code == 2
    bulk = next(r for r in json.loads(out)["results"] if r["name"] == "bulk")
    assert bulk["status"] == "invalid" and message in bulk["message"]
    verdicts = {c["name"]: c["verdict"] for c in run_json("plugin", "info", "bulk")["capabilities"]}
    assert verdicts["commands"] == "denied"  # nothing of the entry applied
    assert EnabledStore().load() == []  # and no console starts it
