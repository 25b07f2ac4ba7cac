"""The benchmark suite: `make bench [SCALE=N]` or `python -m bench.run --scale N`.

Everything runs on 127.0.0.1 against the production server configuration (CCR_ENV=production,
gunicorn -k gevent -w 1). Prints a table and writes bench/results/latest.json. See
bench/README.md for what each metric means.
"""

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import requests
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.sio import Sock
from tests.support.net import free_port, wait_port
from tests.support.pg import scratch_database

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
CONVERSATIONS = 200
CHAT_SECONDS = 30
STEP_SECONDS = 20
IDLE_TARGET = 5000
IDLE_HOLD = 60
BASE_SCALE = 10_000

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


# -- databases and the server under test ---------------------------------------------------


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


# -- fixtures from the loaded database -------------------------------------------------------


def conversations(database_url: str, count: int) -> list[tuple[int, int, int]]:
    """(ticket id, customer id, agent id) for `count` live tickets with distinct customers."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, customer_id, assignee_id FROM tickets "
                "WHERE status = 'in_progress' AND assignee_id IS NOT NULL ORDER BY id DESC"
            )
        ).all()
    engine.dispose()
    seen: set[int] = set()
    picked = []
    for ticket_id, customer_id, agent_id in rows:
        if customer_id not in seen:
            seen.add(customer_id)
            picked.append((ticket_id, customer_id, agent_id))
            if len(picked) == count:
                return picked
    raise RuntimeError(f"only {len(picked)} conversations available")


def dashboard_users(database_url: str) -> tuple[int, int]:
    """(admin id, the busiest agent's id): the worst case for the agent queue."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        admin = conn.execute(text("SELECT MIN(id) FROM users WHERE role = 'admin'")).scalar()
        agent = conn.execute(
            text(
                "SELECT assignee_id FROM tickets WHERE assignee_id IS NOT NULL "
                "GROUP BY assignee_id ORDER BY COUNT(*) DESC LIMIT 1"
            )
        ).scalar()
    engine.dispose()
    return admin, agent


def count_messages(database_url: str, prefix: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT COUNT(*) FROM messages WHERE client_id LIKE :p"), {"p": prefix + "%"}
        ).scalar()
    engine.dispose()
    return int(n)


# -- metrics ------------------------------------------------------------------------------


GRACE = 15.0  # seconds to wait for the last messages after the sending ends


def rtt_pct(r: dict, p: float) -> float:
    """Percentile over every message sent: one never delivered counts as infinitely late,
    and a percentile that lands on one is reported as the wait, a lower bound."""
    value = pct(r["rtts"] + [float("inf")] * r["lost"], p)
    return round(value if value != float("inf") else GRACE * 1000, 2)


def dashboard_p95(bench: Bench, server: Server, database_url: str, rounds: int = 60) -> dict:
    admin, agent = dashboard_users(database_url)
    urls = [
        ("/admin/", admin),
        ("/admin/?page=200", admin),
        ("/agent/", agent),
        ("/agent/?page=200", agent),
    ]
    http = requests.Session()
    for path, user in urls:
        headers = {"Cookie": bench.cookie(user)}
        for _ in range(5):  # warm-up (caches, first-request work); not counted
            assert http.get(server.url + path, headers=headers, timeout=30).status_code == 200
    before = {k: len(v) for k, v in server.access_times_ms().items()}
    for _ in range(rounds):
        for path, user in urls:
            r = http.get(server.url + path, headers={"Cookie": bench.cookie(user)}, timeout=30)
            assert r.status_code == 200, (path, r.status_code)
    times = server.access_times_ms()
    per_url = {}
    for path, _user in urls:
        key = path
        samples = times.get(key, [])[before.get(key, 0) :]
        per_url[path] = round(pct(samples, 95), 2)
    return {"worst": max(per_url.values()), "per_url": per_url}


async def _open(http, base_url, cookie, sem) -> Sock:
    async with sem:
        sock = Sock(http, base_url, cookie)
        await sock.connect()
        return sock


async def chat_phase(
    base_url: str, convs, cookies: dict[int, str] | None, seconds: int, rate_per_conv: float,
    tag: str, timeout_grace: float = 5.0,
) -> dict:  # fmt: skip
    """Each customer sends `rate_per_conv` msg/s for `seconds`; the agent of the same ticket
    listens. RTT = customer's emit -> agent receives message_created. Ack = emit -> ack."""
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sem = asyncio.Semaphore(50)
        sent_at: dict[str, float] = {}
        rtts: list[float] = []
        acks: list[float] = []
        failures: list[str] = []
        pairs = []
        for ticket_id, customer, agent in convs:
            c = _open(http, base_url, cookies and cookies[customer], sem)
            a = _open(http, base_url, cookies and cookies[agent], sem)
            pairs.append((ticket_id, c, a))
        opened = await asyncio.gather(*(asyncio.gather(c, a) for _t, c, a in pairs))
        socks = [(t, cs, ag) for (t, _c, _a), (cs, ag) in zip(pairs, opened, strict=True)]

        def on_created(payload) -> None:
            t0 = sent_at.pop(payload.get("client_id") or "", None)
            if t0 is not None:
                rtts.append((loop.time() - t0) * 1000)

        for ticket_id, cs, ag in socks:
            ag.on("message_created", on_created)
            for s in (cs, ag):
                reply = await s.emit("join_ticket", {"ticket_id": ticket_id, "after_id": 10**12})
                if not reply or not reply.get("ok"):
                    raise RuntimeError(f"join_ticket refused: {reply}")

        # The harness is the measuring instrument: its own garbage collector must not pause
        # it mid-phase, so the sockets just opened are frozen out of its scans.
        gc.collect()
        gc.freeze()

        async def ack_of(future, t0) -> None:
            try:
                reply = await future
                if reply and reply.get("ok"):
                    acks.append((loop.time() - t0) * 1000)
                else:
                    failures.append(str(reply))
            except Exception as exc:
                failures.append(repr(exc))

        pending: list[asyncio.Task] = []
        interval = 1.0 / rate_per_conv
        count = int(seconds * rate_per_conv)
        start = loop.time() + 0.5

        async def customer(k: int, ticket_id: int, sock: Sock) -> None:
            offset = (k / len(socks)) * interval  # spread the conversations over the interval
            for i in range(count):
                delay = start + offset + i * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                cid = f"{tag}-{k}-{i}"
                t0 = loop.time()
                sent_at[cid] = t0
                body = f"Message {i} from the bench"
                data = {"ticket_id": ticket_id, "body": body, "client_id": cid}
                fut = sock.emit("send_message", data)
                pending.append(loop.create_task(ack_of(fut, t0)))

        await asyncio.gather(*(customer(k, t, cs) for k, (t, cs, _a) in enumerate(socks)))
        elapsed = loop.time() - start
        if pending:
            await asyncio.wait(pending, timeout=timeout_grace)
        await asyncio.sleep(0.5)
        sent = count * len(socks)
        await asyncio.gather(*(s.close() for _t, cs, ag in socks for s in (cs, ag)))
        gc.unfreeze()
    return {
        "sent": sent,
        "send_seconds": elapsed,
        "rtts": rtts,
        "acks": acks,
        "failures": failures,
        "lost": sent - len(rtts),
    }


async def idle_phase(base_url: str, cookies: list[str], server: Server) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sem = asyncio.Semaphore(50)
        warm = await asyncio.gather(*(_open(http, base_url, c, sem) for c in cookies[:20]))
        await asyncio.gather(*(s.close() for s in warm))
        await asyncio.sleep(2)
        rss0 = server.rss_kb()
        socks: list[Sock] = []
        errors: list[str] = []

        async def one(cookie: str) -> None:
            try:
                socks.append(await _open(http, base_url, cookie, sem))
            except Exception as exc:
                errors.append(repr(exc))

        t0 = time.perf_counter()
        await asyncio.gather(*(one(c) for c in cookies))
        connect_s = time.perf_counter() - t0
        opened = len(socks)
        await asyncio.sleep(3)
        rss1 = server.rss_kb()
        log(
            f"idle: {opened} open in {connect_s:.0f} s ({len(errors)} failed); "
            f"holding {IDLE_HOLD} s"
        )
        await asyncio.sleep(IDLE_HOLD)
        alive = sum(1 for s in socks if s.connected)
        rss2 = server.rss_kb()
        await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
    return {
        "opened": opened,
        "alive": alive,
        "errors": errors[:5],
        "rss0_kb": rss0,
        "rss1_kb": rss1,
        "rss2_kb": rss2,
        "connect_seconds": connect_s,
        "kb_per_socket": (rss1 - rss0) / opened if opened else float("nan"),
    }


def next_rate(rate: int) -> int:
    for step in (50, 100, 200, 300, 400, 600, 800, 1000, 1200, 1600, 2000, 2400, 3000):
        if step > rate:
            return step
    return rate * 2


def throughput(
    server: Server, database_url: str | None, convs, cookies, rate: int = 50, top: int = 3000
) -> dict:
    """Step the rate up from `rate` to at most `top`; the highest step sustained for
    STEP_SECONDS with every message acked (and, given a database, persisted) and ack p99
    <= 100 ms."""
    steps = []
    best = 0
    while rate <= top:
        for attempt in (1, 2):  # one retry: a noisy neighbour should not end the ramp
            tag = f"tp{rate}a{attempt}"
            server.wait_idle()
            try:
                r = asyncio.run(
                    chat_phase(server.url, convs, cookies, STEP_SECONDS, rate / len(convs), tag)
                )
            except Exception as exc:  # e.g. the server is too backlogged to accept sockets
                log(f"throughput step {rate}/s could not run: {exc!r}")
                ok = False
                continue
            persisted = count_messages(database_url, tag + "-") if database_url else r["sent"]
            ack_p99 = pct(r["acks"], 99)
            achieved = r["sent"] / r["send_seconds"]
            ok = (
                not r["failures"]
                and len(r["acks"]) == r["sent"]
                and persisted == r["sent"]
                and ack_p99 <= 100
                and achieved >= 0.95 * rate
            )
            steps.append(
                {
                    "rate": rate,
                    "attempt": attempt,
                    "achieved": round(achieved, 1),
                    "ack_p50_ms": round(pct(r["acks"], 50), 2),
                    "ack_p99_ms": round(ack_p99, 2),
                    "acked": len(r["acks"]),
                    "sent": r["sent"],
                    "persisted": persisted,
                    "failures": len(r["failures"]),
                    "ok": ok,
                }
            )
            log(f"throughput step: {steps[-1]}")
            if ok:
                break
        if not ok:
            break
        best = rate
        rate = next_rate(rate)
    return {"best": best, "steps": steps}


def emails_per_s(database_url: str, runs: int = 3, count: int = 1000) -> dict:
    """The dispatcher in this process (as `flask ccr worker` runs it) against an aiosmtpd sink."""
    # The sink runs in its own process, as a real SMTP server would: in this process it
    # would share the GIL with the dispatcher being measured.
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port)
    except RuntimeError:
        sink.kill()
        raise
    saved = dict(os.environ)
    try:
        os.environ.update(
            CCR_ENV="production",
            SECRET_KEY=secrets.token_hex(32),
            DATABASE_URL=database_url,
            CCR_ASYNC_MODE="threading",
            CCR_OUTBOX_DISPATCHER="off",
            CCR_MAIL_TRANSPORT="smtp",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(port),
        )
        from ccr import create_app
        from ccr.extensions import db
        from ccr.models import OutboxEmail, OutboxStatus
        from ccr.models.base import utcnow
        from ccr.notify.email import dispatch_pending

        app = create_app()
        rates = []
        body = "Hello Ana,\n\nYour ticket CCR-000042 was updated.\n\n" + "Details. " * 60
        html = f"<p>{body}</p>" * 2
        with app.app_context():
            for run in range(runs):
                db.session.execute(OutboxEmail.__table__.delete())
                db.session.execute(
                    OutboxEmail.__table__.insert(),
                    [
                        {
                            "recipient": f"customer{i}@bench.example",
                            "subject": f"[CCR-{i:06d}] Your ticket was updated",
                            "body_text": body,
                            "body_html": html,
                            "kind": "ticket_updated",
                            "sensitive": False,
                            "status": OutboxStatus.PENDING,
                            "attempts": 0,
                            "next_attempt_at": utcnow(),
                            "created_at": utcnow(),
                        }
                        for i in range(count)
                    ],
                )
                db.session.commit()
                t0 = time.perf_counter()
                sent = 0
                while sent < count:
                    n = dispatch_pending(limit=count)
                    if n == 0:
                        break
                    sent += n
                elapsed = time.perf_counter() - t0
                delivered = db.session.execute(
                    text("SELECT COUNT(*) FROM outbox_emails WHERE status = 'sent'")
                ).scalar()
                if delivered != count:
                    raise RuntimeError(f"only {delivered} of {count} emails were sent")
                rates.append(count / elapsed)
                log(f"emails run {run + 1}: {sent} sent in {elapsed:.2f} s")
            db.session.remove()
            db.engine.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sink.terminate()
        sink.wait(timeout=10)
    return {"median": statistics.median(rates), "runs": [round(r, 1) for r in rates]}


