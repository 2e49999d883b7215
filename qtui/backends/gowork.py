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

Requeues and purges are journaled operations (qtui.backends.journal) under
`<prefix>:qtui`. Requeue moves dead jobs back with `retries` reset to 0 (and
`priority` rewritten when sent to another queue), edited as text and LPUSHed to
the queue like a producer would. Whole-list purges are one script (LLEN +
UNLINK); filtered requeues and purges run a Lua script per chunk of 5,000 items,
each chunk atomic with its journal entry, so an interruption between chunks
leaves every job in exactly one place and resuming finishes the work. Items that
are not JSON objects, or whose fields cannot be edited as text, stay in the dead
letter byte for byte, as do items without a valid `priority` unless a target
queue is given.

Rates: the layout keeps no timestamps of completion, failure or enqueue, so the
per-minute rates stay 0. Completed and dead counts per queue come from an index
qtui keeps in Redis (`<prefix>:qtui:index:completed`, `...:dead_letter`): the
counts of the items from the list's oldest end up to a remembered newest one.
Each stats call checks it against the list's length and both ends and counts the
items pushed since; when they disagree (something removed items) it is rebuilt
in bounded Lua steps. qtui's own chunks update it in the same atomic step.
Producers and workers are not involved: they keep pushing as they do.

Find by id: these lists have no id index (workers pop them), so a lookup scans
them server-side, 20,000 items per script call, processing lists first.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import attrs
import redis

from qtui.backends.base import validate_json_payload
from qtui.backends.journal import JOURNAL_LUA, Operation
from qtui.backends.redis_common import (
    RedisBackend,
    RedisTarget,
    decode_cursor,
    encode_cursor,
    mapped_errors,
    parse_redis_url,
    text_of,
)
from qtui.backends.redis_scan import (
    Chunk,
    Source,
    WrongKeyType,
    read_chunk,
    scan_page,
    walk,
)
from qtui.clock import WallClock
from qtui.model import (
    MALFORMED,
    InvalidBatchItem,
    InvalidInput,
    Job,
    JobState,
    NotFound,
    Page,
    QueueStats,
    Snapshot,
    WorkerInfo,
    check_queue_name,
    fits_int64,
)

OPTIONS = frozenset({"prefix", "queues"})
DEFAULT_PREFIX = "jobqueue"
DEFAULT_QUEUES = "high:high_priority,low:low_priority"

#: Items one filtering script examines per call (each call is one atomic chunk).
SCRIPT_CHUNK = 5000
#: Items examined per peek call when a filter is active, before returning a partial page.
SEARCH_BUDGET = 20000
#: Items a stats call counts inline into a list's index; a longer catch-up or rebuild
#: goes on in steps of five times as many.
INDEX_STEP = 10000

_KEY_PART = re.compile(r"[A-Za-z0-9_.:{}@-]{1,200}")
_JOB_FIELDS = ("id", "filepath", "filesize", "priority", "retries", "creation_time", "trace_id", "span_id")
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:@/+=-]+")
_PRIORITY_FIELD = re.compile(rb'"priority":\s*"((?:[^"\\]|\\.)*)"')

