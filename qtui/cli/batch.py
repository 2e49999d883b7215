"""`qtui enqueue QUEUE --batch FILE|-`: a job per line of a JSON Lines file, in all-or-nothing batches."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import attrs

from qtui.backends.base import Backend
from qtui.model import InvalidBatchItem, InvalidInput

#: Longest line read; a payload is one line, so this bounds what one job may hold.
MAX_LINE_BYTES = 16 * 2**20
#: Lines enqueued per transaction unless --batch-size says otherwise.
DEFAULT_BATCH_SIZE = 10_000


@attrs.frozen
class Enqueued:
    """What a batch enqueue added: how many jobs, and the ids of the first and the last."""

    queue: str
    enqueued: int
    first_id: str | None
    last_id: str | None


def read_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line of `stream`, which is called `name` in errors.

    A line that is empty, not UTF-8 or longer than MAX_LINE_BYTES is InvalidInput naming it.
    """
    for number in itertools.count(1):
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise InvalidInput(f"{name}:{number}: the line is longer than {MAX_LINE_BYTES // 2**20} MiB")
        try:
            text = raw.decode("utf-8").removesuffix("\n")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{name}:{number}: not UTF-8 text (byte {exc.start + 1} of the line)") from None
        if not text.strip():
            raise InvalidInput(f"{name}:{number}: empty line; each line holds one JSON payload")
        yield number, text


def enqueue_lines(backend: Backend, queue: str, lines: Iterable[tuple[int, str]], *, name: str,
                  batch_size: int, priority: int = 0) -> Enqueued:
    """Enqueue a job per line, `batch_size` lines per atomic step.

    A bad line stops it: nothing of that line's batch is written, the batches before it are,
    and the InvalidInput raised says which lines those were.
    """
    lines = iter(lines)
    done = 0
    first_id = last_id = None
    start = 1
    try:
        while chunk := list(itertools.islice(lines, batch_size)):
            start = chunk[0][0]
            try:
                ids = backend.enqueue_many(queue, [text for _, text in chunk], priority=priority)
            except InvalidBatchItem as exc:
                raise InvalidInput(f"{name}:{chunk[exc.position - 1][0]}: {exc.reason}") from None
            done += len(ids)
            first_id = first_id or ids[0]
            last_id = ids[-1]
            start = chunk[-1][0] + 1
    except InvalidInput as exc:
        if done:
            raise InvalidInput(f"{exc}; nothing from line {start} on was enqueued, the {done} jobs of "
                               f"lines 1-{start - 1} were (ids {first_id} to {last_id})") from None
        raise InvalidInput(f"{exc}; nothing was enqueued") from None
    return Enqueued(queue, done, first_id, last_id)
