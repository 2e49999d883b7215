"""Every plugin in lua_plugins/ is a valid, compilable, documented and modest bundle."""

from __future__ import annotations

import pytest

from qtui.plugins.bundles.bundle import read_bundle
from qtui.plugins.bundles.lua_syntax import syntax_problem
from qtui.plugins.bundles.manifest import Limits, load_manifest

from .conftest import CATALOG, PANEL_WIDTH

FOLDERS = sorted(p for p in CATALOG.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_the_catalog_holds_the_sample_plugins() -> None:
    assert {"tenant-sla", "bulk-requeue", "queue-alert", "throughput"} <= {f.name for f in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_manifest_is_valid_and_every_lua_file_compiles(folder) -> None:
    manifest = load_manifest(folder)
    assert manifest.name == folder.name and manifest.api == 1
    bundle = read_bundle(folder)
    sources = {name: data for name, data in bundle.files.items() if name.endswith(".lua")}
    assert manifest.entry in sources
    for name, data in sources.items():
        assert syntax_problem(data, name, memory_bytes=manifest.limits.memory_bytes) is None, name


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_manifest_is_modest_and_documented(folder) -> None:
    manifest = load_manifest(folder)
    assert manifest.limits == Limits()  # the host's defaults are enough
    assert manifest.panel is not None and manifest.panel.width <= PANEL_WIDTH
    assert all(setting.description for setting in manifest.settings)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for capability in manifest.permissions:
        assert f"`{capability.value}`" in readme, f"README.md does not explain {capability.value}"
    for setting in manifest.settings:
        assert f"`{setting.name}`" in readme, f"README.md does not explain the setting {setting.name}"


def test_vendored_modules_are_identical_copies() -> None:
    copies: dict[str, dict[bytes, list[str]]] = {}
    for folder in FOLDERS:
        for module in (folder / "lib").glob("*.lua"):
            copies.setdefault(module.name, {}).setdefault(module.read_bytes(), []).append(folder.name)
    assert copies, "no vendored modules found"
    for module, versions in copies.items():
        assert len(versions) == 1, f"lib/{module} differs between {list(versions.values())}"
