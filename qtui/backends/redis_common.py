"""What the Redis backends share: URL parsing, the connection, error mapping, page cursors.

URLs (the part before `://` picks the layout; `rq+` selects RQ, see qtui.backends.rq):

    redis://[[user]:password@]host[:port][/db][?options]      plain TCP
    rediss://...                                               TLS
    redis+unix:///path/to/redis.sock[?db=N&options]            Unix socket
    unix:///path/to/redis.sock[?db=N&options]                  same
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?options]
    rediss+sentinel://...                                      TLS to Sentinels and master

Sentinel URLs name Sentinels (port 26379 by default) and the master's service
name; the password is the master's, `sentinel_password` and `sentinel_username`
authenticate to the Sentinels. The client asks the Sentinels for the master on
each new connection, so after a failover the next command reaches the new one.

Each layout declares the query options it understands; `db`, `timeout` (socket
timeout in seconds, default 10) and, on TLS URLs, `ssl_ca_certs` (a PEM file of the
certificate authorities to trust instead of the system's, for servers with a private
CA) are always accepted and anything else is refused with a message naming it. The connection itself is redis-py's, built by
`redis.connection.parse_url` on the URL without qtui's own options.

Every Redis error becomes a qtui error: a lost or refused connection is
BackendUnavailable, a refused command is BackendError. The client never retries a
command on its own, so a server-side script runs at most once per call; the next
call reconnects, which is how a backend recovers after the server comes back.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs
import redis
import redis.connection
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from qtui.backends.base import Backend
from qtui.backends.journal import (
    Operation,
    OperationGone,
    RedisJournal,
    is_operation_gone,
)
from qtui.clock import WallClock
from qtui.model import BackendError, BackendUnavailable, InvalidInput

#: Query options every Redis URL accepts, besides the layout's own.
COMMON_OPTIONS = frozenset({"db", "timeout", "ssl_ca_certs"})
#: Query options of Sentinel URLs.
SENTINEL_OPTIONS = frozenset({"sentinel_password", "sentinel_username"})
SENTINEL_PORT = 26379

#: How many list or sorted-set items one server-side chunk touches.
CHUNK = 1000

_SCHEME_TO_REDIS_PY = {"redis": "redis", "rediss": "rediss", "unix": "unix", "redis+unix": "unix"}


@attrs.frozen
class SentinelSpec:
    """Where to ask for the master: the Sentinels, the service name, how to talk to them."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    sentinel_kwargs: Mapping[str, object]


@attrs.frozen
class RedisTarget:
    """A parsed Redis URL: how to connect, what to show, and the layout's options."""

    connection_kwargs: Mapping[str, object]
    display_name: str
    options: Mapping[str, str]
    sentinel: SentinelSpec | None = None


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
    if base_scheme in ("redis+sentinel", "rediss+sentinel"):
        return _parse_sentinel_url(url, scheme, rest, options)
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
    timeout = _timeout(own.pop("timeout", "10"))
    tls_options = _tls_options(own.pop("ssl_ca_certs", None), tls=redis_py_scheme == "rediss")
    query_text = "&".join(f"{n}={v}" for n, v in passed)
    stripped = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query_text}" if query_text else "")
    try:
        kwargs = redis.connection.parse_url(stripped)
    except ValueError as exc:
        raise InvalidInput(f"invalid Redis URL {url!r}: {exc}") from None
    kwargs.update(socket_timeout=timeout, socket_connect_timeout=min(timeout, 5.0), **tls_options)
    host_part = parts.netloc.rpartition("@")[2]
    location = parts.path if redis_py_scheme == "unix" else host_part or "localhost:6379"
    db = kwargs.get("db", 0)
    shown_scheme = scheme if redis_py_scheme != "unix" else f"{layout_prefix}unix"
    display = f"{shown_scheme}://{location}" + (f"?db={db}" if redis_py_scheme == "unix" else f"/{db}")
    return RedisTarget(connection_kwargs=kwargs, display_name=display, options=own)


