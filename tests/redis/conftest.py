"""Real redis-server fixtures for the Redis backend tests.

One server runs for the whole session on a free loopback port (no persistence);
each test gets an emptied server. Tests that kill or restart the server get their
own (`own_redis_server`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from qtui.bench.redis import LocalRedisServer

TESTS_DIR = Path(__file__).resolve().parent
# The helper modules here (gowork_sim, rq_jobs) are imported by name, by the tests
# and by RQ worker subprocesses (which get this folder on PYTHONPATH).
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture(scope="session")
def redis_server_binary(system_tool: Callable[[str, str], str]) -> str:
    return system_tool("redis-server", "redis-server")


@pytest.fixture(scope="session")
def redis_server(redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisServer]:
    server = LocalRedisServer(tmp_path_factory.mktemp("redis"), executable=redis_server_binary)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(redis_server_binary: str, tmp_path: Path) -> Iterator[LocalRedisServer]:
    """A server of this test's own, which it may stop and start again."""
    server = LocalRedisServer(tmp_path / "own-redis", executable=redis_server_binary)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rdb(redis_server: LocalRedisServer) -> Iterator[redis.Redis]:
    """A raw client on db 0 of the session server, emptied before the test."""
    client = redis.Redis(host="127.0.0.1", port=redis_server.port)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def redis_url(redis_server: LocalRedisServer, rdb: redis.Redis) -> str:
    return redis_server.url()
