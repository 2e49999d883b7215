"""`qtui plugin new NAME`: a plugin folder that passes `plugin check` and `plugin test` as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtui.authoring import scaffold, typedefs
from qtui.plugins.bundles.bundle import bundle_files
from qtui.plugins.bundles.manifest import load_manifest


def test_a_new_plugin_passes_its_own_specs_and_the_check(run, tmp_path: Path) -> None:
    code, out, err = run("plugin", "new", "tenant-watch")
    folder = tmp_path / "tenant-watch"
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"created {folder}"
    assert run("plugin", "check", str(folder)) == (0, "ok: tenant-watch 0.1.0\n", "")
    assert run("plugin", "test", str(folder)) == (0, "5 passed, 0 failed\n", "")


def test_the_folder_holds_manifest_code_spec_and_editor_settings(tmp_path: Path) -> None:
    folder = scaffold.create("sla", tmp_path / "plugins")
    assert folder == tmp_path / "plugins" / "sla"
    manifest = load_manifest(folder)
    assert (manifest.name, str(manifest.version), manifest.api) == ("sla", "0.1.0", 1)
    assert [c.value for c in manifest.permissions] == ["stats.read"]
    assert bundle_files(folder) == ("init.lua", "manifest.toml")  # not the spec, not .luarc.json
    assert (folder / "spec" / "sla_spec.lua").is_file()
    luarc = json.loads((folder / ".luarc.json").read_text())
    assert luarc["workspace.library"] == [str(typedefs.PATH.parent)]
    assert luarc["runtime.version"] == "Lua 5.4"
    assert sorted(p.name for p in (tmp_path / "plugins").iterdir()) == ["sla"]  # no staging left


def test_an_existing_empty_folder_is_filled(run, tmp_path: Path) -> None:
    (tmp_path / "parent" / "sla").mkdir(parents=True)
    code, _, _ = run("plugin", "new", "sla", "--dir", "parent")
    assert code == 0
    assert (tmp_path / "parent" / "sla" / "init.lua").is_file()


def test_an_existing_folder_with_files_is_refused_and_left_alone(run, tmp_path: Path) -> None:
    (tmp_path / "sla").mkdir()
    (tmp_path / "sla" / "notes.txt").write_text("mine")
    (tmp_path / "taken").write_text("a file")
    assert run("plugin", "new", "sla") == (2, "", f"qtui: {tmp_path / 'sla'} already exists and is not empty\n")
    assert run("plugin", "new", "taken") == (2, "", f"qtui: {tmp_path / 'taken'} already exists and is not a folder\n")
    assert [p.name for p in (tmp_path / "sla").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sla", "taken"]


@pytest.mark.parametrize("name", ["Tenant", "tenant_sla", "-sla", "sla-", "9lives", "a" * 65, "", "../up"])
def test_an_invalid_name_is_refused_with_the_rule(run, tmp_path: Path, name: str) -> None:
    code, out, err = run("plugin", "new", "--", name)
    assert (code, out) == (2, "")
    assert err.startswith("qtui: ")
    assert "lowercase letters" in err or "longer than 64" in err or "must not be empty" in err
    assert list(tmp_path.iterdir()) == []


def test_a_write_failure_leaves_nothing_behind(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "lib" is written as a file, so "lib/util.lua" cannot be: the failure comes mid-way.
    monkeypatch.setattr(scaffold, "files", lambda name: {"lib": "-- a file", "lib/util.lua": "return {}"})
    code, out, err = run("plugin", "new", "sla", "--dir", "parent")
    assert (code, out) == (5, "")
    assert err.startswith("qtui: parent/.sla.") and err.endswith("/lib: File exists\n")
    assert list((tmp_path / "parent").iterdir()) == []


def test_a_parent_that_is_a_file_is_reported(run, tmp_path: Path) -> None:
    (tmp_path / "plugins").write_text("not a folder")
    code, out, err = run("plugin", "new", "sla", "--dir", "plugins")
    assert (code, out) == (5, "")
    assert err == "qtui: plugins: File exists\n"
