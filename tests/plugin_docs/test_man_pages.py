"""The plugin man pages: generated from the declarations, complete, and readable on an 80-column terminal.

(Lint and the NAME line of every page in man/, these included, are checked by tests/docs/test_man.py.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import attrs
import pytest

from qtui import docs as man_docs
from qtui.authoring import docs, typedefs
from qtui.plugins.bundles import catalog, manifest
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime import api
from qtui.plugins import lockfile
from qtui.plugins.lockfile import read_lock
from qtui.plugins.trust import audit, permissions
from qtui.plugins.trust.scope import Rate, Scope
from qtui.plugins.trust import policy as policy_module

MAN = man_docs.MAN
PLUGIN_PAGES = tuple(docs.MAN_PAGES)


def page_text(name: str) -> str:
    """The page's source with roff escapes undone, for looking words up."""
    text = (MAN / name).read_text(encoding="utf-8")
    return re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")


def test_every_generated_file_is_up_to_date() -> None:
    assert man_docs.stale() == [], "run: python -m qtui.docs"


def test_the_generator_rewrites_stale_files_and_its_check_mode_reports_them(tmp_path: Path, monkeypatch, capsys) -> None:
    man = tmp_path / "man"
    shutil.copytree(MAN, man)
    page = man / "qtui-lua.7"
    page.write_text(page.read_text().replace("qtui.jobs.purge", "qtui.jobs.obliterate"))
    monkeypatch.setattr(man_docs, "MAN", man)
    monkeypatch.setattr(typedefs, "PATH", tmp_path / "lua" / "qtui.d.lua")

    assert man_docs.main(["--check"]) == 1
    assert capsys.readouterr().out.split("\n")[:2] == [f"stale: {page}", f"stale: {tmp_path}/lua/qtui.d.lua"]
    assert man_docs.main([]) == 0
    assert "qtui.jobs.obliterate" not in page.read_text()
    assert (tmp_path / "lua" / "qtui.d.lua").read_text() == typedefs.render()
    assert man_docs.main(["--check"]) == 0


def test_a_page_without_its_generated_block_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    man = tmp_path / "man"
    shutil.copytree(MAN, man)
    page = man / "qtui-plugin.5"
    page.write_text(re.sub(r'\.\\" BEGIN GENERATED CATALOG\n.*?END GENERATED CATALOG\n', "", page.read_text(), flags=re.S))
    monkeypatch.setattr(man_docs, "MAN", man)
    assert man_docs.main(["--check"]) == 2
    assert f"{page}: man page has no" in capsys.readouterr().err


def test_the_lua_page_covers_the_whole_api() -> None:
    text = page_text("qtui-lua.7")
    for spec in api.FUNCTIONS:
        assert f"\n{spec.lua_name}(" in text, spec.lua_name
    for spec in api.CALLBACKS:
        assert f"\n{spec.name}(" in text, spec.name
    for constant in api.CONSTANTS:
        assert f".TP\n{constant.lua_name} (" in text, constant.lua_name
    for event in api.EVENTS:
        assert f".TP\n{event.type}\n" in text, event.type
        for field in event.fields:
            assert f"\n{field.name} (" in text.split(f".TP\n{event.type}\n", 1)[1], (event.type, field.name)
    for shape in typedefs.TABLES:
        assert f".TP\n{shape.name}\n" in text, shape.name
    for style in api.STYLES:
        assert re.search(rf"\b{style}\b", text.split(".SH STYLES", 1)[1]), style
    for capability in Capability:
        assert f".TP\n{capability} ({capability.risk} risk" in text, capability
    assert f"implements version {api.HOST_API_VERSION}" in text


def test_the_plugin_page_covers_every_manifest_catalog_and_lockfile_field() -> None:
    documented = {field.key for field in docs.MANIFEST_FIELDS}
    expected = set(manifest._TOP_FIELDS) - {"limits", "panel", "settings", "commands"}  # noqa: SLF001
    expected |= {f"limits.{f.name}" for f in attrs.fields(manifest.Limits)}
    expected |= {f"limits.{alias}" for alias in manifest.LIMIT_ALIASES}
    expected |= {f"panel.{f}" for f in manifest._PANEL_FIELDS}  # noqa: SLF001
    expected |= {f"settings.NAME.{f}" for f in manifest._SETTING_FIELDS}  # noqa: SLF001
    expected |= {f"commands.NAME.{f}" for f in manifest._COMMAND_FIELDS}  # noqa: SLF001
    assert documented == expected
    assert [f.key for f in docs.CATALOG_FIELDS] == list(catalog._ENTRY_FIELDS)  # noqa: SLF001
    text = page_text("qtui-plugin.5")
    for key in documented | {f.key for f in (*docs.CATALOG_FIELDS, *docs.LOCK_FIELDS)}:
        assert f".TP\n{key} (" in text, key


