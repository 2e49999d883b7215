"""What the Redis backends share: URL parsing, the connection, error mapping, page cursors.

URLs (the part before `://` picks the layout; `rq+` selects RQ, see qtui.backends.rq):

    redis://[[user]:password@]host[:port][/db][?options]      plain TCP
    rediss://...                                               TLS
    redis+unix:///path/to/redis.sock[?db=N&options]            Unix socket
    unix:///path/to/redis.sock[?db=N&options]                  same

Each layout declares the query options it understands; `db` and `timeout` (socket
timeout in seconds, default 10) are always accepted and anything else is refused
with a message naming it. The connection itself is redis-py's, built by
`redis.connection.parse_url` on the URL without qtui's own options.

Every Redis error becomes a qtui error: a lost or refused connection is
BackendUnavailable, a refused command is BackendError. The client never retries a
command on its own, so a server-side script runs at most once per call; the next
call reconnects, which is how a backend recovers after the server comes back.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlsplit

import attrs
import redis
import redis.connection
from redis.backoff import NoBackoff
from redis.retry import Retry

from qtui.backends.base import Backend
from qtui.clock import WallClock
from qtui.model import BackendError, BackendUnavailable, InvalidInput

#: Query options every Redis URL accepts, besides the layout's own.
COMMON_OPTIONS = frozenset({"db", "timeout"})

#: How many list or sorted-set items one server-side chunk touches.
CHUNK = 1000

_SCHEME_TO_REDIS_PY = {"redis": "redis", "rediss": "rediss", "unix": "unix", "redis+unix": "unix"}


@attrs.frozen
class RedisTarget:
    """A parsed Redis URL: how to connect, what to show, and the layout's options."""

    connection_kwargs: Mapping[str, object]
    display_name: str
    options: Mapping[str, str]


def parse_redis_url(url: str, *, layout_prefix: str, options: frozenset[str]) -> RedisTarget:
    """Parse `url` (`<layout_prefix>redis://...` etc.) into a RedisTarget.

    `layout_prefix` is the scheme prefix naming the layout ("" or "rq+"); `options`
    are the query parameters the layout understands.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme.startswith(layout_prefix):
        raise InvalidInput(f"not a {layout_prefix}redis URL: {url!r}")
    base_scheme = scheme[len(layout_prefix) :]
    if layout_prefix and base_scheme == "unix":
        base_scheme = "redis+unix"
    redis_py_scheme = _SCHEME_TO_REDIS_PY.get(base_scheme)
    if redis_py_scheme is None:
        known = ", ".join(f"{layout_prefix}{s}://" for s in _SCHEME_TO_REDIS_PY if s != "unix" or not layout_prefix)
        raise InvalidInput(f"unsupported Redis URL scheme {scheme!r} (use {known})")
    parts = urlsplit(f"{redis_py_scheme}://{rest}")
    query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False)
    allowed = options | COMMON_OPTIONS
    own: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    for name, value in query:
        if name not in allowed:
            raise InvalidInput(
                f"unknown option {name!r} in Redis URL (accepted: {', '.join(sorted(allowed))})"
            )
        if name in own or any(n == name for n, _ in passed):
            raise InvalidInput(f"option {name!r} given twice in Redis URL")
        if name == "db":
            if not value.isdigit():
                raise InvalidInput(f"option 'db' in Redis URL must be a number, not {value!r}")
            passed.append((name, value))
        else:
            own[name] = value
    if redis_py_scheme == "unix" and not parts.path:
        raise InvalidInput(f"Redis unix URL needs a socket path: {url!r}")
    db_in_path = parts.path.strip("/")
    if redis_py_scheme != "unix" and db_in_path and not db_in_path.isdigit():
        raise InvalidInput(f"Redis URL path must be a database number, not {parts.path!r}")
    try:
        timeout = float(own.pop("timeout", "10"))
    except ValueError:
        raise InvalidInput("option 'timeout' in Redis URL must be a number of seconds") from None
    if not 0 < timeout <= 3600:
        raise InvalidInput("option 'timeout' in Redis URL must be between 0 and 3600 seconds")
    query_text = "&".join(f"{n}={v}" for n, v in passed)
    stripped = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query_text}" if query_text else "")
    try:
        kwargs = redis.connection.parse_url(stripped)
    except ValueError as exc:
        raise InvalidInput(f"invalid Redis URL {url!r}: {exc}") from None
    kwargs.update(socket_timeout=timeout, socket_connect_timeout=min(timeout, 5.0))
    host_part = parts.netloc.rpartition("@")[2]
    location = parts.path if redis_py_scheme == "unix" else host_part or "localhost:6379"
    db = kwargs.get("db", 0)
    shown_scheme = scheme if redis_py_scheme != "unix" else f"{layout_prefix}unix"
    display = f"{shown_scheme}://{location}" + (f"?db={db}" if redis_py_scheme == "unix" else f"/{db}")
    return RedisTarget(connection_kwargs=kwargs, display_name=display, options=own)


def connect(target: RedisTarget) -> redis.Redis:
    """A redis-py client for `target` that never retries on its own (see module doc)."""
    pool = redis.ConnectionPool(
        **target.connection_kwargs,
        client_name="qtui",
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return redis.Redis(connection_pool=pool)


@contextlib.contextmanager
def redis_errors(where: str) -> Iterator[None]:
    """Turn redis-py exceptions raised inside the block into qtui errors naming `where`."""
    try:
        yield
    except redis.AuthenticationError as exc:
        raise BackendUnavailable(f"{where}: authentication failed ({exc})") from None
    except redis.BusyLoadingError:
        raise BackendUnavailable(f"{where}: the server is loading its data, try again shortly") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BackendUnavailable(f"{where}: cannot reach the Redis server ({exc})") from None
    except redis.ResponseError as exc:
        raise BackendError(f"{where}: the Redis server refused the command: {exc}") from None
    except redis.RedisError as exc:
        raise BackendError(f"{where}: Redis error: {exc}") from None


P = ParamSpec("P")
R = TypeVar("R")


def mapped_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Decorate a RedisBackend method so Redis errors reach callers as qtui errors."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        with redis_errors(self.display_name):  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


class RedisBackend(Backend):
    """A Backend talking to one Redis server through one redis-py client."""

    #: Redis's own limit on a string (proto-max-bulk-len, 512 MiB by default).
    max_payload_bytes = 512 * 2**20

    def __init__(self, target: RedisTarget, *, clock: WallClock, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.clock = clock  # dates snapshots, leases and requeues
        self.display_name = target.display_name
        self.redis = connect(target)

    def close(self) -> None:
        self.redis.close()


def encode_cursor(*numbers: int) -> str:
    """A page cursor made of non-negative integers."""
    return ".".join(str(n) for n in numbers)


def decode_cursor(cursor: str | None, count: int) -> tuple[int, ...]:
    """Parse a cursor made by encode_cursor with `count` numbers; None means the start."""
    if cursor is None:
        return (0,) * count
    parts = cursor.split(".")
    if len(parts) != count or not all(p.isdigit() and len(p) < 19 for p in parts):
        raise InvalidInput(f"invalid page cursor {cursor!r}")
    return tuple(int(p) for p in parts)


def text_of(value: bytes | None) -> str:
    """Decode bytes from Redis as UTF-8, replacing what is not (job data is hostile)."""
    return value.decode("utf-8", "replace") if value is not None else ""