# Per-queue counts of the completed and dead-letter lists, kept by qtui in a hash per
# list (`<prefix>:qtui:index:<list suffix>`): `len` items counted from the list's
# oldest (right) end, `head` the newest of them, `tail` the oldest, `n:<queue>` counts.
# index_sync checks the index against the list (the tail unchanged, `head` still right
# after the items pushed since); when they disagree it starts over from the oldest end.
# It then counts at most `limit` of the items not yet counted, oldest first, and
# returns how many remain: a rebuild runs in bounded steps, resumable by anyone.
_INDEX_LUA = r"""
local function priority_of(item)
  local p = string.match(item, '"priority":%s*"([^"\\]*)"')
  if p then return p end
  local ok, obj = pcall(cjson.decode, item)
  if ok and type(obj) == 'table' and type(obj.priority) == 'string' then return obj.priority end
  return '?'
end
local function index_write(list, idx, covered)
  local len = redis.call('LLEN', list)
  local head, tail = '', ''
  if covered > 0 then
    head = redis.call('LINDEX', list, len - covered) or ''
    tail = redis.call('LINDEX', list, -1) or ''
  end
  redis.call('HSET', idx, 'len', covered, 'head', head, 'tail', tail)
end
local function index_sync(list, idx, limit)
  local len = redis.call('LLEN', list)
  local f = redis.call('HMGET', idx, 'len', 'head', 'tail')
  local covered = tonumber(f[1])
  if covered and covered > 0 then
    local d = len - covered
    if d < 0 or (redis.call('LINDEX', list, -1) or '') ~= f[3]
       or (redis.call('LINDEX', list, d) or '') ~= f[2] then
      covered = nil
    end
  end
  if not covered or covered > len then
    redis.call('DEL', idx)
    covered = 0
  end
  local d = len - covered
  local k = math.min(d, limit)
  if k > 0 then
    local counts = {}
    for _, item in ipairs(redis.call('LRANGE', list, d - k, d - 1)) do
      local q = priority_of(item)
      counts[q] = (counts[q] or 0) + 1
    end
    for q, n in pairs(counts) do redis.call('HINCRBY', idx, 'n:' .. q, n) end
    covered = covered + k
  end
  if k > 0 or not f[1] then index_write(list, idx, covered) end
  return d - k
end
local function index_reply(list, idx, limit)
  local remaining = index_sync(list, idx, limit)
  return {remaining, redis.call('HGETALL', idx)}
end
"""

_STATS_LUA = _INDEX_LUA + """
local nq = tonumber(ARGV[1])
local problems = {}
local function is_list(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'list' or kind == 'none' then return true end
  problems[#problems + 1] = key .. ' is a ' .. kind .. ', not a list: skipped'
  return false
end
local queues = {}
for i = 1, nq do
  if is_list(KEYS[i]) then
    queues[i] = {redis.call('LLEN', KEYS[i]), redis.call('LINDEX', KEYS[i], -1) or ''}
  else
    queues[i] = {0, ''}
  end
end
local function counted(list, idx, limit)
  if is_list(list) then return index_reply(list, idx, limit) end
  return {0, {}}
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
local limit = tonumber(ARGV[4])
local completed, dead = counted(KEYS[nq + 1], KEYS[nq + 3], limit), counted(KEYS[nq + 2], KEYS[nq + 4], limit)
return {queues, processing, heartbeats, completed, dead, problems}
"""

# One bounded step of an index rebuild or catch-up: KEYS list, index; ARGV limit.
_CATCH_UP_LUA = _INDEX_LUA + """
return index_reply(KEYS[1], KEYS[2], tonumber(ARGV[1]))
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

# One atomic chunk of a filtered requeue ('move') or purge ('delete') on list KEYS[1],
# keeping its index KEYS[2] (when ARGV[8] is '1') exact; journaled (JOURNAL_LUA).
# The chunk is the window of ARGV[2] items starting ARGV[1] items from the right end.
# ARGV: offset, count, mode, tombstone, queue filter, lowercase text filter,
#       to_queue, indexed, n_ids, ids..., then name/key pairs of the queues.
# Returns {examined, removed, ids of removed items}.
_FILTER_LUA = JOURNAL_LUA + _INDEX_LUA + """
local offset, count, mode, tomb = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local want_queue, text, to_queue, indexed = ARGV[5], ARGV[6], ARGV[7], ARGV[8] == '1'
local n_ids = tonumber(ARGV[9])
local ids = {}
for i = 1, n_ids do ids[ARGV[9 + i]] = true end
local targets = {}
for i = 10 + n_ids, #ARGV, 2 do targets[ARGV[i]] = ARGV[i + 1] end
local covered = 0
if indexed then
  index_sync(KEYS[1], KEYS[2], 0)
  covered = tonumber(redis.call('HGET', KEYS[2], 'len')) or 0
