"""Idle sockets: how many authenticated websockets one process holds, and what each costs in
memory (`idle_sockets_per_process`, `kb_per_idle_socket`)."""

import asyncio
import time

import aiohttp
from sqlalchemy import create_engine, text

from bench.harness import Bench, Server, log, serving
from bench.sio import Sock, open_socket

IDLE_TARGET = 5000
IDLE_HOLD = 60


async def idle_phase(base_url: str, cookies: list[str], server: Server) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sem = asyncio.Semaphore(50)
        warm = await asyncio.gather(*(open_socket(http, base_url, c, sem) for c in cookies[:20]))
        await asyncio.gather(*(s.close() for s in warm))
        await asyncio.sleep(2)
        rss0 = server.rss_kb()
        socks: list[Sock] = []
        errors: list[str] = []

        async def one(cookie: str) -> None:
            try:
                socks.append(await open_socket(http, base_url, cookie, sem))
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
