"""Batch enqueue: SQLiteQueue.enqueue_many, Backend.enqueue_many and `qtui enqueue --batch`."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui.backends import open_backend
from qtui.cli.main import main
from qtui.model import BackendError, InvalidBatchItem, InvalidInput, JobState
from qtui.sqlite_queue import SQLiteQueue
from qtui.sqlite_queue.queue import encode_payload
from tests.support import ManualClock


def trigger_sql(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'jobs_inserted'").fetchone()
    return row and row[0]


def stored(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, queue, state, payload, priority, max_attempts, run_at FROM jobs ORDER BY id").fetchall()


batches = st.lists(
    st.tuples(st.sampled_from(["email", "sms"]), st.integers(0, 150), st.sampled_from([0.0, 30.0]),
              st.integers(0, 20)),
    max_size=4,
)


@settings(max_examples=25, deadline=None)
@given(batches=batches)
def test_a_batch_counts_and_rates_as_many_single_enqueues(tmp_path_factory, batches) -> None:
    """Big batches are counted once instead of by the per-row trigger: the stats are the same."""
    folder = tmp_path_factory.mktemp("batch")
    clock = ManualClock()
    with SQLiteQueue.open(folder / "batch.db", create=True, clock=clock) as batch, \
            SQLiteQueue.open(folder / "single.db", create=True, clock=clock) as single:
        for queue, size, delay, seconds in batches:
            payloads = [{"n": n, "queue": queue} for n in range(size)]
            ids = batch.enqueue_many(queue, payloads, delay=delay, priority=size)
            singles = [single.enqueue(queue, p, delay=delay, priority=size) for p in payloads]
            assert ids == singles  # consecutive ids, in the order of the payloads
            clock.advance(seconds)
        assert batch.snapshot() == single.snapshot()
    assert stored(folder / "batch.db") == stored(folder / "single.db")
    assert trigger_sql(folder / "batch.db") == trigger_sql(folder / "single.db") is not None


def test_a_bad_payload_names_its_position_and_nothing_is_added(tmp_path: Path) -> None:
    with SQLiteQueue.open(tmp_path / "q.db", create=True) as queue:
        queue.enqueue("email", {"before": True})
        payloads: list[object] = [{"n": n} for n in range(200)]
        payloads[150] = '{"n": NaN}'
        with pytest.raises(InvalidBatchItem, match=r"^job 151 of the batch: payload is not valid JSON") as error:
            queue.enqueue_many("email", payloads)
        assert error.value.position == 151
        assert [q.count(JobState.READY) for q in queue.snapshot().queues] == [1]
    assert len(stored(tmp_path / "q.db")) == 1 and trigger_sql(tmp_path / "q.db") is not None


def test_a_batch_that_fails_while_writing_leaves_the_counting_trigger_in_place(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    SQLiteQueue.open(path, create=True).close()
    original = trigger_sql(path)
    queue = SQLiteQueue.open(path)
    try:
        with queue.database.write() as conn:  # the pool's connection: limit its file to the pages it has
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        with queue.database.read() as conn:
            conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(BackendError, match="disk is full"):
            queue.enqueue_many("email", [{"padding": "x" * 1000, "n": n} for n in range(500)])
    finally:
        queue.close()
    assert stored(path) == [] and trigger_sql(path) == original


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
#: Texts around the edge of JSON: valid ones with whitespace around or inside, ones cut short or
#: with something after them, NaN and Infinity, deep nesting, and any text at all.
payload_texts = st.one_of(
    st.builds(lambda value, indent, before, after: before + json.dumps(value, indent=indent) + after,
              json_values, st.sampled_from([None, 0, 2]), st.sampled_from(["", " ", "\t", "\r", "\n "]),
              st.sampled_from(["", " ", "\r", "\n", ",", "]", "}", " 1", "x"])),
    st.builds(lambda value, cut: json.dumps(value)[:cut], json_values, st.integers(0, 40)),
    st.sampled_from(["NaN", "[Infinity]", '{"a": -Infinity}', "01", "1.", ".5", "-", '"\x01"', "[" * 5000 + "]" * 5000,
                     "\ufeff{}", "{\"a\":1,}", "[1,]", "'a'", "tru", "nul", '"\\ud800"']),
    st.text(max_size=20),
)


def accepted_alone(payload: str) -> str | None:
    """How a single enqueue sees the payload: None if it takes it, else its complaint."""
    try:
        encode_payload(payload)
    except InvalidInput as exc:
        return str(exc)
    return None


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(payload_texts, min_size=1, max_size=5))
def test_a_batch_takes_exactly_the_payloads_a_single_enqueue_takes(tmp_path_factory, texts) -> None:
    """enqueue_many checks payloads at C speed; its verdict and its message are enqueue's."""
    path = tmp_path_factory.mktemp("same") / "q.db"
    verdicts = [accepted_alone(text) for text in texts]
    with SQLiteQueue.open(path, create=True) as queue:
        bad = next((n for n, verdict in enumerate(verdicts, 1) if verdict is not None), None)
        if bad is None:
            ids = queue.enqueue_many("email", texts)
            assert len(ids) == len(texts)
        else:
            with pytest.raises(InvalidBatchItem) as error:
                queue.enqueue_many("email", texts)
            assert (error.value.position, error.value.reason) == (bad, verdicts[bad - 1])
    assert [row[3] for row in stored(path)] == (texts if bad is None else [])


