"""Permission decisions, the site policy and bundle hashes, as an operator would meet them."""

from __future__ import annotations

import datetime
import multiprocessing
import os
import tempfile
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui import paths
from qtui.plugins.bundles.bundle import (
    MAX_BUNDLE_DEPTH,
    MAX_BUNDLE_ENTRIES,
    BundleError,
    bundle_files,
    bundle_hash,
    read_bundle,
)
from qtui.plugins.bundles.capabilities import Capability as C
from qtui.plugins.bundles.manifest import Manifest, Version
from qtui.plugins.trust.permissions import (
    KEEP_RECORDS,
    DecisionError,
    PermissionsFileError,
    PermissionStore,
    Verdict,
    permissions_path,
)
from qtui.plugins.trust.policy import FORBID_ALL, PolicyFileError, SitePolicy, load_policy, policy_path

HASH_A = "sha256:" + "a" * 64
HASH_B = "sha256:" + "b" * 64
NO_POLICY = SitePolicy()


def plugin(version: str = "1.0.0", *caps: C, name: str = "tenant-sla") -> Manifest:
    return Manifest(name=name, version=Version.parse(version), description="d", api=1, permissions=caps)


@pytest.fixture
def store() -> PermissionStore:
    return PermissionStore()


def test_default_locations_follow_xdg(xdg: Path, tmp_path: Path) -> None:
    assert permissions_path() == xdg / ".config/qtui/permissions.toml"
    assert policy_path() == tmp_path / "etc/xdg/qtui/policy.toml"
    assert PermissionStore().path == permissions_path()


# -- bundle hash --------------------------------------------------------------------------


def test_bundle_hash_depends_on_content_and_names_only(tmp_path: Path, make_plugin) -> None:
    files = {"init.lua": "return 1\n", "lib/util.lua": "return 2\n", "assets/logo.txt": "Q"}
    a = make_plugin(tmp_path, "a", files=files)
    b = make_plugin(tmp_path, "b", files=dict(reversed(files.items())))
    (b / "manifest.toml").write_bytes((a / "manifest.toml").read_bytes())
    assert bundle_files(a) == ("assets/logo.txt", "init.lua", "lib/util.lua", "manifest.toml")
    assert bundle_hash(a) == bundle_hash(b)
    assert bundle_hash(a).startswith("sha256:") and len(bundle_hash(a)) == 71

    (b / "lib/util.lua").write_text("return 3\n")
    assert bundle_hash(a) != bundle_hash(b)
    (b / "lib/util.lua").write_text("return 2\n")
    (b / "lib/util.lua").rename(b / "lib/util2.lua")
    assert bundle_hash(a) != bundle_hash(b)


