"""gunicorn with gunicorn.conf.py serves the production config under the gevent worker."""

import json
import os
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.net import free_port
from tests.support.pg import scratch_database
from tests.support.services import PG_URL

# settings of the developer's shell must not leak into the server under test
APP_VARIABLES = ("CCR_", "MAIL_", "GUNICORN_", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FLASK_")
ROOT = Path(__file__).resolve().parents[2]
SECRET = "gunicorn-test-secret-" + "s" * 32


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(APP_VARIABLES)}
    env.update(
        FLASK_APP="app.py",
        CCR_ENV="production",
        SECRET_KEY=SECRET,
        SESSION_COOKIE_SECURE="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
        CCR_INSTANCE_PATH=str(tmp_path / "instance"),
        # gunicorn's control socket would land under these: the test checks none appears
        HOME=str(tmp_path / "home"),
        XDG_RUNTIME_DIR=str(tmp_path / "run"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _wait_for_text(path: Path, needle: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(errors="replace")
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


class Gunicorn:
    """gunicorn -c gunicorn.conf.py app:app on a free 127.0.0.1 port, on a migrated SQLite file."""

    def __init__(self, tmp_path: Path, database_url: str | None = None, **env: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url or f"sqlite:///{tmp_path / 'prod.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "gunicorn.log"
        self.extra = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        (self.tmp_path / "home").mkdir(exist_ok=True)
        (self.tmp_path / "run").mkdir(exist_ok=True)
        migrate = subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=ROOT,
            env=_env(self.tmp_path, DATABASE_URL=self.database_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        env = _env(
            self.tmp_path,
            PORT=str(self.port),
            CCR_BIND_HOST="127.0.0.1",
            CCR_BASE_URL=self.url,
            DATABASE_URL=self.database_url,
            **self.extra,
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.log()[-3000:]}")
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return self
            except requests.RequestException:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"gunicorn did not answer: {self.log()[-3000:]}")
                time.sleep(0.2)

    def stop(self) -> int | None:
        """SIGTERM (graceful), then SIGKILL if it hangs; returns the exit code."""
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(45)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory):
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn"))
    try:
        server.start()
        yield server.url, server.log_path, server.tmp_path
    finally:
        server.stop()


@pytest.mark.live
def test_gunicorn_serves_production_config_with_gevent_worker(gunicorn_server):
    url, log_path, tmp_path = gunicorn_server
    response = requests.get(url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    ready = requests.get(url + "/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    metrics = requests.get(url + "/metrics", timeout=5)
    assert metrics.status_code == 200
    assert (
        'ccr_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in metrics.text
    )
    # the production config is in force: HSTS is only sent with secure cookies
    assert "Strict-Transport-Security" in response.headers
    # the access line is written after the response: wait for it (bounded)
    request_id = response.headers["X-Request-ID"]
    log = _wait_for_text(log_path, request_id)
    access = [e for e in _json_lines(log) if e.get("request_id") == request_id]
    assert len(access) == 1, log[-3000:]
    assert access[0]["logger"] == "gunicorn.access"
    assert (access[0]["method"], access[0]["path"], access[0]["status"]) == ("GET", "/healthz", 200)
    assert "Using worker: gevent" in log
    assert "in-process outbox dispatcher started" in log
    # production logs are JSON lines, the app's and the worker's gunicorn lines alike
    entries = _json_lines(log)
    assert {"logger": "ccr.notify.email", "message": "outbox dispatcher started"}.items() <= next(
        e for e in entries if e["logger"] == "ccr.notify.email"
    ).items()
    assert any(e["logger"] == "gunicorn.error" for e in entries)
    assert not list((tmp_path / "home").rglob("*.ctl"))
    assert not list((tmp_path / "run").rglob("*.ctl"))


def _wal_frames(db_path: Path) -> tuple[int, int]:
    """(frames in the write-ahead log, frames already copied into the database), read from
    the WAL index (-shm) header: mxFrame at byte 16, nBackfill at byte 96, native order."""
    header = (db_path.parent / (db_path.name + "-shm")).read_bytes()[:100]
    return struct.unpack_from("=I", header, 16)[0], struct.unpack_from("=I", header, 96)[0]


@pytest.mark.live
def test_the_gevent_worker_checkpoints_sqlite_in_the_background(gunicorn_server):
    """Commits never pay for a checkpoint: the worker turns them off and checkpoints apart."""
    url, log_path, tmp_path = gunicorn_server
    assert "SQLite WAL checkpoints run in the background" in log_path.read_text()
    db_path = tmp_path / "prod.db"
    writer = sqlite3.connect(db_path)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")  # this writer never checkpoints itself
        with writer:
            writer.executemany(
                "INSERT INTO categories (name, retired, created_at) VALUES (?, 0, ?)",
                [(f"WAL check {i}", "2026-11-22 00:00:00") for i in range(300)],
            )
        deadline = time.monotonic() + 15
        while True:
            logged, copied = _wal_frames(db_path)
            if (logged and copied == logged) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert logged > 0 and copied == logged, (logged, copied)
    finally:
        writer.close()


@pytest.mark.live
def test_socketio_handshake_works_under_gevent(gunicorn_server):
    url, _, _ = gunicorn_server
    response = requests.get(
        url + "/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=5
    )
    assert response.status_code == 200
    assert response.text.startswith("0{") and '"sid"' in response.text


@pytest.mark.live
def test_websocket_upgrade_works_under_gevent_with_simple_websocket(gunicorn_server):
    """No gevent-websocket: the gevent worker upgrades through simple-websocket."""
    import websocket

    url, _, _ = gunicorn_server
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    conn = websocket.create_connection(ws_url, timeout=10, origin=url)
    try:
        opened = conn.recv()
        assert opened.startswith("0{") and '"sid"' in opened
        # a Socket.IO CONNECT without a login: the app answers CONNECT_ERROR over the socket
        conn.send("40")
        answer = conn.recv()
        assert answer.startswith("44") and "authentication required" in answer
    finally:
        conn.close()


@pytest.mark.live
def test_threading_mode_uses_the_threaded_worker_and_stops_cleanly(tmp_path):
    """Db2 deployments: CCR_ASYNC_MODE=threading switches gunicorn to gthread (no gevent)."""
    import websocket

    server = Gunicorn(tmp_path, CCR_ASYNC_MODE="threading", CCR_OUTBOX_DISPATCHER="external")
    try:
        server.start()
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        ws_url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        conn = websocket.create_connection(ws_url, timeout=10, origin=server.url)
        try:
            assert conn.recv().startswith("0{")
        finally:
            conn.close()
    finally:
        code = server.stop()
    log = server.log()
    assert "Using worker: gthread" in log
    assert "gevent" not in log.lower()
    assert "in-process outbox dispatcher started" not in log  # external: the worker sends
    assert code == 0, log[-3000:]


@pytest.fixture
def empty_postgres():
    """A fresh PostgreSQL database (CCR_TEST_DATABASE_URL's server), dropped afterwards."""
    if not PG_URL:
        pytest.skip("CCR_TEST_DATABASE_URL is not set: this run needs PostgreSQL")
    with scratch_database(PG_URL, "ccr_gunicorn") as url:
        yield url


@pytest.mark.live
@pytest.mark.postgres
def test_gevent_worker_with_postgresql(tmp_path, empty_postgres):
    """psycopg under gevent's monkey-patching: queries answer, concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    server = Gunicorn(tmp_path, database_url=empty_postgres)
    try:
        server.start()
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda _: requests.get(server.url + "/readyz", timeout=10).status_code,
                    range(24),
                )
            )
        assert codes == [200] * 24
        metrics = requests.get(server.url + "/metrics", timeout=10).text
        assert "ccr_database_up 1.0" in metrics
        assert 'ccr_outbox_emails{status="pending"} 0.0' in metrics
    finally:
        assert server.stop() == 0, server.log()[-3000:]


class _FakeWorker:
    def __init__(self, app):
        import logging

        self.wsgi = app
        self.log = type("Log", (), {"info": logging.getLogger("t").info})()


def test_post_worker_init_refuses_an_async_mode_the_worker_cannot_serve(app, monkeypatch):
    import runpy

    monkeypatch.setenv("CCR_ASYNC_MODE", "recorded")  # so monkeypatch restores the original
    monkeypatch.delenv("CCR_ASYNC_MODE")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gevent"
    assert os.environ["CCR_ASYNC_MODE"] == "gevent"  # the app imported next will agree
    assert app.config["CCR_ASYNC_MODE"] == "threading"  # the test app
    with pytest.raises(RuntimeError, match="needs 'gevent'"):
        conf["post_worker_init"](_FakeWorker(app))
