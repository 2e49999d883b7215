"""The chunked scan shared by the Redis layouts (qtui.backends.redis_scan), on a real redis-server."""

from __future__ import annotations

import functools

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.backends import open_backend
from qtui.backends.redis_scan import (
    Chunk,
    Source,
    WrongKeyType,
    batches,
    contains_text,
    read_chunk,
    scan_page,
    walk,
)
from qtui.clock import SYSTEM_CLOCK
from qtui.model import Job, JobState

KEY = "scan:key"
LEFT = Source(KEY)  # oldest at the left: RQ queue lists
RIGHT = Source(KEY, oldest_at_right=True)  # LPUSHed lists: go-redis-work-queue
ZSET = Source(KEY, kind="zset")  # RQ registries, oldest = lowest score
SOURCES = st.sampled_from([LEFT, RIGHT, ZSET])

# Examples share the test's server; each one empties the key it uses first.
on_the_server = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def fill(rdb: redis.Redis, source: Source, items: list[bytes]) -> None:
    """Make `source` hold `items`, oldest first (in a sorted set the score is the index)."""
    rdb.delete(source.key)
    if not items:
        return
    if source.kind == "zset":
        rdb.zadd(source.key, {item: i for i, item in enumerate(items)})
    elif source.oldest_at_right:
        rdb.lpush(source.key, *items)
    else:
        rdb.rpush(source.key, *items)


def whole_key(rdb: redis.Redis, source: Source) -> list[bytes]:
    """Everything the key holds, oldest first, in one LRANGE or ZRANGE."""
    if source.kind == "zset":
        return rdb.zrange(source.key, 0, -1)
    items = rdb.lrange(source.key, 0, -1)
    return items[::-1] if source.oldest_at_right else items


def numbered(n: int) -> list[bytes]:
    return [f"item-{i}".encode() for i in range(n)]


def members(chunks: list[Chunk]) -> list[bytes]:
    return [member for chunk in chunks for member, _ in chunk.found]


# -- reading windows and walking a key -----------------------------------------


@on_the_server
@given(source=SOURCES, n=st.integers(0, 40), size=st.integers(1, 45))
def test_a_read_walk_gives_exactly_the_keys_items_in_order(rdb, source, n, size):
    fill(rdb, source, numbered(n))
    chunks = list(walk(source, functools.partial(read_chunk, rdb), size=size))
    assert members(chunks) == numbered(n) == whole_key(rdb, source)
    assert [c.position for c in chunks] == list(range(0, n + 1, size))
    assert all(c.examined == size for c in chunks[:-1]) and chunks[-1].examined < size
    assert all(c.removed == 0 for c in chunks)


@on_the_server
@given(source=SOURCES, n=st.integers(0, 30), position=st.integers(0, 35), count=st.integers(1, 35))
def test_a_window_is_the_slice_at_its_position(rdb, source, n, position, count):
    fill(rdb, source, numbered(n))
    chunk = read_chunk(rdb, source, position, count)
    assert [m for m, _ in chunk.found] == numbered(n)[position : position + count]
    assert chunk.position == position and chunk.examined == len(chunk.found)


def test_sorted_set_entries_carry_their_scores_and_list_items_none(rdb):
    fill(rdb, ZSET, numbered(3))
    assert read_chunk(rdb, ZSET, 1, 5).found == [(b"item-1", 1.0), (b"item-2", 2.0)]
    fill(rdb, RIGHT, numbered(2))
    assert read_chunk(rdb, RIGHT, 0, 5).found == [(b"item-0", None), (b"item-1", None)]


@pytest.mark.parametrize("source", [LEFT, RIGHT, ZSET], ids=["left", "right", "zset"])
def test_empty_and_single_item_keys(rdb, source):
    rdb.delete(KEY)
    assert list(walk(source, functools.partial(read_chunk, rdb), size=3)) == [Chunk(0, 0, 0, [])]
    fill(rdb, source, [b"only"])
    one = list(walk(source, functools.partial(read_chunk, rdb), size=1))
    assert [(c.position, members([c])) for c in one] == [(0, [b"only"]), (1, [])]
    assert members(list(walk(source, functools.partial(read_chunk, rdb), size=3))) == [b"only"]


