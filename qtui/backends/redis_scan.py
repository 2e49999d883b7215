"""Chunked scans of Redis lists and sorted sets, shared by the Redis layouts.

A scan reads a key a window at a time, oldest item first. Positions count from
the key's oldest end: the left of an RQ queue list or registry, the right of a
go-redis-work-queue list (its producers LPUSH). Two shapes build on that:

- `scan_page`: one page of jobs across several keys, resumable by cursor, with
  an optional text search that examines a bounded number of items per call.
- `walk`: steps over one key until it is exhausted (find by id, bulk requeue,
  purge). A step is one round trip, often one atomic Lua script; it reports how
  many items of its window it examined and how many of those it took out of the
  key, and the next window starts after the items that stayed. The walk yields
  every chunk, so a caller can stop early or report progress between chunks.

Concurrent change: a window is read by one command or script, so it is
consistent in itself, but the key may change between windows. Items added beyond
the position (new pushes) are still reached; k items removed before it (workers
taking the oldest jobs) make the k items at the position slip past unseen, and k
added before it make k items come round a second time. A scan never fails
because of such a change, and steps that are atomic scripts still leave every
job in exactly one place.

Hostile data: scans hand back raw members and scores; decoding, parsing and
deciding what to skip is the caller's. A page reader gives None for an item it
skips (it still counts as examined; item i of a window is at `position + i`, so
the caller can flag it). Reading a key of the wrong Redis type raises
WrongKeyType, which reaches operators as the usual BackendError unless the caller
catches it, for instance in a page reader that then hands back an empty chunk so
the page moves on to the next key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, Literal, TypeVar

import attrs
import redis

from qtui.backends.redis_common import CHUNK, decode_cursor, encode_cursor
from qtui.model import Job, Page

T = TypeVar("T")

#: A list item (score None) or a sorted-set member with its score, as Redis holds it.
Entry = tuple[bytes, float | None]


@attrs.frozen
class Source:
    """A list or sorted set holding jobs, and which of its ends is the oldest."""

    key: str
    kind: Literal["list", "zset"] = "list"
    oldest_at_right: bool = False
    #: The queue all of the key's jobs belong to; None for a key that queues share.
    queue: str | None = None

    def bounds(self, position: int, count: int) -> tuple[int, int]:
        """LRANGE/ZRANGE start and stop of `count` items from `position` (count >= 1)."""
        if self.oldest_at_right:
            return -(position + count), -(position + 1)
        return position, position + count - 1


class WrongKeyType(redis.ResponseError):
    """A scanned key holds another Redis type than its layout says (foreign or hostile data)."""

    def __init__(self, key: str, reply: str) -> None:
        super().__init__(f"{reply} (key {key!r})")
        self.key = key


@attrs.frozen
class Chunk(Generic[T]):
    """One window of a scan and what its step did there (a walk's unit of progress)."""

    position: int  # where the window starts, counted from the key's oldest end
    examined: int  # items of the window looked at; fewer than asked means the key ended
    removed: int  # of those, how many the step took out of the key
    found: T  # what the step hands back: the entries read, matches, ids moved...


def read_chunk(client: redis.Redis, source: Source, position: int, count: int) -> Chunk[list[Entry]]:
    """Up to `count` entries of `source` from `position` on, oldest first."""
    if count < 1:
        raise ValueError("a window holds at least one item")
    start, stop = source.bounds(position, count)
    try:
        if source.kind == "zset":
            entries: list[Entry] = client.zrange(source.key, start, stop, withscores=True)
        else:
            entries = [(member, None) for member in client.lrange(source.key, start, stop)]
    except redis.ResponseError as exc:
        if str(exc).startswith("WRONGTYPE"):
            raise WrongKeyType(source.key, str(exc)) from None
        raise
    if source.oldest_at_right:
        entries.reverse()
    return Chunk(position, len(entries), 0, entries)


def walk(
    source: Source, step: Callable[[Source, int, int], Chunk[T]], *, size: int = CHUNK
) -> Iterator[Chunk[T]]:
    """Run `step(source, position, size)` window after window until one comes back short.

    The first window is at position 0; each next one starts `examined - removed`
    further, so a step that removes what it selects still sees every item once,
    and one that removes all it examines drains the key from its oldest end.
    Leaving the loop stops the walk before its next step.
    """
    if size < 1:
        raise ValueError("a window holds at least one item")
    position = 0
    while True:
        chunk = step(source, position, size)
        yield chunk
        if chunk.examined < size:
            return
        position += chunk.examined - chunk.removed


def scan_page(
    sources: Sequence[Source],
    read_jobs: Callable[[Source, int, int], Chunk[Iterable[Job | None]]],
    *,
    cursor: str | None,
    limit: int,
    text: str | None,
    budget: int,
    reader_filters: bool = False,
) -> Page:
    """Up to `limit` jobs from `sources` in order, from `cursor` (None: the start).

    `read_jobs(source, position, count)` reads one window: its chunk's `found`
    are the window's jobs, oldest first, with None for each item the caller
    skips; made lazily, a page that fills early converts no more of them.

    Without a filter a call reads just the items the page needs. With `text`
    (kept: jobs whose payload or last error contain it, ignoring case), or when
    the reader skips items by a filter of its own (`reader_filters`), it reads
    whole chunks and examines at most `budget` items, so a page may come back
    short, even empty, with a cursor to go on from.
    """
    index, position = decode_cursor(cursor, 2)
    needle = text.lower() if text else None
    whole_chunks = needle is not None or reader_filters
    jobs: list[Job] = []
    while index < len(sources) and len(jobs) < limit and budget > 0:
        want = min(CHUNK, budget) if whole_chunks else limit - len(jobs)
        window = read_jobs(sources[index], position, want)
        full = False
        for job in window.found:
            position += 1
            budget -= 1
            if job is None or (needle is not None and not contains_text(job, needle)):
                continue
            jobs.append(job)
            if len(jobs) == limit:
                full = True
                break
        if not full and window.examined < want:
            index, position = index + 1, 0
    next_cursor = encode_cursor(index, position) if index < len(sources) else None
    return Page(jobs=tuple(jobs), next_cursor=next_cursor)


def contains_text(job: Job, needle: str) -> bool:
    """Whether the lowercase `needle` occurs in the job's payload or last error, ignoring case."""
    return needle in job.payload.lower() or (job.last_error is not None and needle in job.last_error.lower())


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of `size` (the last one shorter), for one script call each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
