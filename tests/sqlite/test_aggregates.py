"""Queue aggregates answered by SQL: jobs counted by a payload field, the oldest job of each queue."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qtui.backends.base import Backend
from qtui.backends.payload_fields import MAX_PAYLOAD_BYTES
from qtui.backends.sqlite import SQLiteBackend
from qtui.model import Group, InvalidInput, JobState, NotFound
from qtui.sqlite_queue import SQLiteQueue
from tests.support import ManualClock

scalars = st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats(allow_nan=False, allow_infinity=False,
                                                                               width=32) | st.text(max_size=6)
fields = st.sampled_from(["tenant", "meta.tenant", "t-1"])
payloads = st.one_of(
    st.fixed_dictionaries({}, optional={"tenant": scalars | st.lists(scalars, max_size=2), "t-1": scalars,
                                        "meta": st.fixed_dictionaries({}, optional={"tenant": scalars}) | scalars}),
    scalars,
    st.lists(scalars, max_size=2),
)


def raw(db: Path, job_id: str, payload: str) -> None:
    """Store `payload` as is, as a producer skipping qtui's JSON check would."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET payload = ? WHERE id = ?", (payload, int(job_id)))
    conn.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(jobs=[{"tenant": "a\x00b"}, {"tenant": "a\x00c"}, {"tenant": "\x00"}], field="tenant", limit=5, older=None)
@given(jobs=st.lists(payloads, min_size=1, max_size=25), field=fields, limit=st.integers(1, 30),
       older=st.sampled_from([None, 1_000_000_010.0]))
def test_sql_counts_agree_with_reading_every_payload(tmp_path: Path, jobs, field, limit, older) -> None:
    db = Path(tempfile.mkdtemp(dir=tmp_path)) / "queue.db"
    clock = ManualClock()
    with SQLiteQueue.open(db, create=True, clock=clock) as queue:
        for payload in jobs:
            queue.enqueue("email", json.dumps(payload))
            clock.advance(1)
        queue.enqueue("sms", {"tenant": "other queue"})
    backend = SQLiteBackend(str(db), clock=clock)
    try:
        by_sql = backend.count_by("email", JobState.READY, field, older_than=older, limit=limit)
        by_reading = Backend._count_by(backend, "email", JobState.READY, tuple(field.split(".")), older, limit)
    finally:
        backend.close()
    assert by_sql == by_reading
    assert by_sql.scanned == min(limit, len(jobs))
    assert by_sql.complete == (limit >= len(jobs))


def test_groups_give_values_as_text_the_most_jobs_first(queue: SQLiteQueue, backend: SQLiteBackend,
                                                        clock: ManualClock) -> None:
    started = clock.now
    queue.enqueue_many("email", [{"tenant": "acme"}, {"tenant": 7}, {"tenant": 1.5}, {"tenant": True}])
    clock.advance(100)
    queue.enqueue_many("email", [{"tenant": "acme"}, {"tenant": None}, {"other": 1}, [1, 2], '"just text"'])
    counts = backend.count_by("email", JobState.READY, "tenant", older_than=started + 50)
    assert counts.groups == (
        Group(None, 4, started + 100, 0),
        Group("acme", 2, started, 1),
        Group("1.5", 1, started, 1),
        Group("7", 1, started, 1),
        Group("true", 1, started, 1),
    )
    assert (counts.scanned, counts.unreadable, counts.complete, counts.others) == (9, 0, True, 0)


def test_payloads_that_are_not_json_or_too_long_are_unreadable(queue: SQLiteQueue, backend: SQLiteBackend,
                                                               db_path: Path) -> None:
    ids = queue.enqueue_many("email", [{"tenant": "acme"}] * 4)
    raw(db_path, ids[0], "{not json")
    raw(db_path, ids[1], json.dumps({"tenant": "far", "pad": "x" * MAX_PAYLOAD_BYTES}))
    raw(db_path, ids[2], '{"tenant": NaN}')
    counts = backend.count_by(None, JobState.READY, "tenant")
    assert counts.groups == (Group("acme", 1, counts.groups[0].oldest, 0),)
    assert (counts.scanned, counts.unreadable) == (4, 3)
    generic = Backend._count_by(backend, None, JobState.READY, ("tenant",), None, 100)
    assert generic == counts


def test_count_by_checks_its_arguments(backend: SQLiteBackend) -> None:
    with pytest.raises(InvalidInput, match="invalid payload field 'a..b'"):
        backend.count_by(None, JobState.READY, "a..b")
    with pytest.raises(NotFound, match="no queue named 'nope'"):
        backend.count_by("nope", JobState.READY, "tenant")


def test_oldest_gives_one_job_per_queue_that_has_one(queue: SQLiteQueue, backend: SQLiteBackend) -> None:
    email = queue.enqueue_many("email", [{"n": 1}, {"n": 2}])
    sms = queue.enqueue("sms", {"n": 3})
    queue.enqueue("billing", {"n": 4}, delay=60)  # scheduled, not ready
    assert [(j.queue, j.id) for j in backend.oldest(None, JobState.READY)] == [("email", email[0]), ("sms", sms)]
    assert [j.id for j in backend.oldest("sms", JobState.READY)] == [sms]
    assert [j.queue for j in backend.oldest(None, JobState.SCHEDULED)] == ["billing"]
    with pytest.raises(NotFound):
        backend.oldest("nope", JobState.READY)