def test_windows_and_walks_hold_at_least_one_item(rdb):
    # LRANGE 0 -1 would be the whole list: a window of no items must not become one.
    with pytest.raises(ValueError, match="at least one item"):
        read_chunk(rdb, LEFT, 0, 0)
    with pytest.raises(ValueError, match="at least one item"):
        next(walk(LEFT, functools.partial(read_chunk, rdb), size=0))


def remove_selected(rdb: redis.Redis, selected: set[bytes], source: Source, position: int, size: int) -> Chunk:
    """A step that removes the selected items of its window (as a bulk requeue or purge does)."""
    chunk = read_chunk(rdb, source, position, size)
    gone = [m for m, _ in chunk.found if m in selected]
    for member in gone:
        if source.kind == "zset":
            rdb.zrem(source.key, member)
        else:
            rdb.lrem(source.key, 1, member)
    return Chunk(position, chunk.examined, len(gone), chunk.found)


@on_the_server
@given(source=SOURCES, picks=st.lists(st.booleans(), max_size=40), size=st.integers(1, 12))
def test_steps_that_remove_what_they_select_still_see_every_item_once(rdb, source, picks, size):
    items = numbered(len(picks))
    selected = {item for item, picked in zip(items, picks, strict=True) if picked}
    fill(rdb, source, items)
    chunks = list(walk(source, functools.partial(remove_selected, rdb, selected), size=size))
    assert members(chunks) == items
    assert sum(c.removed for c in chunks) == len(selected)
    assert whole_key(rdb, source) == [item for item in items if item not in selected]


def pop_oldest(rdb: redis.Redis, source: Source, position: int, size: int) -> Chunk:
    """A step that takes the `size` oldest items out (as purging a queue does)."""
    if source.kind == "zset":
        popped = [m for m, _ in rdb.zpopmin(source.key, size)]
    else:
        popped = (rdb.rpop if source.oldest_at_right else rdb.lpop)(source.key, size) or []
    return Chunk(position, len(popped), len(popped), popped)


@on_the_server
@given(source=SOURCES, n=st.integers(0, 40), size=st.integers(1, 12))
def test_steps_that_remove_all_they_examine_drain_the_key_from_its_oldest_end(rdb, source, n, size):
    fill(rdb, source, numbered(n))
    chunks = list(walk(source, functools.partial(pop_oldest, rdb), size=size))
    assert [m for c in chunks for m in c.found] == numbered(n)
    assert {c.position for c in chunks} == {0} and len(chunks) == n // size + 1
    assert not rdb.exists(KEY)


def test_leaving_the_loop_stops_the_walk_before_its_next_step(rdb):
    fill(rdb, LEFT, numbered(10))
    steps = []

    def counted(source, position, size):
        steps.append(position)
        return read_chunk(rdb, source, position, size)

    for chunk in walk(LEFT, counted, size=3):
        if b"item-4" in members([chunk]):
            break
    assert steps == [0, 3]


# -- a key that changes between chunks (the semantics the module doc states) ---


def push(rdb: redis.Redis, source: Source, items: list[bytes], *, oldest_end: bool) -> None:
    at_left = source.oldest_at_right != oldest_end
    (rdb.lpush if at_left else rdb.rpush)(source.key, *(items[::-1] if at_left else items))


def take_oldest(rdb: redis.Redis, source: Source, count: int) -> None:
    (rdb.rpop if source.oldest_at_right else rdb.lpop)(source.key, count)


def walk_changing_after_the_first_chunk(rdb, source, change) -> list[bytes]:
    fill(rdb, source, numbered(10))
    seen = []
    for chunk in walk(source, functools.partial(read_chunk, rdb), size=4):
        seen += members([chunk])
        if chunk.position == 0:
            change()
    return seen


@pytest.mark.parametrize("source", [LEFT, RIGHT], ids=["left", "right"])
def test_items_pushed_at_the_newest_end_during_a_walk_are_reached(rdb, source):
    seen = walk_changing_after_the_first_chunk(rdb, source, lambda: push(rdb, source, [b"new"], oldest_end=False))
    assert seen == [*numbered(10), b"new"]


