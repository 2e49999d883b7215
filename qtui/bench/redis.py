"""Benchmark of the Redis backends: `python -m qtui.bench redis [--jobs N --queues Q]`.

Starts its own redis-server on loopback (no persistence), loads jobs in the RQ
layout and in the go-redis-work-queue layout, and times qtui's operations next to
RQ's own tools on the same data. Also home of LocalRedisServer, the throwaway
server the benchmark and the test suite run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


class LocalRedisServer:
    """A redis-server on 127.0.0.1 with its files in `directory` and no persistence."""

    def __init__(self, directory: Path, *, port: int | None = None, executable: str = "redis-server") -> None:
        self.directory = directory
        self.port = port or free_port()
        self.executable = shutil.which(executable) or executable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    def url(self, db: int = 0, scheme: str = "redis") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start the server and wait until it answers PING (raises RuntimeError if it does not)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            self.executable,
            "--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
            "--logfile", str(self.directory / "redis.log"), "--loglevel", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on port {self.port}: {log}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM; no data is saved) and wait for it to exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