def test_bundle_hash_ignores_hidden_and_editor_files(tmp_path: Path, make_plugin) -> None:
    folder = make_plugin(tmp_path, "p")
    before = bundle_hash(folder)
    for name in (".git/config", ".init.lua.swp", "init.lua~", "#init.lua#", "x.tmp", "init.lua.orig"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("noise")
    assert bundle_hash(folder) == before
    (folder / "extra.lua").write_text("")
    assert bundle_hash(folder) != before


def test_bundle_with_symlink_is_refused(tmp_path: Path, make_plugin) -> None:
    folder = make_plugin(tmp_path, "p")
    (tmp_path / "secret.lua").write_text("")
    (folder / "lib.lua").symlink_to(tmp_path / "secret.lua")
    with pytest.raises(BundleError, match=r"lib.lua: symbolic links are not allowed inside a plugin"):
        bundle_hash(folder)


def test_read_bundle_returns_the_bytes_it_hashed(tmp_path: Path, make_plugin) -> None:
    folder = make_plugin(tmp_path, "p", files={"init.lua": "return require('lib.x')", "lib/x.lua": "return 1"})
    (folder / ".notes.lua").write_text("not part of the bundle")
    bundle = read_bundle(folder)
    assert set(bundle.files) == {"manifest.toml", "init.lua", "lib/x.lua"}
    assert bundle.files["lib/x.lua"] == b"return 1"
    assert bundle.hash == bundle_hash(folder)


def test_oversized_bundle_is_refused(tmp_path: Path, make_plugin) -> None:
    folder = make_plugin(tmp_path, "p", files={"init.lua": "", "big.dat": "x" * 5000})
    with pytest.raises(BundleError, match=r"/p: the plugin's files exceed 4096 bytes"):
        read_bundle(folder, max_bytes=4096)


def test_a_bundle_nested_too_deep_is_refused_naming_the_folder(tmp_path: Path, make_plugin) -> None:
    folder = make_plugin(tmp_path, "p")
    deepest = folder.joinpath(*["d"] * MAX_BUNDLE_DEPTH)
    deepest.mkdir(parents=True)
    (deepest / "x.lua").write_text("")
    assert "d/" * MAX_BUNDLE_DEPTH + "x.lua" in bundle_files(folder)
    # far deeper than Python's stack allows a recursive walk to go
    deepest.joinpath(*["d"] * 300).mkdir(parents=True)
    with pytest.raises(BundleError, match=rf"/p(/d){{{MAX_BUNDLE_DEPTH + 1}}}: folders nest deeper than "
                                          rf"{MAX_BUNDLE_DEPTH} inside a plugin"):
        bundle_hash(folder)


def test_a_bundle_of_too_many_files_is_refused_before_it_is_read(tmp_path: Path, make_plugin) -> None:
    folder = make_plugin(tmp_path, "p")
    (folder / "lib").mkdir()
    for n in range(MAX_BUNDLE_ENTRIES - 3):  # with manifest.toml, init.lua and lib: the most there may be
        (folder / "lib" / f"m{n}.lua").touch()
    assert len(bundle_files(folder)) == MAX_BUNDLE_ENTRIES - 1
    (folder / "lib" / "one-more.lua").touch()
    with pytest.raises(BundleError, match=rf"/p: the plugin holds more than {MAX_BUNDLE_ENTRIES} files and folders"):
        read_bundle(folder)


# -- decisions ----------------------------------------------------------------------------


def test_first_run_asks_for_everything(store: PermissionStore) -> None:
    pending = store.pending(plugin("1.0.0", C.STATS_READ, C.TIMERS), HASH_A)
    assert pending.undecided == (C.STATS_READ, C.TIMERS)
    assert pending.previous is None and pending.added == pending.removed == ()
    assert store.grants(plugin("1.0.0", C.STATS_READ), HASH_A, NO_POLICY).check(C.STATS_READ).verdict is (
        Verdict.UNDECIDED
    )


def test_grant_then_nothing_pending_and_granted_with_reason(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.STATS_READ, C.TIMERS)
    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    store.decide(m, HASH_A, grant=[C.STATS_READ, C.TIMERS], now=when)
    assert store.pending(m, HASH_A).undecided == ()
    effective = PermissionStore().grants(m, HASH_A, NO_POLICY).check(C.TIMERS)
    assert (effective.verdict, effective.reason, effective.allowed) == (
        Verdict.GRANTED, "granted by you on 2024-05-01", True
    )


def test_partial_decisions_leave_the_rest_pending(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.STATS_READ, C.TIMERS, C.NOTIFY)
    store.decide(m, HASH_A, grant=[C.TIMERS])
    assert store.pending(m, HASH_A).undecided == (C.STATS_READ, C.NOTIFY)
    store.decide(m, HASH_A, forget=[C.TIMERS])
    assert store.pending(m, HASH_A).undecided == (C.STATS_READ, C.TIMERS, C.NOTIFY)


def test_new_version_asks_again_and_says_what_changed(store: PermissionStore) -> None:
    old = plugin("1.0.0", C.STATS_READ, C.NOTIFY)
    store.decide(old, HASH_A, grant=[C.STATS_READ, C.NOTIFY])
    new = plugin("1.1.0", C.STATS_READ, C.JOBS_PURGE)
    pending = store.pending(new, HASH_B)
    assert pending.undecided == (C.STATS_READ, C.JOBS_PURGE)
    assert pending.previous is not None and pending.previous.version == "1.0.0"
    assert (pending.added, pending.removed) == ((C.JOBS_PURGE,), (C.NOTIFY,))
    assert pending.is_upgrade is True and pending.code_changed is False
    grants = store.grants(new, HASH_B, NO_POLICY)
    assert grants.check(C.STATS_READ).verdict is Verdict.UNDECIDED  # old grants do not carry over

    store.decide(new, HASH_B, grant=[C.STATS_READ], deny=[C.JOBS_PURGE])
    assert store.pending(new, HASH_B).undecided == ()
    assert store.pending(old, HASH_A).undecided == ()  # going back finds the old decision
    assert store.pending(plugin("0.9.0", C.STATS_READ), HASH_A).is_upgrade is False


def test_changed_code_under_same_version_asks_again(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.STATS_READ)
    store.decide(m, HASH_A, grant=[C.STATS_READ])
    pending = store.pending(m, HASH_B)
    assert pending.undecided == (C.STATS_READ,)
    assert pending.code_changed and pending.added == pending.removed == ()
    assert store.grants(m, HASH_B, NO_POLICY).check(C.STATS_READ).verdict is Verdict.UNDECIDED


def test_denials_persist(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.STATS_READ, C.JOBS_ENQUEUE)
    store.decide(m, HASH_A, grant=[C.STATS_READ], deny=[C.JOBS_ENQUEUE])
    fresh = PermissionStore(store.path)
    assert fresh.pending(m, HASH_A).undecided == ()
    effective = fresh.grants(m, HASH_A, NO_POLICY).check(C.JOBS_ENQUEUE)
    assert effective.verdict is Verdict.DENIED and effective.reason.startswith("denied by you on ")
    store.decide(m, HASH_A, grant=[C.JOBS_ENQUEUE])  # changing one's mind works both ways
    assert fresh.grants(m, HASH_A, NO_POLICY).check(C.JOBS_ENQUEUE).allowed


def test_unrequested_capability_is_never_allowed(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.STATS_READ)
    effective = store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE)
    assert effective.verdict is Verdict.NOT_REQUESTED
    assert effective.reason == "tenant-sla's manifest does not request jobs.purge"
    with pytest.raises(DecisionError, match="tenant-sla does not request jobs.purge"):
        store.decide(m, HASH_A, grant=[C.JOBS_PURGE])
    assert not store.path.exists()


