"""Watching the decision files (qtui.plugins.trust.live.watch_files)."""

from __future__ import annotations

from pathlib import Path

import trio

from qtui.plugins.trust.live import watch_files
from tests.support import wait_until


async def test_a_change_made_before_the_watch_first_looked_is_applied_and_later_ones_too(tmp_path: Path) -> None:
    decisions = tmp_path / "permissions.toml"
    decisions.write_text("[a]\n")  # the caller read this...
    decisions.write_text("[a]\n[b]\n")  # ...and another shell changed it before the watch began
    applied: list[str] = []

    async def apply() -> None:
        applied.append(decisions.read_text())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: watch_files([decisions], apply, interval=0.01))
        await wait_until(lambda: applied == ["[a]\n[b]\n"], "the catch-up")
        decisions.write_text("[a]\n[b]\n[c]\n")
        await wait_until(lambda: applied[-1:] == ["[a]\n[b]\n[c]\n"], "the next change")
        nursery.cancel_scope.cancel()
    assert applied == ["[a]\n[b]\n", "[a]\n[b]\n[c]\n"]
