"""The console's plugin help topics: the man pages' material, rendered as text, reachable with :help."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.authoring import docs, typedefs
from qtui.authoring.docmodel import Para, plain, to_text
from qtui.backends import open_backend
from qtui.console import keymap
from qtui.console.app import Console
from qtui.console.screens.help import help_lines
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.runtime import api
from qtui.sqlite_queue import SQLiteQueue
from tests.support import ManualClock, screen_text, wait_until

EXPECTED_WORDS = {
    "plugins": [docs.EXAMPLES[0].name, "deactivate", "quarantined", api.HOST_API_VERSION,
                *(e.name for e in docs.EXAMPLES)],
    "api": [*(f.lua_name for f in api.FUNCTIONS), *(f.name for f in api.CALLBACKS),
            *(f"{m.require_name}.{f.name}" for m in api.LIBRARY for f in m.functions),
            *(t.name for t in typedefs.TABLES), *api.STYLES],
    "events": [e.type for e in api.EVENTS],
    "capabilities": [c.value for c in Capability],
    "manifest": [f.key for f in docs.MANIFEST_FIELDS],
    "catalog": [f.key for f in docs.CATALOG_FIELDS],
    "permissions": [f.key for f in (*docs.RECORD_FIELDS, *docs.POLICY_FIELDS, *docs.AUDIT_FIELDS)],
}


def test_every_topic_is_checked_here() -> None:
    assert set(EXPECTED_WORDS) == set(docs.TOPICS)


@pytest.mark.parametrize("topic", docs.TOPICS)
def test_a_topic_holds_its_reference_and_fits_the_screen(topic: str) -> None:
    text = docs.help_text(topic)
    for word in EXPECTED_WORDS[topic]:
        assert word in text, word
    assert all(len(line) <= 78 for line in text.splitlines())
    assert "`" not in text and "\\f" not in text  # marks and roff stay out of plain text


def test_the_plain_text_keeps_every_paragraph() -> None:
    """Every paragraph the man pages show appears, marks dropped, in the help text."""
    for name in docs.SECTIONS:
        blocks = docs.section(name).blocks
        text = " ".join(to_text(blocks, width=10_000).split())
        for block in blocks:
            if isinstance(block, Para):
                assert plain(block.text) in text, (name, block.text[:40])


def test_help_topics_are_the_console_topics_plus_the_plugin_topics() -> None:
    assert keymap.HELP_TOPICS == ("keys", "commands", "screens", *docs.TOPICS)
    assert keymap.complete("help ca") == ["help capabilities", "help catalog"]
    assert keymap.parse_command_line("help api").args == ("api",)


def test_the_full_help_points_to_the_plugin_topics() -> None:
    text = "\n".join(str(line) for line in help_lines(None, read_only=False))
    assert ":help plugins" in text and ":help permissions" in text


@pytest.fixture
async def console(tmp_path: Path, nursery):
    db = tmp_path / "queue.db"
    clock = ManualClock()
    with SQLiteQueue.open(db, create=True, clock=clock) as q:
        q.enqueue("email", {"n": 1})
    backend = open_backend(db, clock=clock)
    console = Console(backend, clock=clock, refresh=0)
    console.start_tasks(nursery)
    yield console
    backend.close()


async def test_help_api_in_the_console_shows_the_reference(console: Console) -> None:
    for key in [":", *"help api", "enter"]:
        console.handle_key(key)
    await wait_until(lambda: "FUNCTIONS" in screen_text(console), "the API reference")
    assert "The plugin API" in screen_text(console)
    for key in ["/", *"qtui.subscribe(", "enter"]:  # the functions follow the namespaces
        console.handle_key(key)
    await wait_until(lambda: "qtui.subscribe(...)" in screen_text(console), "qtui.subscribe in the reference")
