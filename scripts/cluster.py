"""The production topology on one machine, on loopback: nginx (sticky by cookie, websocket
upgrade) in front of three gunicorn processes with the gevent worker, a private Redis as the
Socket.IO message queue, PostgreSQL, and `flask ccr worker` sending the outbox.

    python -m scripts.cluster            # `make cluster`: runs until Ctrl-C
Tests use the Cluster class and stop everything they start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.support.net import free_port, wait_port
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def wait_http(url: str, timeout: float) -> None:
    """The master listens before its worker has imported the app: wait for a real answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


NGINX_CONF = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log {work}/nginx-access.log;
  client_body_temp_path {work}/client_body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
  # Sticky sessions by cookie: a new visitor gets a random route key, kept in ccr_route.
  map $cookie_ccr_route $route_key {{ "" $request_id; default $cookie_ccr_route; }}
  map $cookie_ccr_route $route_cookie {{
    "" "ccr_route=$request_id; Path=/; HttpOnly; SameSite=Lax";
    default "";
  }}
  upstream ccr {{
    hash $route_key consistent;
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://ccr;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
      add_header Set-Cookie $route_cookie;
      add_header X-Upstream $upstream_addr;
    }}
  }}
}}
"""


class Cluster:
    def __init__(
        self,
        database_url: str,
        smtp_port: int,
        work: Path | None = None,
        processes: int = 3,
        python: str = sys.executable,
    ):
        self.database_url = database_url
        self.smtp_port = smtp_port
        self.work = Path(work or tempfile.mkdtemp(prefix="ccr-cluster-"))
        self.python = python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis = RedisServer(self.work, log=self.work / "redis.log")
        self.app_ports = [free_port() for _ in range(processes)]
        self.apps: dict[int, subprocess.Popen] = {}
        self.worker: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None

    # -- environment -----------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CCR_", "MAIL_"))}
        env.update(
            FLASK_APP="app.py",
            CCR_ENV="development",
            CCR_ASYNC_MODE="gevent",
            CCR_INSTANCE_PATH=str(self.work / "instance"),
            CCR_BASE_URL=self.url,
            CCR_PROXY_COUNT="1",
            CCR_OUTBOX_DISPATCHER="external",
            CCR_OUTBOX_POLL_SECONDS="0.5",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            SECRET_KEY="cluster-secret-" + "k" * 32,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(self.smtp_port),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def _log(self, name: str):
        return open(self.work / f"{name}.log", "ab")

    # -- pieces ----------------------------------------------------------------------
    def migrate(self) -> None:
        subprocess.run(
            [self.python, "-m", "flask", "db", "upgrade"],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start_app(self, port: int) -> None:
        cmd = [
            self.python,
            "-m",
            "gunicorn",
            "-k",
            "gevent",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "--no-control-socket",
        ]
        conf = ROOT / "gunicorn.conf.py"
        if conf.exists():
            cmd += ["-c", str(conf)]
        self.apps[port] = subprocess.Popen(
            [*cmd, "app:app"],
            cwd=ROOT,
            env=self.env(PORT=str(port)),
            stdout=self._log(f"app-{port}"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the worker dies with the master
        )
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)

    def kill_app(self, port: int) -> None:
        proc = self.apps.pop(port)
        _kill_group(proc)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [self.python, "-m", "flask", "ccr", "worker"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log("worker"),
            stderr=subprocess.STDOUT,
        )

    def start_nginx(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(binary):
            raise RuntimeError("nginx is needed for the cluster (apt-get install nginx)")
        servers = "\n".join(
            f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in self.app_ports
        )
        conf = self.work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=self.work, servers=servers, port=self.port))
        self.nginx = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(self.work), "-g", "daemon off;"],
            stdout=self._log("nginx"),
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port)

    # -- whole -----------------------------------------------------------------------
    def start(self) -> Cluster:
        (self.work / "instance").mkdir(parents=True, exist_ok=True)
        try:
            self.migrate()
            self.redis.start()
            for port in self.app_ports:
                self.start_app(port)
            self.start_worker()
            self.start_nginx()
            wait_http(self.url + "/readyz", 30)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in [self.nginx, self.worker, *self.apps.values()]:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [self.nginx, self.worker, *self.apps.values()]:
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for proc in self.apps.values():
            _kill_group(proc)
        self.apps.clear()
        self.nginx = self.worker = None
        self.redis.stop()

    def upstream_for(self, route: str) -> str:
        """Which app process a ccr_route cookie sticks to (nginx reports it)."""
        r = requests.get(self.url + "/healthz", cookies={"ccr_route": route}, timeout=5)
        return r.headers.get("X-Upstream", "")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill a gunicorn master and its worker (the master's child, in its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def main() -> None:
    smtp = int(os.environ.get("MAIL_PORT", "1025"))
    cluster = Cluster(
        os.environ.get("DATABASE_URL", DEFAULT_DB), smtp, work=ROOT / "instance" / "cluster"
    )
    cluster.start()
    subprocess.run(
        [sys.executable, "-m", "flask", "ccr", "seed-demo"], cwd=ROOT, env=cluster.env(), check=True
    )
    print(
        f"\n  Cluster up: nginx on {cluster.url} -> gunicorn on ports "
        f"{', '.join(map(str, cluster.app_ports))}; Redis on {cluster.redis.port}; logs in "
        f"{cluster.work}. Emails go to SMTP 127.0.0.1:{smtp}. Ctrl-C stops everything.\n"
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