def test_destructive_uses_are_confirmed_until_told_otherwise(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.JOBS_PURGE, C.STATS_READ)
    store.decide(m, HASH_A, grant=[C.JOBS_PURGE, C.STATS_READ])
    grants = store.grants(m, HASH_A, NO_POLICY)
    assert grants.check(C.JOBS_PURGE).confirm and not grants.check(C.STATS_READ).confirm
    store.decide(m, HASH_A, confirm={C.JOBS_PURGE: False})
    assert not store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).confirm
    store.decide(m, HASH_A, confirm={C.JOBS_PURGE: True})
    assert store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).confirm
    with pytest.raises(DecisionError, match="stats.read is not destructive"):
        store.decide(m, HASH_A, confirm={C.STATS_READ: False})
    # "Don't ask again" belongs to one version: a new version confirms again.
    store.decide(m, HASH_A, confirm={C.JOBS_PURGE: False})
    m2 = plugin("1.0.1", C.JOBS_PURGE, C.STATS_READ)
    store.decide(m2, HASH_B, grant=[C.JOBS_PURGE])
    assert store.grants(m2, HASH_B, NO_POLICY).check(C.JOBS_PURGE).confirm
    # Denying a capability drops its "don't ask again".
    store.decide(m, HASH_A, deny=[C.JOBS_PURGE])
    store.decide(m, HASH_A, grant=[C.JOBS_PURGE])
    assert store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).confirm


def test_decision_needs_a_real_bundle_hash(store: PermissionStore) -> None:
    with pytest.raises(DecisionError, match="'abc' is not a bundle hash"):
        store.decide(plugin("1.0.0", C.TIMERS), "abc", grant=[C.TIMERS])


