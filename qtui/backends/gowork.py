"""The go-redis-work-queue layout on Redis, mapped onto qtui's neutral model.

URL: `redis://host:port/db`, `rediss://...`, `redis+unix:///path/sock?db=N` (see
qtui.backends.redis_common), with these query options:

- `prefix` (default `jobqueue`): the key prefix.
- `queues` (default `high:high_priority,low:low_priority`): priority order of
  `name:suffix` pairs; queue `name` is the LIST `<prefix>:<suffix>`.

Other keys follow the system's default patterns under the prefix: processing LISTs
`<prefix>:worker:<id>:processing`, heartbeat STRINGs `<prefix>:processing:worker:<id>`,
`<prefix>:completed` and `<prefix>:dead_letter`.

Mapping: ready = items of the queue lists (producers LPUSH, workers take from the
right, so pages run right to left, oldest first); processing = items of processing
lists (worker = list owner, lease = heartbeat TTL); completed and dead = the
completed and dead-letter lists, where a job's queue is its `priority` field.
There is no scheduled state (backoff happens inside the worker). Job ids are the
JSON `id` field; an item that has none (or is not JSON) gets the id
`sha1-<first 16 hex digits of the SHA-1 of its bytes>` so it can still be selected.

Enqueue takes a JSON object with the job's fields: `filepath` (required), and
optionally `id`, `filesize`, `retries`, `creation_time` (RFC 3339), `trace_id`,
`span_id`; missing ones are filled (a UUID4 id, now, 0, ""), `priority` is the
queue, and unknown fields are refused. The enqueue `priority` argument is unused:
here the queue is the priority.

Writes are atomic on the server. Requeue moves dead jobs back with `retries` reset
to 0 (and `priority` rewritten when sent to another queue), LPUSHed to the queue
like a producer would. Whole-list purges are one MULTI/EXEC (LLEN + UNLINK);
filtered requeues and purges run a Lua script per chunk of 5,000 items, each chunk
atomic, so an interruption between chunks leaves every job in exactly one place;
a rerun finishes the work. Items without a valid `priority` stay in the dead
letter unless a target queue is given.

Rates: the layout keeps no timestamps of completion, failure or enqueue, so the
per-minute rates stay 0. Completed and dead counts per queue come from reading the
lists once and then only the items pushed since (each stats call checks both ends
of the list; any other change triggers a full recount in chunks).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from qtui.backends.redis_common import (
    CHUNK,
    RedisBackend,
    RedisTarget,
    mapped_errors,
    parse_redis_url,
    text_of,
)
from qtui.backends.redis_scan import Chunk, Source, read_chunk, scan_page, walk
from qtui.clock import WallClock
from qtui.model import (
    InvalidInput,
    Job,
    JobState,
    NotFound,
    Page,
    QueueStats,
    Snapshot,
    WorkerInfo,
    check_queue_name,
)

OPTIONS = frozenset({"prefix", "queues"})
DEFAULT_PREFIX = "jobqueue"
DEFAULT_QUEUES = "high:high_priority,low:low_priority"

#: Items one filtering script examines per call (each call is one atomic chunk).
SCRIPT_CHUNK = 5000
#: Items examined per peek call when a filter is active, before returning a partial page.
SEARCH_BUDGET = 20000
#: New items read inline by the stats script before falling back to a chunked recount.
APPEND_LIMIT = 5000

_KEY_PART = re.compile(r"[A-Za-z0-9_.:{}@-]{1,200}")
_JOB_FIELDS = ("id", "filepath", "filesize", "priority", "retries", "creation_time", "trace_id", "span_id")
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:@/+=-]+")
_PRIORITY_FIELD = re.compile(rb'"priority":\s*"((?:[^"\\]|\\.)*)"')

_STATS_LUA = """
local nq = tonumber(ARGV[1])
local queues = {}
for i = 1, nq do
  queues[i] = {redis.call('LLEN', KEYS[i]), redis.call('LINDEX', KEYS[i], -1) or ''}
