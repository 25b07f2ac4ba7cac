"""The chat: round-trip time of a message between a customer's and an agent's sockets on
the real app (`chat_rtt_*`, `chat_server_cpu_ms_per_msg`) and the throughput ramp
(`chat_throughput_msgs_per_s`). chat_phase and throughput serve the echo baseline too."""

import asyncio
import gc

import aiohttp
from sqlalchemy import create_engine, text

from bench.harness import Bench, Server, log, pct
from bench.sio import Sock, open_socket
from ccr.inputs import INT_MAX

CONVERSATIONS = 200
CHAT_SECONDS = 30
STEP_SECONDS = 20
GRACE = 15.0  # seconds to wait for the last messages after the sending ends


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


def count_messages(database_url: str, prefix: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT COUNT(*) FROM messages WHERE client_id LIKE :p"), {"p": prefix + "%"}
        ).scalar()
    engine.dispose()
    return int(n)


def rtt_pct(r: dict, p: float) -> float:
    """Percentile over every message sent: one never delivered counts as infinitely late,
    and a percentile that lands on one is reported as the wait, a lower bound."""
    value = pct(r["rtts"] + [float("inf")] * r["lost"], p)
    return round(value if value != float("inf") else GRACE * 1000, 2)


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
            c = open_socket(http, base_url, cookies and cookies[customer], sem)
            a = open_socket(http, base_url, cookies and cookies[agent], sem)
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
                # Join without a catch-up: after the highest number there can be.
                nothing = {"after_seq": INT_MAX, "after_note_seq": INT_MAX}
                reply = await s.emit("join_ticket", {"ticket_id": ticket_id, **nothing})
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
