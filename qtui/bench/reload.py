"""Live reload latency: from a plugin file written to the updated panel drawn on the screen.

    python -m qtui.bench reload [--saves 100]

Runs the real console (urwid on trio, the plugin host, the file watcher) with a
plugin loaded as `qtui plugin dev` does, on a screen that records every frame it
is asked to draw, and times each save until a frame shows the new version.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

import trio
import urwid
from urwid.testing import ScriptedScreen

from qtui.backends import open_backend
from qtui.clock import SYSTEM_CLOCK
from qtui.console.app import Console
from qtui.console.plugin_control import PluginControl
from qtui.sqlite_queue import SQLiteQueue

PLUGIN = 'function activate() qtui.render({{"version {n}"}}) end\n'


class RecordingScreen(ScriptedScreen):
    """A screen without a terminal: remembers when each distinct frame was drawn."""

    def __init__(self) -> None:
        super().__init__(size=(80, 24))
        self.frames: list[tuple[float, str]] = []

    def hook_event_loop(self, event_loop, callback) -> None:  # noqa: ANN001 - no scripted input
        """Draw only: input never comes."""

    def draw_screen(self, size: tuple[int, int], canvas: urwid.Canvas) -> None:
        drawn = len(self.canvases)
        super().draw_screen(size, canvas)
        if len(self.canvases) > drawn:
            text = "\n".join(row.decode("utf-8", "replace") for row in canvas.text)
            self.frames.append((time.perf_counter(), text))


async def measure(saves: int, interval: float) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "queue.db"
        SQLiteQueue.open(db, create=True).close()
        folder = root / "bench-reload"
        folder.mkdir()
        (folder / "manifest.toml").write_text(textwrap.dedent("""\
            name = "bench-reload"
            version = "1.0.0"
            description = "reload benchmark"
            api = "1"
            """))
        (folder / "init.lua").write_text(PLUGIN.format(n=0))
        backend = open_backend(db, clock=SYSTEM_CLOCK.time)
        screen = RecordingScreen()
        console = Console(backend, clock=SYSTEM_CLOCK, refresh=0, plugins=lambda c: PluginControl(c, dev=folder))
        latencies = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(console.run, screen)
            await _drawn(screen, "version 0", since=0.0)
            await trio.sleep(0.5)  # the watcher is running
            for n in range(1, saves + 1):
                start = time.perf_counter()
                (folder / "init.lua").write_text(PLUGIN.format(n=n))
                drawn_at = await _drawn(screen, f"version {n}", since=start)
                latencies.append(drawn_at - start)
                await trio.sleep(interval)
            console.quit()
        backend.close()
    return latencies


async def _drawn(screen: RecordingScreen, needle: str, since: float, timeout: float = 10.0) -> float:
    with trio.fail_after(timeout):
        while True:
            for at, text in reversed(screen.frames):
                if at >= since and needle in text:
                    return at
            await trio.sleep(0.002)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench reload", description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between saves")
    args = parser.parse_args(argv)
    latencies = sorted(trio.run(measure, args.saves, args.interval))
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    print(f"Live reload, file write to panel on screen, {len(latencies)} saves")
    print(f"{'p50':>8}{'p95':>8}{'min':>8}{'max':>8}  (ms)")
    print(f"{p50 * 1000:8.0f}{p95 * 1000:8.0f}{latencies[0] * 1000:8.0f}{latencies[-1] * 1000:8.0f}")
    print("(includes the watcher's debounce of 80 ms)")
    return 0