def test_confirm_flag_needs_a_grant(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.JOBS_PURGE)
    with pytest.raises(DecisionError, match="jobs.purge is not granted to tenant-sla"):
        store.decide(m, HASH_A, confirm={C.JOBS_PURGE: False})


def test_only_the_newest_records_are_kept(store: PermissionStore) -> None:
    for minor in range(KEEP_RECORDS + 3):
        store.decide(plugin(f"1.{minor}.0", C.TIMERS), HASH_A, grant=[C.TIMERS])
    kept = store.records("tenant-sla")
    assert [r.version for r in kept] == [f"1.{m}.0" for m in range(3, KEEP_RECORDS + 3)]


def test_forget_plugin_asks_again(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.TIMERS)
    store.decide(m, HASH_A, grant=[C.TIMERS])
    store.decide(plugin("1.0.0", C.TIMERS, name="other"), HASH_A, grant=[C.TIMERS])
    assert store.forget_plugin("tenant-sla") == 1
    assert store.pending(m, HASH_A).undecided == (C.TIMERS,)
    assert set(store.load()) == {"other"}


def test_file_is_readable_toml_with_one_record_per_version(store: PermissionStore) -> None:
    store.decide(plugin("1.0.0", C.JOBS_PURGE), HASH_A, grant=[C.JOBS_PURGE], confirm={C.JOBS_PURGE: False})
    text = store.path.read_text()
    assert text.startswith("# qtui plugin permission decisions")
    (record,) = tomllib.loads(text)["plugins"]["tenant-sla"]
    assert record["granted"] == ["jobs.purge"] and record["no_confirm"] == ["jobs.purge"]
    assert record["hash"] == HASH_A and record["decided_at"].tzinfo is not None
    assert store.path.stat().st_mode & 0o777 == 0o600


_ops = st.lists(
    st.tuples(st.sampled_from(["grant", "deny", "forget", "no_confirm", "confirm"]), st.sampled_from(C)),
    max_size=8,
)


@settings(max_examples=30, deadline=None)
@given(_ops)
def test_decisions_behave_like_a_simple_model(ops: list[tuple[str, C]]) -> None:
    m = plugin("1.0.0", *C)
    model: dict[C, str] = {}
    no_confirm: set[C] = set()
    with tempfile.TemporaryDirectory() as tmp:
        store = PermissionStore(Path(tmp) / "permissions.toml")
        for kind, cap in ops:
            if kind in ("grant", "deny", "forget"):
                store.decide(m, HASH_A, **{kind: [cap]})
                if kind == "forget":
                    model.pop(cap, None)
                else:
                    model[cap] = kind
                if kind != "grant":
                    no_confirm.discard(cap)
            elif cap.destructive and model.get(cap) == "grant":
                store.decide(m, HASH_A, confirm={cap: kind == "confirm"})
                if kind == "confirm":
                    no_confirm.discard(cap)
                else:
                    no_confirm.add(cap)
            else:
                with pytest.raises(DecisionError):
                    store.decide(m, HASH_A, confirm={cap: kind == "confirm"})
        grants = PermissionStore(store.path).grants(m, HASH_A, NO_POLICY)
        expected = {"grant": Verdict.GRANTED, "deny": Verdict.DENIED}
        for effective in grants.all():
            cap = effective.capability
            assert effective.verdict is expected.get(model.get(cap, ""), Verdict.UNDECIDED)
            assert effective.confirm == (model.get(cap) == "grant" and cap.destructive and cap not in no_confirm)


