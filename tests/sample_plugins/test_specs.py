"""Each sample plugin's own Lua specs (spec/*_spec.lua) pass under `qtui plugin test`."""

from __future__ import annotations

import pytest

from qtui.authoring.spectest import find_specs, format_failure, run_specs

from .conftest import CATALOG

WITH_SPECS = sorted(p for p in CATALOG.iterdir() if (p / "spec").is_dir())


def test_every_sample_plugin_has_specs() -> None:
    folders = sorted(p for p in CATALOG.iterdir() if (p / "manifest.toml").is_file())
    assert folders and folders == WITH_SPECS


@pytest.mark.parametrize("folder", WITH_SPECS, ids=lambda f: f.name)
def test_the_plugins_specs_pass(folder) -> None:
    results = run_specs(find_specs([folder / "spec"]), plugin=folder, output=lambda line: None)
    assert results, "no tests ran"
    failures = [format_failure(r) for r in results if not r.passed]
    assert not failures, "\n".join(failures)
