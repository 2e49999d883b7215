"""Packing plugin folders into archives, and removing installed plugins."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from qtui.plugins.bundles import catalog
from qtui.plugins.bundles.bundle import bundle_hash, read_bundle
from qtui.plugins.bundles.catalog import NotAvailable, PackageError, install, pack, read_index, remove
from qtui.plugins.bundles.discovery import Source, discover
from qtui.plugins.bundles.manifest import Version
from qtui.plugins.trust.permissions import PermissionStore


def test_pack_gives_the_same_bytes_whatever_the_times_modes_and_stray_files(
    make_plugin, tmp_path: Path
) -> None:
    source = make_plugin(tmp_path / "a", "hello", files={"init.lua": "return {}\n", "lib/x.lua": "return 1\n"})
    first = pack(source, tmp_path / "first.tar.gz")

    copy = tmp_path / "b/elsewhere"
    shutil.copytree(source, copy)
    os.utime(copy / "init.lua", (1_000_000, 1_000_000))
    os.chmod(copy / "lib/x.lua", 0o600)
    (copy / ".DS_Store").write_bytes(b"junk")
    (copy / "init.lua.swp").write_bytes(b"junk")
    second = pack(copy, tmp_path / "second.tar.gz")

    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()


def test_pack_names_the_archive_after_the_plugin_and_its_entry_installs(
    make_plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_plugins: Path
) -> None:
    source = make_plugin(tmp_path / "src", "tenant-sla", version="1.2.0-rc.1", permissions=["stats.read"])
    dist = tmp_path / "dist"
    dist.mkdir()
    monkeypatch.chdir(dist)
    packed = pack(source)
    assert packed.path == dist / "tenant-sla-1.2.0-rc.1.tar.gz" and packed.path.is_file()
    assert [p.name for p in dist.iterdir()] == ["tenant-sla-1.2.0-rc.1.tar.gz"]  # no temporary file left
    (dist / "index.toml").write_text(packed.index_entry())
    (entry,) = read_index(dist / "index.toml")
    assert entry.origin == catalog.ArchiveLocation(str(packed.path), packed.sha256)
    assert install(entry).code_hash == read_bundle(source).hash


def test_pack_refuses_an_invalid_plugin_with_its_problems(make_plugin, tmp_path: Path) -> None:
    source = make_plugin(tmp_path, "hello", files={"init.lua": "return {\n"}, permissions=["root"])
    with pytest.raises(PackageError) as caught:
        pack(source, tmp_path)
    root_line = (source / "manifest.toml").read_text().splitlines().index('    "root",') + 1
    assert [(p.file.name, p.line) for p in caught.value.problems] == [("manifest.toml", root_line), ("init.lua", 2)]
    assert not list(tmp_path.glob("*.tar.gz"))


def test_pack_refuses_links_and_an_archive_inside_the_folder(make_plugin, tmp_path: Path) -> None:
    source = make_plugin(tmp_path, "hello")
    with pytest.raises(PackageError, match="may not be written inside the plugin folder"):
        pack(source, source)
    (source / "secret.lua").symlink_to("/etc/passwd")
    with pytest.raises(PackageError) as caught:
        pack(source, tmp_path)
    assert "symbolic links are not allowed" in caught.value.problems[0].message


def test_remove_deletes_the_users_install_and_the_bundled_one_is_used_again(
    make_plugin, bundled: Path, user_plugins: Path, tmp_path: Path
) -> None:
    make_plugin(bundled, "hello", version="1.0.0")
    install(make_plugin(tmp_path / "src", "hello", version="2.0.0"))
    assert catalog.installed_folders("hello") == (user_plugins / "hello",)

    removed = remove("hello")

    assert removed.folders == (user_plugins / "hello",) and removed.version == Version(2, 0, 0)
    assert not (user_plugins / "hello").exists()
    assert removed.now_used is not None and removed.now_used.source is Source.BUNDLED
    assert sorted(p.name for p in user_plugins.iterdir()) == [".qtui-install.lock"]
    with pytest.raises(NotAvailable, match=f"hello is a bundled plugin \\({bundled / 'hello'}\\), not one you installed"):
        remove("hello")
    assert (bundled / "hello/manifest.toml").exists()


def test_remove_refuses_system_plugins_and_unknown_names(make_plugin, system_plugins: Path, user_plugins: Path) -> None:
    make_plugin(system_plugins, "site-tool")
    with pytest.raises(NotAvailable, match="site-tool is a system plugin"):
        remove("site-tool")
    with pytest.raises(NotAvailable, match=f"no plugin named 'nothing' is installed in {user_plugins}"):
        remove("nothing")
    assert (system_plugins / "site-tool").exists()


def test_remove_deletes_files_and_leaves_the_permission_decisions_alone(make_plugin, tmp_path: Path) -> None:
    installed = install(make_plugin(tmp_path / "src", "hello", permissions=["stats.read"]))
    PermissionStore().decide(installed.manifest, installed.code_hash, grant=installed.manifest.permissions)
    remove("hello")
    assert len(PermissionStore().records("hello")) == 1


def test_remove_takes_broken_plugins_by_folder_name_and_links_without_their_target(
    make_plugin, tmp_path: Path, user_plugins: Path
) -> None:
    broken = user_plugins / "half"
    broken.mkdir(parents=True)
    (broken / "manifest.toml").write_text("name = \n")
    assert remove("half").folders == (broken,) and not broken.exists()

    work = make_plugin(tmp_path / "work", "linked")
    (user_plugins / "linked").symlink_to(work)
    before = bundle_hash(work)
    assert remove("linked").folders == (user_plugins / "linked",)
    assert not os.path.lexists(user_plugins / "linked") and bundle_hash(work) == before
    assert discover().get("linked") is None
