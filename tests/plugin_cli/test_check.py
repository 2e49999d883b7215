"""`qtui plugin check DIR`: every problem of a plugin folder, found without running it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qtui.plugins.bundles.bundle import bundle_hash


def test_a_clean_plugin_is_ok(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "tenant-sla", version="1.2.0",
                         files={"init.lua": "local util = require('lib.util')\nreturn {}\n",
                                "lib/util.lua": "return {answer = 42}\n"})
    assert run("plugin", "check", str(folder)) == (0, "ok: tenant-sla 1.2.0\n", "")


def test_a_lua_syntax_error_is_reported_with_file_and_line(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "tenant-sla", files={
        "init.lua": "local x = 1\nif x then\n  x = 2\n",
        "lib/util.lua": "return {\n  a = ,\n}\n",
        "lib/fine.lua": "return 1\n",
    })
    code, out, err = run("plugin", "check", str(folder))
    assert code == 1
    assert out.splitlines() == [
        f"{folder}/init.lua:4: 'end' expected (to close 'if' at line 2) near <eof>",
        f"{folder}/lib/util.lua:2: unexpected symbol near ','",
    ]
    assert err == f"qtui: 2 problems in {folder}\n"


def test_the_code_is_compiled_not_run(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "loud", files={"init.lua": "error('this plugin was run')\n"})
    assert run("plugin", "check", str(folder)) == (0, "ok: loud 1.0.0\n", "")


def test_manifest_and_lua_problems_are_reported_together(run, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "manifest.toml").write_text(
        'name = "Bad"\nversion = "1.0"\ndescription = "x"\napi = "1"\npermissions = ["jobs.delete"]\n'
    )
    (folder / "init.lua").write_text("return return\n")
    code, out, _ = run("plugin", "check", str(folder))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{folder}/manifest.toml:1: name: 'Bad' is not a valid plugin name")
    assert lines[1].startswith(f"{folder}/manifest.toml:2: version: '1.0' is not a semantic version")
    assert lines[2].startswith(f"{folder}/manifest.toml:5: permissions[0]: unknown capability 'jobs.delete'")
    assert lines[3] == f"{folder}/init.lua:1: unexpected symbol near 'return'"
    assert len(lines) == 4


def test_files_left_out_of_the_bundle_are_not_checked(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "tenant-sla", files={
        "init.lua": "return {}\n",
        "init.lua~": "broken(",
        ".git/hooks.lua": "broken(",
        ".#init.lua": "broken(",
        "notes.txt": "not Lua (",
    })
    assert run("plugin", "check", str(folder))[:2] == (0, "ok: tenant-sla 1.0.0\n")


def test_bundle_problems_are_reported(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "linked")
    os.symlink("/etc/passwd", folder / "passwd.lua")
    code, out, _ = run("plugin", "check", str(folder))
    assert code == 1 and out == f"{folder}/passwd.lua: symbolic links are not allowed inside a plugin\n"


def test_missing_manifest_and_entry_are_problems(run, tmp_path: Path, make_plugin) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, _ = run("plugin", "check", str(empty))
    assert code == 1 and out.startswith(f"{empty}/manifest.toml: cannot read: No such file")
    folder = make_plugin(tmp_path, "no-entry", files={"main.lua": "return {}\n"})
    code, out, _ = run("plugin", "check", str(folder))
    assert code == 1 and "entry: entry file 'init.lua' does not exist" in out


def test_lua_that_is_not_utf8_is_a_problem_on_its_line(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "latin")
    (folder / "init.lua").write_bytes(b"-- ok\n-- caf\xe9\nreturn {}\n")
    assert run("plugin", "check", str(folder))[:2] == (1, f"{folder}/init.lua:2: not UTF-8 text\n")


def test_hostile_text_in_errors_is_made_visible(run, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "evil\x1b[2J", name="evil", files={"init.lua": "x = = 1\n"})
    code, out, _ = run("plugin", "check", str(folder))
    assert code == 1 and "\x1b" not in out and "evil^[[2J/init.lua:1:" in out


def test_not_a_folder_is_a_usage_error(run, tmp_path: Path) -> None:
    code, out, err = run("plugin", "check", str(tmp_path / "nowhere"))
    assert code == 2 and out == "" and err == f"qtui: {tmp_path / 'nowhere'}: not a folder\n"


def test_check_json(run, run_json, make_plugin, tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, "tenant-sla", version="1.2.0")
    assert run_json("plugin", "check", str(folder)) == {
        "ok": True, "name": "tenant-sla", "version": "1.2.0", "code_hash": bundle_hash(folder),
        "problems": [], "warnings": [],
    }
    (folder / "init.lua").write_text("return (\n")
    code, out, _ = run("plugin", "check", str(folder), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and data["name"] == "tenant-sla"
    assert data["problems"] == [{"file": f"{folder}/init.lua", "line": 2, "field": "",
                                 "message": "unexpected symbol near <eof>"}]


@pytest.mark.parametrize("entry", ["spec/init.lua", "spec/lib/main.lua"])
def test_an_entry_file_the_bundle_leaves_out_is_a_problem(run, make_plugin, tmp_path: Path, entry: str) -> None:
    folder = make_plugin(tmp_path, "tested", entry=entry, files={entry: "function activate() end\n"})
    code, out, _ = run("plugin", "check", str(folder))
    assert code == 1
    assert f"manifest.toml:6: entry: '{entry}' is under spec/, which holds the plugin's tests" in out