def _parse_sentinel_url(url: str, scheme: str, rest: str, options: frozenset[str]) -> RedisTarget:
    """`[[user]:password@]host[:port][,...]/master[/db][?options]` after a Sentinel scheme."""
    location, _, query_text = rest.partition("?")
    auth, at, hosts_and_path = location.rpartition("@")
    if not at:
        auth, hosts_and_path = "", location
    hosts_text, _, path = hosts_and_path.partition("/")
    master, _, db_text = path.partition("/")
    sentinels = []
    for part in hosts_text.split(","):
        host, colon, port_text = part.strip().rpartition(":") if ":" in part else (part.strip(), "", "")
        if not host or (colon and not (port_text.isdigit() and 0 < int(port_text) < 65536)):
            raise InvalidInput(f"Sentinel URL: expected host[:port], got {part!r} in {scheme}://...")
        sentinels.append((host, int(port_text) if colon else SENTINEL_PORT))
    if not master:
        raise InvalidInput(f"Sentinel URL needs the master's name after the hosts: {scheme}://HOSTS/MASTER")
    db_text = db_text.strip("/")
    if db_text and not db_text.isdigit():
        raise InvalidInput(f"Sentinel URL: database must be a number, not {db_text!r}")
    allowed = options | COMMON_OPTIONS | SENTINEL_OPTIONS
    own: dict[str, str] = {}
    for name, value in parse_qsl(query_text, keep_blank_values=True):
        if name not in allowed:
            raise InvalidInput(f"unknown option {name!r} in Redis URL (accepted: {', '.join(sorted(allowed))})")
        if name in own:
            raise InvalidInput(f"option {name!r} given twice in Redis URL")
        own[name] = value
    if "db" in own:
        if db_text:
            raise InvalidInput("Sentinel URL: give the database in the path or as db=, not both")
        db_text = own.pop("db")
        if not db_text.isdigit():
            raise InvalidInput(f"option 'db' in Redis URL must be a number, not {db_text!r}")
    timeout = _timeout(own.pop("timeout", "10"))
    username, _, password = auth.partition(":") if ":" in auth else ("", "", auth)
    tls = scheme.startswith(("rediss+", "rq+rediss+"))
    socket = {"socket_timeout": timeout, "socket_connect_timeout": min(timeout, 5.0), "ssl": tls,
              **_tls_options(own.pop("ssl_ca_certs", None), tls=tls)}
    sentinel_kwargs: dict[str, object] = dict(socket)
    if own.get("sentinel_password"):
        sentinel_kwargs["password"] = unquote(own.pop("sentinel_password"))
    if own.get("sentinel_username"):
        sentinel_kwargs["username"] = unquote(own.pop("sentinel_username"))
    own.pop("sentinel_password", None)
    own.pop("sentinel_username", None)
    kwargs: dict[str, object] = {**socket, "db": int(db_text or 0)}
    if password:
        kwargs["password"] = unquote(password)
    if username:
        kwargs["username"] = unquote(username)
    hosts = ",".join(f"{h}:{p}" for h, p in sentinels)
    spec = SentinelSpec(tuple(sentinels), unquote(master), sentinel_kwargs)
    display = f"{scheme}://{hosts}/{unquote(master)}/{kwargs['db']}"
    return RedisTarget(connection_kwargs=kwargs, display_name=display, options=own, sentinel=spec)


def _tls_options(ca_file: str | None, *, tls: bool) -> dict[str, str]:
    """The connection arguments of option `ssl_ca_certs`, checked: a TLS URL and a readable file."""
    if ca_file is None:
        return {}
    if not tls:
        raise InvalidInput("option 'ssl_ca_certs' in Redis URL needs a TLS URL (rediss://, rediss+sentinel://)")
    if not os.path.isfile(ca_file) or not os.access(ca_file, os.R_OK):
        raise InvalidInput(f"option 'ssl_ca_certs' in Redis URL: cannot read the file {ca_file!r}")
    return {"ssl_ca_certs": ca_file}


def _timeout(text: str) -> float:
    try:
        timeout = float(text)
    except ValueError:
        raise InvalidInput("option 'timeout' in Redis URL must be a number of seconds") from None
    if not 0 < timeout <= 3600:
        raise InvalidInput("option 'timeout' in Redis URL must be between 0 and 3600 seconds")
    return timeout


