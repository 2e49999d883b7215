"""The plugins the documentation shows are valid and do what it says, in a real host on a real queue."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from qtui.authoring import docs
from qtui.model import JobState
from qtui.plugins.bundles.lua_syntax import syntax_problem
from qtui.plugins.bundles.manifest import parse_manifest
from qtui.plugins.runtime.host import PluginState
from tests.support import settle


async def start(plugin_host, name: str, handoff=None):
    item = docs.example(name)
    return await plugin_host.start(plugin_host.plugin(name, item.manifest, item.lua), handoff=handoff)


@pytest.mark.parametrize("item", docs.EXAMPLES, ids=lambda e: e.name)
def test_every_example_is_a_valid_plugin(item: docs.Example) -> None:
    manifest = parse_manifest(textwrap.dedent(item.manifest), file=Path(item.name, "manifest.toml"))
    assert manifest.name == item.name
    lua = textwrap.dedent(item.lua).encode()
    assert syntax_problem(lua, "init.lua", memory_bytes=manifest.limits.memory_bytes) is None


async def test_the_first_plugin_draws_queue_depths(plugin_host) -> None:
    handle = await start(plugin_host, "queue-depth")
    assert handle.state is PluginState.RUNNING
    assert plugin_host.text("queue-depth") == ["waiting for the first poll"]
    await plugin_host.publish_stats()
    (line,) = await plugin_host.wait_text("queue-depth", "email")
    assert line.split() == ["email", "ready", "4", "dead", "1"]
    assert [span.style for span in handle.panel[0]] == ["bold", "normal", "warn"]


async def test_dead_alert_warns_once_per_queue_and_remembers_across_restarts(plugin_host) -> None:
    await start(plugin_host, "dead-alert")
    await plugin_host.host.change_settings("dead-alert", {"threshold": 1})
    for _ in range(2):
        await plugin_host.publish_stats()
    await settle()  # both polls are handled: a second warning would have arrived by now
    notices = plugin_host.notices_so_far()
    assert [(n.text, n.level) for n in notices] == [("dead-alert: email: 1 dead jobs", "warning")]
    stored = json.loads((plugin_host.tmp_path / "data" / "plugin-data" / "dead-alert.json").read_text())
    assert stored["warned"] == {"email": True}

    await plugin_host.host.stop("dead-alert")
    await start(plugin_host, "dead-alert")
    await plugin_host.publish_stats()
    await settle()
    assert plugin_host.notices_so_far() == []


async def test_dead_retry_lists_dead_jobs_and_requeues_them_after_confirmation(plugin_host) -> None:
    await start(plugin_host, "dead-retry")
    assert plugin_host.text("dead-retry") == ["run :dead-retry.show QUEUE"]
    assert plugin_host.host.run_command("dead-retry", "show", "email")
    (line,) = await plugin_host.wait_text("dead-retry", "smtp down")
    (dead,) = plugin_host.backend.peek("email", JobState.DEAD).jobs
    assert line == f"{dead.id} smtp down"

    assert plugin_host.host.run_command("dead-retry", "retry", "")
    assert await plugin_host.wait_text("dead-retry", "requeued") == ["requeued 1 jobs"]
    (asked,) = plugin_host.confirmations
    assert asked.startswith("dead-retry: requeue 1 dead job on email to their own queues: ")
    assert not plugin_host.backend.peek("email", JobState.DEAD).jobs


async def test_uptime_keeps_counting_across_a_reload(plugin_host) -> None:
    await start(plugin_host, "uptime")
    await plugin_host.wait_text("uptime", "up 1 s")
    handoff = await plugin_host.host.stop("uptime")
    assert handoff["seconds"] >= 1
    await start(plugin_host, "uptime", handoff)
    await plugin_host.wait_text("uptime", f"up {handoff['seconds'] + 1} s")
