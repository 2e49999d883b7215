"""`qtui plugin enable|disable|settings|remove|catalog --search` and the lifecycle columns of list and info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w

from qtui.plugins.runtime.running import RunningFile
from qtui.plugins.runtime.storage import PluginStorage
from qtui.plugins.trust.audit import AuditLog, Outcome
from qtui.plugins.trust.permissions import PermissionStore

SETTINGS = {
    "threshold_s": {"type": "number", "default": 300, "min": 1, "max": 86400, "description": "Seconds before late"},
    "view": {"type": "choice", "choices": ["table", "bars"], "default": "table", "description": "How to draw"},
    "loud": {"type": "boolean", "default": False, "description": "Notify"},
    "title": {"type": "string", "default": "SLA", "description": "Panel title"},
}


@pytest.fixture
def sla(make_plugin, user_plugins: Path) -> Path:
    return make_plugin(user_plugins, "tenant-sla", permissions=["stats.read"], settings=SETTINGS)


def enabled_file() -> Path:
    return Path.home() / ".config/qtui/plugins.toml"


def settings_file() -> Path:
    return Path.home() / ".config/qtui/plugin-settings.toml"


def test_enable_and_disable_keep_plugins_toml(run, run_json, sla: Path) -> None:
    code, out, _ = run("plugin", "enable", "tenant-sla")
    assert code == 0
    assert out.splitlines() == [
        "tenant-sla is now enabled; every console starts it",
        "it waits for a decision on stats.read: qtui plugin grant tenant-sla --all, or answer the console's prompt",
    ]
    assert enabled_file().read_text() == 'enabled = [\n    "tenant-sla",\n]\n'
    assert run("plugin", "grant", "tenant-sla", "--all")[0] == 0
    assert run("plugin", "enable", "tenant-sla")[1] == "tenant-sla was already enabled; every console starts it\n"
    assert run_json("plugin", "list")["plugins"][0]["enabled"] is True

    code, out, _ = run("plugin", "disable", "tenant-sla")
    assert code == 0 and out == "tenant-sla is now disabled; running consoles stop it\n"
    assert enabled_file().read_text() == "enabled = []\n"
    assert run_json("plugin", "disable", "tenant-sla") == {"name": "tenant-sla", "enabled": False, "changed": False}


def test_enable_names_what_is_installed_and_disable_takes_a_name_no_longer_installed(run, sla: Path) -> None:
    code, out, err = run("plugin", "enable", "tenant-slaa")
    assert code == 1 and out == "" and "no plugin named 'tenant-slaa' (installed: tenant-sla)" in err
    assert not enabled_file().exists()
    enabled_file().write_text('enabled = ["gone", "tenant-sla"]\n')
    code, out, _ = run("plugin", "disable", "gone")
    assert code == 0 and out == "gone is now disabled; running consoles stop it\n"
    assert enabled_file().read_text() == 'enabled = [\n    "tenant-sla",\n]\n'


def test_an_unreadable_plugins_toml_is_named_and_never_written_over(run, sla: Path) -> None:
    enabled_file().write_text('enabled = "tenant-sla"\n')
    code, out, err = run("plugin", "enable", "tenant-sla")
    assert code == 3 and out == ""
    assert f"qtui: {enabled_file()}:1: enabled: must be an array of plugin names" in err
    assert enabled_file().read_text() == 'enabled = "tenant-sla"\n'
    code, out, err = run("plugin", "list")  # listing still works, saying why nothing counts as enabled
    assert code == 0 and "tenant-sla" in out and "must be an array of plugin names" in err


def test_settings_shows_current_values_beside_defaults(run, sla: Path) -> None:
    settings_file().write_text('[tenant-sla]\nthreshold_s = 60\n')
    code, out, _ = run("plugin", "settings", "tenant-sla")
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "VALUE", "DEFAULT", "ALLOWED", "DESCRIPTION"]
    rows = {line.split()[0]: line.split()[2:4] for line in out.splitlines()[1:]}
    assert rows == {"threshold_s": ["60", "300"], "view": ["'table'", "'table'"], "loud": ["False", "False"],
                    "title": ["'SLA'", "'SLA'"]}
    assert run("plugin", "settings", "tenant-sla", "threshold_s", "view")[1] == "threshold_s=60\nview=table\n"


def test_settings_changes_values_read_as_the_console_reads_them(run, run_json, sla: Path) -> None:
    code, out, _ = run("plugin", "settings", "tenant-sla", "threshold_s=90", "view=bars", "loud=yes", "title=Late")
    assert code == 0
    assert out == "threshold_s=90\nview=bars\nloud=true\ntitle=Late\n"
    assert settings_file().read_text() == (
        '[tenant-sla]\nthreshold_s = 90\nview = "bars"\nloud = true\ntitle = "Late"\n')
    data = run_json("plugin", "settings", "tenant-sla", "threshold_s=2.5")
    assert data["changed"] == ["threshold_s"] and data["settings"]["threshold_s"]["value"] == 2.5
    info = run_json("plugin", "info", "tenant-sla")
    assert info["settings"] == {"threshold_s": 2.5, "view": "bars", "loud": True, "title": "Late"}


@pytest.mark.parametrize(("assignment", "message"), [
    ("threshold_s=0", "threshold_s: 0 is below the minimum 1"),
    ("threshold_s=soon", "threshold_s: 'soon' is not a number"),
    ("view=pie", "view: 'pie' is not one of table, bars"),
    ("loud=maybe", "loud: 'maybe' is not true or false"),
    ("title=a\tb", "title: must not contain control characters"),
    ("colour=red", "colour: tenant-sla has no such setting (settings: threshold_s, view, loud, title)"),
    ("threshold_s", None),
])
def test_a_wrong_setting_is_refused_naming_it_and_nothing_is_saved(run, sla: Path, assignment: str,
                                                                   message: str | None) -> None:
    code, out, err = run("plugin", "settings", "tenant-sla", "view=bars", assignment)
    if message is None:  # a key without a value only shows it: the change before it is saved
        assert code == 0 and out == "view=bars\nthreshold_s=300\n"
        return
    assert code == 2 and out == "" and err == f"qtui: {message}\n"
    assert not settings_file().exists()


def test_the_console_editor_refuses_the_same_values_with_the_same_messages(sla: Path) -> None:
    from qtui.console.plugin_modals import SettingsModal
    from qtui.plugins.bundles.manifest import load_manifest

    manifest = load_manifest(sla)
    for typed, message in (("0", "threshold_s: 0 is below the minimum 1"),
                           ("soon", "threshold_s: 'soon' is not a number")):
        saved: list[dict] = []
        modal = SettingsModal(manifest, {}, saved.append, ascii_box=True)
        for _ in range(3):
            modal.handle_key("backspace")
        for key in typed:
            modal.handle_key(key)
        assert modal.handle_key("enter") is False and saved == []
        assert modal.message.text == message


def test_a_stored_value_the_schema_refuses_is_reported_and_the_default_shown(run, sla: Path) -> None:
    settings_file().write_text('[tenant-sla]\nthreshold_s = 0\n')
    code, out, err = run("plugin", "settings", "tenant-sla", "threshold_s")
    assert code == 0 and out == "threshold_s=300\n"
    assert err == (f"qtui: warning: {settings_file()}:2: tenant-sla.threshold_s: 0 is below the minimum 1 "
                   "(using the default)\n")


def test_list_and_info_show_the_state_in_running_consoles(run, run_json, sla: Path, make_plugin,
                                                          user_plugins: Path) -> None:
    make_plugin(user_plugins, "spin")
    console = RunningFile()
    console.write({"tenant-sla": {"version": "1.0.0", "state": "running", "reason": None},
                   "spin": {"version": "1.0.0", "state": "quarantined", "reason": "used 1000000 instructions"}})
    dead = RunningFile()  # a console that crashed: its process is gone, its file still there
    dead.path = dead.directory / "999999999-1.json"
    dead.write({"tenant-sla": {"version": "1.0.0", "state": "errored", "reason": "old"}})
    try:
        _, out, _ = run("plugin", "list")
        rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        assert rows["spin"][-4:-1] == ["no", "quarantined", "-"]
        assert rows["tenant-sla"][-4:-1] == ["no", "running", "-"]
        _, out, _ = run("plugin", "info", "spin")
        assert "state:       quarantined in 1 console: used 1000000 instructions" in out
        info = run_json("plugin", "info", "tenant-sla")
        assert (info["state"], info["consoles"], info["enabled"]) == ("running", 1, False)
    finally:
        console.remove()
    assert run_json("plugin", "info", "tenant-sla")["state"] == "stopped"
    assert "state:       stopped (no console runs it)" in run("plugin", "info", "tenant-sla")[1]


def test_list_and_info_say_where_an_install_came_from(run, run_json, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path / "src", "from-folder")
    assert run("plugin", "install", str(folder))[0] == 0
    packed = json.loads(run("plugin", "pack", str(make_plugin(tmp_path / "src", "packed")), "-o", str(tmp_path),
                            "--json")[1])
    assert run("plugin", "install", packed["archive"])[0] == 0
    index = tmp_path / "index.toml"
    listed = make_plugin(tmp_path / "src", "listed")
    entry = json.loads(run("plugin", "pack", str(listed), "-o", str(tmp_path), "--json")[1])["index_entry"]
    index.write_text(entry)
    assert run("plugin", "install", "listed", "--catalog", str(index))[0] == 0

    _, out, _ = run("plugin", "list")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert {name: row[-2] for name, row in rows.items()} == {
        "from-folder": "folder", "listed": "catalog", "packed": "archive"}
    _, out, _ = run("plugin", "info", "listed")
    assert f"from:        catalog {index} ({tmp_path / 'listed-1.0.0.tar.gz'})" in out
    origin = run_json("plugin", "info", "from-folder")["installed_from"]
    assert origin == {"kind": "folder", "location": str(folder), "catalog": None}


def test_remove_clears_every_trace_but_the_audit_log(run, run_json, make_plugin, tmp_path: Path) -> None:
    source = make_plugin(tmp_path / "src", "tenant-sla", permissions=["stats.read", "storage"], settings=SETTINGS)
    assert run("plugin", "install", str(source))[0] == 0
    assert run("plugin", "enable", "tenant-sla")[0] == 0
    assert run("plugin", "grant", "tenant-sla", "--all")[0] == 0
    assert run("plugin", "settings", "tenant-sla", "threshold_s=60")[0] == 0
    PluginStorage("tenant-sla").set("seen", 3)
    settings_file().write_text(settings_file().read_text() + '\n[other]\nkeep = 1\n')

    data = run_json("plugin", "remove", "tenant-sla", "--yes")
    assert data["forgotten"] == {"enabled": True, "settings": True, "storage": True, "decision_records": 1}
    assert enabled_file().read_text() == "enabled = []\n"
    assert settings_file().read_text() == "[other]\nkeep = 1\n"
    assert not PluginStorage("tenant-sla").path.exists()
    assert list(PluginStorage("tenant-sla").path.parent.iterdir()) == []
    assert PermissionStore().records("tenant-sla") == ()
    entries = AuditLog().read(plugin="tenant-sla").entries
    assert [e.outcome for e in entries] == [Outcome.GRANTED, Outcome.GRANTED]  # the record of what happened

    assert run("plugin", "install", str(source))[0] == 0  # installed again: from scratch
    info = run_json("plugin", "info", "tenant-sla")
    assert info["enabled"] is False and info["settings"]["threshold_s"] == 300
    assert info["pending"]["undecided"] == ["stats.read", "storage"]
    code, out, _ = run("plugin", "remove", "tenant-sla", "--yes")
    assert code == 0 and out.splitlines()[1] == "nothing else to forget"


def test_catalog_search_finds_names_descriptions_and_permissions(run, run_json, make_plugin, tmp_path: Path) -> None:
    index = tmp_path / "index.toml"
    entries = []
    for name, description, permissions in (("tenant-sla", "Late tenants against the SLA", ["stats.read"]),
                                           ("dead-retry", "Requeue DEAD jobs", ["jobs.requeue"]),
                                           ("uptime", "Seconds running", ["timers"])):
        folder = make_plugin(tmp_path / "src", name, permissions=permissions, description=description)
        entries.append(json.loads(run("plugin", "pack", str(folder), "-o", str(tmp_path), "--json")[1])["index_entry"])
    index.write_text("\n".join(entries))
    config = Path.home() / ".config/qtui/catalogs.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(tomli_w.dumps({"catalogs": [str(index)]}))

    def found(text: str) -> list[str]:
        return [p["name"] for p in run_json("plugin", "catalog", "--search", text)["plugins"]]

    assert found("sla") == ["tenant-sla"]
    assert found("dead") == ["dead-retry"]  # in the description, in any case
    assert found("JOBS.REQUEUE") == ["dead-retry"]
    assert found("e") == ["dead-retry", "tenant-sla", "uptime"]
    code, out, _ = run("plugin", "catalog", "--search", "ten")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["NAME", "tenant-sla"]
    code, out, _ = run("plugin", "catalog", "--search", "nothing like it")
    assert code == 1
    assert out == "no plugin in the catalog matches 'nothing like it' (searched 3 entries: names, descriptions, " \
                  "permissions)\n"
