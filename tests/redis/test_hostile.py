"""Hostile data is data: odd items are shown, flagged and skipped, never fatal."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import gowork_sim as sim
import pytest

from qtui.backends import open_backend
from qtui.backends.gowork import raw_id
from qtui.bus import EventBus
from qtui.model import MALFORMED, JobState
from qtui.plugins.bundles.bundle import bundle_hash
from qtui.plugins.bundles.discovery import Plugin, Source
from qtui.plugins.bundles.manifest import load_manifest
from tests.support import HeldWallClock, new_plugin_host, wait_panel

HUGE = 2**70 + 3
BIG_INT_JOB = ('{"id":"huge","filepath":"/x","filesize":%d,"priority":"low","retries":%d,'
               '"creation_time":"2026-01-01T00:00:00Z","trace_id":"","span_id":""}' % (HUGE, HUGE)).encode()
NOT_UTF8 = sim.make_job("/cafe", "low", job_id="latin1").replace(b"/cafe", b"/caf\xe9")
NOT_JSON = b"\x00garbage {"
AN_ARRAY = b'[1, 2, "priority"]'
VALID = sim.make_job("/ok", "low", job_id="ok", retries=4)


@pytest.fixture
def hostile_dead_letter(rdb):
    rdb.lpush(sim.DEAD_LETTER, BIG_INT_JOB, NOT_UTF8, NOT_JSON, AN_ARRAY, VALID)
    return rdb


def test_odd_items_are_shown_with_what_is_wrong(redis_url, hostile_dead_letter):
    backend = open_backend(redis_url, clock=time.time)
    jobs = {job.id: job for job in backend.peek(None, JobState.DEAD).jobs}
    assert set(jobs) == {"huge", "latin1", raw_id(NOT_JSON), raw_id(AN_ARRAY), "ok"}
    huge = jobs["huge"]
    assert huge.attempts == 0 and huge.extra["retries"] == str(HUGE) and huge.extra["filesize"] == str(HUGE)
    assert huge.extra[MALFORMED] == ("filesize: integer beyond 64 bits, given as text; "
                                     "retries: integer beyond 64 bits, given as text")
    assert "not valid UTF-8" in jobs["latin1"].extra[MALFORMED] and "caf\ufffd" in jobs["latin1"].payload
    assert jobs[raw_id(NOT_JSON)].extra[MALFORMED] == "not JSON: left where it is by requeues"
    assert jobs[raw_id(AN_ARRAY)].extra[MALFORMED] == "not a JSON object: left where it is by requeues"
    assert MALFORMED not in jobs["ok"].extra
    assert backend.job("huge").extra["retries"] == str(HUGE)
    backend.close()


def test_requeue_moves_the_jobs_it_can_and_leaves_the_rest_byte_for_byte(redis_url, hostile_dead_letter):
    rdb = hostile_dead_letter
    backend = open_backend(redis_url, clock=time.time)
    assert backend.requeue(to_queue="high") == 3  # huge, latin1 and ok; never the garbage or the array
    assert sorted(rdb.lrange(sim.DEAD_LETTER, 0, -1)) == sorted([NOT_JSON, AN_ARRAY])
    moved = {json.loads(raw.decode("utf-8", "replace"))["id"]: raw for raw in rdb.lrange(sim.QUEUES["high"], 0, -1)}
    assert set(moved) == {"huge", "latin1", "ok"}
    assert f'"filesize":{HUGE}'.encode() in moved["huge"]  # edited as text: no number was rounded
    assert b'"retries":0' in moved["huge"] and b'"priority":"high"' in moved["huge"]
    assert b"caf\xe9" in moved["latin1"]  # the bytes it had, not replacement characters
    assert backend.snapshot().queues[0].count(JobState.READY) == 3
    backend.close()


async def test_a_plugin_gets_a_too_big_integer_as_text_with_the_field_marked(redis_url, hostile_dead_letter,
                                                                            tmp_path: Path, nursery) -> None:
    backend = open_backend(redis_url, clock=time.time)
    folder = tmp_path / "plugins" / "reader"
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(
        'name = "reader"\nversion = "1.0.0"\ndescription = "reads"\napi = "1"\npermissions = ["jobs.peek"]\n')
    (folder / "init.lua").write_text(textwrap.dedent("""\
        function activate() qtui.jobs.peek({state = "dead", limit = 10}) end
        function on_event(e)
          if e.type ~= "action" then return end
          local lines = {}
          for _, job in ipairs(e.result.jobs) do
            lines[#lines + 1] = job.id .. " " .. math.type(job.attempts) .. " "
              .. tostring(job.extra.retries) .. " " .. tostring(job.extra.malformed)
          end
          qtui.render(lines)
        end
        """))
    plugin = Plugin(load_manifest(folder), folder, Source.USER)
    host = new_plugin_host(tmp_path, backend, EventBus(), clock=HeldWallClock(), confirmer=None)
    host.store.decide(plugin.manifest, bundle_hash(plugin.folder), grant=plugin.manifest.permissions)
    await nursery.start(host.run)
    await host.start(plugin)
    await wait_panel(host, "reader", "huge ")
    lines = ["".join(span.text for span in line) for line in host.plugins["reader"].panel]
    huge = next(line for line in lines if line.startswith("huge "))
    assert huge.startswith(f"huge integer {HUGE} filesize: integer beyond 64 bits")
    assert host.plugins["reader"].error is None
    backend.close()
