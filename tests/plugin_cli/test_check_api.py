"""`qtui plugin check` checks the Lua against the API declaration: a corpus of broken plugins,
one folder per kind of mistake (tests/plugin_cli/broken_plugins), with the exact messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qtui.plugins.runtime import api

CORPUS = Path(__file__).parent / "broken_plugins"

#: Each corpus plugin and what check says about it, file by file (paths relative to its folder).
EXPECTED: dict[str, list[str]] = {
    "issue-example": [
        "init.lua:5: qtui.command needs the commands capability, which the manifest does not request",
        "init.lua:10: qtui.jobs.requeue needs the jobs.requeue capability, which the manifest does not request",
        "init.lua:12: qtui.notiffy is not in the plugin API (did you mean qtui.notify?)",
        "init.lua:13: qtui.jobs.peeek is not in the plugin API (did you mean qtui.jobs.peek?)",
    ],
    "unknown-names": [
        "init.lua:2: qtui.rendr is not in the plugin API (did you mean qtui.render?)",
        "init.lua:3: qtui.frobnicate is not in the plugin API",
        "init.lua:4: qtui.storage.gett is not in the plugin API (did you mean qtui.storage.get?)",
        "init.lua:5: qtui.render.lines is not in the plugin API: qtui.render is a function",
        "init.lua:6: qtui.panel.opne is not in the plugin API (did you mean qtui.panel.open?)",
    ],
    "missing-capabilities": [
        "init.lua:2: qtui.every needs the timers capability, which the manifest does not request",
        "init.lua:3: qtui.storage.set needs the storage capability, which the manifest does not request",
        "init.lua:4: qtui.jobs.purge needs the jobs.purge capability, which the manifest does not request",
        "init.lua:5: qtui.notify needs the notify capability, which the manifest does not request",
    ],
    "events-and-topics": [
        'init.lua:2: qtui.subscribe("stats") needs the stats.read capability, which the manifest does not request',
        'init.lua:3: qtui.subscribe("console_key") needs the keys.read capability, which the manifest does not '
        "request",
        "init.lua:4: qtui.subscribe: no event 'stat' to subscribe to (did you mean stats?)",
        "init.lua:5: qtui.subscribe: 'timer' events arrive without subscribing",
        'init.lua:7: qtui.publish("alerts.disk") needs the bus.publish capability, which the manifest does not '
        "request",
        'init.lua:8: qtui.listen("plugin.other.") needs the bus.subscribe capability, which the manifest does not '
        "request",
    ],
    "library-modules": [
        'init.lua:2: require("qtui.txt"): qtui ships no module qtui.txt (its modules: qtui.json, qtui.queues, '
        "qtui.text) (did you mean qtui.text?)",
        'init.lua:4: require("qtui.queue"): qtui ships no module qtui.queue (its modules: qtui.json, qtui.queues, '
        "qtui.text) (did you mean qtui.queues?)",
    ],
    "manifest-and-code": [  # the manifest's own problem first; with no valid manifest, only names are checked
        "manifest.toml:5: permissions[1]: unknown capability 'jobs.delete' (known: stats.read, selection.read, "
        "timers, notify, commands, storage, bus.publish, bus.subscribe, jobs.peek, jobs.enqueue, jobs.requeue, "
        "jobs.purge, keys.read)",
        "init.lua:3: qtui.notiffy is not in the plugin API (did you mean qtui.notify?)",
    ],
    "syntax-and-names": [  # the compiler's problems, then the API's
        "lib.lua:2: unexpected symbol near ','",
        "init.lua:2: qtui.notiffy is not in the plugin API (did you mean qtui.notify?)",
    ],
}


@pytest.fixture
def corpus(tmp_path: Path):
    """corpus(name): a copy of the corpus plugin `name` (so paths in messages are short and known)."""

    def copy(name: str) -> Path:
        return Path(shutil.copytree(CORPUS / name, tmp_path / name))

    return copy


def test_the_corpus_covers_every_kind_of_mistake() -> None:
    assert {p.name for p in CORPUS.iterdir()} == {*EXPECTED, "deprecated-names", "not-code"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_mistake_is_reported_at_its_file_and_line(run, corpus, name: str) -> None:
    folder = corpus(name)
    code, out, err = run("plugin", "check", str(folder))
    assert code == 1
    assert out.splitlines() == [f"{folder}/{line}" for line in EXPECTED[name]]
    count = len(EXPECTED[name])
    assert err == f"qtui: {count} problem{'s' if count != 1 else ''} in {folder}\n"


def test_names_in_comments_and_strings_are_not_code(run, corpus) -> None:
    folder = corpus("not-code")
    assert run("plugin", "check", str(folder)) == (0, "ok: not-code 1.0.0\n", "")


def test_a_deprecated_name_is_a_warning_naming_what_replaces_it(run, run_json, corpus, monkeypatch) -> None:
    folder = corpus("deprecated-names")
    code, out, _ = run("plugin", "check", str(folder))  # while the API has no such name, it is a mistake
    assert code == 1
    assert out == f"{folder}/init.lua:2: qtui.jobs.get is not in the plugin API (did you mean qtui.jobs.purge?)\n"
    monkeypatch.setattr(api, "ALIASES", (api.Alias("jobs.get", "jobs.find", "1.1", "renamed"),))
    code, out, err = run("plugin", "check", str(folder))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{folder}/init.lua:2: warning: qtui.jobs.get is deprecated since API 1.1: use qtui.jobs.find (renamed)",
        "ok: deprecated-names 1.0.0 (1 warning)",
    ]
    data = run_json("plugin", "check", str(folder))
    assert data["ok"] is True and data["problems"] == []
    assert data["warnings"] == [{"file": str(folder / "init.lua"), "line": 2, "field": "",
                                 "message": "qtui.jobs.get is deprecated since API 1.1: use qtui.jobs.find (renamed)"}]


def test_the_deprecated_name_still_needs_the_capability_of_what_replaces_it(run, corpus, monkeypatch) -> None:
    folder = corpus("deprecated-names")
    (folder / "manifest.toml").write_text((folder / "manifest.toml").read_text().replace('"jobs.peek"', ""))
    monkeypatch.setattr(api, "ALIASES", (api.Alias("jobs.get", "jobs.find", "1.1"),))
    _, out, _ = run("plugin", "check", str(folder))
    assert out.splitlines()[0] == (f"{folder}/init.lua:2: qtui.jobs.find needs the jobs.peek capability, which "
                                   "the manifest does not request")


def test_json_lists_the_problems_for_editors(run, corpus) -> None:
    folder = corpus("issue-example")
    code, out, _ = run("plugin", "check", str(folder), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["warnings"] == []
    assert [(p["line"], p["message"]) for p in data["problems"]] == [
        (int(line.split(":")[1]), line.split(": ", 1)[1]) for line in EXPECTED["issue-example"]]


def test_the_shipped_plugins_and_the_documentation_examples_pass(run, tmp_path: Path) -> None:
    from qtui.authoring import docs

    shipped = Path(__file__).resolve().parents[2] / "lua_plugins"
    for folder in sorted(shipped.iterdir()):
        assert run("plugin", "check", str(folder))[0] == 0, folder
    for example in docs.EXAMPLES:
        folder = tmp_path / example.name
        folder.mkdir()
        (folder / "manifest.toml").write_text(example.manifest)
        (folder / "init.lua").write_text(example.lua)
        assert run("plugin", "check", str(folder)) == (0, f"ok: {example.name} 1.0.0\n", ""), example.name