def test_the_permissions_page_covers_every_file_field_and_outcome() -> None:
    fields = permissions._RECORD_FIELDS + permissions._OPTIONAL_FIELDS  # noqa: SLF001
    assert list(dict.fromkeys(f.key.split(".")[0] for f in docs.RECORD_FIELDS)) == list(fields)
    objects = ["{" + text.strip("{}\n").replace("\n", "") + "}" for text in docs.AUDIT_EXAMPLE.split("}\n{")]
    lines = [audit.AuditEntry.from_line(obj) for obj in objects]
    assert [e.outcome for e in lines] == ["requested", "confirmed", "done"] and len({e.request for e in lines}) == 1
    assert sorted(f.key for f in docs.AUDIT_FIELDS) == sorted(attrs.asdict(lines[0]))
    text = page_text("qtui-permissions.5")
    for key in [f.key for f in (*docs.RECORD_FIELDS, *docs.POLICY_FIELDS, *docs.AUDIT_FIELDS)]:
        assert f".TP\n{key} (" in text, key
    for name in [*audit.Outcome, *audit.Reason]:
        assert f".TP\n{name}\n" in text, name


def test_the_documented_files_are_valid(tmp_path: Path) -> None:
    """The examples parse with the real readers (the shortened digests made whole)."""
    manifest.parse_manifest(docs.FULL_MANIFEST, file=tmp_path / "manifest.toml")
    digest = "9f2c5d0e" * 8
    index = tmp_path / "index.toml"
    index.write_text(docs.CATALOG_EXAMPLE.replace("9f2c5d0e...", digest))
    (entry,) = catalog.read_index(index)
    assert entry.location == str(tmp_path / "tenant-sla-1.2.0.tar.gz")
    store = tmp_path / "permissions.toml"
    store.write_text(docs.PERMISSIONS_EXAMPLE.replace("9f2c5d0e...", digest))
    (record,) = permissions.PermissionStore(store).records("tenant-sla")
    assert record.no_confirm == {Capability.JOBS_PURGE}
    assert record.scopes[Capability.JOBS_PURGE] == Scope(("tenant-*",), Rate(500, 3600))
    policy = tmp_path / "policy.toml"
    policy.write_text(docs.POLICY_EXAMPLE)
    site = policy_module.load_policy(policy)
    assert site.forbids("tenant-sla", Capability.JOBS_ENQUEUE)
    assert site.scopes_of("tenant-sla", Capability.JOBS_PEEK) == (Scope(("tenant-*",)),)
    lock = tmp_path / "qtui.lock"
    lock.write_text(docs.LOCK_EXAMPLE.replace("9f2c5d0e...", digest))
    (locked,) = read_lock(lock)
    assert locked.scopes == {Capability.JOBS_REQUEUE: Scope(("email*",), Rate(500, 3600))}
    assert [f.key for f in docs.LOCK_FIELDS][2:] == [f"plugin.{key}" for key in lockfile._FIELDS[1:7]] + [  # noqa: SLF001
        "plugin.scopes.CAP.queues", "plugin.scopes.CAP.rate", "plugin.settings"]


@pytest.mark.parametrize("field", [f for f in docs.MANIFEST_FIELDS if "." not in f.key], ids=lambda f: f.key)
def test_the_manifest_fields_marked_required_are_required(field: docs.FileField, tmp_path: Path) -> None:
    without = "\n".join(line for line in docs.FULL_MANIFEST.split("\n") if not line.startswith(f"{field.key} ="))
    try:
        manifest.parse_manifest(without, file=tmp_path / "manifest.toml")
    except manifest.ManifestError as error:  # without permissions, the commands lack their capability
        assert field.required == (f"{field.key}: required field is missing" in str(error))
    else:
        assert not field.required


@pytest.mark.parametrize("page", PLUGIN_PAGES)
def test_pages_fit_an_80_column_terminal(page: str, system_tool) -> None:
    system_tool("groff", "groff")
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-rLL=78n", "-P-cbou", str(MAN / page)],
        capture_output=True, text=True, check=True,
    )
    wide = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert wide == []
