"""The go-redis-work-queue backend against a real redis-server."""

from __future__ import annotations

import json
import threading
import time

import gowork_sim as sim
import pytest
import redis

from qtui.backends import open_backend
from qtui.backends.gowork import GoWorkBackend, raw_id
from qtui.model import InvalidInput, JobState, NotFound, ReadOnlyError


@pytest.fixture
def backend(redis_url: str) -> GoWorkBackend:
    b = open_backend(redis_url, clock=time.time)
    assert isinstance(b, GoWorkBackend)
    yield b
    b.close()


def counts(backend: GoWorkBackend, queue: str) -> dict[JobState, int]:
    stats = {q.name: q for q in backend.snapshot().queues}
    return dict(stats[queue].counts)


def dead_job(job_id: str, priority: str, retries: int = 4, path: str = "/data/x.pdf") -> bytes:
    return sim.make_job(path, priority, job_id=job_id, retries=retries)


def all_ids(rdb: redis.Redis, key: str) -> list[str]:
    return [json.loads(raw)["id"] for raw in rdb.lrange(key, 0, -1)]


def test_enqueue_builds_a_job_of_the_layout_that_a_worker_processes(backend, rdb, redis_server):
    job = backend.enqueue("high", json.dumps({"filepath": "/data/report.pdf", "filesize": 12}))
    stored = json.loads(rdb.lindex(sim.QUEUES["high"], 0))
    assert list(stored) == ["id", "filepath", "filesize", "priority", "retries", "creation_time", "trace_id", "span_id"]
    assert stored["id"] == job.id and stored["priority"] == "high" and stored["retries"] == 0
    assert job.created_at is not None and job.queue == "high" and job.state is JobState.READY
    seen = []
    worker = sim.Worker(redis_server.port, lambda j: seen.append(j["filepath"]) or True)
    worker.run()
    assert seen == ["/data/report.pdf"]
    assert all_ids(rdb, sim.COMPLETED) == [job.id]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("[1]", "JSON object"),
        ('{"id": "x"}', "'filepath' is required"),
        ('{"filepath": "/a", "colour": "red"}', "'colour' is not part"),
        ('{"filepath": "/a", "retries": -1}', "'retries' must be a non-negative integer"),
        ('{"filepath": "/a", "priority": "low"}', "but the job goes to queue 'high'"),
        ('{"filepath": "/a", "creation_time": "yesterday"}', "RFC 3339"),
        ("{oops", "not valid JSON"),
    ],
)
def test_enqueue_refuses_bad_payloads_naming_the_field(backend, rdb, payload, message):
    with pytest.raises(InvalidInput, match=message):
        backend.enqueue("high", payload)
    assert rdb.llen(sim.QUEUES["high"]) == 0


def test_unknown_queue_is_not_found(backend):
    with pytest.raises(NotFound, match="no queue named 'medium'"):
        backend.enqueue("medium", '{"filepath": "/a"}')
    with pytest.raises(NotFound):
        backend.peek("medium", JobState.READY)


def test_peek_pages_oldest_first_across_queues(backend, rdb):
    high = sim.produce(rdb, 3, "high")
    low = sim.produce(rdb, 4, "low")
    seen, cursor = [], None
    while True:
        page = backend.peek(None, JobState.READY, cursor=cursor, limit=2)
        seen += [j.id for j in page.jobs]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == high + low


def test_search_scans_in_bounded_chunks_and_finds_far_matches(backend, rdb, monkeypatch):
    monkeypatch.setattr("qtui.backends.gowork.SEARCH_BUDGET", 1500)
    sim.produce(rdb, 4000, "low", name="plain")
    rdb.lpush(sim.QUEUES["low"], sim.make_job("/data/NEEDLE.pdf", "low", job_id="needle"))
    page = backend.peek("low", JobState.READY, text="needle", limit=10)
    pages = 1
    while not page.jobs:
        assert page.next_cursor is not None
        page = backend.peek("low", JobState.READY, text="needle", cursor=page.next_cursor, limit=10)
        pages += 1
    assert [j.id for j in page.jobs] == ["needle"]
    assert pages == 3  # 4001 items, 1500 examined per call


def test_job_lookup_by_id_everywhere(backend, rdb):
    sim.produce(rdb, 5, "low")
    rdb.lpush(sim.DEAD_LETTER, dead_job("dead-1", "high"))
    rdb.lpush(sim.COMPLETED, sim.make_job("/done", "low", job_id="done-1"))
    rdb.lpush(sim.processing_key("w1"), sim.make_job("/busy", "high", job_id="busy-1"))
    rdb.set(sim.heartbeat_key("w1"), b"{}", ex=30)
    rdb.lpush(sim.DEAD_LETTER, b"\xff not json")
    assert backend.job("dead-1").state is JobState.DEAD
    assert backend.job("done-1").state is JobState.COMPLETED
    busy = backend.job("busy-1")
    assert busy.state is JobState.PROCESSING and busy.worker == "w1" and busy.lease_until is not None
    junk = backend.job(raw_id(b"\xff not json"))
    assert junk is not None and junk.queue == "?"
    assert backend.job("nope") is None


