"""What every benchmark phase stands on: the work directory and the server under test.

Bench mints session cookies and builds the production environment for a database and
loads one (migrations, then bench/load.py); Server is gunicorn -k gevent -w 1 on a free
127.0.0.1 port with the server-side time of each request in its access log; log and pct
are the harness's output and percentiles.
"""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import create_engine, text

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

BUDGETS = {
    "chat_rtt_p99_ms": ("<=", 25),
    "chat_overhead_ratio_p50": ("<=", 4),
    "chat_throughput_msgs_per_s": (">=", 800),
    "idle_sockets_per_process": (">=", 5000),
    "kb_per_idle_socket": ("<=", 100),
    "dashboard_p95_ms": ("<=", 50),
    "list_growth_ratio": ("<=", 1.5),
    "emails_per_s": (">=", 100),
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Bench:
    def __init__(self, workdir: Path, secret: str) -> None:
        self.workdir = workdir
        self.secret = secret
        signer = Flask("bench-cookies")
        signer.secret_key = secret
        self.serializer = signer.session_interface.get_signing_serializer(signer)

    def cookie(self, user_id: int, version: int = 1) -> str:
        value = self.serializer.dumps({"_user_id": f"{user_id}:{version}", "_fresh": True})
        return f"session={value}"

    def env(self, database_url: str, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CCR_ENV="production",
            SECRET_KEY=self.secret,
            DATABASE_URL=database_url,
            CCR_INSTANCE_PATH=str(self.workdir / "instance"),
            CCR_OUTBOX_DISPATCHER="external",  # production runs `flask ccr worker` apart
            CCR_MAIL_TRANSPORT="smtp",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT="9",
            FLASK_APP="app.py",
            PYTHONUNBUFFERED="1",
        )
        env.pop("REDIS_URL", None)
        env.update(extra)
        return env

    def prepare(self, database_url: str, tickets: int) -> None:
        """Fresh schema through the migrations, then the bulk loader."""
        if database_url.startswith("postgresql"):
            engine = create_engine(database_url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        env = self.env(database_url)
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
            capture_output=True, timeout=300,
        )  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-m", "bench.load", "--tickets", str(tickets)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        log(f"loaded {tickets:,} tickets in {time.perf_counter() - started:.0f} s: "
            f"{out.stdout.strip().splitlines()[-1]}")  # fmt: skip


class Server:
    """gunicorn -k gevent -w 1 on a free port; access log with the server-side time (%(D)s)."""

    def __init__(self, bench: Bench, app: str, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = bench.workdir / f"access-{name}-{self.port}.log"
        self.error_log = bench.workdir / f"error-{name}-{self.port}.log"
        env = dict(env, CCR_BASE_URL=self.url)
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"), "-k", "gevent", "-w", "1",
                "-b", f"127.0.0.1:{self.port}",
                # gunicorn's default (1000) would cap a gevent worker below the socket budget.
                "--worker-connections", "20000",
                "--access-logfile", str(self.access_log),
                "--access-logformat", "%(U)s?%(q)s %(s)s %(D)s",
                "--error-logfile", str(self.error_log),
                app,
            ],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.error_log.open("ab"),
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.error_log}")
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: see {self.error_log}")

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return int(children.split()[0])

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.worker_pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker so far (a noise-resistant cost measure)."""
        fields = Path(f"/proc/{self.worker_pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until the worker has drained its backlog (under 5% CPU for a second)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(1.0)
            if self.cpu_seconds() - before < 0.05:
                return

    def access_times_ms(self) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {}
        for line in self.access_log.read_text().splitlines():
            if line.startswith("{"):  # the production config logs JSON: the format is inside
                line = json.loads(line).get("message", "")
            parts = line.split()
            if len(parts) == 3 and parts[1] == "200":
                times.setdefault(parts[0].rstrip("?"), []).append(int(parts[2]) / 1000)
        return times

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@contextmanager
def serving(bench: Bench, app: str, env: dict[str, str], name: str):
    server = Server(bench, app, env, name)
    try:
        yield server
    finally:
        server.stop()
