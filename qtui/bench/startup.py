"""Start-up of script commands as whole processes: `python -m qtui.bench startup [--runs N]`.

Loads the same queues and jobs into an RQ layout (a throwaway redis-server on loopback) and
into a SQLite queue, then times, in turn, `python3 -c pass` (the floor), `qtui stats --json`
on each and RQ's own `rq info` on the RQ data. A script command should take at most 100 ms
more than the floor, and no longer than `rq info`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import redis

from qtui.bench.processes import command_path, interleaved, min_median, ms, print_table
from qtui.bench.redis import LocalRedisServer, load_rq
from qtui.sqlite_queue import SQLiteQueue

FLOOR = "python3 -c pass"


def mirror_in_sqlite(client: redis.Redis, path: Path, queues: int) -> None:
    """A SQLite queue holding what each RQ queue holds: as many waiting, finished and failed jobs."""
    with SQLiteQueue.open(path, create=True) as queue:
        for q in range(queues):
            name = f"q{q:02d}"
            failed, finished = client.zcard(f"rq:failed:{name}"), client.zcard(f"rq:finished:{name}")
            worker = queue.worker([name], worker_id=f"bench-{name}")
            queue.enqueue_many(name, [{"n": n} for n in range(failed)], max_attempts=1)
            for _ in range(failed):
                worker.fail(worker.reserve(timeout=0), "RuntimeError: disk full")
            queue.enqueue_many(name, [{"n": n} for n in range(finished)])
            for _ in range(finished):
                worker.ack(worker.reserve(timeout=0))
            queue.enqueue_many(name, [{"n": n} for n in range(client.llen(f"rq:queue:{name}"))])
            worker.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m qtui.bench startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="counted runs of each command (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=1_000, help="jobs in each layout (default %(default)s)")
    parser.add_argument("--queues", type=int, default=20, help="queues (default %(default)s)")
    args = parser.parse_args(argv)
    qtui, rq = command_path("qtui"), command_path("rq")
    if qtui is None or rq is None:
        print("needs the qtui and rq commands (pip install -e '.[test]')", file=sys.stderr)
        return 1
    if command_path("redis-server") is None:
        print("redis-server is not installed (Debian package redis-server)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="qtui-bench-startup-") as tmp:
        root = Path(tmp)
        server = LocalRedisServer(root / "redis")
        server.start()
        try:
            client = redis.Redis(port=server.port)
            load_rq(client, args.jobs, args.queues, args.jobs // 10)
            db = root / "queue.db"
            mirror_in_sqlite(client, db, args.queues)
            client.close()
            # As a user runs them: compiled bytecode is kept, nothing is read from the user's home.
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(XDG_CONFIG_HOME=str(root / "config"), XDG_DATA_HOME=str(root / "data"),
                       XDG_STATE_HOME=str(root / "state"))
            commands = {
                FLOOR: [sys.executable, "-c", "pass"],
                "qtui stats --json (SQLite)": [qtui, "stats", "--json", "--db", str(db)],
                "qtui stats --json (RQ)": [qtui, "stats", "--json", "--db", f"rq+{server.url()}"],
                "rq info": [rq, "info", "--url", server.url()],
            }
            results = interleaved(commands, args.runs, warmup=2, env=env)
        finally:
            server.stop()
    floor = min_median(results[FLOOR].wall)[1]
    rq_info = min_median(results["rq info"].wall)[1]
    rows = []
    for name, runs in results.items():
        low, median = min_median(runs.wall)
        rows.append((name, ms(low), ms(median), f"{(median - floor) * 1000:+,.0f} ms",
                     f"{median / rq_info:.2f}", ms(min_median(runs.cpu)[1])))
    print_table(f"Start-up of a script command, whole processes, {args.runs} runs each in turn "
                f"({args.queues} queues, {args.jobs:,} jobs; target: floor +100 ms, no slower than rq info)",
                ("command", "min", "median", "vs floor", "x rq info", "CPU median"), rows)
    return 0
