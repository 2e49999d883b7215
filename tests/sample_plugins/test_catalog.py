"""Every plugin in lua_plugins/ is a valid, compilable, documented and modest bundle."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qtui.plugins.bundles.bundle import read_bundle
from qtui.plugins.bundles.lua_syntax import syntax_problem
from qtui.plugins.bundles.manifest import Limits, load_manifest
from qtui.plugins.runtime import sandbox
from qtui.plugins.runtime.sandbox import LIBRARY_MODULES

from .conftest import CATALOG, PANEL_WIDTH

STDLIB = Path(sandbox.__file__).parent / "stdlib"
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


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_shared_helpers_come_from_qtuis_library_not_copies(folder) -> None:
    bundle = read_bundle(folder)
    required = set()
    for name, data in bundle.files.items():
        if name.endswith(".lua"):
            required |= set(re.findall(r"""\brequire\s*\(?\s*["']([\w.-]+)["']""", data.decode()))
    library = {name for name in required if name.startswith("qtui.")}
    assert library and library <= set(LIBRARY_MODULES)
    for name in required - library:  # anything else is one of the plugin's own files
        assert f"{name.replace('.', '/')}.lua" in bundle.files, name
    stdlib = {module.read_bytes() for module in STDLIB.glob("*.lua")}
    assert not [name for name, data in bundle.files.items() if data in stdlib], "a copy of a library module"