def test_stats_and_workers(backend, rdb):
    sim.produce(rdb, 3, "high")
    sim.produce(rdb, 2, "low")
    rdb.lpush(sim.DEAD_LETTER, dead_job("d1", "low"), dead_job("d2", "low"), dead_job("d3", "high"))
    rdb.lpush(sim.COMPLETED, sim.make_job("/c", "high"))
    rdb.lpush(sim.processing_key("alive"), sim.make_job("/p", "low", job_id="p1"))
    rdb.set(sim.heartbeat_key("alive"), b"x", ex=30)
    rdb.lpush(sim.processing_key("gone"), sim.make_job("/q", "high", job_id="p2"))
    snap = backend.snapshot()
    by_name = {q.name: q for q in snap.queues}
    assert [q.name for q in snap.queues] == ["high", "low"]
    assert dict(by_name["high"].counts) == {
        JobState.READY: 3, JobState.PROCESSING: 1, JobState.COMPLETED: 1, JobState.DEAD: 1,
    }  # fmt: skip
    assert dict(by_name["low"].counts) == {
        JobState.READY: 2, JobState.PROCESSING: 1, JobState.COMPLETED: 0, JobState.DEAD: 2,
    }  # fmt: skip
    assert by_name["high"].completed_per_min == 0.0  # no timestamps in this layout: no invented rate
    workers = {w.id: w for w in snap.workers}
    assert workers["alive"].alive and workers["alive"].current_job == "p1"
    assert not workers["gone"].alive and workers["gone"].current_job == "p2"


def test_dead_counts_follow_appends_and_other_changes(backend, rdb):
    rdb.lpush(sim.DEAD_LETTER, *[dead_job(f"a{i}", "low") for i in range(10)])
    assert counts(backend, "low")[JobState.DEAD] == 10
    rdb.lpush(sim.DEAD_LETTER, *[dead_job(f"b{i}", "high") for i in range(3)])
    assert counts(backend, "high")[JobState.DEAD] == 3
    # go-redis-work-queue's own DLQ requeue removes from the middle (LREM): recount.
    rdb.lrem(sim.DEAD_LETTER, 1, rdb.lindex(sim.DEAD_LETTER, 5))
    rdb.lpush(sim.DEAD_LETTER, dead_job("c0", "low"))
    assert counts(backend, "low")[JobState.DEAD] + counts(backend, "high")[JobState.DEAD] == 13
    assert rdb.llen(sim.DEAD_LETTER) == 13


def test_requeue_moves_dead_jobs_atomically_with_retries_reset(backend, rdb):
    rdb.lpush(sim.DEAD_LETTER, dead_job("h1", "high"), dead_job("l1", "low"), dead_job("l2", "low"), b"junk")
    assert backend.requeue(queue="low") == 2
    assert all_ids(rdb, sim.QUEUES["low"]) == ["l2", "l1"]  # l1 died first, so it runs first
    assert [json.loads(r)["retries"] for r in rdb.lrange(sim.QUEUES["low"], 0, -1)] == [0, 0]
    assert backend.requeue(ids=["h1", "missing"], to_queue="low") == 1
    moved = json.loads(rdb.lindex(sim.QUEUES["low"], 0))
    assert moved["id"] == "h1" and moved["priority"] == "low" and moved["retries"] == 0
    assert rdb.lrange(sim.DEAD_LETTER, 0, -1) == [b"junk"]  # no queue known: left in place
    assert backend.requeue() == 0


def test_requeue_by_text_and_purges(backend, rdb):
    rdb.lpush(sim.DEAD_LETTER, dead_job("x1", "low", path="/data/invoice.pdf"), dead_job("x2", "low"))
    assert backend.requeue(text="INVOICE") == 1
    assert all_ids(rdb, sim.DEAD_LETTER) == ["x2"]
    sim.produce(rdb, 5, "high")
    assert backend.purge("high", JobState.READY) == 5 and rdb.llen(sim.QUEUES["high"]) == 0
    rdb.lpush(sim.COMPLETED, sim.make_job("/a", "high", job_id="c1"), sim.make_job("/b", "low", job_id="c2"))
    assert backend.purge("low", JobState.COMPLETED) == 1
    assert all_ids(rdb, sim.COMPLETED) == ["c1"]
    assert backend.purge(None, JobState.DEAD, ids=["x2", "zzz"]) == 1
    assert rdb.llen(sim.DEAD_LETTER) == 0
    assert backend.purge(None, JobState.SCHEDULED) == 0
    with pytest.raises(InvalidInput, match="cannot purge processing"):
        backend.purge(None, JobState.PROCESSING)