end
local items = redis.call('LRANGE', KEYS[1], -(offset + count), -(offset + 1))
local n = #items
local removed, removed_ids, pushes, decrement, uncovered = 0, {}, {}, {}, 0
for i = n, 1, -1 do
  local item = items[i]
  local ok, obj = pcall(cjson.decode, item)
  local is_object = ok and type(obj) == 'table'
  if not is_object then obj = {} end
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
    if not target or not is_object then selected = false end
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
        selected = false  -- the edit did not take: left dead, never re-encoded (that would round its numbers)
      else
        pushes[target] = pushes[target] or {}
        table.insert(pushes[target], new)
      end
    end
  end
  if selected then
    local position = offset + (n - i)
    redis.call('LSET', KEYS[1], -(position + 1), tomb)
    removed = removed + 1
    removed_ids[#removed_ids + 1] = id
    if position < covered then
      local q = priority_of(item)
      decrement[q] = (decrement[q] or 0) + 1
    else
      uncovered = uncovered + 1
    end
  end
end
if removed > 0 then
  redis.call('LREM', KEYS[1], -removed, tomb)
  if indexed then
    for q, c in pairs(decrement) do redis.call('HINCRBY', KEYS[2], 'n:' .. q, -c) end
    index_write(KEYS[1], KEYS[2], covered - (removed - uncovered))
  end
end
for target, values in pairs(pushes) do redis.call('LPUSH', target, unpack(values)) end
return journaled(n - removed, n, removed, {n, removed, removed_ids})
"""

# Delete list KEYS[1] whole (and its index KEYS[2]); journaled. Returns how many items it held.
_UNLINK_LUA = JOURNAL_LUA + """
local n = redis.call('LLEN', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2])
return journaled(0, n, n, n)
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

    def index(self, key: str) -> str:
        """The hash where qtui keeps per-queue counts of list `key` (see _INDEX_LUA)."""
        return f"{self.prefix}:qtui:index:{key[len(self.prefix) + 1:]}"

    def is_indexed(self, key: str) -> bool:
        return key in (self.completed, self.dead_letter)

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
    """Factory for `redis://`, `rediss://`, `redis+unix://`, `unix://` and `redis+sentinel://` URLs."""
    target = parse_redis_url(url, layout_prefix="", options=OPTIONS)
    return GoWorkBackend(target, parse_layout(target.options), clock=clock, read_only=read_only)


