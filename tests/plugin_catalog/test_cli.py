"""`qtui plugin catalog|install|remove|pack` as an operator runs them: output and exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtui.plugins.trust.permissions import PermissionStore


@pytest.fixture
def published(run, make_plugin, tmp_path: Path, http_folder) -> Path:
    """An index in tmp_path listing tenant-sla 1.0.0 (a local archive) and 1.1.0 (over HTTP)."""
    www, base = http_folder
    for version, out in (("1.0.0", tmp_path / "dist"), ("1.1.0", www)):
        out.mkdir(exist_ok=True)
        source = make_plugin(tmp_path / f"src-{version}", "tenant-sla", version=version,
                             permissions=["stats.read", "timers"])
        code, text, err = run("plugin", "pack", str(source), "-o", str(out))
        assert code == 0, err
        entry = text.split("# for a catalog index file in the archive's folder:\n")[1]
        if out == www:
            entry = entry.replace('archive = "', f'archive = "{base}')
        else:
            entry = entry.replace('archive = "', 'archive = "dist/')
        with open(tmp_path / "index.toml", "a") as index:
            index.write(entry + "\n")
    return tmp_path / "index.toml"


def test_pack_prints_the_archive_its_sha256_and_an_index_entry(run, make_plugin, tmp_path: Path) -> None:
    source = make_plugin(tmp_path / "src", "hello", permissions=["stats.read"])
    code, out, _ = run("plugin", "pack", str(source), "--output", str(tmp_path))
    assert code == 0
    archive = tmp_path / "hello-1.0.0.tar.gz"
    lines = out.splitlines()
    assert lines[0] == f"wrote {archive}" and lines[1].startswith("sha256 ")
    code, out, _ = run("plugin", "pack", str(source), "-o", str(tmp_path / "copy.tar.gz"), "--json")
    data = json.loads(out)
    assert data["sha256"] == lines[1].split()[1]
    assert (tmp_path / "copy.tar.gz").read_bytes() == archive.read_bytes()
    assert data["index_entry"] == "\n".join(lines[4:]).replace("hello-1.0.0.tar.gz", "copy.tar.gz") + "\n"


def test_pack_of_a_broken_plugin_prints_its_problems_and_exits_2(run, make_plugin, tmp_path: Path) -> None:
    source = make_plugin(tmp_path, "hello", files={"init.lua": "x = = 1\n"})
    code, out, err = run("plugin", "pack", str(source), "-o", str(tmp_path))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"qtui: {source / 'init.lua'}:1: unexpected symbol near '='",
        f"qtui: {source}: the plugin has 1 problem",
    ]


def test_catalog_lists_versions_with_what_is_installed(run, published: Path, make_plugin, bundled: Path) -> None:
    make_plugin(bundled, "bundled-one", permissions=["notify"])
    code, out, _ = run("plugin", "catalog", "--catalog", str(published))
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "VERSION", "STATUS", "INSTALLED", "PERMISSIONS", "CATALOG", "DESCRIPTION"]
    assert [r.split()[:4] for r in rows] == [["tenant-sla", "1.0.0", "available", "-"],
                                             ["tenant-sla", "1.1.0", "available", "-"]]

    assert run("plugin", "install", "tenant-sla", "--catalog", str(published))[0] == 0
    config = Path.home() / ".config/qtui/catalogs.toml"
    config.write_text(f'catalogs = ["{published}"]\n')
    code, out, _ = run("plugin", "catalog", "--json")
    data = json.loads(out)
    assert [(p["name"], p["version"], p["status"]) for p in data["plugins"]] == [
        ("bundled-one", "1.0.0", "installed"),
        ("tenant-sla", "1.0.0", "older"),
        ("tenant-sla", "1.1.0", "installed"),
    ]
    assert data["plugins"][2]["installed"]["source"] == "user"
    assert data["plugins"][0]["code_hash"].startswith("sha256:") and data["plugins"][0]["sha256"] is None
    assert data["problems"] == []


def test_install_by_name_takes_the_newest_and_says_what_it_asks_for(run, published: Path) -> None:
    code, out, err = run("plugin", "install", "tenant-sla", "--catalog", str(published))
    assert code == 0, err
    lines = out.splitlines()
    target = Path.home() / ".config/qtui/plugins/tenant-sla"
    assert lines[0] == f"installed tenant-sla 1.1.0 in {target}"
    assert lines[1].startswith("sha256 ")
    assert lines[2] == "it asks for stats.read, timers when the console starts it"
    assert PermissionStore().records("tenant-sla") == ()

    code, out, _ = run("plugin", "install", "tenant-sla", "--catalog", str(published))
    assert (code, out) == (0, f"tenant-sla 1.1.0 is already installed in {target}\n")
    code, out, _ = run("plugin", "list", "--json")
    (plugin,) = json.loads(out)["plugins"]
    assert plugin["version"] == "1.1.0" and plugin["decisions"]["undecided"] == ["stats.read", "timers"]


def test_install_exit_statuses(run, published: Path, tmp_path: Path, make_plugin) -> None:
    code, _, err = run("plugin", "install", "missing", "--catalog", str(published))
    assert code == 1 and "no plugin named 'missing' in the catalog" in err

    older = tmp_path / "dist/tenant-sla-1.0.0.tar.gz"
    assert run("plugin", "install", "tenant-sla", "--catalog", str(published))[0] == 0
    code, _, err = run("plugin", "install", str(older))
    assert code == 4 and "1.0.0 is an older version: use --force to replace it" in err
    code, out, _ = run("plugin", "install", str(older), "--force", "--json")
    assert code == 0 and json.loads(out)["replaced"] == "1.1.0"

    published.write_text(published.read_text().replace("1.1.0.tar.gz", "1.2.0.tar.gz"))
    code, _, err = run("plugin", "install", "tenant-sla", "--catalog", str(published))
    assert code == 3 and "tenant-sla-1.2.0.tar.gz: HTTP 404" in err

    code, _, err = run("plugin", "install", str(make_plugin(tmp_path, "other")), "--catalog", str(published))
    assert code == 2 and "--catalog is for installing by name" in err

    published.write_text("[[plugin]]\nname = 1\n")
    code, _, err = run("plugin", "install", "tenant-sla", "--catalog", str(published))
    assert code == 2 and f"qtui: {published}:2: plugin[0].name: must be a string, not an integer" in err


def test_a_broken_configured_catalog_is_a_warning_when_installing_by_name(
    run, make_plugin, bundled: Path, tmp_path: Path
) -> None:
    make_plugin(bundled, "hello")
    config = Path.home() / ".config/qtui/catalogs.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'catalogs = ["{tmp_path}/gone.toml"]\n')
    code, out, err = run("plugin", "install", "hello")
    assert code == 0 and out.startswith("installed hello 1.0.0")
    assert err == f"qtui: warning: {tmp_path}/gone.toml: cannot read: No such file or directory\n"


def test_remove_asks_first_and_forgets_the_decisions(run, make_plugin, tmp_path: Path) -> None:
    source = make_plugin(tmp_path / "src", "hello", permissions=["stats.read"])
    assert run("plugin", "install", str(source))[0] == 0
    assert run("plugin", "grant", "hello", "stats.read")[0] == 0
    target = Path.home() / ".config/qtui/plugins/hello"

    code, _, err = run("plugin", "remove", "hello")
    assert code == 4 and f"Delete {target}? refused: stdin is not a terminal" in err and target.exists()

    code, out, _ = run("plugin", "remove", "hello", "--yes")
    assert code == 0
    assert out.splitlines() == [f"removed hello 1.0.0 ({target})", "forgot its 1 permission decision record"]
    assert not target.exists() and PermissionStore().records("hello") == ()

    code, _, err = run("plugin", "remove", "hello", "--yes")
    assert code == 1 and "no plugin named 'hello' is installed" in err


def test_remove_refuses_a_bundled_plugin(run, make_plugin, bundled: Path) -> None:
    make_plugin(bundled, "hello")
    code, out, err = run("plugin", "remove", "hello", "--yes", "--json")
    assert code == 1 and out == ""
    assert "hello is a bundled plugin" in err and "only plugins in" in err
    assert (bundled / "hello").is_dir()