# -- the run ------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_database_metrics(bench: Bench, url_small: str, url_big: str, scale: int, m: dict,
                         suffix: str, chat: bool) -> None:  # fmt: skip
    bench.prepare(url_small, BASE_SCALE)
    with serving(bench, "app:app", bench.env(url_small), "small" + suffix) as server:
        small = dashboard_p95(bench, server, url_small)
    log(f"dashboard at {BASE_SCALE:,}: {small}")
    bench.prepare(url_big, scale)  # on PostgreSQL the same database, reloaded
    env = bench.env(url_big, CCR_CHAT_MESSAGE_LIMIT="1000000 per 10 seconds")
    with serving(bench, "app:app", env, "big" + suffix) as server:
        big = dashboard_p95(bench, server, url_big)
        log(f"dashboard at {scale:,}: {big}")
        if chat:
            chat_metrics(bench, server, url_big, m, suffix)
    m["dashboard_p95_ms" + suffix] = {
        "value": big["worst"], "unit": "ms", "baseline": small["worst"],
        "detail": {"scale": scale, "per_url": big["per_url"], "base_per_url": small["per_url"]},
    }  # fmt: skip
    m["list_growth_ratio" + suffix] = {
        "value": round(big["worst"] / small["worst"], 2), "unit": "x", "baseline": 1.0,
    }  # fmt: skip
    e = emails_per_s(url_big)
    m["emails_per_s" + suffix] = {"value": round(e["median"], 1), "unit": "msg/s",
                                  "baseline": None, "detail": {"runs": e["runs"]}}  # fmt: skip


