"""Scoped grants: queue patterns and rates in permissions.toml and policy.toml, read, written and combined."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui import paths
from qtui.plugins.bundles.capabilities import Capability as C
from qtui.plugins.bundles.manifest import Manifest, Version
from qtui.plugins.trust.permissions import DecisionError, PermissionsFileError, PermissionStore, Verdict
from qtui.plugins.trust.policy import PolicyFileError, SitePolicy, load_policy
from qtui.plugins.trust.scope import Bound, Rate, RateLedger, Scope, ScopeError, parse_queues

HASH_A = "sha256:" + "a" * 64
HASH_B = "sha256:" + "b" * 64
T0 = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)


def plugin(version: str = "1.0.0") -> Manifest:
    return Manifest(name="bulk", version=Version.parse(version), description="d", api=1,
                    permissions=(C.JOBS_PEEK, C.JOBS_REQUEUE, C.NOTIFY))


@pytest.mark.parametrize(("text", "jobs", "seconds", "shown"), [
    ("500/h", 500, 3600, "500/h"), ("100/30m", 100, 1800, "100/30m"), ("1/1s", 1, 1, "1/s"),
    ("20/120m", 20, 7200, "20/2h"), ("5/7d", 5, 7 * 86400, "5/7d"),
])
def test_a_rate_is_jobs_per_period(text: str, jobs: int, seconds: int, shown: str) -> None:
    rate = Rate.parse(text)
    assert (rate.jobs, rate.seconds, str(rate)) == (jobs, seconds, shown)
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize("text", ["500", "500/hour", "0/h", "-1/h", "5/8d", "5/0h", "", "h/500"])
def test_a_wrong_rate_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ScopeError, match="rate|period"):
        Rate.parse(text)


@given(jobs=st.integers(1, 10**6), count=st.integers(1, 1000), unit=st.sampled_from("smhd"))
def test_every_rate_written_reads_back_the_same(jobs: int, count: int, unit: str) -> None:
    try:
        rate = Rate.parse(f"{jobs}/{count}{unit}")
    except ScopeError:
        return  # longer than seven days
    assert Rate.parse(str(rate)) == rate


def test_queue_patterns_match_like_a_shell_and_star_means_every_queue() -> None:
    scope = Scope(parse_queues(["email*", "sms-[eu][us]"]))
    assert [scope.allows(q) for q in ("email", "email-eu", "sms-eu", "sms-xx", "webhooks")] == [
        True, True, True, False, False]
    assert parse_queues(["email*", "*"]) is None and Scope(None).allows("anything")
    for bad in ([], ["e mail"], ["a" * 201], ["x\n"]):
        with pytest.raises(ScopeError):
            parse_queues(bad)


def test_a_ledger_counts_jobs_in_a_sliding_window() -> None:
    ledger = RateLedger()
    rate = Rate(10, 3600)
    ledger.seed("bulk", C.JOBS_REQUEUE, [(T0 - datetime.timedelta(hours=2), 9), (T0 - datetime.timedelta(minutes=59), 4)])
    ledger.charge("bulk", C.JOBS_REQUEUE, 3, T0)
    assert ledger.used("bulk", C.JOBS_REQUEUE, rate, T0) == 7
    assert ledger.used("bulk", C.JOBS_REQUEUE, rate, T0 + datetime.timedelta(minutes=2)) == 3
    assert ledger.used("bulk", C.JOBS_PURGE, rate, T0) == 0 and not ledger.known("bulk", C.JOBS_PURGE)


def test_a_scoped_grant_is_kept_in_the_file_and_bounds_the_verdict(xdg: Path) -> None:
    store = PermissionStore()
    scope = Scope(("email*",), Rate(500, 3600))
    store.decide(plugin(), HASH_A, grant=[C.JOBS_REQUEUE, C.NOTIFY], scopes={C.JOBS_REQUEUE: scope}, now=T0)
    text = store.path.read_text()
    assert '[plugins.bulk.scopes."jobs.requeue"]' in text and 'rate = "500/h"' in text
    effective = store.grants(plugin(), HASH_A, SitePolicy()).check(C.JOBS_REQUEUE)
    assert effective.verdict is Verdict.GRANTED and effective.bounds == (Bound(scope, "your grant"),)
    assert effective.allows_queue("email-eu") and not effective.allows_queue("webhooks")
    assert str(effective.bounds[0]) == "queues email*, at most 500 jobs per hour (your grant)"
    assert store.grants(plugin(), HASH_A, SitePolicy()).check(C.NOTIFY).bounds == ()


def test_a_bound_carries_over_to_new_code_but_the_grant_does_not(xdg: Path) -> None:
    store = PermissionStore()
    scope = Scope(("email*",))
    store.decide(plugin(), HASH_A, grant=[C.JOBS_REQUEUE], scopes={C.JOBS_REQUEUE: scope}, now=T0)
    assert store.grants(plugin("1.1.0"), HASH_B, SitePolicy()).check(C.JOBS_REQUEUE).verdict is Verdict.UNDECIDED
    record = store.decide(plugin("1.1.0"), HASH_B, grant=[C.JOBS_REQUEUE], now=T0)
    assert record.scopes == {C.JOBS_REQUEUE: scope}
    record = store.decide(plugin("1.1.0"), HASH_B, scopes={C.JOBS_REQUEUE: Scope()}, now=T0)  # lifted
    assert record.scopes == {}
    record = store.decide(plugin("1.1.0"), HASH_B, scopes={C.JOBS_REQUEUE: scope}, now=T0)
    assert store.decide(plugin("1.1.0"), HASH_B, deny=[C.JOBS_REQUEUE], now=T0).scopes == {}  # no grant, no bound


def test_scoping_what_cannot_be_scoped_or_is_not_granted_is_refused(xdg: Path) -> None:
    store = PermissionStore()
    with pytest.raises(DecisionError, match="notify cannot be scoped"):
        store.decide(plugin(), HASH_A, grant=[C.NOTIFY], scopes={C.NOTIFY: Scope(("x",))})
    with pytest.raises(DecisionError, match="jobs.peek is not granted"):
        store.decide(plugin(), HASH_A, scopes={C.JOBS_PEEK: Scope(("x",))})


RECORD = """\
[[plugins.bulk]]
version = "1.0.0"
hash = "sha256:{a}"
decided_at = 2024-05-01T12:00:00Z
requested = ["jobs.peek", "jobs.requeue", "notify"]
granted = ["jobs.requeue", "notify"]
denied = []
no_confirm = []

