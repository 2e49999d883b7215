"""No value pushed into a runtime can abort the process, whatever its size and however full the runtime,
and quitting never waits for a plugin.

Lua aborts the whole process (PANIC: unprotected error in call to Lua API) when an allocation
outside a protected call fails. Each case runs in a child process (no_panic_child.py) so that
such an abort fails the test instead of ending the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("no_panic_child.py")
ROOT = Path(__file__).resolve().parents[2]


def run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, str(CHILD), *args], capture_output=True, text=True, env=env,
                            timeout=600)
    assert "PANIC" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("cap_mib", [1, 2, 4, 16, 128])
def test_values_of_every_kind_and_size_pushed_near_the_cap_never_abort(cap_mib: int) -> None:
    # Call arguments, host function results, module sources, error messages and print lines,
    # from nothing to twice the cap, into a runtime empty, half full, nearly full and full.
    assert run_child("sandbox", str(cap_mib))["pushed"] > 0


def test_a_full_plugin_fed_big_events_beside_a_neighbour_never_aborts_the_host() -> None:
    # A 1 MiB plugin that fills its heap, then gets stats, a 500-job peek of 60 KB payloads and
    # 200 KB messages; a second plugin publishes 200 KB and 20 MB messages; a third renders.
    states = run_child("host")
    assert states["neighbour"]["state"] == "running" and states["neighbour"]["errors"] == 0
    assert int(states["neighbour"]["panel"][0].split()[1]) >= 10
    assert states["attacker"]["state"] in ("errored", "quarantined")
    reason = states["attacker"]["reason"]
    assert "memory limit exceeded (1 MiB)" in reason or "the plugin has" in reason and "of its 1 MiB free" in reason
    assert states["pub"]["state"] in ("running", "quarantined")


def test_quitting_waits_for_no_plugin_and_the_process_exits_cleanly() -> None:
    # One plugin is seconds deep in one C call, another loops in Lua with a loop in deactivate:
    # the host's nursery ends at once, and the interpreter exits normally with a thread still in C.
    outcome = run_child("quit")
    assert outcome["quit_seconds"] < 1.0