def chat_metrics(bench: Bench, server: Server, url: str, m: dict, suffix: str) -> None:
    convs = conversations(url, CONVERSATIONS)
    cookies = {u: bench.cookie(u) for _t, c, a in convs for u in (c, a)}
    server.wait_idle()
    cpu0 = server.cpu_seconds()
    r = asyncio.run(
        chat_phase(server.url, convs, cookies, CHAT_SECONDS, 1.0, "rtt", timeout_grace=GRACE)
    )
    server.wait_idle()
    cpu_ms = (server.cpu_seconds() - cpu0) * 1000 / max(r["sent"], 1)
    log(f"chat: sent {r['sent']}, lost {r['lost']}, failures {len(r['failures'])}, "
        f"worker CPU {cpu_ms:.1f} ms per message (incl. connects)")  # fmt: skip
    m["chat_server_cpu_ms_per_msg" + suffix] = {"value": round(cpu_ms, 2), "unit": "ms"}
    m["chat_rtt_p50_ms" + suffix] = {"value": rtt_pct(r, 50), "unit": "ms"}
    m["chat_rtt_p99_ms" + suffix] = {
        "value": rtt_pct(r, 99), "unit": "ms",
        "detail": {"sent": r["sent"], "lost": r["lost"], "failures": r["failures"][:5]},
    }  # fmt: skip
    if not suffix:
        t = throughput(server, url, convs, cookies)
        m["chat_throughput_msgs_per_s"] = {"value": t["best"], "unit": "msg/s",
                                           "baseline": None, "detail": t["steps"]}  # fmt: skip