[plugins.bulk.scopes."jobs.requeue"]
queues = ["email*"]
rate = "500/h"
""".replace("{a}", "a" * 64)


@pytest.mark.parametrize(("edit", "expected"), [
    (('rate = "500/h"', 'rate = "500 an hour"'),
     ':12: plugins.bulk[0].scopes."jobs.requeue".rate: \'500 an hour\' is not a rate'),
    (('queues = ["email*"]', 'queues = ["e mail"]'),
     ':11: plugins.bulk[0].scopes."jobs.requeue".queues: \'e mail\' is not a queue pattern'),
    (('queues = ["email*"]', 'queues = "email*"'),
     ':11: plugins.bulk[0].scopes."jobs.requeue".queues: must be an array of queue patterns'),
    (('scopes."jobs.requeue"]', 'scopes."jobs.peek"]'),
     ':10: plugins.bulk[0].scopes."jobs.peek": jobs.peek is not granted'),
    (('scopes."jobs.requeue"]', 'scopes.notify]'), ":10: plugins.bulk[0].scopes.notify: notify cannot be scoped"),
    (('rate = "500/h"', 'rate = "500/h"\nevery = "day"'),
     ':13: plugins.bulk[0].scopes."jobs.requeue".every: unknown field'),
])
def test_a_wrong_scope_fails_closed_naming_line_and_field(xdg: Path, edit: tuple[str, str], expected: str) -> None:
    path = paths.config_dir() / "permissions.toml"
    path.parent.mkdir(parents=True)
    path.write_text(RECORD)
    assert PermissionStore().records("bulk")[0].scopes == {C.JOBS_REQUEUE: Scope(("email*",), Rate(500, 3600))}
    path.write_text(RECORD.replace(*edit))
    with pytest.raises(PermissionsFileError) as caught:
        PermissionStore().load()
    assert str(caught.value).startswith(f"{path}{expected}"), str(caught.value)


def test_the_site_policy_scopes_capabilities_for_everyone_or_one_plugin(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[scopes."jobs.requeue"]\nqueues = ["email*"]\n\n'
                    '[plugins.bulk.scopes."jobs.requeue"]\nrate = "100/h"\n')
    policy = load_policy(path)
    assert policy.scopes_of("bulk", C.JOBS_REQUEUE) == (Scope(("email*",)), Scope(None, Rate(100, 3600)))
    assert policy.scopes_of("other", C.JOBS_REQUEUE) == (Scope(("email*",)),)
    path.write_text('[scopes."jobs.requeue"]\n')
    with pytest.raises(PolicyFileError, match=r'policy.toml:1: scopes."jobs.requeue": an empty scope'):
        load_policy(path)