def test_read_only_refuses_writes(redis_url, rdb):
    b = open_backend(redis_url, read_only=True, clock=time.time)
    rdb.lpush(sim.DEAD_LETTER, dead_job("d", "low"))
    with pytest.raises(ReadOnlyError):
        b.requeue()
    assert rdb.llen(sim.DEAD_LETTER) == 1
    b.close()


def test_bulk_requeue_of_many_jobs_keeps_every_job_once(backend, rdb):
    jobs = [dead_job(f"j{i}", "low" if i % 3 else "high") for i in range(12_000)]
    for i in range(0, len(jobs), 2000):
        rdb.lpush(sim.DEAD_LETTER, *jobs[i : i + 2000])
    assert backend.requeue(queue="low") == 8000
    low, dead = all_ids(rdb, sim.QUEUES["low"]), all_ids(rdb, sim.DEAD_LETTER)
    assert len(set(low)) == 8000 and len(dead) == 4000 and not set(low) & set(dead)
    assert low[-1] == "j1" and dead[-1] == "j0"  # oldest stays next in line on both sides


def test_live_system_requeued_jobs_get_processed(backend, rdb, redis_server):
    """A producer and workers run while qtui watches, requeues and watches them finish."""
    fail_first = threading.Event()
    fail_first.set()

    def handler(job: dict) -> bool:
        return not (fail_first.is_set() and "flaky" in job["filepath"])

    sim.produce(rdb, 20, "high", name="steady")
    sim.produce(rdb, 10, "low", name="flaky")
    workers = [sim.Worker(redis_server.port, handler, max_retries=2) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert counts(backend, "high")[JobState.COMPLETED] == 20
    assert counts(backend, "low")[JobState.DEAD] == 10
    fail_first.clear()
    assert backend.requeue(queue="low") == 10
    assert counts(backend, "low") == {
        JobState.READY: 10, JobState.PROCESSING: 0, JobState.COMPLETED: 0, JobState.DEAD: 0,
    }  # fmt: skip
    workers = [sim.Worker(redis_server.port, handler) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert counts(backend, "low")[JobState.COMPLETED] == 10
    assert rdb.llen(sim.COMPLETED) == 30


def test_reaper_returns_abandoned_jobs_and_qtui_sees_them(backend, rdb):
    rdb.lpush(sim.processing_key("crashed"), sim.make_job("/p", "high", job_id="orphan"))
    assert not {w.id: w for w in backend.workers()}["crashed"].alive
    assert sim.reap(rdb) == 1
    assert backend.job("orphan").state is JobState.READY


def test_custom_prefix_and_queue_map(redis_server, rdb):
    url = redis_server.url() + "?prefix=jq&queues=urgent:u,bulk:b,normal:n"
    b = open_backend(url, clock=time.time)
    b.enqueue("bulk", '{"filepath": "/x"}')
    assert rdb.llen("jq:b") == 1
    assert [q.name for q in b.snapshot().queues] == ["urgent", "bulk", "normal"]
    b.close()


@pytest.mark.parametrize("scheme", ["redis+unix", "unix", "rq+unix"])
def test_unix_socket_urls_reach_the_server(redis_server, rdb, scheme):
    rdb.lpush(sim.QUEUES["low"], sim.make_job("/a", "low"))
    b = open_backend(f"{scheme}://{redis_server.socket_path}?db=0", clock=time.time)
    queues = {q.name: q for q in b.snapshot().queues}
    if scheme.startswith("rq+"):
        assert queues == {}
    else:
        assert queues["low"].count(JobState.READY) == 1
    b.close()


def test_count_by_reads_the_payloads_of_a_bounded_number_of_the_oldest_jobs(backend, rdb):
    sim.produce(rdb, 3, "high", name="report")
    rdb.lpush(sim.QUEUES["high"], b"{not json")
    rdb.lpush(sim.DEAD_LETTER, dead_job("d1", "low", path="/data/a.pdf"), dead_job("d2", "high", path="/data/a.pdf"),
              dead_job("d3", "low", path="/data/b.pdf"))
    ready = backend.count_by("high", JobState.READY, "priority")
    assert [(g.value, g.count) for g in ready.groups] == [("high", 3)]
    assert (ready.scanned, ready.unreadable, ready.complete) == (4, 1, True)
    dead = backend.count_by("low", JobState.DEAD, "filepath")  # the dead list is shared: low's jobs only
    assert [(g.value, g.count) for g in dead.groups] == [("/data/a.pdf", 1), ("/data/b.pdf", 1)]
    partial = backend.count_by(None, JobState.READY, "filesize", limit=2)
    assert [(g.value, g.count) for g in partial.groups] == [("1024", 2)] and partial.complete is False


def test_oldest_job_of_each_queue(backend, rdb):
    high = sim.produce(rdb, 2, "high")
    assert [(j.queue, j.id) for j in backend.oldest(None, JobState.READY)] == [("high", high[0])]
    assert backend.oldest("low", JobState.READY) == ()