def echo_metrics(bench: Bench, m: dict) -> None:
    convs = [(i + 1, 2 * i, 2 * i + 1) for i in range(CONVERSATIONS)]
    with serving(bench, "bench.echo_app:app", bench.env("sqlite://"), "echo") as server:
        cpu0 = server.cpu_seconds()
        r = asyncio.run(
            chat_phase(server.url, convs, None, CHAT_SECONDS, 1.0, "echo", timeout_grace=GRACE)
        )
        server.wait_idle()
        cpu_ms = (server.cpu_seconds() - cpu0) * 1000 / max(r["sent"], 1)
        # The same ramp and pass rule as the chat's (nothing to persist), from 400/s up to
        # twice the chat's budget: enough to show whether the stack carries the budget, and
        # on a fast machine the steps past it would push the run beyond 15 minutes.
        top = 2 * BUDGETS["chat_throughput_msgs_per_s"][1]
        t = throughput(server, None, convs, None, rate=400, top=top)
    log(f"echo: sent {r['sent']}, lost {r['lost']}, worker CPU {cpu_ms:.2f} ms per message")
    m["echo_server_cpu_ms_per_msg"] = {"value": round(cpu_ms, 2), "unit": "ms"}
    m["echo_rtt_p50_ms"] = {"value": rtt_pct(r, 50), "unit": "ms"}
    m["echo_rtt_p99_ms"] = {"value": rtt_pct(r, 99), "unit": "ms"}
    m["echo_throughput_msgs_per_s"] = {
        "value": t["best"], "unit": "msg/s", "detail": {"top_step": top, "steps": t["steps"]},
    }  # fmt: skip