class GoWorkBackend(RedisBackend):
    """Admin operations on the go-redis-work-queue layout."""

    def __init__(self, target: RedisTarget, layout: Layout, *, clock: WallClock, read_only: bool = False) -> None:
        super().__init__(target, f"{layout.prefix}:qtui", clock=clock, read_only=read_only)
        self.layout = layout
        self._rank = {name: len(layout.queues) - i for i, name in enumerate(layout.queues)}
        self._stats_script = self.redis.register_script(_STATS_LUA)
        self._catch_up_script = self.redis.register_script(_CATCH_UP_LUA)
        self._find_script = self.redis.register_script(_FIND_LUA)
        self._filter_script = self.redis.register_script(_FILTER_LUA)
        self._unlink_script = self.redis.register_script(_UNLINK_LUA)

    # -- parsing -------------------------------------------------------------

    def _to_job(
        self, raw: bytes, state: JobState, *, worker: str | None = None, lease_until: float | None = None
    ) -> Job:
        """A Job from a stored item, whatever it holds; what was wrong goes to extra[MALFORMED]."""
        text = text_of(raw)
        problems = []
        if "\ufffd" in text and not _valid_utf8(raw):
            problems.append("not valid UTF-8 (shown with replacement characters)")
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            obj = None
            problems.append("not JSON: left where it is by requeues")
        if obj is not None and not isinstance(obj, dict):
            problems.append("not a JSON object: left where it is by requeues")
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
        for name, value in obj.items():
            if isinstance(value, int) and not isinstance(value, bool) and not fits_int64(value):
                extra[name] = str(value)
                problems.append(f"{name}: integer beyond 64 bits, given as text")
        if problems:
            extra[MALFORMED] = "; ".join(problems)
        return Job(
            id=job_id,
            queue=queue,
            state=state,
            payload=text,
            priority=self._rank.get(queue, 0),
            attempts=retries if fits_int64(retries) else 0,
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
        keys = [*layout.queues.values(), layout.completed, layout.dead_letter,
                layout.index(layout.completed), layout.index(layout.dead_letter)]  # fmt: skip
        args = [len(names), layout.processing_match, layout.heartbeat_match, INDEX_STEP]
        queues, processing, heartbeats, completed_reply, dead_reply, problems = self._stats_script(
            keys=keys, args=args
        )
        taken_at = self.clock()
        completed = self._indexed_counts(layout.completed, completed_reply)
        dead = self._indexed_counts(layout.dead_letter, dead_reply)
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
                JobState.COMPLETED: completed[name],
                JobState.DEAD: dead[name],
            }
            oldest_at = self._to_job(oldest, JobState.READY).created_at if oldest else None
            stats.append(QueueStats(name=name, counts=counts, oldest_ready_at=oldest_at))
        return Snapshot(
            queues=tuple(stats),
            workers=tuple(workers[w] for w in sorted(workers)),
            taken_at=taken_at,
            problems=tuple(text_of(p) for p in problems),
        )

    def _indexed_counts(self, key: str, reply: list) -> collections.Counter[str]:
        """Per-queue counts from a list's index, first finishing its rebuild in bounded steps."""
        remaining, fields = int(reply[0]), reply[1]
        while remaining > 0:
            remaining, fields = self._catch_up_script(keys=[key, self.layout.index(key)], args=[INDEX_STEP * 5])
            remaining = int(remaining)
        counts: collections.Counter[str] = collections.Counter()
        for name, value in zip(fields[::2], fields[1::2], strict=True):
            if name.startswith(b"n:"):
                counts[text_of(name[2:])] = int(value)
        return counts

    def _worker(self, worker_id: str, leases: Mapping[str, int], current: str | None) -> WorkerInfo:
        return WorkerInfo(
            id=worker_id,
            queues=tuple(self.layout.queues),
            current_job=current,
            alive=leases.get(worker_id, -2) >= -1,
        )

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
            try:
                window = read_chunk(self.redis, source, position, count)
            except WrongKeyType:  # flagged by snapshot(); the page goes on with the next list
                return Chunk(position, 0, 0, iter(()))
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
    def _job(self, job_id: str, progress: Callable[[int, int], None] | None = None) -> Job | None:
        places = [(state, source) for state in (JobState.PROCESSING, JobState.READY, JobState.DEAD,
                                                JobState.COMPLETED) for source in self._sources(None, state)]
        total = 0
        if progress is not None:
            with self.redis.pipeline(transaction=False) as pipe:
                for _, source in places:
                    pipe.llen(source.key)
                total = sum(int(n) for n in pipe.execute(raise_on_error=False) if isinstance(n, int))
        examined = [0]

        def step(count: int) -> None:
            examined[0] += count
            if progress is not None:
                progress(examined[0], max(total, examined[0]))

        for state, source in places:
            found = self._find_in(source, job_id, step)
            if found is not None:
                worker, lease = self._lease_of(source.key) if state is JobState.PROCESSING else (None, None)
                return self._to_job(found, state, worker=worker, lease_until=lease)
        return None

    def _find_in(self, source: Source, job_id: str, examined: Callable[[int], None]) -> bytes | None:
        """The item of the list whose id is `job_id`, oldest first, a script call per chunk.

        `examined(n)` hears how many items each call looked at. A list of the wrong type is skipped.
        """
        # Go's encoder writes plain ids as-is; for others every item is a candidate.
        needle = f'"{job_id}"' if _PLAIN_ID.fullmatch(job_id) else ""
        hash_prefix = job_id[5:] if job_id.startswith("sha1-") and len(job_id) == 21 else None
        find = functools.partial(self._candidates, needle, hash_prefix)
        try:
            for chunk in walk(source, find, size=SCRIPT_CHUNK * 4):
                examined(chunk.examined)
                for item in chunk.found:
                    if self._to_job(item, JobState.READY).id == job_id:
                        return item
        except redis.ResponseError as exc:
            if not str(exc).startswith("WRONGTYPE"):
                raise
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
    def _enqueue_many(self, queue: str, payloads: list[str], priority: int) -> list[str]:
        """Every job is built first; then one LPUSH adds them all, in order, or none."""
        self._check_queue(queue)
        now = self.clock()
        jobs = []
        for position, payload in enumerate(payloads, 1):
            try:
                jobs.append(build_job(json.loads(validate_json_payload(payload)), queue, now))
            except InvalidInput as exc:
                raise InvalidBatchItem(position, str(exc)) from None
        raws = [json.dumps(job, separators=(",", ":"), ensure_ascii=False).encode() for job in jobs]
        self.redis.lpush(self.layout.queues[queue], *raws)
        return [str(job["id"]) for job in jobs]

    def _check_queue(self, name: str | None) -> None:
        if name is not None and name not in self.layout.queues:
            raise NotFound(f"no queue named {name!r} (queues: {', '.join(self.layout.queues)})")

    @mapped_errors
    def _plan(self, operation: Operation) -> Operation:
        self._check_queue(operation.queue)
        self._check_queue(operation.to_queue)
        layout = self.layout
        if operation.kind == "requeue":
            sources = [layout.dead_letter]
        elif operation.state is JobState.READY:
            sources = [layout.queues[operation.queue]] if operation.queue else list(layout.queues.values())
        elif operation.state is JobState.SCHEDULED:
            sources = []  # this layout has no delayed jobs
        else:
            sources = [layout.completed if operation.state is JobState.COMPLETED else layout.dead_letter]
        with self.redis.pipeline(transaction=False) as pipe:
            for key in sources:
                pipe.llen(key)
            total = sum(int(n) for n in pipe.execute())
        return attrs.evolve(operation, sources=tuple(sources), total=total)

    def _chunks(self, operation: Operation, *, journaled: bool) -> Iterator[Operation]:
        """Whole lists go in one step (UNLINK); filtered work in atomic windows of SCRIPT_CHUNK."""
        index, position = decode_cursor(operation.cursor or None, 2)
        whole = operation.kind == "purge" and operation.ids is None and (
            operation.state is JobState.READY or operation.queue is None
        )
        wanted = set(operation.ids) if operation.ids is not None else None
        record = operation if journaled else None
        while index < len(operation.sources) and wanted != set():
            key = operation.sources[index]
            if whole:
                examined = removed = int(self._journaled_call(
                    self._unlink_script, record, index, position, [key, self.layout.index(key)], []))
                removed_ids: list[str] = []
                short = True
            else:
                examined, removed, removed_ids = self._filter_window(operation, record, index, position, key)
                short = examined < SCRIPT_CHUNK
            position += examined - removed
            operation = attrs.evolve(
                operation, cursor=encode_cursor(index, position), examined=operation.examined + examined,
                done=operation.done + removed,
            )  # fmt: skip
            if wanted is not None:
                wanted.difference_update(removed_ids)
            if short:
                index, position = index + 1, 0
            yield operation

    def _filter_window(
        self, operation: Operation, record: Operation | None, index: int, position: int, key: str
    ) -> tuple[int, int, list[str]]:
        """One atomic filter-script window of `operation` on list `key`: (examined, removed, ids removed)."""
        mode = "move" if operation.kind == "requeue" else "delete"
        queue = operation.queue if key in (self.layout.dead_letter, self.layout.completed) else None
        id_args = sorted(set(operation.ids)) if operation.ids is not None else []
        targets = [part for item in self.layout.queues.items() for part in item]
        args = [
            position, SCRIPT_CHUNK, mode, f"qtui:tombstone:{operation.id}", queue or "",
            (operation.text or "").lower(), operation.to_queue or "", int(self.layout.is_indexed(key)),
            len(id_args), *id_args, *targets,
        ]  # fmt: skip
        examined, removed, removed_ids = self._journaled_call(
            self._filter_script, record, index, position, [key, self.layout.index(key)], args
        )
        return int(examined), int(removed), [text_of(i) for i in removed_ids]


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


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
