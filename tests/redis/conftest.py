"""Real redis-server fixtures for the Redis backend tests.

One server runs for the whole session on a free loopback port (no persistence);
each test gets an emptied server. Tests that kill or restart the server get their
own (`own_redis_server`); failover tests get a master, a replica and three
Sentinels (`sentinel_group`), also with passwords and TLS everywhere
(`secured_sentinel_group`, certificates made by openssl for the session).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import attrs
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


@attrs.frozen
class Secured:
    """Passwords and TLS for a Sentinel group: the master's, the Sentinels', and PEM files."""

    password: str
    sentinel_password: str
    ca: Path
    cert: Path
    key: Path

    def tls_args(self) -> list[str]:
        """Server arguments: certificate and key, clients not asked for certificates."""
        return ["--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key),
                "--tls-ca-cert-file", str(self.ca), "--tls-auth-clients", "no"]  # fmt: skip


class SentinelGroup:
    """A master, one replica and three Sentinels (quorum 2) on loopback, for failover tests.

    With `secured`, every server asks for a password and speaks only TLS to clients,
    replicas and Sentinels (plain ports stay open on the data servers for the test's
    own checks); the ports the Sentinels report are the TLS ones.
    """

    MASTER = "qtuimaster"

    def __init__(self, directory: Path, executable: str, secured: Secured | None = None) -> None:
        self.directory = directory
        self.executable = executable
        self.secured = secured
        master_tls, replica_tls = (free_port(), free_port()) if secured else (None, None)
        self.master = LocalRedisServer(directory / "master", executable=executable, persistent=True,
                                       extra=self._server_args(master_tls),
                                       password=secured and secured.password)  # fmt: skip
        self.replica = LocalRedisServer(
            directory / "replica", executable=executable, persistent=True,
            extra=[*self._server_args(replica_tls), "--replicaof", "127.0.0.1", str(master_tls or self.master.port)],
            password=secured and secured.password,
        )  # fmt: skip
        #: The ports clients reach each data server on (its TLS port when secured).
        self.master_port_for_clients = master_tls or self.master.port
        self.replica_port_for_clients = replica_tls or self.replica.port
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.sentinel_ports = [free_port() for _ in range(3)]

    def _server_args(self, tls_port: int | None) -> list[str]:
        if self.secured is None or tls_port is None:
            return []
        secured = self.secured
        return ["--tls-port", str(tls_port), *secured.tls_args(), "--tls-replication", "yes",
                "--requirepass", secured.password, "--masterauth", secured.password]  # fmt: skip

    def url(self, scheme: str | None = None) -> str:
        """The group's Sentinel URL (`rediss+sentinel://` with passwords when secured)."""
        scheme = scheme or ("rediss+sentinel" if self.secured else "redis+sentinel")
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        if self.secured is None:
            return f"{scheme}://{hosts}/{self.MASTER}/0"
        secured = self.secured
        query = urlencode({"sentinel_password": secured.sentinel_password, "ssl_ca_certs": secured.ca})
        return f"{scheme}://:{quote(secured.password, safe='')}@{hosts}/{self.MASTER}/0?{query}"

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        for index, port in enumerate(self.sentinel_ports):
            folder = self.directory / f"sentinel{index}"
            folder.mkdir(parents=True)
            config = folder / "sentinel.conf"
            listen = f"port {port}\n"
            if self.secured is not None:
                secured = self.secured
                args = secured.tls_args()
                listen = (
                    f"port 0\ntls-port {port}\ntls-replication yes\n"
                    + "".join(f"{args[i][2:]} {args[i + 1]}\n" for i in range(0, len(args), 2))
                    + f"requirepass {secured.sentinel_password}\n"
                    f"sentinel sentinel-pass {secured.sentinel_password}\n"
                )  # fmt: skip
            auth = f"sentinel auth-pass {self.MASTER} {self.secured.password}\n" if self.secured else ""
            config.write_text(
                f"{listen}bind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
                f"sentinel monitor {self.MASTER} 127.0.0.1 {self.master_port_for_clients} 2\n{auth}"
                f"sentinel down-after-milliseconds {self.MASTER} 1000\n"
                f"sentinel failover-timeout {self.MASTER} 10000\n"
                f"sentinel parallel-syncs {self.MASTER} 1\n"
            )
            self.sentinels.append(subprocess.Popen([self.executable, str(config), "--sentinel"],
                                                   stdin=subprocess.DEVNULL))  # fmt: skip
        self.wait_for(self._sentinels_see_the_replica, "the Sentinels to see the master and its replica")

    def sentinel_client(self, port: int) -> redis.Redis:
        """A client of the Sentinel on `port` (the caller closes it)."""
        if self.secured is None:
            return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2, ssl=True,
                           ssl_ca_certs=str(self.secured.ca), password=self.secured.sentinel_password)  # fmt: skip

    def _sentinels_see_the_replica(self) -> bool:
        for port in self.sentinel_ports:
            with self.sentinel_client(port) as sentinel:
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
        with self.sentinel_client(self.sentinel_ports[0]) as sentinel:
            address = sentinel.sentinel_get_master_addr_by_name(self.MASTER)
        return int(address[1]) if address else None

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def __enter__(self) -> SentinelGroup:
        """Start the group; leaving the block stops it, also when the start failed half-way."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        for process in self.sentinels:
            process.kill()
            process.wait()
        self.replica.stop()
        self.master.stop()


@pytest.fixture
def sentinel_group(redis_server_binary: str, tmp_path: Path) -> Iterator[SentinelGroup]:
    with SentinelGroup(tmp_path / "sentinel-group", redis_server_binary) as group:
        yield group


@pytest.fixture(scope="session")
def tls_files(system_tool: Callable[[str, str], str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for 127.0.0.1 signed by it, server key), made by openssl."""
    openssl = system_tool("openssl", "openssl")
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca, key, request, cert = (folder / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    run = functools.partial(subprocess.run, check=True, capture_output=True)
    run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=qtui test CA"])  # fmt: skip
    run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"])
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    run([openssl, "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", extensions])  # fmt: skip
    return ca, cert, key


def _secured_group(executable: str, folder: Path, tls_files: tuple[Path, Path, Path]) -> SentinelGroup:
    ca, cert, key = tls_files
    secured = Secured(password="m@ster-pw", sentinel_password="sentinel-pw", ca=ca, cert=cert, key=key)
    return SentinelGroup(folder, executable, secured)


@pytest.fixture
def secured_sentinel_group(
    redis_server_binary: str, tmp_path: Path, tls_files: tuple[Path, Path, Path]
) -> Iterator[SentinelGroup]:
    """A Sentinel group with passwords and TLS, of this test's own (it may kill the master)."""
    with _secured_group(redis_server_binary, tmp_path / "sentinel-group", tls_files) as group:
        yield group


@pytest.fixture(scope="module")
def shared_secured_sentinel_group(
    redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Path, Path, Path]
) -> Iterator[SentinelGroup]:
    """A Sentinel group with passwords and TLS for the module's tests that leave its servers running."""
    with _secured_group(redis_server_binary, tmp_path_factory.mktemp("sentinel-group"), tls_files) as group:
        yield group
