"""RQ (python-rq) data in Redis, mapped onto qtui's neutral model. Checked against RQ 3.0.

URL: `rq+redis://host:port/db`, `rq+rediss://...`, `rq+unix:///path/sock?db=N`, with
query options `prefix` (RQ_KEY_PREFIX, default `rq`), `result_ttl` (default 500) and
`failure_ttl` (default 31536000, RQ's defaults) used for the rates below.

Queues are the members of `<prefix>:queues`. States: the queue LIST is ready
(oldest at the left); the scheduled and deferred registries are scheduled; the
`wip` (started) registry is processing; the finished and canceled registries are
completed (a canceled job is one an operator stopped on purpose, not a failure,
and RQ cannot requeue it); the failed registry (status failed or stopped) is dead.

Safety: job `data`, `meta` and `result` are pickles and are never read; qtui reads
only plain hash fields (description, origin, status, timestamps, ...) and the
latest entry of the job's results stream without its `return_value`. The error
text is that entry's `exc_string` (base64 of zlib), or the job's zlib `exc_info`
as older RQ versions wrote it. The payload shown is the job description (RQ's
call string, e.g. `app.tasks.resize(42)`).

Writes leave RQ's data as RQ's own code does, but atomically on the server:
requeue is FailedJobRegistry.requeue (off the failed registry, status queued,
started_at/ended_at/exc_info cleared, enqueued_at now, default timeout filled,
TTL re-applied, RPUSH onto the queue) in one Lua script per chunk of 1,000 jobs;
rate-limited jobs (RQ 3 `rate_limit`) and jobs whose hash expired are left in the
failed registry (use `rq requeue` for those). Purging ready jobs is Queue.empty
(pop ids, delete the job, its results and its dependents set), chunked; purging
registries deletes each job as Job.delete does (registry entry, hash, dependents,
dependencies, results, executions, group membership). Each chunk is atomic and
moves its journal entry (qtui.backends.journal, under `<prefix>:qtui`) in the
same script, so an interruption between chunks loses or duplicates nothing and
resuming finishes the operation. Keys of the wrong type are skipped by peeks and
stats and named in the snapshot's problems.

Enqueue takes `{"func": "module.function", "args": [...], "kwargs": {...}}` and
creates the job through RQ's own API in this process (RQ pickles the JSON
arguments; nothing is unpickled); it needs the `rq` package installed. A
`priority` above 0 puts the job at the front of the queue.

Rates: RQ keeps no enqueue log, so enqueued_per_min is 0. Finished and failed
registries score a job by the time it ended plus its result or failure TTL, so
completed_per_min and failed_per_min count scores in the last minute shifted by
the `result_ttl` / `failure_ttl` options: exact for jobs that use those TTLs,
blind to jobs with other TTLs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from qtui.backends.journal import JOURNAL_LUA, Operation
from qtui.backends.redis_common import (
    CHUNK,
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
    contains_text,
    read_chunk,
    scan_page,
)
from qtui.clock import WallClock
from qtui.model import (
    MALFORMED,
    BackendError,
    InvalidInput,
    Job,
    JobState,
    NotFound,
    Page,
    QueueStats,
    Snapshot,
    WorkerInfo,
    fits_int64,
)

OPTIONS = frozenset({"prefix", "result_ttl", "failure_ttl"})
DEFAULT_RESULT_TTL = 500
DEFAULT_FAILURE_TTL = 31536000
#: RQ's Queue.DEFAULT_TIMEOUT, which its requeue fills in when a job has none.
DEFAULT_JOB_TIMEOUT = 180
#: Items examined per peek call when a text filter is active, before returning a partial page.
SEARCH_BUDGET = 10000

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
_PREFIX = re.compile(r"[A-Za-z0-9_.:{}-]{1,100}")
_FUNC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

#: Plain (never pickled) job hash fields qtui reads.
_FIELDS = (
    "status", "origin", "description", "created_at", "enqueued_at", "started_at", "ended_at",
    "last_heartbeat", "worker_name", "exc_info", "timeout", "retries_left", "number_of_retries",
    "result_ttl", "failure_ttl", "ttl", "group_id", "dependency_ids", "rate_limit_key",
)  # fmt: skip

_STATE_OF_STATUS = {
    "queued": JobState.READY,
    "ready_to_enqueue": JobState.READY,
    "created": JobState.SCHEDULED,
    "scheduled": JobState.SCHEDULED,
    "deferred": JobState.SCHEDULED,
    "rate_limited": JobState.SCHEDULED,
    "started": JobState.PROCESSING,
    "finished": JobState.COMPLETED,
    "canceled": JobState.COMPLETED,
    "failed": JobState.DEAD,
    "stopped": JobState.DEAD,
}

#: Registries (key infix) holding each state, in page order.
_REGISTRIES = {
    JobState.SCHEDULED: ("scheduled", "deferred"),
    JobState.PROCESSING: ("wip",),
    JobState.COMPLETED: ("finished", "canceled"),
    JobState.DEAD: ("failed",),
}

# Keys of the wrong type are counted as empty and named in the reply's problems.
_STATS_LUA = """
local P, t = ARGV[1], tonumber(ARGV[2])
local rttl, fttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local problems = {}
local function call(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    local key = select(2, ...)
    problems[#problems + 1] = key .. ': ' .. reply.err .. ': skipped'
    return false
  end
  return reply
end
local function n(...) return call(...) or 0 end
local function members(key)
  local found = call('SMEMBERS', key)
  return found or {}
end
local queues = {}
for _, qkey in ipairs(members(P .. ':queues')) do
  local name = string.sub(qkey, #P + 8)
  local oldest = call('LINDEX', qkey, 0)
  local oldest_created = ''
  if oldest then oldest_created = call('HGET', P .. ':job:' .. oldest, 'created_at') or '' end
  queues[#queues + 1] = {
    name, n('LLEN', qkey),
    n('ZCARD', P .. ':scheduled:' .. name) + n('ZCARD', P .. ':deferred:' .. name),
    n('ZCARD', P .. ':wip:' .. name),
    n('ZCOUNT', P .. ':finished:' .. name, '(' .. t, '+inf') + n('ZCARD', P .. ':canceled:' .. name),
    n('ZCOUNT', P .. ':failed:' .. name, '(' .. t, '+inf'),
    n('ZCOUNT', P .. ':finished:' .. name, '(' .. (t - 60 + rttl), t + rttl),
    n('ZCOUNT', P .. ':failed:' .. name, '(' .. (t - 60 + fttl), t + fttl),
    oldest_created}
end
local workers = {}
for _, wkey in ipairs(members(P .. ':workers')) do
  local f = call('HMGET', wkey, 'queues', 'hostname', 'pid', 'birth', 'last_heartbeat',
                 'successful_job_count', 'failed_job_count', 'death') or {}
  for i = 1, 8 do f[i] = f[i] or '' end
  local current = call('SRANDMEMBER', wkey .. ':executions') or ''
  workers[#workers + 1] = {wkey, redis.call('EXISTS', wkey), current, f}
end
return {queues, workers, problems}
"""

# FailedJobRegistry.requeue for the ids in ARGV[7..]; ARGV: prefix, enqueued_at,
# registry queue ('' = the job's origin), target queue ('' = origin), how many items
# the chunk examined, and '1' when it is a window of a registry (whose cursor moves
# past the jobs left there) or '0' for a batch of given ids. The exc_info written is
# zlib.compress(b''), as RQ writes for its cleared ''. Journaled (JOURNAL_LUA).
# Returns {moved ids}.
_REQUEUE_LUA = JOURNAL_LUA + """
local P, enq, registry, to_queue = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local examined, window = tonumber(ARGV[5]), ARGV[6] == '1'
local moved = {}
for i = 7, #ARGV do
  local id = ARGV[i]
  local jk = P .. ':job:' .. id
  local f = redis.call('HMGET', jk, 'data', 'origin', 'rate_limit_key', 'timeout', 'ttl', 'created_at',
                       'success_callback_name', 'failure_callback_name', 'stopped_callback_name',
                       'last_heartbeat', 'worker_name', 'group_id')
  local origin = f[2] or ''
  local from = registry ~= '' and registry or origin
  local target = to_queue ~= '' and to_queue or origin
  if f[1] and (not f[3] or f[3] == '') and from ~= '' and target ~= ''
     and redis.call('ZREM', P .. ':failed:' .. from, id) == 1 then
    redis.call('HSET', jk, 'status', 'queued', 'started_at', '', 'ended_at', '',
               'exc_info', '\\120\\156\\3\\0\\0\\0\\0\\1', 'enqueued_at', enq)
    if not f[4] or f[4] == '' then redis.call('HSET', jk, 'timeout', '%(timeout)d') end
    if not f[6] or f[6] == '' then redis.call('HSET', jk, 'created_at', enq) end
    for k, name in ipairs({'success_callback_name', 'failure_callback_name', 'stopped_callback_name',
                           'last_heartbeat', 'worker_name', 'group_id'}) do
      if not f[6 + k] then redis.call('HSET', jk, name, '') end
    end
    if target ~= origin then
      redis.call('HSET', jk, 'origin', target)
      redis.call('SADD', P .. ':queues', P .. ':queue:' .. target)
    end
    local ttl = tonumber(f[5] or '')
    if ttl and ttl > 0 then
      redis.call('EXPIRE', jk, ttl)
      redis.call('EXPIRE', jk .. ':dependents', ttl)
      redis.call('EXPIRE', jk .. ':dependencies', ttl)
    end
    redis.call('RPUSH', P .. ':queue:' .. target, id)
    moved[#moved + 1] = id
  end
end
local advance = examined
if window then advance = examined - #moved end
return journaled(advance, examined, #moved, moved)
""" % {"timeout": DEFAULT_JOB_TIMEOUT}

# For each id after the "--" in ARGV: the hash fields named before it (never the
# pickled ones), the exc_string of the newest results-stream entry, and the stream
# length; flattened. ARGV[1]: prefix.
_LOAD_LUA = """
local P = ARGV[1]
local fields, ids, sep = {}, {}, false
for i = 2, #ARGV do
  if sep then ids[#ids + 1] = ARGV[i]
  elseif ARGV[i] == '--' then sep = true
  else fields[#fields + 1] = ARGV[i] end
end
local out = {}
for _, id in ipairs(ids) do
  local values = redis.pcall('HMGET', P .. ':job:' .. id, unpack(fields))
  if values.err then values = {} end  -- a job key of the wrong type: loaded as missing
  for i = 1, #fields do out[#out + 1] = values[i] or false end
  local rk = P .. ':results:' .. id
  local latest = redis.pcall('XREVRANGE', rk, '+', '-', 'COUNT', 1)
  local exc = false
  if not latest.err and latest[1] then
    local kv = latest[1][2]
    for i = 1, #kv, 2 do if kv[i] == 'exc_string' then exc = kv[i + 1] end end
  end
  out[#out + 1] = exc
  local length = redis.pcall('XLEN', rk)
  if type(length) ~= 'number' then length = 0 end
  out[#out + 1] = length
end
return out
"""

# Job.delete for jobs leaving registry KEYS[1] (ids in ARGV[2..], or with ARGV[2] == '*'
# the first ARGV[3] members). ARGV[1]: prefix. Journaled. Returns {examined, deleted}.
_DELETE_FROM_REGISTRY_LUA = JOURNAL_LUA + """
local P = ARGV[1]
local ids
if ARGV[2] == '*' then
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
else
  ids = {}
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local deleted = 0
for _, member in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local id = string.match(member, '^[^:]+')
    local jk = P .. ':job:' .. id
    local f = redis.call('HMGET', jk, 'group_id', 'rate_limit_key')
    local ek = P .. ':executions:' .. id
    for _, exec in ipairs(redis.call('ZRANGE', ek, 0, -1)) do
      redis.call('DEL', P .. ':execution:' .. id .. ':' .. exec)
    end
    if f[1] and f[1] ~= '' then redis.call('SREM', P .. ':group:' .. f[1], id) end
    if f[2] and f[2] ~= '' then redis.call('ZREM', P .. ':rl:' .. f[2] .. ':rate_limited', id) end
    redis.call('DEL', ek, jk, jk .. ':dependents', jk .. ':dependencies', P .. ':results:' .. id)
    deleted = deleted + 1
  end
end
local advance = #ids
if ARGV[2] == '*' then advance = #ids - deleted end
return journaled(advance, #ids, deleted, {#ids, deleted})
"""

# Queue.empty, one chunk: pop up to ARGV[2] ids off list KEYS[1] (or, with ids in
# ARGV[3..], remove those), deleting each job's hash, results and dependents set.
# Journaled. Returns how many jobs it deleted.
_EMPTY_LUA = JOURNAL_LUA + """
local P = ARGV[1]
local ids
local popping = #ARGV == 2
if popping then
  ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[2])) or {}
else
  ids = {}
  for i = 3, #ARGV do
    if redis.call('LREM', KEYS[1], 1, ARGV[i]) > 0 then ids[#ids + 1] = ARGV[i] end
  end
end
for _, id in ipairs(ids) do
  redis.call('DEL', P .. ':job:' .. id, P .. ':results:' .. id)
  redis.call('DEL', P .. ':job:' .. id .. ':dependents')
end
if popping then return journaled(0, #ids, #ids, #ids) end
return journaled(#ARGV - 2, #ARGV - 2, #ids, #ids)
"""


@attrs.frozen
class Settings:
    prefix: str = "rq"
    result_ttl: int = DEFAULT_RESULT_TTL
    failure_ttl: int = DEFAULT_FAILURE_TTL


def parse_settings(options: Mapping[str, str]) -> Settings:
    """Settings from the URL options (see module doc)."""
    prefix = options.get("prefix", "rq")
    if not _PREFIX.fullmatch(prefix):
        raise InvalidInput(f"option 'prefix' in RQ URL is not a valid key prefix: {prefix!r}")
    ttls = {}
    for name, default in (("result_ttl", DEFAULT_RESULT_TTL), ("failure_ttl", DEFAULT_FAILURE_TTL)):
        value = options.get(name, str(default))
        if not value.isdigit():
            raise InvalidInput(f"option {name!r} in RQ URL must be a number of seconds, not {value!r}")
        ttls[name] = int(value)
    return Settings(prefix=prefix, **ttls)


def open_rq(url: str, *, clock: WallClock, read_only: bool = False, create: bool = False) -> RQBackend:
    """Factory for `rq+redis://`, `rq+rediss://`, `rq+unix://` and `rq+redis+sentinel://` URLs."""
    target = parse_redis_url(url, layout_prefix="rq+", options=OPTIONS)
    return RQBackend(target, parse_settings(target.options), clock=clock, read_only=read_only)


class RQBackend(RedisBackend):
    """Admin operations on RQ's Redis layout."""

    def __init__(self, target: RedisTarget, settings: Settings, *, clock: WallClock, read_only: bool = False) -> None:
        super().__init__(target, f"{settings.prefix}:qtui", clock=clock, read_only=read_only)
        self.settings = settings
        self._stats_script = self.redis.register_script(_STATS_LUA)
        self._requeue_script = self.redis.register_script(_REQUEUE_LUA)
        self._delete_script = self.redis.register_script(_DELETE_FROM_REGISTRY_LUA)
        self._load_script = self.redis.register_script(_LOAD_LUA)
        self._empty_script = self.redis.register_script(_EMPTY_LUA)

    def _key(self, *parts: str) -> str:
        return ":".join((self.settings.prefix, *parts))

    # -- reads ---------------------------------------------------------------

    @mapped_errors
    def snapshot(self) -> Snapshot:
        s = self.settings
        taken_at = self.clock()
        queues, workers, problems = self._stats_script(args=[s.prefix, int(taken_at), s.result_ttl, s.failure_ttl])
        stats = []
        for name, ready, scheduled, processing, completed, dead, done_rate, fail_rate, oldest in queues:
            counts = {
                JobState.READY: int(ready),
                JobState.SCHEDULED: int(scheduled),
                JobState.PROCESSING: int(processing),
                JobState.COMPLETED: int(completed),
                JobState.DEAD: int(dead),
            }
            stats.append(
                QueueStats(
                    name=text_of(name),
                    counts=counts,
                    completed_per_min=float(done_rate),
                    failed_per_min=float(fail_rate),
                    oldest_ready_at=_parse_time(oldest),
                )
            )
        infos = [self._worker(*w) for w in workers]
        return Snapshot(
            queues=tuple(sorted(stats, key=lambda q: q.name)),
            workers=tuple(sorted(infos, key=lambda w: w.id)),
            taken_at=taken_at,
            problems=tuple(text_of(p) for p in problems),
        )

    def _worker(self, key: bytes, exists: int, current: bytes, fields: list[bytes]) -> WorkerInfo:
        queues, host, pid, birth, beat, done, failed, death = (text_of(f) for f in fields)
        return WorkerInfo(
            id=text_of(key)[len(self._key("worker", "")) :],
            queues=tuple(q for q in queues.split(",") if q),
            host=host or None,
            pid=_count(pid) or None,
            started_at=_parse_time(birth),
            last_seen=_parse_time(beat),
            current_job=text_of(current).partition(":")[0] or None,
            processed=_count(done),
            failed=_count(failed),
            alive=bool(exists) and not death,
        )

    def _queue_names(self) -> list[str]:
        prefix = self._key("queue", "")
        return sorted(text_of(k)[len(prefix) :] for k in self.redis.smembers(self._key("queues")))

    def _selected_queues(self, queue: str | None) -> list[str]:
        """The queues a call about `queue` covers: just it (NotFound unless RQ knows it), or all."""
        names = self._queue_names()
        if queue is None:
            return names
        if queue not in names:
            raise NotFound(f"no RQ queue named {queue!r}")
        return [queue]

    def _sources(self, queue: str | None, state: JobState) -> list[Source]:
        """The queue lists or registries holding jobs of `queue` in `state`, in page order."""
        names = self._selected_queues(queue)
        if state is JobState.READY:
            return [Source(self._key("queue", n), queue=n) for n in names]
        return [Source(self._key(reg, n), kind="zset", queue=n) for n in names for reg in _REGISTRIES[state]]

    @mapped_errors
    def _peek(
        self, queue: str | None, state: JobState, text: str | None, cursor: str | None, limit: int
    ) -> Page:
        def read_jobs(source: Source, position: int, count: int) -> Chunk[list[Job | None]]:
            try:
                entries = read_chunk(self.redis, source, position, count).found
            except WrongKeyType:  # flagged by snapshot(); the page goes on with the next key
                return Chunk(position, 0, 0, [])
            loaded = self._load([text_of(member).partition(":")[0] for member, _ in entries])
            # A job whose hash expired is None: RQ's own cleanup drops its entry.
            jobs = [
                None if job is None else _placed(job, state, source.queue, score)
                for (_, score), job in zip(entries, loaded, strict=True)
            ]
            return Chunk(position, len(entries), 0, jobs)

        return scan_page(
            self._sources(queue, state), read_jobs, cursor=cursor, limit=limit, text=text, budget=SEARCH_BUDGET
        )

    def _load(self, ids: Sequence[str]) -> list[Job | None]:
        """Jobs by id from their plain hash fields and latest result (one round trip)."""
        if not ids:
            return []
        width = len(_FIELDS) + 2
        flat = self._load_script(args=[self.settings.prefix, *_FIELDS, "--", *ids])
        return [
            _to_job(job_id, flat[i * width : i * width + len(_FIELDS)], flat[i * width + len(_FIELDS)],
                    flat[i * width + len(_FIELDS) + 1])
            for i, job_id in enumerate(ids)
        ]  # fmt: skip

    @mapped_errors
    def _job(self, job_id: str, progress: Callable[[int, int], None] | None = None) -> Job | None:
        """From the job's own hash: RQ's key is the index, so there is no scan to report."""
        if not _JOB_ID.fullmatch(job_id):
            return None
        return self._load([job_id])[0]

    # -- writes --------------------------------------------------------------

    @mapped_errors
    def _enqueue(self, queue: str, payload: str, priority: int) -> Job:
        spec = json.loads(payload)
        if not isinstance(spec, dict) or set(spec) - {"func", "args", "kwargs"} or "func" not in spec:
            raise InvalidInput(
                'an RQ job payload is {"func": "module.function", "args": [...], "kwargs": {...}}'
            )
        func, args, kwargs = spec["func"], spec.get("args", []), spec.get("kwargs", {})
        if not isinstance(func, str) or not _FUNC.fullmatch(func):
            raise InvalidInput(f"payload field 'func' must be a dotted path like 'app.tasks.resize', not {func!r}")
        if not isinstance(args, list):
            raise InvalidInput("payload field 'args' must be a JSON array")
        if not isinstance(kwargs, dict):
            raise InvalidInput("payload field 'kwargs' must be a JSON object")
        try:
            from rq import Queue
        except ImportError:
            raise BackendError("enqueueing into RQ needs the rq package (pip install rq)") from None
        rq_queue = Queue(queue, connection=self.redis)
        if rq_queue.redis_queue_namespace_prefix != self._key("queue", ""):
            raise BackendError(
                f"the installed rq uses key prefix {rq_queue.redis_queue_namespace_prefix!r}, "
                f"this console {self.settings.prefix!r}: set RQ_KEY_PREFIX to match"
            )
        created = rq_queue.enqueue_call(func=func, args=args, kwargs=kwargs, at_front=priority > 0)
        job = self._load([created.id])[0]
        if job is None:
            raise BackendError(f"job {created.id} vanished right after it was enqueued")
        return job

    @mapped_errors
    def _plan(self, operation: Operation) -> Operation:
        if operation.kind == "requeue":
            if operation.ids is not None:
                ids = tuple(i for i in operation.ids if _JOB_ID.fullmatch(i))
                return attrs.evolve(operation, ids=ids, sources=(self._key("failed", "*"),), total=len(ids))
            names = self._selected_queues(operation.queue)
            sources = tuple(self._key("failed", n) for n in names)
        else:
            sources = tuple(s.key for s in self._sources(operation.queue, operation.state))
        ids = operation.ids
        if ids is not None:
            ids = tuple(i for i in ids if _JOB_ID.fullmatch(i))
            return attrs.evolve(operation, ids=ids, sources=sources, total=len(ids) * len(sources))
        with self.redis.pipeline(transaction=False) as pipe:
            for key in sources:
                (pipe.llen if self._is_queue_key(key) else pipe.zcard)(key)
            total = sum(int(n) for n in pipe.execute())
        return attrs.evolve(operation, sources=sources, total=total)

    def _is_queue_key(self, key: str) -> bool:
        return key.startswith(self._key("queue", ""))

    def _chunks(self, operation: Operation, *, journaled: bool) -> Iterator[Operation]:
        """Windows of CHUNK items (or batches of CHUNK given ids), each one atomic script call."""
        index, position = decode_cursor(operation.cursor or None, 2)
        record = operation if journaled else None
        while index < len(operation.sources):
            key = operation.sources[index]
            if operation.ids is not None:
                batch = operation.ids[position : position + CHUNK]
                examined = len(batch)
                if operation.kind == "requeue":
                    removed = len(self._requeue_chunk(record, index, position, None, operation.to_queue,
                                                      batch, examined, window=False))  # fmt: skip
                else:
                    removed = self._delete_ids(record, index, position, key, batch)
                advance, short = examined, position + examined >= len(operation.ids)
            elif operation.kind == "requeue":
                queue = key[len(self._key("failed", "")) :]
                examined, removed = self._requeue_window(record, index, position, queue, operation)
                advance, short = examined - removed, examined < CHUNK
            else:
                examined, removed = self._delete_oldest(record, index, position, key)
                advance, short = examined - removed, examined < CHUNK
            position += advance
            operation = attrs.evolve(
                operation, cursor=encode_cursor(index, position), examined=operation.examined + examined,
                done=operation.done + removed,
            )  # fmt: skip
            if short:
                index, position = index + 1, 0
            yield operation

    def _requeue_window(
        self, record: Operation | None, index: int, position: int, queue: str, operation: Operation
    ) -> tuple[int, int]:
        """Requeue the jobs in one window of a failed registry (with a text filter, those that match)."""
        registry = Source(self._key("failed", queue), kind="zset", queue=queue)
        members = [text_of(member) for member, _ in read_chunk(self.redis, registry, position, CHUNK).found]
        selected = members
        if operation.text:
            needle = operation.text.lower()
            loaded = self._load(members)
            selected = [m for m, job in zip(members, loaded, strict=True) if job and contains_text(job, needle)]
        moved = self._requeue_chunk(record, index, position, queue, operation.to_queue, selected, len(members),
                                    window=True)  # fmt: skip
        return len(members), len(moved)

    def _requeue_chunk(
        self,
        record: Operation | None,
        index: int,
        position: int,
        registry: str | None,
        to_queue: str | None,
        ids: Sequence[str],
        examined: int,
        *,
        window: bool,
    ) -> list[bytes]:
        """Requeue `ids` off the failed registry of queue `registry` (None: each job's origin)."""
        enqueued_at = datetime.fromtimestamp(self.clock(), UTC).strftime(_TIME_FORMAT)
        args = [self.settings.prefix, enqueued_at, registry or "", to_queue or "", examined, int(window), *ids]
        return self._journaled_call(self._requeue_script, record, index, position, [], args)

    def _delete_oldest(self, record: Operation | None, index: int, position: int, key: str) -> tuple[int, int]:
        """Delete the CHUNK oldest jobs of a queue (as Queue.empty) or registry (as Job.delete).

        Everything examined goes, so the cursor stays at its position.
        """
        prefix = self.settings.prefix
        if self._is_queue_key(key):
            popped = int(self._journaled_call(self._empty_script, record, index, position, [key], [prefix, CHUNK]))
            return popped, popped
        examined, deleted = self._journaled_call(
            self._delete_script, record, index, position, [key], [prefix, "*", CHUNK]
        )
        return int(examined), int(deleted)

    def _delete_ids(
        self, record: Operation | None, index: int, position: int, key: str, ids: Sequence[str]
    ) -> int:
        """Delete those of the jobs `ids` that list or registry `key` holds, in one script call."""
        prefix = self.settings.prefix
        if self._is_queue_key(key):
            return int(self._journaled_call(self._empty_script, record, index, position, [key],
                                            [prefix, "ids", *ids]))  # fmt: skip
        _, deleted = self._journaled_call(self._delete_script, record, index, position, [key], [prefix, *ids])
        return int(deleted)


def _to_job(job_id: str, fields: list[bytes | None], exc_string: bytes | None, executions: int) -> Job | None:
    """A Job from the plain hash fields (in _FIELDS order) and the newest result's exc_string.

    Fields that are not UTF-8 are shown with replacement characters and named in
    extra[MALFORMED].
    """
    if all(f is None for f in fields):
        return None
    values = dict(zip(_FIELDS, fields, strict=True))
    text = {name: text_of(value) for name, value in values.items() if name != "exc_info"}
    undecodable = [name for name, value in text.items() if "\ufffd" in value and not _is_utf8(values[name])]
    status = text["status"]
    error = _result_error(exc_string) or _decompress(values["exc_info"])
    extra = {
        name: text[name]
        for name in ("status", "enqueued_at", "started_at", "timeout", "retries_left", "number_of_retries",
                     "result_ttl", "failure_ttl", "ttl", "group_id", "dependency_ids", "rate_limit_key")
        if text[name]
    }  # fmt: skip
    if undecodable:
        extra[MALFORMED] = f"not valid UTF-8 (shown with replacement characters): {', '.join(undecodable)}"
    return Job(
        id=job_id,
        queue=text["origin"] or "?",
        state=_STATE_OF_STATUS.get(status, JobState.SCHEDULED),
        payload=text["description"],
        attempts=int(executions),
        last_error=error or None,
        worker=text["worker_name"] or None,
        created_at=_parse_time(text["created_at"]),
        updated_at=_parse_time(text["last_heartbeat"]) or _parse_time(text["enqueued_at"]),
        finished_at=_parse_time(text["ended_at"]),
        origin=text["origin"] or None,
        extra=extra,
    )


def _is_utf8(value: bytes | None) -> bool:
    try:
        (value or b"").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _count(text: str) -> int:
    """A non-negative count stored as text; 0 when it is not one or does not fit in 64 bits."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return 0
    value = int(text)
    return value if fits_int64(value) else 0


def _placed(job: Job, state: JobState, queue: str, score: float | None) -> Job:
    """`job` as found in a source of `state` on `queue`; registry scores give run and lease times."""
    changes: dict[str, object] = {"state": state, "queue": queue}
    if score is not None and state is JobState.SCHEDULED and job.extra.get("status") == "scheduled":
        changes["run_at"] = score
    if score is not None and state is JobState.PROCESSING:
        changes["lease_until"] = score
    return attrs.evolve(job, **changes)


def _result_error(encoded: bytes | None) -> str | None:
    """The text of a results-stream `exc_string` (base64 of zlib)."""
    if not encoded:
        return None
    try:
        return _decompress(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return text_of(encoded)


def _decompress(value: bytes | None) -> str | None:
    """zlib-compressed text as RQ stores it (falling back to the bytes as text)."""
    if not value:
        return None
    try:
        decompressor = zlib.decompressobj()
        data = decompressor.decompress(value, 1 << 20)  # bounded: hostile data may be a zip bomb
    except zlib.error:
        data = value
    return data.decode("utf-8", "replace") or None


def _parse_time(value: object) -> float | None:
    if isinstance(value, bytes):
        value = text_of(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # RQ writes %Y-%m-%dT%H:%M:%S.%fZ (UTC)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


__all__ = ["RQBackend", "Settings", "open_rq", "parse_settings"]
