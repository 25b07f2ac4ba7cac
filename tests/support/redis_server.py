"""A private redis-server on 127.0.0.1, never the shared one: its own port, no persistence,
killed and restarted by whoever started it (outage tests, scripts/cluster.py)."""

import shutil
import subprocess
import time
from pathlib import Path
from typing import IO

import redis

from tests.support.net import free_port


class RedisServer:
    def __init__(self, work: Path, port: int | None = None, log: Path | None = None) -> None:
        self.work = work
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._log_file: IO[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("redis-server")

    def start(self, timeout: float = 20.0) -> "RedisServer":
        """Start it (again, on the same port) and return once it answers PING."""
        binary = self.binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        if self.log is not None and self._log_file is None:
            self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.work)],
            stdout=self._log_file or subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout}s")

    def stop(self) -> None:
        """Kill it at once, as an outage would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