def idle_metrics(bench: Bench, url: str, m: dict) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(
            text("SELECT id FROM users WHERE role = 'customer' ORDER BY id LIMIT :n"),
            {"n": IDLE_TARGET},
        ).scalars().all()  # fmt: skip
    engine.dispose()
    cookies = [bench.cookie(i) for i in ids]
    with serving(bench, "app:app", bench.env(url), "idle") as server:
        r = asyncio.run(idle_phase(server.url, cookies, server))
    log(f"idle: {r}")
    detail = {k: v for k, v in r.items() if k != "alive"}
    m["idle_sockets_per_process"] = {"value": r["alive"], "unit": "sockets", "detail": detail}
    m["kb_per_idle_socket"] = {"value": round(r["kb_per_socket"], 1), "unit": "KiB",
                               "baseline": None}  # fmt: skip


def finish(m: dict, scale: int) -> dict:
    if "chat_rtt_p50_ms" in m and "echo_rtt_p50_ms" in m:
        echo50, echo99 = m["echo_rtt_p50_ms"]["value"], m["echo_rtt_p99_ms"]["value"]
        m["chat_rtt_p50_ms"]["baseline"] = echo50
        m["chat_rtt_p99_ms"]["baseline"] = echo99
        if "echo_throughput_msgs_per_s" in m and "chat_throughput_msgs_per_s" in m:
            baseline = m["echo_throughput_msgs_per_s"]["value"]
            m["chat_throughput_msgs_per_s"]["baseline"] = baseline
        if "echo_server_cpu_ms_per_msg" in m and "chat_server_cpu_ms_per_msg" in m:
            m["chat_server_cpu_ms_per_msg"]["baseline"] = m["echo_server_cpu_ms_per_msg"]["value"]
        m["chat_overhead_ratio_p50"] = {
            "value": round(m["chat_rtt_p50_ms"]["value"] / echo50, 2), "unit": "x",
            "baseline": 1.0,
        }  # fmt: skip
    for value in m.values():
        value.setdefault("baseline", None)
        b = value["baseline"]
        value["ratio"] = round(value["value"] / b, 2) if b else None
    return m


def table(m: dict) -> str:
    head = ("metric", "value", "unit", "baseline", "ratio", "budget", "ok")
    rows = []
    for name, v in m.items():
        base = name.removesuffix("_pg")
        op, limit = BUDGETS.get(base, ("", None))
        ok = ""
        if limit is not None:
            ok = "yes" if (v["value"] <= limit if op == "<=" else v["value"] >= limit) else "NO"
        rows.append(
            (name, f"{v['value']:g}", v["unit"],
             "" if v["baseline"] is None else f"{v['baseline']:g}",
             "" if v["ratio"] is None else f"{v['ratio']:g}",
             f"{op} {limit:g}" if limit is not None else "", ok)
        )  # fmt: skip
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def guarded(errors: list[str], part: str, fn, *args) -> None:
    """Run one part; a crash is reported (and fails the run) without losing the others."""
    try:
        fn(*args)
    except Exception as exc:
        log(f"{part} failed: {exc!r}")
        errors.append(f"{part}: {exc!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="tickets (default 1M)")
    parser.add_argument("--only", default="db,chat,echo,idle", help="comma list of parts")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="ccr-bench-"))
    bench = Bench(workdir, secrets.token_hex(32))
    m: dict = {}
    errors: list[str] = []
    started = time.perf_counter()
    log(f"work directory {workdir}; scale {args.scale:,}")
    try:
        url_small = f"sqlite:///{workdir / 'small.db'}"
        url_big = f"sqlite:///{workdir / 'big.db'}"
        if "db" in parts or "chat" in parts:
            guarded(errors, "sqlite", run_database_metrics,
                    bench, url_small, url_big, args.scale, m, "", "chat" in parts)  # fmt: skip
        if "echo" in parts:
            guarded(errors, "echo", echo_metrics, bench, m)
        if "idle" in parts:
            if not Path(workdir / "small.db").exists():
                bench.prepare(url_small, BASE_SCALE)
            guarded(errors, "idle", idle_metrics, bench, url_small, m)
        pg = os.environ.get("CCR_TEST_DATABASE_URL")
        if pg and "db" in parts:
            # Never the configured database itself: a throwaway one on the same server.
            with scratch_database(pg, "ccr_bench") as url:
                name = make_url(url).database
                log(f"PostgreSQL: CCR_TEST_DATABASE_URL is set; using a scratch database {name}")
                guarded(errors, "postgresql", run_database_metrics,
                        bench, url, url, args.scale, m, "_pg", False)  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    finish(m, args.scale)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "metrics": m,
        "machine": machine(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "seconds": round(time.perf_counter() - started),
        "errors": errors,
    }
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2) + "\n")
    print()
    print(table(m))
    for error in errors:
        print(f"ERROR {error}")
    print(f"\n{RESULTS / 'latest.json'} written in {out['seconds']} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
