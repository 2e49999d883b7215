"""Real redis-server fixtures for the Redis backend tests.

One server runs for the whole session on a free loopback port (no persistence);
each test gets an emptied server. Tests that kill or restart the server get their
own (`own_redis_server`); failover tests get a master, a replica and three
Sentinels (`sentinel_group`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from qtui.bench.redis import LocalRedisServer, free_port

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


class SentinelGroup:
    """A master, one replica and three Sentinels (quorum 2) on loopback, for failover tests."""

    MASTER = "qtuimaster"

    def __init__(self, directory: Path, executable: str) -> None:
        self.directory = directory
        self.executable = executable
        self.master = LocalRedisServer(directory / "master", executable=executable, persistent=True)
        self.replica = LocalRedisServer(
            directory / "replica", executable=executable, persistent=True,
            extra=["--replicaof", "127.0.0.1", str(self.master.port)],
        )  # fmt: skip
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.sentinel_ports = [free_port() for _ in range(3)]

    def url(self, scheme: str = "redis+sentinel") -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"{scheme}://{hosts}/{self.MASTER}/0"

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        for index, port in enumerate(self.sentinel_ports):
            folder = self.directory / f"sentinel{index}"
            folder.mkdir(parents=True)
            config = folder / "sentinel.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
                f"sentinel monitor {self.MASTER} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                f"sentinel failover-timeout {self.MASTER} 10000\n"
                f"sentinel parallel-syncs {self.MASTER} 1\n"
            )
            self.sentinels.append(subprocess.Popen([self.executable, str(config), "--sentinel"],
                                                   stdin=subprocess.DEVNULL))  # fmt: skip
        self.wait_for(self._sentinels_see_the_replica, "the Sentinels to see the master and its replica")

    def _sentinels_see_the_replica(self) -> bool:
        for port in self.sentinel_ports:
            with redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2) as sentinel:
                try:
                    replicas = sentinel.sentinel_slaves(self.MASTER)
                    others = sentinel.sentinel_master(self.MASTER)["num-other-sentinels"]
                except (redis.ConnectionError, redis.ResponseError):
                    return False
                if not replicas or others < 2:
                    return False
        return True

    def master_port(self) -> int | None:
        """The master's port as the first Sentinel reports it now."""
        with redis.Redis(host="127.0.0.1", port=self.sentinel_ports[0]) as sentinel:
            address = sentinel.sentinel_get_master_addr_by_name(self.MASTER)
        return int(address[1]) if address else None

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.sentinels:
            process.kill()
            process.wait()
        self.replica.stop()
        self.master.stop()


@pytest.fixture
def sentinel_group(redis_server_binary: str, tmp_path: Path) -> Iterator[SentinelGroup]:
    group = SentinelGroup(tmp_path / "sentinel-group", redis_server_binary)
    try:
        group.start()
        yield group
    finally:
        group.stop()
