"""`qtui ops`, and requeue/purge on the command line when nobody watches a terminal."""

from __future__ import annotations

import json
import os
import socket
import time

import gowork_sim as sim
import pytest

from qtui.backends import open_backend
from qtui.bench.redis import load_rq
from qtui.cli.main import main
from qtui.model import JobState


@pytest.fixture
def interrupted(redis_url, rdb):
    """A requeue of 30 dead jobs left after its first 10 (its process died)."""
    rdb.lpush(sim.DEAD_LETTER, *[sim.make_job(f"/{i}", "low", job_id=f"j{i}", retries=4) for i in range(30)])
    backend = open_backend(redis_url, clock=time.time)
    operation = backend.start_requeue()
    rdb.hset(f"jobqueue:qtui:op:{operation.id}", mapping={"owner": "elsewhere:1", "updated_at": "0"})
    yield operation
    backend.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ops_lists_resumes_and_abandons(capsys, redis_url, rdb, interrupted) -> None:
    code, out, _ = run(capsys, "ops", "--db", redis_url)
    header, row = out.splitlines()
    assert code == 0 and header.split() == ["ID", "STATUS", "PROGRESS", "UPDATED", "OPERATION"]
    assert row.startswith(f"{interrupted.id}  interrupted  0 of ~30 examined, 0 moved")
    assert row.endswith("requeue all dead jobs to their own queues")
    code, out, _ = run(capsys, "ops", "--json", "--db", redis_url)
    (record,) = json.loads(out)
    assert record["id"] == interrupted.id and record["total"] == 30 and record["kind"] == "requeue"
    code, out, err = run(capsys, "ops", "resume", interrupted.id, "--db", redis_url)
    assert code == 4 and "pass --yes to confirm" in err  # stdin is not a terminal
    code, out, err = run(capsys, "ops", "resume", interrupted.id, "--yes", "--json", "--db", redis_url)
    assert code == 0 and json.loads(out) == {"requeued": 30} and err == ""  # no progress line off a terminal
    assert rdb.llen(sim.QUEUES["low"]) == 30
    code, out, _ = run(capsys, "ops", "--db", redis_url)
    assert out.strip() == "no unfinished operations"
    code, _, err = run(capsys, "ops", "abandon", interrupted.id, "--yes", "--db", redis_url)
    assert code == 1 and "no unfinished operation" in err


def test_abandon_leaves_every_job_where_it_is(capsys, redis_url, rdb, interrupted) -> None:
    code, out, _ = run(capsys, "ops", "abandon", interrupted.id, "--yes", "--db", redis_url)
    assert code == 0 and out.startswith(f"abandoned {interrupted.id} after 0 of ~30 examined")
    assert rdb.llen(sim.DEAD_LETTER) == 30 and open_backend(redis_url, clock=time.time).operations() == ()


def test_requeue_points_out_an_unfinished_operation_first(capsys, redis_url, rdb, interrupted) -> None:
    rdb.lpush(sim.DEAD_LETTER, sim.make_job("/new", "high", job_id="new", retries=4))
    code, out, err = run(capsys, "requeue", "--queue", "high", "--yes", "--json", "--db", redis_url)
    assert code == 0 and json.loads(out) == {"requeued": 1}
    assert f"qtui: unfinished operation {interrupted.id}: requeue all dead jobs to their own queues" in err
    assert f"'qtui ops resume {interrupted.id}' finishes it" in err and "\r" not in err


@pytest.mark.parametrize("argv", [["ops", "list", "x"], ["ops", "resume"], ["ops", "abandon"]])
def test_ops_usage_errors(capsys, redis_url, argv) -> None:
    code, _, err = run(capsys, *argv, "--db", redis_url)
    assert code == 2 and "qtui ops" in err



@pytest.mark.parametrize("command", [["stats"], ["peek", "low", "--state", "dead"]])
def test_stats_and_peek_mention_an_unfinished_operation_on_stderr_only(capsys, redis_url, interrupted, command) -> None:
    for as_json in ([], ["--json"]):
        code, out, err = run(capsys, *command, *as_json, "--db", redis_url)
        assert code == 0 and interrupted.id not in out
        (line,) = err.splitlines()
        assert line == (
            f"qtui: unfinished operation {interrupted.id}: requeue all dead jobs to their own queues "
            f"(0 of ~30 examined, 0 moved); 'qtui ops resume {interrupted.id}' finishes it, "
            f"'qtui ops abandon {interrupted.id}' drops it"
        )
    open_backend(redis_url, clock=time.time).abandon(interrupted.id)
    code, out_after, err = run(capsys, *command, "--json", "--db", redis_url)
    assert code == 0 and err == ""
    assert json.loads(out_after) == json.loads(out)  # --json's output is the same with or without the warning


def test_stats_on_rq_mentions_an_unfinished_purge(capsys, redis_server, rdb) -> None:
    load_rq(rdb, 40, 2, 40)
    url = redis_server.url(scheme="rq+redis")
    operation = open_backend(url, clock=time.time).start_purge(None, JobState.DEAD)
    rdb.hset(f"rq:qtui:op:{operation.id}", mapping={"owner": "elsewhere:1", "updated_at": "0"})
    code, out, err = run(capsys, "stats", "--db", url)
    assert code == 0 and "q00" in out
    assert err.startswith(f"qtui: unfinished operation {operation.id}: purge all dead jobs (0 of ~40 examined")


def test_stats_counts_several_operations_and_says_which_run_elsewhere(capsys, redis_url, rdb, interrupted) -> None:
    other = open_backend(redis_url, clock=time.time).start_purge("low", JobState.DEAD)
    live = f"{socket.gethostname()}:{os.getppid()}"  # a live process on this host: the test runner's parent
    rdb.hset(f"jobqueue:qtui:op:{other.id}", mapping={"owner": live})
    code, _, err = run(capsys, "stats", "--db", redis_url)
    assert code == 0
    assert err == ("qtui: 2 unfinished operations on this backend (1 interrupted, 1 running); "
                   "'qtui ops' lists them\n")  # fmt: skip
    open_backend(redis_url, clock=time.time).abandon(interrupted.id)
    code, _, err = run(capsys, "stats", "--db", redis_url)
    assert err.startswith(f"qtui: operation {other.id} running in {live}: purge all dead jobs of low (")
