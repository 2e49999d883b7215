"""The plugin API v1 contract (spec/*_spec.lua) passes against the real host and covers the API.

Every function, constant, event, capability, callback and library module declared in qtui.plugins.runtime.api
must have a top-level describe block named after it ("qtui.jobs.peek", "event stats", "capability
jobs.purge", "callback activate", "library qtui.json"), so adding to the API without a contract
spec fails here.
"""

from __future__ import annotations

import pytest

from qtui.authoring import spectest
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime import api

from .conftest import run_specs


@pytest.fixture(scope="module")
def contract() -> list[spectest.SpecResult]:
    return run_specs(*spectest.find_specs([spectest.contract_dir()]))


@pytest.fixture(scope="module")
def described(contract: list[spectest.SpecResult]) -> set[str]:
    return {result.names[0] for result in contract}


def test_every_contract_spec_passes(contract: list[spectest.SpecResult]) -> None:
    failures = [spectest.format_failure(r) for r in contract if not r.passed]
    assert not failures, "\n\n".join(failures)
    assert len(contract) > 100


@pytest.mark.parametrize(("prefix", "declared"), [
    ("", {f.lua_name for f in api.FUNCTIONS} | {c.lua_name for c in api.CONSTANTS}),
    ("event ", {e.type for e in api.EVENTS}),
    ("capability ", {c.value for c in Capability}),
    ("callback ", {c.name for c in api.CALLBACKS}),
    ("library ", {m.require_name for m in api.LIBRARY}),
], ids=["functions", "events", "capabilities", "callbacks", "library"])
def test_the_contract_covers_everything_the_api_declares(described: set[str], prefix: str, declared: set[str]) -> None:
    covered = {name.removeprefix(prefix) for name in described if name.startswith(prefix or "qtui.")}
    assert declared - covered == set(), "declared without a contract spec"
    assert covered - declared == set(), "contract specs of something the API does not declare"