@pytest.mark.parametrize("source", [LEFT, RIGHT], ids=["left", "right"])
def test_items_taken_from_the_oldest_end_during_a_walk_make_as_many_slip_past(rdb, source):
    seen = walk_changing_after_the_first_chunk(rdb, source, lambda: take_oldest(rdb, source, 2))
    items = numbered(10)
    assert seen == items[:4] + items[6:]  # item-4 and item-5 moved below the position unseen


@pytest.mark.parametrize("source", [LEFT, RIGHT], ids=["left", "right"])
def test_items_added_at_the_oldest_end_during_a_walk_make_as_many_come_round_again(rdb, source):
    seen = walk_changing_after_the_first_chunk(rdb, source, lambda: push(rdb, source, [b"a", b"b"], oldest_end=True))
    items = numbered(10)
    assert seen == items[:4] + items[2:]  # item-2 and item-3 seen twice; a and b not at all


# -- hostile keys --------------------------------------------------------------


@pytest.mark.parametrize("source", [LEFT, ZSET], ids=["list", "zset"])
def test_a_key_of_the_wrong_type_raises_wrong_key_type_naming_it(rdb, source):
    rdb.hset(KEY, "field", "value")
    with pytest.raises(WrongKeyType, match=r"WRONGTYPE .*\(key 'scan:key'\)") as caught:
        read_chunk(rdb, source, 0, 10)
    assert caught.value.key == KEY
    assert isinstance(caught.value, redis.ResponseError)  # mapped to BackendError as any refused command


def test_the_backends_skip_a_key_of_the_wrong_type_and_flag_it_in_their_stats(redis_url, rdb):
    rdb.set("jobqueue:dead_letter", b"not a list")
    rdb.hset("jobqueue:high_priority", "a", "b")
    rdb.sadd("rq:queues", "rq:queue:default")
    rdb.set("rq:queue:default", b"not a list")
    rdb.set("rq:failed:default", b"not a sorted set")
    for url, queue, state, keys in (
        (redis_url, None, JobState.DEAD, ["jobqueue:dead_letter", "jobqueue:high_priority"]),
        ("rq+" + redis_url, "default", JobState.READY, ["rq:queue:default", "rq:failed:default"]),
    ):
        backend = open_backend(url, clock=SYSTEM_CLOCK.time)
        assert backend.peek(queue, state, text="x").jobs == ()
        assert backend.peek(queue, state).jobs == ()
        snapshot = backend.snapshot()
        for key in keys:
            assert any(p.startswith(key) and "skipped" in p for p in snapshot.problems), snapshot.problems
        assert all(q.count(JobState.DEAD) == 0 for q in snapshot.queues)
        backend.close()