end
local function scan(pattern)
  local found, cursor = {}, '0'
  repeat
    local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = r[1]
    for _, k in ipairs(r[2]) do found[#found + 1] = k end
  until cursor == '0'
  return found
end
local processing = {}
for _, k in ipairs(scan(ARGV[2])) do
  if redis.call('TYPE', k).ok == 'list' then
    processing[#processing + 1] = {k, redis.call('LRANGE', k, 0, 99)}
  end
end
local heartbeats = {}
for _, k in ipairs(scan(ARGV[3])) do heartbeats[#heartbeats + 1] = {k, redis.call('PTTL', k)} end
local function tally(key, cached_len, cached_head, cached_tail, max_new)
  local len = redis.call('LLEN', key)
  local tail = redis.call('LINDEX', key, -1) or ''
  local d = len - cached_len
  local valid = cached_len == 0
  if cached_len > 0 and d >= 0 and tail == cached_tail then
    valid = (redis.call('LINDEX', key, d) or '') == cached_head
  end
  if valid and d <= max_new then
    local new = {}
    if d > 0 then new = redis.call('LRANGE', key, 0, d - 1) end
    return {len, 1, new, redis.call('LINDEX', key, 0) or '', tail}
  end
  return {len, 0}
end
local limit = tonumber(ARGV[10])
return {queues, processing, heartbeats,
        tally(KEYS[nq + 1], tonumber(ARGV[4]), ARGV[5], ARGV[6], limit),
        tally(KEYS[nq + 2], tonumber(ARGV[7]), ARGV[8], ARGV[9], limit)}
"""

# Find candidate items containing ARGV[1] (plain text) among LRANGE start..stop;
# with ARGV[4] == '1' also those whose SHA-1 prefix equals ARGV[5].
# Returns {examined, candidates in list order}.
_FIND_LUA = """
local items = redis.call('LRANGE', KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
local found = {}
for _, item in ipairs(items) do
  if string.find(item, ARGV[1], 1, true)
     or (ARGV[4] == '1' and string.sub(redis.sha1hex(item), 1, 16) == ARGV[5]) then
    found[#found + 1] = item
  end
end
return {#items, found}
"""

# One atomic chunk of a filtered requeue ('move') or purge ('delete') on list KEYS[1].
# The chunk is the window of ARGV[2] items starting ARGV[1] items from the right end.
# ARGV: offset, count, mode, tombstone, queue filter, lowercase text filter,
#       to_queue, n_ids, ids..., then name/key pairs of the queues.
# Returns {examined, removed, ids of removed items}.
_FILTER_LUA = """
local offset, count, mode, tomb = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local want_queue, text, to_queue = ARGV[5], ARGV[6], ARGV[7]
local n_ids = tonumber(ARGV[8])
local ids = {}
for i = 1, n_ids do ids[ARGV[8 + i]] = true end
local targets = {}
for i = 9 + n_ids, #ARGV, 2 do targets[ARGV[i]] = ARGV[i + 1] end
local items = redis.call('LRANGE', KEYS[1], -(offset + count), -(offset + 1))
local n = #items
local removed, removed_ids, pushes = 0, {}, {}
for i = n, 1, -1 do
  local item = items[i]
  local ok, obj = pcall(cjson.decode, item)
  if not ok or type(obj) ~= 'table' then obj = {} end
  local queue = type(obj.priority) == 'string' and obj.priority or nil
  local id = obj.id
  if type(id) ~= 'string' or id == '' then id = 'sha1-' .. string.sub(redis.sha1hex(item), 1, 16) end
  local selected = (n_ids == 0 or ids[id])
    and (want_queue == '' or queue == want_queue)
    and (text == '' or string.find(string.lower(item), text, 1, true) ~= nil)
  local target
  if selected and mode == 'move' then
    local dest = to_queue ~= '' and to_queue or queue
    target = dest and targets[dest]
    if not target then selected = false end
    if selected then
      local new = item
      if obj.retries ~= nil and obj.retries ~= 0 then
        new = string.gsub(new, '"retries":%s*%-?[%d%.eE+]+', '"retries":0', 1)
      end
      if dest ~= queue then
        new = string.gsub(new, '"priority":%s*"[^"]*"', '"priority":"' .. dest .. '"', 1)
      end
      local ok2, check = pcall(cjson.decode, new)
      if not ok2 or type(check) ~= 'table' or (check.retries ~= nil and check.retries ~= 0)
         or (dest ~= queue and check.priority ~= dest) then
        obj.retries = 0
        obj.priority = dest
        new = cjson.encode(obj)
      end
      pushes[target] = pushes[target] or {}
      table.insert(pushes[target], new)
    end
  end
  if selected then
    redis.call('LSET', KEYS[1], -(offset + (n - i) + 1), tomb)
    removed = removed + 1
    removed_ids[#removed_ids + 1] = id
  end
end
if removed > 0 then redis.call('LREM', KEYS[1], -removed, tomb) end
for target, values in pairs(pushes) do redis.call('LPUSH', target, unpack(values)) end
return {n, removed, removed_ids}
"""


@attrs.frozen
class Layout:
    """Key names of one go-redis-work-queue deployment."""

    prefix: str
    queues: Mapping[str, str]  # queue name -> list key, in priority order (highest first)

    @property
    def completed(self) -> str:
        return f"{self.prefix}:completed"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}:dead_letter"

    def processing(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}:processing"

    def heartbeat(self, worker_id: str) -> str:
        return f"{self.prefix}:processing:worker:{worker_id}"

    @property
    def processing_match(self) -> str:
        return f"{_glob_escape(self.prefix)}:worker:*:processing"

    @property
    def heartbeat_match(self) -> str:
        return f"{_glob_escape(self.prefix)}:processing:worker:*"

    def worker_of_processing(self, key: str) -> str:
        return key[len(f"{self.prefix}:worker:") : -len(":processing")]

    def worker_of_heartbeat(self, key: str) -> str:
        return key[len(f"{self.prefix}:processing:worker:") :]


def parse_layout(options: Mapping[str, str]) -> Layout:
    """Build the Layout from the URL options `prefix` and `queues`."""
    prefix = options.get("prefix", DEFAULT_PREFIX)
    if not _KEY_PART.fullmatch(prefix):
        raise InvalidInput(f"option 'prefix' in Redis URL is not a valid key prefix: {prefix!r}")
    queues: dict[str, str] = {}
    for entry in options.get("queues", DEFAULT_QUEUES).split(","):
        name, sep, suffix = entry.strip().partition(":")
        if not sep or not suffix:
            raise InvalidInput(f"option 'queues' in Redis URL: expected name:suffix, got {entry!r}")
        check_queue_name(name)
        if not _KEY_PART.fullmatch(suffix):
            raise InvalidInput(f"option 'queues' in Redis URL: invalid key suffix {suffix!r}")
        if name in queues:
            raise InvalidInput(f"option 'queues' in Redis URL names queue {name!r} twice")
        queues[name] = f"{prefix}:{suffix}"
    keys = list(queues.values())
    layout = Layout(prefix=prefix, queues=queues)
    if len(set(keys)) != len(keys) or {layout.completed, layout.dead_letter} & set(keys):
        raise InvalidInput("option 'queues' in Redis URL maps two roles to the same key")
    return layout


def open_gowork(url: str, *, clock: WallClock, read_only: bool = False, create: bool = False) -> GoWorkBackend:
    """Factory for `redis://`, `rediss://`, `redis+unix://` and `unix://` URLs."""
    target = parse_redis_url(url, layout_prefix="", options=OPTIONS)
    return GoWorkBackend(target, parse_layout(target.options), clock=clock, read_only=read_only)


@attrs.define
class _ListTally:
    """Per-queue counts of a list that normally only grows at its left end."""

    key: str
    length: int = 0
    head: bytes = b""
    tail: bytes = b""
    counts: collections.Counter[str] = attrs.field(factory=collections.Counter)


class GoWorkBackend(RedisBackend):
    """Admin operations on the go-redis-work-queue layout."""

    def __init__(self, target: RedisTarget, layout: Layout, *, clock: WallClock, read_only: bool = False) -> None:
        super().__init__(target, clock=clock, read_only=read_only)
        self.layout = layout
        self._rank = {name: len(layout.queues) - i for i, name in enumerate(layout.queues)}
        self._stats_script = self.redis.register_script(_STATS_LUA)
        self._find_script = self.redis.register_script(_FIND_LUA)
        self._filter_script = self.redis.register_script(_FILTER_LUA)
        self._tallies = {
            JobState.COMPLETED: _ListTally(layout.completed),
            JobState.DEAD: _ListTally(layout.dead_letter),
        }

    # -- parsing -------------------------------------------------------------

    def _to_job(
        self, raw: bytes, state: JobState, *, worker: str | None = None, lease_until: float | None = None
    ) -> Job:
        text = text_of(raw)
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            obj = {}
        job_id = obj.get("id")
        if not isinstance(job_id, str) or not job_id:
            job_id = raw_id(raw)
        queue = obj.get("priority")
        queue = queue if isinstance(queue, str) and queue else "?"
        retries = obj.get("retries")
        extra = {
            name: str(obj[name])
            for name in ("filepath", "filesize", "trace_id", "span_id")
            if name in obj and obj[name] not in (None, "")
        }
        return Job(
            id=job_id,
            queue=queue,
            state=state,
            payload=text,
            priority=self._rank.get(queue, 0),
            attempts=retries if isinstance(retries, int) and not isinstance(retries, bool) else 0,
            worker=worker,
            created_at=_parse_time(obj.get("creation_time")),
            lease_until=lease_until,
            extra=extra,
        )

    # -- reads ---------------------------------------------------------------

    @mapped_errors
    def snapshot(self) -> Snapshot:
        layout = self.layout
        names = list(layout.queues)
        completed, dead = self._tallies[JobState.COMPLETED], self._tallies[JobState.DEAD]
        args = [
            len(names), layout.processing_match, layout.heartbeat_match,
            completed.length, completed.head, completed.tail,
            dead.length, dead.head, dead.tail, APPEND_LIMIT,
        ]  # fmt: skip
        queues, processing, heartbeats, completed_reply, dead_reply = self._stats_script(
            keys=[*layout.queues.values(), layout.completed, layout.dead_letter], args=args
        )
        taken_at = self.clock()
        self._update_tally(completed, completed_reply)
        self._update_tally(dead, dead_reply)
        processing_counts: collections.Counter[str] = collections.Counter()
        leases = {layout.worker_of_heartbeat(text_of(k)): int(ttl) for k, ttl in heartbeats}
        workers: dict[str, WorkerInfo] = {}
        for key, items in processing:
            worker_id = layout.worker_of_processing(text_of(key))
            for item in items:
                processing_counts[_priority_of(item)] += 1
            current = self._to_job(items[-1], JobState.PROCESSING).id if items else None
            workers[worker_id] = self._worker(worker_id, leases, current)
        for worker_id in leases:
            workers.setdefault(worker_id, self._worker(worker_id, leases, None))
        stats = []
        for name, (length, oldest) in zip(names, queues, strict=True):
            counts = {
                JobState.READY: int(length),
                JobState.PROCESSING: processing_counts[name],
                JobState.COMPLETED: completed.counts[name],
                JobState.DEAD: dead.counts[name],
            }
            oldest_at = self._to_job(oldest, JobState.READY).created_at if oldest else None
            stats.append(QueueStats(name=name, counts=counts, oldest_ready_at=oldest_at))
        return Snapshot(
            queues=tuple(stats),
            workers=tuple(workers[w] for w in sorted(workers)),
            taken_at=taken_at,
        )

    def _worker(self, worker_id: str, leases: Mapping[str, int], current: str | None) -> WorkerInfo:
        return WorkerInfo(
            id=worker_id,
            queues=tuple(self.layout.queues),
            current_job=current,
            alive=leases.get(worker_id, -2) >= -1,
        )

    def _update_tally(self, tally: _ListTally, reply: list) -> None:
        length, incremental = int(reply[0]), int(reply[1])
        if incremental:
            new_items, head, tail = reply[2], reply[3], reply[4]
            if tally.length == 0:
                tally.counts.clear()
            tally.counts.update(_priority_of(item) for item in new_items)
            tally.length, tally.head, tally.tail = length, head, tail
            return
        counts: collections.Counter[str] = collections.Counter()
        head = tail = b""
        length = 0
        for chunk in walk(_pushed_list(tally.key), functools.partial(read_chunk, self.redis), size=CHUNK * 10):
            items = [item for item, _ in chunk.found]  # oldest (rightmost) first
            counts.update(_priority_of(item) for item in items)
            if items:
                head = items[-1]
                if chunk.position == 0:
                    tail = items[0]
            length = chunk.position + chunk.examined
        tally.length, tally.head, tally.tail, tally.counts = length, head, tail, counts

    def _sources(self, queue: str | None, state: JobState) -> list[Source]:
        """The lists holding jobs of `queue` in `state`, in page order (one that queues share has no queue)."""
        layout = self.layout
        if queue is not None and queue not in layout.queues:
            raise NotFound(f"no queue named {queue!r} (queues: {', '.join(layout.queues)})")
        if state is JobState.READY:
            names = [queue] if queue is not None else list(layout.queues)
            return [_pushed_list(layout.queues[n], queue=n) for n in names]
        if state is JobState.PROCESSING:
            keys = sorted(text_of(k) for k in self.redis.scan_iter(match=layout.processing_match, count=1000))
            return [_pushed_list(k) for k in keys]
        if state is JobState.COMPLETED:
            return [_pushed_list(layout.completed)]
        if state is JobState.DEAD:
            return [_pushed_list(layout.dead_letter)]
        return []  # SCHEDULED: this layout has no delayed jobs

    @mapped_errors
    def _peek(
        self, queue: str | None, state: JobState, text: str | None, cursor: str | None, limit: int
    ) -> Page:
        # Processing, completed and dead lists hold every queue's jobs: keep only `queue`'s.
        shared_queue = queue if state is not JobState.READY else None

        def read_jobs(source: Source, position: int, count: int) -> Chunk[Iterator[Job | None]]:
            window = read_chunk(self.redis, source, position, count)
            worker, lease = self._lease_of(source.key) if state is JobState.PROCESSING else (None, None)
            jobs = (self._to_job(item, state, worker=worker, lease_until=lease) for item, _ in window.found)
            kept = (job if shared_queue is None or job.queue == shared_queue else None for job in jobs)
            return Chunk(position, window.examined, 0, kept)

        return scan_page(
            self._sources(queue, state), read_jobs, cursor=cursor, limit=limit, text=text,
            budget=SEARCH_BUDGET, reader_filters=shared_queue is not None,
        )  # fmt: skip

    def _lease_of(self, processing_key: str) -> tuple[str, float | None]:
        worker = self.layout.worker_of_processing(processing_key)
        ttl_ms = self.redis.pttl(self.layout.heartbeat(worker))
        return worker, (self.clock() + ttl_ms / 1000 if ttl_ms >= 0 else None)

    @mapped_errors
    def _job(self, job_id: str) -> Job | None:
        for state in (JobState.PROCESSING, JobState.READY, JobState.DEAD, JobState.COMPLETED):
            for source in self._sources(None, state):
                found = self._find_in(source, job_id)
                if found is not None:
                    worker, lease = self._lease_of(source.key) if state is JobState.PROCESSING else (None, None)
                    return self._to_job(found, state, worker=worker, lease_until=lease)
        return None

    def _find_in(self, source: Source, job_id: str) -> bytes | None:
        """The item of the list whose id is `job_id`, oldest first, a script call per chunk."""
        # Go's encoder writes plain ids as-is; for others every item is a candidate.
        needle = f'"{job_id}"' if _PLAIN_ID.fullmatch(job_id) else ""
        hash_prefix = job_id[5:] if job_id.startswith("sha1-") and len(job_id) == 21 else None
        find = functools.partial(self._candidates, needle, hash_prefix)
        for chunk in walk(source, find, size=SCRIPT_CHUNK * 4):
            for item in chunk.found:
                if self._to_job(item, JobState.READY).id == job_id:
                    return item
        return None

    def _candidates(
        self, needle: str, hash_prefix: str | None, source: Source, position: int, size: int
    ) -> Chunk[list[bytes]]:
        """The items of one window that contain `needle` or have the SHA-1 prefix, oldest first."""
        by_hash = "0" if hash_prefix is None else "1"
        examined, candidates = self._find_script(
            keys=[source.key], args=[needle, *source.bounds(position, size), by_hash, hash_prefix or ""]
        )
        return Chunk(position, int(examined), 0, candidates[::-1])

    # -- writes --------------------------------------------------------------

    @mapped_errors
    def _enqueue(self, queue: str, payload: str, priority: int) -> Job:
        if queue not in self.layout.queues:
            raise NotFound(f"no queue named {queue!r} (queues: {', '.join(self.layout.queues)})")
        job = build_job(json.loads(payload), queue, self.clock())
        raw = json.dumps(job, separators=(",", ":"), ensure_ascii=False).encode()
        self.redis.lpush(self.layout.queues[queue], raw)
        return self._to_job(raw, JobState.READY)

    @mapped_errors
    def _requeue(
        self, ids: list[str] | None, queue: str | None, text: str | None, to_queue: str | None
    ) -> int:
        for name in (queue, to_queue):
            if name is not None and name not in self.layout.queues:
                raise NotFound(f"no queue named {name!r} (queues: {', '.join(self.layout.queues)})")
        moved = self._run_filter(self.layout.dead_letter, "move", ids, queue, text, to_queue)
        self._tallies[JobState.DEAD].length = -1  # changed in the middle: recount next time
        return moved

    @mapped_errors
    def _purge(self, queue: str | None, state: JobState, ids: list[str] | None) -> int:
        layout = self.layout
        if queue is not None and queue not in layout.queues:
            raise NotFound(f"no queue named {queue!r} (queues: {', '.join(layout.queues)})")
        if state is JobState.SCHEDULED:
            return 0
        if state is JobState.READY:
            keys = [layout.queues[queue]] if queue is not None else list(layout.queues.values())
            if ids is None:
                return self._unlink_counting(keys)
            return sum(self._run_filter(key, "delete", ids, None, None, None) for key in keys)
        key = layout.completed if state is JobState.COMPLETED else layout.dead_letter
        self._tallies[state].length = -1
        if ids is None and queue is None:
            return self._unlink_counting([key])
        return self._run_filter(key, "delete", ids, queue, None, None)

    def _unlink_counting(self, keys: Sequence[str]) -> int:
        """Delete whole lists in one transaction, returning how many items they held."""
        with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.llen(key)
            pipe.unlink(*keys)
            replies = pipe.execute()
        return sum(int(n) for n in replies[: len(keys)])

    def _run_filter(
        self,
        key: str,
        mode: str,
        ids: Iterable[str] | None,
        queue: str | None,
        text: str | None,
        to_queue: str | None,
    ) -> int:
        """Apply the filter script chunk by chunk over list `key`; returns items removed."""
        wanted = set(ids) if ids is not None else None
        if wanted is not None and not wanted:
            return 0
        tomb = f"qtui:tombstone:{uuid.uuid4()}"
        targets = [part for item in self.layout.queues.items() for part in item]

        def filter_window(source: Source, position: int, size: int) -> Chunk[list[str]]:
            id_args = sorted(wanted) if wanted is not None else []
            examined, removed, removed_ids = self._filter_script(
                keys=[source.key],
                args=[
                    position, size, mode, tomb, queue or "", (text or "").lower(), to_queue or "",
                    len(id_args), *id_args, *targets,
                ],
            )  # fmt: skip
            return Chunk(position, int(examined), int(removed), [text_of(i) for i in removed_ids])

        removed_total = 0
        for chunk in walk(_pushed_list(key), filter_window, size=SCRIPT_CHUNK):
            removed_total += chunk.removed
            if wanted is not None:
                wanted.difference_update(chunk.found)
                if not wanted:
                    break
        return removed_total


def raw_id(raw: bytes) -> str:
    """The id qtui gives an item without a JSON `id`: a prefix of its SHA-1."""
    return "sha1-" + hashlib.sha1(raw).hexdigest()[:16]


def build_job(obj: object, queue: str, now: float) -> dict[str, object]:
    """The job JSON object for an enqueue payload `obj` on `queue` at time `now` (see module doc)."""
    if not isinstance(obj, dict):
        raise InvalidInput("payload must be a JSON object with at least a 'filepath' field")
    unknown = sorted(set(obj) - set(_JOB_FIELDS))
    if unknown:
        raise InvalidInput(
            f"payload field {unknown[0]!r} is not part of a go-redis-work-queue job "
            f"(fields: {', '.join(_JOB_FIELDS)})"
        )
    if "filepath" not in obj:
        raise InvalidInput("payload field 'filepath' is required (a non-empty string)")
    job: dict[str, object] = {
        "id": obj.get("id", str(uuid.uuid4())),
        "filepath": obj.get("filepath"),
        "filesize": obj.get("filesize", 0),
        "priority": obj.get("priority", queue),
        "retries": obj.get("retries", 0),
        "creation_time": obj.get("creation_time") or _format_time(datetime.fromtimestamp(now, UTC)),
        "trace_id": obj.get("trace_id", ""),
        "span_id": obj.get("span_id", ""),
    }
    for name in ("id", "filepath", "creation_time", "trace_id", "span_id", "priority"):
        if not isinstance(job[name], str):
            raise InvalidInput(f"payload field {name!r} must be a string")
    for name in ("filesize", "retries"):
        value = job[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput(f"payload field {name!r} must be a non-negative integer")
    if not job["filepath"]:
        raise InvalidInput("payload field 'filepath' is required (a non-empty string)")
    if not job["id"]:
        raise InvalidInput("payload field 'id' must not be empty")
    if job["priority"] != queue:
        raise InvalidInput(f"payload field 'priority' is {job['priority']!r} but the job goes to queue {queue!r}")
    if _parse_time(job["creation_time"]) is None:
        raise InvalidInput("payload field 'creation_time' must be an RFC 3339 time, e.g. 2025-01-31T12:00:00Z")
    return job


def _priority_of(item: bytes) -> str:
    """The `priority` field of a stored job, without a full JSON parse when possible."""
    match = _PRIORITY_FIELD.search(item)
    if match and b"\\" not in match.group(1):
        return match.group(1).decode("utf-8", "replace")
    try:
        obj = json.loads(item)
    except ValueError:
        return "?"
    value = obj.get("priority") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else "?"


def _parse_time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _format_time(moment: datetime) -> str:
    """RFC 3339 as Go's time.RFC3339Nano writes UTC (trailing zeros of the fraction dropped)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"


def _pushed_list(key: str, queue: str | None = None) -> Source:
    """A list of this layout: producers LPUSH, so its oldest item is at the right."""
    return Source(key, oldest_at_right=True, queue=queue)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


__all__ = ["GoWorkBackend", "Layout", "build_job", "open_gowork", "parse_layout", "raw_id"]
