"""`qtui enqueue QUEUE --batch FILE|-`: a job per line of a JSON Lines file, in all-or-nothing batches."""

from __future__ import annotations

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


def read_batch(stream: BinaryIO, name: str, first: int, size: int) -> list[str]:
    """The text of up to `size` lines of `stream`, which is called `name` in errors; the first
    is line number `first`. [] at the end of the stream.

    A line longer than MAX_LINE_BYTES or not UTF-8 is InvalidInput naming it. The checks run
    on the whole batch at once; only a batch with a bad line is looked at line by line.
    """
    readline, limit = stream.readline, MAX_LINE_BYTES + 1
    raw = []
    for _ in range(size):
        line = readline(limit)
        if not line:
            break
        raw.append(line)
    if not raw:
        return []
    if max(map(len, raw)) > MAX_LINE_BYTES:
        number = first + next(n for n, line in enumerate(raw) if len(line) > MAX_LINE_BYTES)
        raise InvalidInput(f"{name}:{number}: the line is longer than {MAX_LINE_BYTES // 2**20} MiB")
    try:
        text = b"".join(raw).decode("utf-8")
    except UnicodeDecodeError:
        for number, line in enumerate(raw, first):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"{name}:{number}: not UTF-8 text (byte {exc.start + 1} of the line)") from None
        raise
    # Only the line ends are newlines (UTF-8 never puts byte 10 inside a character).
    return text.removesuffix("\n").split("\n")


def enqueue_lines(backend: Backend, queue: str, stream: BinaryIO, *, name: str, batch_size: int,
                  priority: int = 0) -> Enqueued:
    """Enqueue a job per line of `stream` (called `name` in errors), `batch_size` lines per atomic step.

    A bad line stops it: nothing of that line's batch is written, the batches before it are,
    and the InvalidInput raised says which lines those were.
    """
    done = 0
    first_id = last_id = None
    start = 1
    try:
        while texts := read_batch(stream, name, start, batch_size):
            try:
                ids = backend.enqueue_many(queue, texts, priority=priority)
            except InvalidBatchItem as exc:
                text = texts[exc.position - 1]
                reason = "empty line; each line holds one JSON payload" if not text.strip() else exc.reason
                raise InvalidInput(f"{name}:{start + exc.position - 1}: {reason}") from None
            done += len(ids)
            first_id = first_id or ids[0]
            last_id = ids[-1]
            start += len(texts)
    except InvalidInput as exc:
        if done:
            raise InvalidInput(f"{exc}; nothing from line {start} on was enqueued, the {done} jobs of "
                               f"lines 1-{start - 1} were (ids {first_id} to {last_id})") from None
        raise InvalidInput(f"{exc}; nothing was enqueued") from None
    return Enqueued(queue, done, first_id, last_id)
