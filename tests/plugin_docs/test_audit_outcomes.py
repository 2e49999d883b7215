"""The audit log as documented: every outcome qtui-permissions(5) names is one a real host writes."""

from __future__ import annotations

import re

from qtui import docs as man_docs
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.capabilities import Capability
from qtui.plugins.trust.audit import FLOOD_ENTRIES
from tests.support import wait_until

MANIFEST = """
    name = "actor"
    version = "1.0.0"
    description = "uses its capabilities"
    api = "1"
    permissions = ["commands", "notify", "jobs.peek", "jobs.requeue", "jobs.purge"]
"""

ACTOR = """
    function activate() qtui.command("do", "run one call") end
    function on_event(e)
      if e.type == "command" then
        local call = load(e.args, "call", "t", {qtui = qtui})
        local ok, err = pcall(call)
        if not ok then qtui.render({"error " .. err}) end
      elseif e.type == "action" then
        qtui.render({e.action .. " " .. tostring(e.ok)})
      end
    end
"""


def documented_outcomes() -> list[str]:
    """The outcome names the AUDIT LOG section of qtui-permissions(5) lists."""
    page = (man_docs.MAN / "qtui-permissions.5").read_text(encoding="utf-8")
    block = page.split("The outcomes:", 1)[1].split("The reasons", 1)[0]
    return re.findall(r"^\.TP\n\\fB(\w+)\\fR$", block, re.M)


async def call(host, lua: str, expect: str) -> None:
    host.host.plugins["actor"].panel = ()
    assert host.host.run_command("actor", "do", lua)
    await host.wait_text("actor", expect)


async def test_every_documented_outcome_appears_in_entries_a_real_host_writes(plugin_host) -> None:
    documented = documented_outcomes()
    assert len(documented) >= 9 and "done" in documented and "suppressed" in documented
    plugin = plugin_host.plugin("actor", MANIFEST, ACTOR)
    host = plugin_host.host
    handle = await host.start(plugin)  # waiting: nothing decided yet
    host.decide(handle, grant=(Capability.COMMANDS, Capability.NOTIFY, Capability.JOBS_PEEK,
                               Capability.JOBS_REQUEUE), deny=(Capability.JOBS_PURGE,))  # granted, revoked
    assert bundle_hash(plugin.folder) == handle.code_hash
    await host.start(plugin)
    await call(plugin_host, 'qtui.jobs.purge("email", "dead")', "error")  # requested, refused
    await call(plugin_host, 'qtui.jobs.peek{queue = "nosuch", state = "dead"}', "peek false")  # failed
    plugin_host.answer = False
    await call(plugin_host, 'qtui.jobs.requeue{queue = "email"}', "requeue false")  # declined
    plugin_host.answer = True
    await call(plugin_host, 'qtui.jobs.requeue{queue = "email"}', "requeue true")  # confirmed, done
    assert host.run_command("actor", "do", "while true do end")  # violation (of the instruction limit)
    await wait_until(lambda: host.plugins["actor"].errors == 1, "the instruction limit's violation")
    # more routine entries than the flood limit lets through (two a call)
    await call(plugin_host, f'for i = 1, {FLOOD_ENTRIES // 2 + 1} do qtui.notify("hi") end qtui.render({{"flooded"}})',
               "flooded")
    await host.stop("actor")  # writes the summary of what the flood limit held back

    written = {e.outcome.value for e in host.audit.read(plugin="actor").entries}
    assert set(documented) <= written, set(documented) - written
