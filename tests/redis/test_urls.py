"""Redis URL parsing and page cursors (no server needed)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtui.backends import open_backend
from qtui.backends.gowork import GoWorkBackend, parse_layout
from qtui.backends.redis_common import decode_cursor, encode_cursor, parse_redis_url
from qtui.backends.rq import RQBackend, parse_settings
from qtui.model import InvalidInput

GOWORK = frozenset({"prefix", "queues"})


def test_password_never_shown_and_db_from_path():
    target = parse_redis_url("redis://:s3cret@db.example:6380/3", layout_prefix="", options=GOWORK)
    assert target.display_name == "redis://db.example:6380/3"
    assert target.connection_kwargs["password"] == "s3cret"
    assert target.connection_kwargs["db"] == 3


def test_unix_socket_forms():
    for url in ("redis+unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2"):
        target = parse_redis_url(url, layout_prefix="", options=GOWORK)
        assert target.connection_kwargs["path"] == "/run/redis.sock"
        assert target.connection_kwargs["db"] == 2
    rq = parse_redis_url("rq+unix:///run/redis.sock", layout_prefix="rq+", options=frozenset())
    assert rq.display_name == "rq+unix:///run/redis.sock?db=0"


def test_tls_scheme_selects_ssl():
    target = parse_redis_url("rq+rediss://h:1/0", layout_prefix="rq+", options=frozenset())
    assert target.connection_kwargs["connection_class"].__name__ == "SSLConnection"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h/0?colour=red", "unknown option 'colour'"),
        ("redis://h/0?db=x", "'db' in Redis URL must be a number"),
        ("redis://h/zero", "must be a database number"),
        ("redis://h/0?timeout=-1", "between 0 and 3600"),
        ("redis://h/0?prefix=a&prefix=b", "given twice"),
        ("redis+unix://", "needs a socket path"),
    ],
)
def test_bad_urls_name_the_problem(url, message):
    with pytest.raises(InvalidInput, match=message):
        parse_redis_url(url, layout_prefix="", options=GOWORK)


def test_open_backend_dispatches_by_scheme():
    assert isinstance(open_backend("redis://127.0.0.1:1/0", clock=time.time), GoWorkBackend)
    assert isinstance(open_backend("rq+redis://127.0.0.1:1/0", clock=time.time), RQBackend)


def test_layout_options():
    layout = parse_layout({"prefix": "jq", "queues": "a:x,b:y"})
    assert dict(layout.queues) == {"a": "jq:x", "b": "jq:y"}
    assert layout.processing("w") == "jq:worker:w:processing"
    for bad in ({"queues": "a"}, {"queues": "a:x,a:y"}, {"queues": "a:completed"}, {"prefix": "a b"}):
        with pytest.raises(InvalidInput, match="option"):
            parse_layout(bad)
    with pytest.raises(InvalidInput, match="result_ttl"):
        parse_settings({"result_ttl": "soon"})


@given(st.lists(st.integers(min_value=0, max_value=10**17), min_size=1, max_size=4))
def test_cursor_round_trip(numbers):
    assert decode_cursor(encode_cursor(*numbers), len(numbers)) == tuple(numbers)


@given(st.text(max_size=30))
def test_garbage_cursor_is_invalid_input_not_a_crash(text):
    try:
        decode_cursor(text, 2)
    except InvalidInput:
        pass


def test_sentinel_urls_name_sentinels_master_and_db_without_showing_passwords():
    target = parse_redis_url(
        "rq+rediss+sentinel://app:m%40ster@s1,s2:26380/orders/3?sentinel_password=sp&timeout=2",
        layout_prefix="rq+", options=frozenset(),
    )  # fmt: skip
    assert target.display_name == "rq+rediss+sentinel://s1:26379,s2:26380/orders/3"
    spec = target.sentinel
    assert spec is not None and spec.sentinels == (("s1", 26379), ("s2", 26380)) and spec.master == "orders"
    assert spec.sentinel_kwargs["password"] == "sp" and spec.sentinel_kwargs["ssl"] is True
    kwargs = target.connection_kwargs
    assert (kwargs["password"], kwargs["username"], kwargs["db"], kwargs["ssl"]) == ("m@ster", "app", 3, True)
    assert kwargs["socket_timeout"] == 2.0
    plain = parse_redis_url("redis+sentinel://h/m?db=1", layout_prefix="", options=GOWORK)
    assert plain.connection_kwargs["db"] == 1 and plain.connection_kwargs["ssl"] is False
    assert "password" not in plain.sentinel.sentinel_kwargs


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://h1,h2", "needs the master's name"),
        ("redis+sentinel://h1:x/m", "expected host\\[:port\\]"),
        ("redis+sentinel://h/m/zero", "database must be a number"),
        ("redis+sentinel://h/m/1?db=2", "not both"),
        ("redis+sentinel://h/m?colour=red", "unknown option 'colour'"),
    ],
)
def test_bad_sentinel_urls_name_the_problem(url, message):
    with pytest.raises(InvalidInput, match=message):
        parse_redis_url(url, layout_prefix="", options=GOWORK)


def test_open_backend_takes_sentinel_urls_for_both_layouts():
    assert isinstance(open_backend("redis+sentinel://127.0.0.1:1/m", clock=time.time), GoWorkBackend)
    assert isinstance(open_backend("rq+redis+sentinel://127.0.0.1:1/m", clock=time.time), RQBackend)


def test_ssl_ca_certs_names_the_ca_for_tls_urls_and_is_refused_elsewhere(tmp_path):
    ca = tmp_path / "my ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    query = f"ssl_ca_certs={str(ca).replace(' ', '%20')}"
    plain = parse_redis_url(f"rediss://h:1/0?{query}", layout_prefix="", options=GOWORK)
    assert plain.connection_kwargs["ssl_ca_certs"] == str(ca) and "ssl_ca_certs" not in plain.options
    sentinel = parse_redis_url(f"rq+rediss+sentinel://h/m?{query}", layout_prefix="rq+", options=frozenset())
    assert sentinel.connection_kwargs["ssl_ca_certs"] == sentinel.sentinel.sentinel_kwargs["ssl_ca_certs"] == str(ca)
    for url in (f"redis://h:1/0?{query}", f"redis+sentinel://h/m?{query}"):
        with pytest.raises(InvalidInput, match="'ssl_ca_certs' in Redis URL needs a TLS URL"):
            parse_redis_url(url, layout_prefix="", options=GOWORK)
    with pytest.raises(InvalidInput, match="'ssl_ca_certs' in Redis URL: cannot read the file '.*missing.pem'"):
        parse_redis_url(f"rediss://h:1/0?ssl_ca_certs={tmp_path}/missing.pem", layout_prefix="", options=GOWORK)
