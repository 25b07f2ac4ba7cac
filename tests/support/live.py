"""The real app in a subprocess on a free 127.0.0.1 port (browser, origin, multi-process tests):
LiveServer and the live_server fixture; output_dir for what browser tests save."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    def __init__(
        self, database_url: str, instance_path: Path, env: dict[str, str | None] | None = None
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.instance_path = instance_path
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = instance_path / f"server-{self.port}.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CCR_", "MAIL_"))}
        env.update(
            CCR_ENV="development",
            CCR_HOST="127.0.0.1",
            CCR_PORT=str(self.port),
            CCR_BASE_URL=self.url,
            CCR_INSTANCE_PATH=str(self.instance_path),
            DATABASE_URL=self.database_url,
            SECRET_KEY="live-server-test-secret-" + "x" * 16,
            CCR_OUTBOX_POLL_SECONDS="0.5",
            PYTHONUNBUFFERED="1",
        )
        for key, value in self.extra_env.items():  # None: the variable is not set at all
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(self, timeout: float = 30.0) -> "LiveServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=self.env(), stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"live server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"live server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def live_server(app, database_url, tmp_path, smtp_sink):
    """The real app (python app.py, threading mode) on a free port, sharing the test database.

    Call live_server() to start one; extra environment variables can be passed (None
    leaves one unset).
    """
    servers = []

    def start(**env: str | None) -> LiveServer:
        env.setdefault("MAIL_PORT", str(smtp_sink.port))
        env.setdefault("MAIL_SERVER", "127.0.0.1")
        server = LiveServer(database_url, tmp_path / f"live{len(servers)}", env)
        server.instance_path.mkdir(parents=True, exist_ok=True)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    path = ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path
