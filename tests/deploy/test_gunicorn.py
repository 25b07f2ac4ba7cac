"""gunicorn with gunicorn.conf.py serves the production config under the gevent worker."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "gunicorn-test-secret-" + "s" * 32


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCR_", "MAIL_", "GUNICORN"))}
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


def _wait_for_text(path: Path, needle: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(errors="replace")
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    (tmp_path / "home").mkdir()
    (tmp_path / "run").mkdir()
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = _env(
        tmp_path, PORT=str(port), CCR_BIND_HOST="127.0.0.1", CCR_BASE_URL=f"http://127.0.0.1:{port}"
    )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {log_path.read_text()[-3000:]}")
            try:
                requests.get(url + "/healthz", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not answer: {log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield url, log_path, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(45)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


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
    access = f"request_id={response.headers['X-Request-ID']}"
    log = _wait_for_text(log_path, access)
    assert access in log
    assert "Using worker: gevent" in log
    assert "in-process outbox dispatcher started" in log
    # production logs are JSON lines; the access log line carries the request id
    app_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert {"logger": "ccr.notify.email", "message": "outbox dispatcher started"}.items() <= next(
        e for e in app_lines if e["logger"] == "ccr.notify.email"
    ).items()
    assert not list((tmp_path / "home").rglob("*.ctl"))
    assert not list((tmp_path / "run").rglob("*.ctl"))


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