_values = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from([c.value for c in C])
    | st.just(HASH_A) | st.datetimes(timezones=st.just(datetime.UTC)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


_record_keys = st.sampled_from(
    ["version", "hash", "decided_at", "requested", "granted", "denied", "no_confirm", "extra"]
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.text(max_size=10), _values, max_size=3),
    st.dictionaries(_record_keys, _values, max_size=4),
)
def test_any_wrong_file_is_an_error_never_a_grant(top: dict, record_edit: dict) -> None:
    record = tomllib.loads(GOOD_RECORD)["plugins"]["tenant-sla"][0] | record_edit
    doc = {"plugins": {"tenant-sla": [record]}} | top
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "permissions.toml"
        path.write_text(tomli_w.dumps(doc))
        store = PermissionStore(path)
        m = plugin("1.0.0", C.STATS_READ, C.JOBS_PURGE)
        try:
            grants = store.grants(m, HASH_A, NO_POLICY)
        except PermissionsFileError as e:
            assert all(p.file == path and p.message for p in e.problems)
            return
        # Whatever loaded is a consistent record: grants only for what was requested.
        loaded = store.load()["tenant-sla"]
        for r in loaded:
            assert r.granted <= r.requested and not (r.granted & r.denied)
        if grants.record is not None:
            assert {e.capability for e in grants.all() if e.allowed} == set(grants.record.granted)


# -- failing closed -----------------------------------------------------------------------

GOOD_RECORD = """\
[[plugins.tenant-sla]]
version = "1.0.0"
hash = "sha256:{a}"
decided_at = 2024-05-01T12:00:00Z
requested = ["stats.read", "jobs.purge"]
granted = ["stats.read", "jobs.purge"]
denied = []
no_confirm = []
""".replace("{a}", "a" * 64)


