"""Catalog index files, catalogs.toml and the bundled plugins as the default catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.bundles.catalog import (
    BUNDLED,
    ArchiveLocation,
    CatalogError,
    FolderLocation,
    NotAvailable,
    PackageError,
    load_catalog,
    read_index,
    resolve,
)
from qtui.plugins.bundles.manifest import Version

SHA = "ab" * 32


def _entry(name: str = "hello", version: str = "1.0.0", **fields: object) -> dict[str, object]:
    entry = {"name": name, "version": version, "description": f"{name} panel",
             "permissions": ["stats.read"], "archive": f"{name}-{version}.tar.gz", "sha256": SHA}
    entry.update(fields)
    return entry


def _index(path: Path, *entries: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({"plugin": list(entries)}))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        read_index(path)
    return [str(p) for p in caught.value.problems]


def test_entries_resolve_archive_locations_against_the_index(tmp_path: Path) -> None:
    index = _index(
        tmp_path / "cat/index.toml",
        _entry(),
        _entry("other", archive="/srv/other.tar.gz", sha256=SHA.upper()),
        _entry("remote", archive="https://example.com/remote-1.0.0.tar.gz", permissions=[]),
    )
    hello, other, remote = read_index(index)
    assert hello.name == "hello" and hello.version == Version(1, 0, 0)
    assert hello.permissions == (Capability.STATS_READ,) and hello.description == "hello panel"
    assert hello.origin == ArchiveLocation(str(tmp_path / "cat/hello-1.0.0.tar.gz"), SHA)
    assert hello.catalog == str(index)
    assert other.origin == ArchiveLocation("/srv/other.tar.gz", SHA)
    assert remote.location == "https://example.com/remote-1.0.0.tar.gz" and remote.permissions == ()


def test_every_problem_is_reported_with_its_line_and_field(tmp_path: Path) -> None:
    index = tmp_path / "index.toml"
    index.write_text(
        "[[plugin]]\n"                                       # 1
        'name = "Hello World"\n'                            # 2
        'version = "1.0"\n'                                 # 3
        'description = "x"\n'                               # 4
        'permissions = ["stats.read", "root"]\n'            # 5
        'archive = "ftp://example.com/hello.tar.gz"\n'      # 6
        'sha256 = "abc"\n'                                  # 7
        "colour = 1\n"                                      # 8
        "\n"
        "[[plugin]]\n"                                      # 10
        'name = "ok"\n'
        'version = "1.0.0"\n'
    )
    assert _problems(index) == [
        f"{index}:2: plugin[0].name: 'Hello World' is not a valid plugin name",
        f"{index}:3: plugin[0].version: '1.0' is not a semantic version (MAJOR.MINOR.PATCH, e.g. "
        "1.4.0 or 2.0.0-rc.1)",
        f"{index}:5: plugin[0].permissions[1]: unknown capability 'root' (known: "
        + ", ".join(c.value for c in Capability) + ")",
        f"{index}:6: plugin[0].archive: 'ftp://example.com/hello.tar.gz': only http and https URLs "
        "or file paths are allowed",
        f"{index}:7: plugin[0].sha256: 'abc' is not a sha256 digest (64 hex digits)",
        f"{index}:8: plugin[0].colour: unknown field (known: name, version, description, "
        "permissions, archive, sha256)",
        f"{index}:10: plugin[1].description: required field is missing",
        f"{index}:10: plugin[1].permissions: required field is missing (use [] for none)",
        f"{index}:10: plugin[1].archive: required field is missing",
        f"{index}:10: plugin[1].sha256: required field is missing",
    ]


def test_syntax_errors_and_wrong_shapes_name_the_line(tmp_path: Path) -> None:
    index = tmp_path / "index.toml"
    index.write_text('[[plugin]]\nname = "a"\nversion = 1.0.0\n')
    (problem,) = _problems(index)
    assert problem.startswith(f"{index}:3: invalid TOML")
    index.write_text('plugin = "everything"\n')
    assert _problems(index) == [f"{index}:1: plugin: must be an array of tables ([[plugin]]), not a string"]
    index.write_text('[[plugin]]\nname = "a"\n[[plugin]]\nname = 7\n')
    assert f"{index}:4: plugin[1].name: must be a string, not an integer" in _problems(index)


def test_the_same_version_listed_twice_is_an_error(tmp_path: Path) -> None:
    index = _index(tmp_path / "index.toml", _entry(), _entry(version="1.1.0"), _entry())
    lines = index.read_text().splitlines()
    third = [n for n, line in enumerate(lines, 1) if line == "[[plugin]]"][2]
    assert _problems(index) == [f"{index}:{third}: plugin[2]: hello 1.0.0 is listed twice"]


def test_unreadable_index_names_the_file(tmp_path: Path) -> None:
    assert _problems(tmp_path / "missing.toml") == [
        f"{tmp_path / 'missing.toml'}: cannot read: No such file or directory"
    ]


@given(st.text(max_size=200))
def test_any_text_is_entries_or_catalog_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    index = tmp_path_factory.mktemp("fuzz") / "index.toml"
    index.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        read_index(index)
    except CatalogError as e:
        assert e.problems and all(p.file == index for p in e.problems)


def test_default_catalog_is_configured_indexes_then_the_bundled_plugins(
    xdg: Path, tmp_path: Path, bundled: Path, make_plugin
) -> None:
    folder = make_plugin(bundled, "tenant-sla", version="1.0.0", permissions=["stats.read", "timers"])
    broken = bundled / "broken"
    broken.mkdir()
    (broken / "manifest.toml").write_text('name = "broken"\n')
    team = _index(tmp_path / "team/index.toml", _entry("tenant-sla", "1.2.0"), _entry())
    site = _index(tmp_path / "site/index.toml", _entry("site-only"))
    (xdg / ".config/qtui").mkdir(parents=True)
    (xdg / ".config/qtui/catalogs.toml").write_text(f'catalogs = ["../../../team/index.toml", "{team}"]\n')
    (tmp_path / "etc/xdg/qtui").mkdir(parents=True)
    (tmp_path / "etc/xdg/qtui/catalogs.toml").write_text(f'catalogs = ["{site}"]\n')

    catalog = load_catalog()
    assert [(e.name, str(e.version), e.catalog) for e in catalog.entries] == [
        ("tenant-sla", "1.2.0", str(team)),  # listed twice, read once
        ("hello", "1.0.0", str(team)),
        ("site-only", "1.0.0", str(site)),
        ("tenant-sla", "1.0.0", BUNDLED),
    ]
    bundled_entry = catalog.entries[3]
    assert bundled_entry.origin == FolderLocation(folder, bundle_hash(folder))
    assert bundled_entry.permissions == (Capability.STATS_READ, Capability.TIMERS)
    assert catalog.newest("tenant-sla") is catalog.entries[0]
    assert catalog.newest("nothing") is None
    assert {p.file for p in catalog.problems} == {broken / "manifest.toml"}


def test_a_broken_index_is_a_problem_of_the_catalog_not_the_end_of_it(
    xdg: Path, tmp_path: Path, bundled: Path, make_plugin
) -> None:
    make_plugin(bundled, "tenant-sla")
    config = xdg / ".config/qtui/catalogs.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'catalogs = ["{tmp_path}/missing.toml"]\n')
    catalog = load_catalog()
    assert [e.name for e in catalog.entries] == ["tenant-sla"]
    assert [str(p) for p in catalog.problems] == [
        f"{tmp_path}/missing.toml: cannot read: No such file or directory"
    ]
    with pytest.raises(CatalogError):
        load_catalog([tmp_path / "missing.toml"])


def test_an_invalid_catalogs_toml_is_a_problem_of_the_catalog(xdg: Path, bundled: Path, make_plugin) -> None:
    make_plugin(bundled, "hello")
    config = xdg / ".config/qtui/catalogs.toml"
    config.parent.mkdir(parents=True)
    config.write_text('catalogs = ["ok.toml", 3, "https://example.com/index.toml"]\nmirror = true\n')
    catalog = load_catalog()
    assert [e.name for e in catalog.entries] == ["hello"]
    assert [str(p) for p in catalog.problems] == [
        f"{config}:1: catalogs[1]: must be the path of an index file",
        f"{config}:1: catalogs[2]: must be a file path: index files are read from disk, only "
        "archives are downloaded",
        f"{config}:2: mirror: unknown field (known: catalogs)",
    ]


def test_names_take_the_newest_release_and_name_at_version_that_version(tmp_path: Path) -> None:
    index = _index(tmp_path / "index.toml", _entry(version="1.0.0"), _entry(version="1.10.0"),
                   _entry(version="2.0.0-rc.1"), _entry("beta", "0.1.0-alpha"), _entry("beta", "0.1.0-beta"))
    listing = load_catalog([index])
    assert str(resolve("hello", listing).version) == "1.10.0"
    assert str(resolve("hello@2.0.0-rc.1", listing).version) == "2.0.0-rc.1"
    assert str(resolve("beta", listing).version) == "0.1.0-beta"
    with pytest.raises(NotAvailable, match=r"the catalog has no hello 3.0.0 \(it lists 1.0.0, 1.10.0, 2.0.0-rc.1\)"):
        resolve("hello@3.0.0", listing)
    with pytest.raises(PackageError, match="hello@latest: 'latest' is not a semantic version"):
        resolve("hello@latest", listing)