def as_job(raw: bytes) -> Job | None:
    """A job whose payload is the item, or None for an item that is not UTF-8 (skipped, as hostile)."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    return Job(id=text, queue="q", state=JobState.READY, payload=text)


def job_reader(rdb: redis.Redis, reads: list[int] | None = None):
    def read_jobs(source: Source, position: int, count: int) -> Chunk[list[Job | None]]:
        window = read_chunk(rdb, source, position, count)
        if reads is not None:
            reads.append(window.examined)
        return Chunk(position, window.examined, 0, [as_job(m) for m, _ in window.found])

    return read_jobs


def test_a_page_reader_can_skip_a_key_of_the_wrong_type(rdb):
    sources = [Source("scan:a"), Source("scan:bad"), Source("scan:b")]
    rdb.rpush("scan:a", b"a1")
    rdb.set("scan:bad", b"not a list")
    rdb.rpush("scan:b", b"b1")
    flagged = []
    read_jobs = job_reader(rdb)

    def skipping(source: Source, position: int, count: int) -> Chunk[list[Job | None]]:
        try:
            return read_jobs(source, position, count)
        except WrongKeyType as exc:
            flagged.append(exc.key)
            return Chunk(position, 0, 0, [])

    page = scan_page(sources, skipping, cursor=None, limit=10, text=None, budget=100)
    assert [j.id for j in page.jobs] == ["a1", "b1"] and page.next_cursor is None
    assert flagged == ["scan:bad"]


# -- pages across keys ---------------------------------------------------------

ITEM = st.one_of(
    st.sampled_from([b"apple", b"Pear", b"grape", b"APPLE pie"]),
    st.just(b"\xff\xfe not utf-8"),
)


@on_the_server
@given(
    keys=st.lists(st.lists(ITEM, max_size=12), min_size=1, max_size=4),
    limit=st.integers(1, 6),
    text=st.sampled_from([None, "apple", "PEAR", "kiwi"]),
    budget=st.integers(1, 15),
    reader_filters=st.booleans(),
)
def test_paging_through_gives_every_kept_job_once_in_order(rdb, keys, limit, text, budget, reader_filters):
    sources = [Source(f"scan:page:{i}", queue=f"q{i}") for i in range(len(keys))]
    for source, items in zip(sources, keys, strict=True):
        fill(rdb, source, items)
    expected = [
        job.payload
        for items in keys
        for job in map(as_job, items)
        if job is not None and (text is None or text.lower() in job.payload.lower())
    ]
    whole_chunks = text is not None or reader_filters
    seen, cursor = [], None
    for _ in range(200):
        reads: list[int] = []
        page = scan_page(
            sources, job_reader(rdb, reads), cursor=cursor, limit=limit, text=text, budget=budget,
            reader_filters=reader_filters,
        )  # fmt: skip
        assert len(page.jobs) <= limit
        if whole_chunks:
            assert sum(reads) <= budget
        seen += [j.payload for j in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert cursor is None and seen == expected


def test_without_a_filter_a_page_reads_only_the_items_it_needs(rdb):
    fill(rdb, LEFT, numbered(10))
    reads: list[int] = []
    page = scan_page([LEFT], job_reader(rdb, reads), cursor=None, limit=4, text=None, budget=100)
    assert [j.id for j in page.jobs] == [f"item-{i}" for i in range(4)] and reads == [4]
    page = scan_page([LEFT], job_reader(rdb, reads), cursor=page.next_cursor, limit=4, text=None, budget=100)
    assert [j.id for j in page.jobs] == [f"item-{i}" for i in range(4, 8)] and page.next_cursor == "0.8"


def test_a_page_that_fills_early_converts_no_more_of_a_lazy_window(rdb):
    fill(rdb, LEFT, numbered(50))
    converted = []

    def lazy(source: Source, position: int, count: int) -> Chunk:
        window = read_chunk(rdb, source, position, count)
        jobs = (converted.append(m) or as_job(m) for m, _ in window.found)
        return Chunk(position, window.examined, 0, jobs)

    page = scan_page([LEFT], lazy, cursor=None, limit=2, text="item", budget=100)
    assert [j.id for j in page.jobs] == ["item-0", "item-1"] and page.next_cursor == "0.2"
    assert converted == numbered(2)


def test_skipped_items_count_as_examined(rdb):
    fill(rdb, LEFT, [b"\xff1", b"ok", b"\xff2", b"\xff3", b"fine"])
    page = scan_page([LEFT], job_reader(rdb), cursor=None, limit=5, text=None, budget=3, reader_filters=True)
    assert [j.id for j in page.jobs] == ["ok"] and page.next_cursor == "0.3"
    page = scan_page([LEFT], job_reader(rdb), cursor=page.next_cursor, limit=5, text=None, budget=3)
    assert [j.id for j in page.jobs] == ["fine"] and page.next_cursor is None


def test_text_matches_payload_or_last_error_ignoring_case():
    job = Job(id="1", queue="q", state=JobState.DEAD, payload="resize(42)", last_error="Disk FULL")
    assert contains_text(job, "resize") and contains_text(job, "disk full")
    assert not contains_text(job, "quota")
    assert not contains_text(Job(id="2", queue="q", state=JobState.READY, payload="x"), "disk")


@given(items=st.lists(st.integers(), max_size=30), size=st.integers(1, 10))
def test_batches_cut_a_sequence_into_full_slices_and_a_rest(items, size):
    cut = list(batches(items, size))
    assert [x for batch in cut for x in batch] == items
    assert all(len(batch) == size for batch in cut[:-1]) and all(0 < len(batch) <= size for batch in cut)