def connect(target: RedisTarget) -> redis.Redis:
    """A redis-py client for `target` that never retries on its own (see module doc)."""
    common = {"client_name": "qtui", "retry": Retry(NoBackoff(), 0), "health_check_interval": 0}
    if target.sentinel is not None:
        spec = target.sentinel
        sentinel = Sentinel(list(spec.sentinels), sentinel_kwargs=dict(spec.sentinel_kwargs))
        return sentinel.master_for(spec.master, **target.connection_kwargs, **common)
    pool = redis.ConnectionPool(**target.connection_kwargs, **common)
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
    except MasterNotFoundError as exc:
        raise BackendUnavailable(f"{where}: {_no_master(str(exc))}") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BackendUnavailable(f"{where}: cannot reach the Redis server ({exc})") from None
    except redis.ResponseError as exc:
        raise BackendError(f"{where}: the Redis server refused the command: {exc}") from None
    except redis.RedisError as exc:
        raise BackendError(f"{where}: Redis error: {exc}") from None


# What each Sentinel answered, after the client's repr in MasterNotFoundError's text.
_SENTINEL_ANSWER = re.compile(r"\)>\)> - (.+?)(?=, <redis\.|$)")
# Parts of an answer that differ between Sentinels failing alike: redis-py's error category
# ("auth:", "network:") and the address it was connecting to.
_ANSWER_NOISE = re.compile(r"^[a-z_]+:(?=[A-Za-z]*Error)|Error \d+ connecting to \S+?\. ")


def _no_master(text: str) -> str:
    """MasterNotFoundError's text without the clients' internals: the service and the answers,
    each kind of failure once."""
    service, _, errors = text.partition(" : ")
    answers = sorted({_ANSWER_NOISE.sub("", answer)[:200] for answer in _SENTINEL_ANSWER.findall(errors)})
    hint = ""
    if any("Authentication" in answer for answer in answers):
        hint = " (check the URL's sentinel_password)"
    elif any("ConnectionError" in answer for answer in answers):
        hint = " (check the Sentinels' hosts and ports and, with TLS, that ssl_ca_certs names their CA)"
    found = service.removeprefix("No master found for ")
    return f"no Sentinel named a master for {found}" + (f": {'; '.join(answers)}{hint}" if answers else "")


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
    """A Backend talking to one Redis server through one redis-py client.

    Its operation journal lives under `<journal_namespace>:op:<id>` (see
    qtui.backends.journal); the layouts supply the chunks.
    """

    #: Redis's own limit on a string (proto-max-bulk-len, 512 MiB by default).
    max_payload_bytes = 512 * 2**20

    def __init__(self, target: RedisTarget, journal_namespace: str, *, clock: WallClock, read_only: bool = False) -> None:
        super().__init__(clock=clock, read_only=read_only)
        self.display_name = target.display_name
        self.redis = connect(target)
        self.journal = RedisJournal(self.redis, journal_namespace, clock)

    def close(self) -> None:
        self.redis.close()

    def server(self) -> str | None:
        """The master's address behind Sentinels, once known; None for a fixed server."""
        address = getattr(self.redis.connection_pool, "master_address", None)
        return f"{address[0]}:{address[1]}" if address else None

    def run_operation(self, operation: Operation, **kwargs: Any) -> Operation:
        with redis_errors(self.display_name):
            return super().run_operation(operation, **kwargs)

    @mapped_errors
    def _begin(self, operation: Operation) -> Operation:
        self.journal.create(operation)
        return operation

    @mapped_errors
    def _journal_list(self) -> list[Operation]:
        return self.journal.list()

    @mapped_errors
    def _journal_load(self, op_id: str) -> Operation | None:
        return self.journal.load(op_id)

    @mapped_errors
    def _take_over(self, operation: Operation) -> Operation:
        return self.journal.take_over(operation)

    @mapped_errors
    def _forget(self, op_id: str) -> bool:
        return self.journal.remove(op_id)

    def _journaled_call(
        self, script: Any, operation: Operation | None, index: int, position: int, keys: list, args: list
    ) -> Any:
        """Run a chunk script (made with JOURNAL_LUA) journaling it at `index.position` for `operation`."""
        journal = self.journal.args(operation, index, position)
        try:
            return script(keys=[*keys, *journal.keys], args=[*args, journal.spec])
        except redis.ResponseError as exc:
            if is_operation_gone(exc) and operation is not None:
                raise OperationGone(f"operation {operation.id} is no longer in the journal") from None
            raise


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