@pytest.fixture
def jsonl(tmp_path: Path):
    def write(lines: list[str], name: str = "jobs.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines))
        return path
    return write


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_batch_from_a_file(capsys, tmp_path: Path, jsonl) -> None:
    db = tmp_path / "jobs.db"
    path = jsonl([json.dumps({"to": f"user{n}@example.com"}) for n in range(25)])
    code, out, err = run(capsys, "enqueue", "email", "--batch", str(path), "--db", str(db), "--create",
                         "--batch-size", "10", "--priority", "3")
    assert (code, err) == (0, "") and out == "enqueued 25 jobs on email (ids 1 to 25)\n"
    rows = stored(db)
    assert [json.loads(r[3])["to"] for r in rows] == [f"user{n}@example.com" for n in range(25)]
    assert {r[4] for r in rows} == {3}


def test_cli_batch_from_stdin_as_json(capsys, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "jobs.db"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"n": 1}\n[2]\n"three"\n')))
    code, out, _ = run(capsys, "--db", str(db), "enqueue", "sms", "--batch", "-", "--json", "--create")
    assert code == 0
    assert json.loads(out) == {"queue": "sms", "enqueued": 3, "first_id": "1", "last_id": "3"}
    assert [r[3] for r in stored(db)] == ['{"n": 1}', "[2]", '"three"']


def test_cli_batch_stops_at_a_bad_line_keeping_the_batches_before_it(capsys, tmp_path: Path, jsonl) -> None:
    db = tmp_path / "jobs.db"
    lines = [json.dumps({"n": n}) for n in range(30)]
    lines[24] = '{"n": 24'
    code, out, err = run(capsys, "enqueue", "email", "--batch", str(jsonl(lines)), "--db", str(db), "--create",
                         "--batch-size", "10")
    assert code == 2 and out == ""
    assert "jobs.jsonl:25: payload is not valid JSON" in err
    assert "nothing from line 21 on was enqueued, the 20 jobs of lines 1-20 were (ids 1 to 20)" in err
    assert [json.loads(r[3])["n"] for r in stored(db)] == list(range(20))


@pytest.mark.parametrize(("content", "message"), [
    (b'{"a": 1}\n\n{"a": 2}\n', "jobs.jsonl:2: empty line"),
    (b'{"a": 1}\n"' + b"x" * (16 * 2**20) + b'"\n', "jobs.jsonl:2: the line is longer than 16 MiB"),
    (b'{"a": 1}\n{"a": "\xff"}\n', "jobs.jsonl:2: not UTF-8 text (byte 8 of the line)"),
    (b'{"a": 1}\n{"a": 2} {"b": 3}\n', "jobs.jsonl:2: payload is not valid JSON: Extra data"),
])
def test_cli_batch_names_the_line_that_cannot_be_a_payload(capsys, tmp_path: Path, content, message) -> None:
    db = tmp_path / "jobs.db"
    (tmp_path / "jobs.jsonl").write_bytes(content)
    code, _, err = run(capsys, "enqueue", "email", "--batch", str(tmp_path / "jobs.jsonl"), "--db", str(db),
                       "--create")
    assert code == 2 and message in err and err.rstrip().endswith("nothing was enqueued")
    assert stored(db) == []


def test_cli_batch_names_the_first_bad_line_of_a_batch(capsys, tmp_path: Path, jsonl) -> None:
    db = tmp_path / "jobs.db"
    lines = [json.dumps({"n": n}) for n in range(30)]
    lines[13], lines[16] = "[1, 2", "  "
    code, _, err = run(capsys, "enqueue", "email", "--batch", str(jsonl(lines)), "--db", str(db), "--create",
                       "--batch-size", "10")
    assert code == 2 and "jobs.jsonl:14: payload is not valid JSON" in err and ":17:" not in err
    lines[13] = "[13]"
    code, _, err = run(capsys, "enqueue", "email", "--batch", str(jsonl(lines)), "--db", str(db),
                       "--batch-size", "10")
    assert code == 2 and "jobs.jsonl:17: empty line" in err
    assert [json.loads(r[3])["n"] for r in stored(db)] == list(range(10)) * 2  # the first batch, twice


def test_cli_batch_of_an_unreadable_file_or_with_a_payload_is_a_usage_error(capsys, tmp_path: Path, jsonl) -> None:
    db = tmp_path / "jobs.db"
    code, _, err = run(capsys, "enqueue", "email", "--batch", str(tmp_path / "nope.jsonl"), "--db", str(db),
                       "--create")
    assert code == 2 and "nope.jsonl: No such file or directory" in err
    code, _, err = run(capsys, "enqueue", "email", "{}", "--batch", str(jsonl(["{}"])), "--db", str(db))
    assert code == 2 and "give either the payload JSON or --batch FILE" in err
    code, _, err = run(capsys, "enqueue", "email", "--db", str(db))
    assert code == 2 and "give either the payload JSON or --batch FILE" in err


@pytest.mark.parametrize("size", ["0", "1000001", "ten"])
def test_batch_size_is_from_1_to_a_million(capsys, size: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["enqueue", "email", "--batch", "-", "--batch-size", size])
    assert exit_info.value.code == 2 and "--batch-size" in capsys.readouterr().err


def test_enqueue_into_a_missing_database_needs_create(capsys, tmp_path: Path, jsonl) -> None:
    typo = tmp_path / "typo.db"
    code, _, err = run(capsys, "enqueue", "email", "{}", "--db", str(typo))
    assert code == 3 and "no such database file" in err and not typo.exists()
    code, _, err = run(capsys, "enqueue", "email", "--batch", str(jsonl(["{}"])), "--db", str(typo))
    assert code == 3 and not typo.exists()
    code, out, _ = run(capsys, "enqueue", "email", "{}", "--db", str(typo), "--create")
    assert code == 0 and out == "enqueued job 1 on email\n" and typo.exists()


def test_batch_on_a_read_only_console_is_refused(capsys, tmp_path: Path, jsonl) -> None:
    db = tmp_path / "jobs.db"
    SQLiteQueue.open(db, create=True).close()
    code, _, err = run(capsys, "--read-only", "enqueue", "email", "--batch", str(jsonl(["{}"])), "--db", str(db))
    assert code == 4 and "read-only" in err and stored(db) == []


def test_the_backend_batch_is_all_or_nothing(tmp_path: Path) -> None:
    backend = open_backend(tmp_path / "jobs.db", clock=ManualClock(), create=True)
    try:
        assert backend.enqueue_many("email", []) == []
        with pytest.raises(InvalidBatchItem) as error:
            backend.enqueue_many("email", ['{"a": 1}', "{"])
        assert error.value.position == 2 and backend.stats() == ()
        ids = backend.enqueue_many("email", ['{"a": 1}', '{"a": 2}'], priority=5)
        assert [backend.job(i).payload for i in ids] == ['{"a": 1}', '{"a": 2}']
        assert {backend.job(i).priority for i in ids} == {5}
    finally:
        backend.close()