def write_store(text: str) -> Path:
    path = paths.config_dir() / "permissions.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_hand_written_valid_file_is_read(store: PermissionStore) -> None:
    write_store(GOOD_RECORD)
    grants = store.grants(plugin("1.0.0", C.STATS_READ, C.JOBS_PURGE), HASH_A, NO_POLICY)
    assert [e.verdict for e in grants.all()] == [Verdict.GRANTED, Verdict.GRANTED]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("jobs.purge\"]\ndenied", "jobs.purg\"]\ndenied"),
         ":6: plugins.tenant-sla[0].granted[1]: unknown capability 'jobs.purg' (known: "),
        (('denied = []', 'denied = ["jobs.purge"]'),
         ":7: plugins.tenant-sla[0].denied: jobs.purge is both granted and denied"),
        (('granted = ["stats.read", "jobs.purge"]', 'granted = ["stats.read", "timers"]'),
         ":6: plugins.tenant-sla[0].granted: timers is not among the requested capabilities"),
        (('no_confirm = []', 'no_confirm = ["stats.read"]'),
         ":8: plugins.tenant-sla[0].no_confirm: stats.read is not destructive"),
        (("hash = \"sha256:", "hash = \"md5:"),
         ":3: plugins.tenant-sla[0].hash: must be 'sha256:' followed by 64 lowercase hex digits"),
        (("decided_at = 2024-05-01T12:00:00Z", "decided_at = 2024-05-01"),
         ":4: plugins.tenant-sla[0].decided_at: must be a date and time with a time zone"),
        (('version = "1.0.0"', 'version = 1'), ":2: plugins.tenant-sla[0].version: must be a string"),
        (('version = "1.0.0"\n', ""), ":1: plugins.tenant-sla[0].version: required field is missing"),
        (("no_confirm = []", "no_confirm = []\nalways = true"), ":9: plugins.tenant-sla[0].always: unknown field"),
        (("granted = [", "granted = \"all\"\nx = ["), ":6: plugins.tenant-sla[0].granted: must be an array"),
        (("[[plugins.tenant-sla]]", "[plugins.tenant-sla]"),
         ":1: plugins.tenant-sla: must be an array of tables ([[plugins.tenant-sla]]), not a table"),
        (('"jobs.purge"]\ngranted', '"jobs.purge"\ngranted'), ":6: invalid TOML at column "),
    ],
)
def test_wrong_file_fails_closed_naming_line_and_field(
    store: PermissionStore, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert old in GOOD_RECORD
    path = write_store(GOOD_RECORD.replace(old, new, 1))
    before = path.read_bytes()
    m = plugin("1.0.0", C.STATS_READ, C.JOBS_PURGE)
    with pytest.raises(PermissionsFileError) as caught:
        store.grants(m, HASH_A, NO_POLICY)
    assert str(caught.value).startswith(str(path) + expected), str(caught.value)
    with pytest.raises(PermissionsFileError):
        store.pending(m, HASH_A)
    with pytest.raises(PermissionsFileError):
        store.decide(m, HASH_A, grant=[C.STATS_READ])
    assert path.read_bytes() == before  # nothing was written over the operator's file


def test_binary_garbage_fails_closed(store: PermissionStore) -> None:
    path = paths.config_dir() / "permissions.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(PermissionsFileError, match="permissions.toml:1: not UTF-8 text"):
        store.load()


# -- site policy --------------------------------------------------------------------------


def write_policy(text: str) -> Path:
    path = paths.system_config_dir() / "policy.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_policy_wins_over_grants(store: PermissionStore) -> None:
    path = write_policy('forbid = ["jobs.purge"]\n\n[plugins.tenant-sla]\nforbid = ["jobs.enqueue"]\n')
    policy = load_policy()
    m = plugin("1.0.0", C.JOBS_PURGE, C.JOBS_ENQUEUE, C.STATS_READ)
    store.decide(m, HASH_A, grant=m.permissions)
    grants = store.grants(m, HASH_A, policy)
    assert [e.verdict for e in grants.all()] == [Verdict.FORBIDDEN, Verdict.FORBIDDEN, Verdict.GRANTED]
    assert grants.check(C.JOBS_PURGE).reason == f"forbidden by the site policy ({path})"
    other = plugin("1.0.0", C.JOBS_ENQUEUE, name="other")
    store.decide(other, HASH_A, grant=[C.JOBS_ENQUEUE])
    assert store.grants(other, HASH_A, policy).check(C.JOBS_ENQUEUE).allowed


def test_policy_star_forbids_everything(store: PermissionStore) -> None:
    write_policy(f'forbid = ["{FORBID_ALL}"]\n')
    m = plugin("1.0.0", C.STATS_READ)
    store.decide(m, HASH_A, grant=[C.STATS_READ])
    assert store.grants(m, HASH_A, load_policy()).check(C.STATS_READ).verdict is Verdict.FORBIDDEN


def test_missing_policy_forbids_nothing() -> None:
    policy = load_policy()
    assert policy.forbid == frozenset() and not policy.forbids("x", C.JOBS_PURGE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('forbid = [\n  "jobs.purge",\n  "jobs.nuke",\n]\n', ":3: forbid[1]: unknown capability 'jobs.nuke'"),
        ('forbid = "jobs.purge"\n', ":1: forbid: must be an array of capability names, not a string"),
        ('allow = ["timers"]\n', ":1: allow: unknown field (known: forbid, scopes, plugins)"),
        ('[plugins.x]\nforbid = ["timers"]\nallow = 1\n', ":3: plugins.x.allow: unknown field (known: forbid, scopes)"),
        ("forbid = [\n", ":1: invalid TOML at end of file: Invalid value"),
    ],
)
def test_bad_policy_is_an_error_naming_line_and_field(text: str, expected: str) -> None:
    path = write_policy(text)
    with pytest.raises(PolicyFileError) as caught:
        load_policy()
    assert str(caught.value).startswith(str(path) + expected), str(caught.value)


def test_fail_closed_policy_forbids_everything(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.NOTIFY)
    store.decide(m, HASH_A, grant=[C.NOTIFY])
    policy = SitePolicy.forbidding_everything(policy_path())
    assert store.grants(m, HASH_A, policy).check(C.NOTIFY).verdict is Verdict.FORBIDDEN


# -- two consoles at once -----------------------------------------------------------------

ROUNDS = 25


def _decide_many(path: str, side: str, start: multiprocessing.synchronize.Event) -> None:
    store = PermissionStore(Path(path))
    start.wait()
    for i in range(ROUNDS):
        # Each side keeps adding its own plugins and its own grants to one shared plugin.
        store.decide(plugin("1.0.0", C.TIMERS, name=f"{side}-{i}"), HASH_A, grant=[C.TIMERS])
        shared = plugin("1.0.0", *C, name="shared")
        mine = list(C)[::2] if side == "a" else list(C)[1::2]  # between them, every capability
        store.decide(shared, HASH_A, grant=[mine[i % len(mine)]])


