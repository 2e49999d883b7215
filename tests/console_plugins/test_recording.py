"""qtui record's console: what the plugins see goes to the recording, payloads redacted unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtui.clock import SYSTEM_CLOCK
from qtui.plugins.runtime.recording import Recorder, read_recording

from .test_api_1_1 import enable

PEEKER = """
    function activate() qtui.subscribe("stats") end
    function on_event(e)
      if e.type == "stats" then qtui.jobs.peek{queue = "email", state = "dead"}
      elseif e.type == "action" and e.ok then qtui.render({"peeked " .. #e.result.jobs})
      end
    end
"""


@pytest.mark.parametrize("payloads", [False, True])
async def test_the_console_records_what_plugins_see(make_console, tmp_path: Path, payloads: bool) -> None:
    path = tmp_path / "console.jsonl"
    recorder = Recorder(path, clock=SYSTEM_CLOCK, payloads=payloads)
    d = await make_console(recorder=recorder)
    d.write_plugin("peeker", PEEKER, ["stats.read", "jobs.peek"])
    await enable(d, "peeker")
    await d.wait_for("peeked 1")
    d.press("3")
    await d.wait_for("smtp down")
    await d.wait_for(lambda t: recorder.events >= 4)
    recorder.close()

    recording = read_recording(path)
    kinds = [event["type"] for _, event in recording.events]
    assert {"stats", "selection", "lifecycle", "console_key"} <= set(kinds)
    assert {"type": "console_key", "key": "3", "screen": "queues"} in [event for _, event in recording.events]
    assert any(event.get("screen") == "dead" for _, event in recording.events if event["type"] == "selection")
    [job] = recording.jobs
    assert (job["queue"], job["state"], job["last_error"]) == ("email", "dead", "smtp down")
    if payloads:
        assert job["payload"] == '{"n":1,"tenant":"acme"}'
    else:
        assert job["payload"] == "<redacted: 23 bytes>" and job["payload_redacted"]
        assert "acme" not in path.read_text()
