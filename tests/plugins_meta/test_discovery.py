"""Plugin discovery: precedence user > system > bundled, shadowing, conflicts, broken plugins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import qtui
from qtui import paths
from qtui.plugins.bundles.discovery import (
    Source,
    bundled_dir,
    discover,
    plugin_dirs,
)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[Source, Path]:
    return {
        Source.USER: paths.config_dir() / "plugins",
        Source.SYSTEM: paths.system_config_dir() / "plugins",
        Source.BUNDLED: tmp_path / "bundled",
    }


def test_plugin_dirs_follow_xdg_in_precedence_order(xdg: Path, tmp_path: Path) -> None:
    found = plugin_dirs()
    assert found[:2] == (
        (Source.USER, xdg / ".config/qtui/plugins"),
        (Source.SYSTEM, tmp_path / "etc/xdg/qtui/plugins"),
    )
    assert found[2:] == (((Source.BUNDLED, bundled_dir()),) if bundled_dir() else ())


def test_same_folder_for_user_and_system_is_searched_once(
    xdg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(xdg / ".config"))
    assert [s for s, _ in plugin_dirs()][:2] == [Source.USER] + (
        [Source.BUNDLED] if bundled_dir() else []
    )


def test_user_beats_system_beats_bundled_and_shadowed_are_reported(
    dirs: dict[Source, Path], make_plugin, manifest_doc
) -> None:
    user = make_plugin(dirs[Source.USER], "sla-dev", manifest_doc(name="sla", version="2.0.0-dev"))
    system = make_plugin(dirs[Source.SYSTEM], "sla", manifest_doc(name="sla", version="1.1.0"))
    bundled = make_plugin(dirs[Source.BUNDLED], "sla", manifest_doc(name="sla", version="1.0.0"))
    make_plugin(dirs[Source.BUNDLED], "hello")
    found = discover(dirs.items())
    assert [(p.name, p.source) for p in found.plugins] == [("hello", Source.BUNDLED), ("sla", Source.USER)]
    assert found.get("sla").folder == user and str(found.get("sla").manifest.version) == "2.0.0-dev"
    assert [(s.plugin.folder, s.by) for s in found.shadowed] == [(system, user), (bundled, user)]
    assert found.messages() == [
        f"{system}: plugin sla (system) is shadowed by {user}",
        f"{bundled}: plugin sla (bundled) is shadowed by {user}",
    ]
    assert found.broken == () and found.conflicts == ()


def test_two_folders_with_one_name_in_one_place_are_a_conflict(
    dirs: dict[Source, Path], make_plugin, manifest_doc
) -> None:
    a = make_plugin(dirs[Source.USER], "sla", manifest_doc(name="sla"))
    b = make_plugin(dirs[Source.USER], "sla-copy", manifest_doc(name="sla"))
    system = make_plugin(dirs[Source.SYSTEM], "sla", manifest_doc(name="sla"))
    found = discover(dirs.items())
    assert found.plugins == ()
    (conflict,) = found.conflicts
    assert str(conflict) == f"plugin name 'sla' is declared by more than one folder: {a} and {b}"
    assert [s.plugin.folder for s in found.shadowed] == [system]  # the user's mess is not skipped


def test_broken_plugins_are_reported_and_do_not_stop_discovery(
    dirs: dict[Source, Path], make_plugin, manifest_doc
) -> None:
    bad = make_plugin(dirs[Source.USER], "bad", manifest_doc(name="bad", api="2"))
    no_entry = make_plugin(dirs[Source.USER], "noentry", manifest_doc(name="noentry"), files={})
    (dirs[Source.USER] / "empty").mkdir()
    make_plugin(dirs[Source.USER], "good")
    found = discover(dirs.items())
    assert [p.name for p in found.plugins] == ["good"]
    assert [b.folder.name for b in found.broken] == ["bad", "empty", "noentry"]
    assert found.messages() == [
        f"{bad}/manifest.toml:4: api: plugin targets API 2; this qtui supports API 1",
        f"{dirs[Source.USER] / 'empty'}: no manifest.toml: not a plugin folder",
        f"{no_entry}/manifest.toml: entry: entry file 'init.lua' does not exist in {no_entry}",
    ]


def test_hidden_folders_loose_files_and_missing_dirs_are_ignored(
    dirs: dict[Source, Path], make_plugin
) -> None:
    make_plugin(dirs[Source.SYSTEM], ".trash")
    make_plugin(dirs[Source.SYSTEM], "ok")
    (dirs[Source.SYSTEM] / "README.md").write_text("plugins go here")
    found = discover(dirs.items())  # the user and bundled folders do not exist
    assert [p.name for p in found.plugins] == ["ok"] and found.messages() == []


def test_unreadable_plugin_directory_is_reported(tmp_path: Path, make_plugin) -> None:
    not_a_dir = tmp_path / "plugins"
    not_a_dir.write_text("")
    make_plugin(tmp_path / "other", "ok")
    found = discover([(Source.USER, not_a_dir), (Source.SYSTEM, tmp_path / "other")])
    assert [p.name for p in found.plugins] == ["ok"]
    assert found.messages() == [f"{not_a_dir}: cannot read plugin folder: Not a directory"]


def test_symlinked_plugin_folder_is_found(dirs: dict[Source, Path], tmp_path: Path, make_plugin) -> None:
    checkout = make_plugin(tmp_path / "src", "dev")
    dirs[Source.USER].mkdir(parents=True)
    (dirs[Source.USER] / "dev").symlink_to(checkout)
    assert [p.name for p in discover(dirs.items()).plugins] == ["dev"]


def test_bundled_plugins_are_found_installed_or_in_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "qtui"
    package.mkdir(parents=True)
    monkeypatch.setattr(qtui, "__file__", str(package / "__init__.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert bundled_dir() is None
    installed = tmp_path / "venv" / "share" / "qtui" / "lua_plugins"
    installed.mkdir(parents=True)
    assert bundled_dir() == installed  # where the wheel's data files go
    (tmp_path / "site" / "lua_plugins").mkdir()
    assert bundled_dir() == installed  # a stray folder beside an installed package is not ours
    (tmp_path / "site" / "pyproject.toml").write_text("")
    assert bundled_dir() == tmp_path / "site" / "lua_plugins"  # a source checkout (pip install -e) wins