def test_two_processes_writing_at_once_lose_no_decision(store: PermissionStore) -> None:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    workers = [ctx.Process(target=_decide_many, args=(str(store.path), s, start)) for s in "ab"]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    decided = store.load()
    assert set(decided) == {f"{s}-{i}" for s in "ab" for i in range(ROUNDS)} | {"shared"}
    (shared,) = decided["shared"]
    assert shared.granted == frozenset(C)
    assert not list(store.path.parent.glob(".permissions.toml.*.tmp"))


def _revoke(path: str) -> None:
    PermissionStore(Path(path)).decide(plugin("1.0.0", C.JOBS_PURGE), HASH_A, deny=[C.JOBS_PURGE])


def _edit_in_place(path: str, text: str) -> None:
    """Rewrite the same file (inode), as some editors save, and put its old modification time back."""
    before = os.stat(path)
    with open(path, "r+", encoding="utf-8") as f:
        f.truncate()
        f.write(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _in_another_process(target, *args: object) -> None:  # noqa: ANN001
    worker = multiprocessing.get_context("fork").Process(target=target, args=args)
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0


def test_a_running_console_sees_a_revoke_made_by_another_process(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.JOBS_PURGE)
    store.decide(m, HASH_A, grant=[C.JOBS_PURGE])
    assert store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).verdict is Verdict.GRANTED
    _in_another_process(_revoke, str(store.path))
    assert store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).verdict is Verdict.DENIED


def test_a_same_size_hand_edit_in_place_by_another_process_is_seen(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.JOBS_PURGE)
    store.decide(m, HASH_A, grant=[C.JOBS_PURGE])
    assert store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).allowed
    text = store.path.read_text()
    granted = 'granted = [\n    "jobs.purge",\n]\ndenied = []'
    denied = 'granted = []\ndenied = [\n    "jobs.purge",\n]'
    assert granted in text and len(granted) == len(denied)
    _in_another_process(_edit_in_place, str(store.path), text.replace(granted, denied))
    assert store.grants(m, HASH_A, NO_POLICY).check(C.JOBS_PURGE).verdict is Verdict.DENIED


def test_changing_what_load_returned_does_not_change_the_decisions(store: PermissionStore) -> None:
    m = plugin("1.0.0", C.TIMERS)
    store.decide(m, HASH_A, grant=[C.TIMERS])
    store.load().clear()
    assert store.grants(m, HASH_A, NO_POLICY).check(C.TIMERS).allowed


def test_a_plugins_specs_are_not_part_of_its_code(tmp_path: Path) -> None:
    from qtui.plugins.bundles.bundle import bundle_files, bundle_hash

    (tmp_path / "init.lua").write_text("return 1")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "spec").mkdir()
    (tmp_path / "lib" / "spec" / "x.lua").write_text("return 2")  # only the top-level spec/ is left out
    before = bundle_hash(tmp_path)
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "plugin_spec.lua").write_text("describe('x', function() end)")
    assert bundle_hash(tmp_path) == before
    assert bundle_files(tmp_path) == ("init.lua", "lib/spec/x.lua")


def test_an_empty_record_is_reported_with_its_line(store: PermissionStore) -> None:
    path = write_store(GOOD_RECORD + "\n[[plugins.tenant-sla]]\n")
    before = path.read_bytes()
    m = plugin("1.0.0", C.STATS_READ, C.JOBS_PURGE)
    with pytest.raises(PermissionsFileError) as caught:
        store.load()
    line = GOOD_RECORD.count("\n") + 2
    assert str(caught.value).startswith(f"{path}:{line}: plugins.tenant-sla[1]: an empty record (a record has version")
    with pytest.raises(PermissionsFileError):
        store.decide(m, HASH_A, grant=[C.STATS_READ])
    assert path.read_bytes() == before  # not dropped by the next write
