"""Benchmarks run by hand: `python -m qtui.bench AREA [options]` prints a table.

Performance figures live here, never as timed assertions in the test suite.
"""

#: Benchmark areas; each is a module qtui.bench.<area> with main(argv) -> int.
AREAS = {
    "startup": "start-up of `qtui stats --json` as a whole process, next to python3 -c pass and rq info",
    "enqueue": "batch enqueue of a million jobs on SQLite: enqueue_many and qtui enqueue --batch against executemany",
    "terminal": "terminal bytes per second at --refresh 1 against rq info -i 1, and time to the first frame",
    "sqlite": "the embedded SQLite queue at scale",
    "redis": "the Redis backends (go-redis-work-queue layout, RQ) next to RQ's own tools",
    "redis_faults": "kill -9 of client and redis-server during requeues and purges, resumed (20 trials each)",
    "sandbox": "Lua sandbox overhead and time to stop runaway plugins",
    "reload": "live reload: a plugin file written to its panel updated on screen (p50, p95)",
    "idle": "CPU per minute of an idle console (no plugins, the four bundled ones) against rq info -i 2",
    "plugins": "plugin host cost per event per plugin, memory per plugin and over a million events",
    "containment": "hostile plugins, one kind at a time beside a neighbour: time to stop, neighbour's gaps, RSS",
    "soak": "10 plugins, a million stats events and a thousand hot reloads: RSS, fds, threads, Lua heaps",
    "plugins_meta": "plugin manifests, discovery, bundle hashing, permission verdicts, audit log",
    "spectest": "plugin specs: opening a console, driving a plugin, the contract suite",
}
