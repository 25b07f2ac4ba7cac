"""The baseline: the chat's harness against bench/echo_app.py, bare Flask-SocketIO on the same
server (`echo_rtt_*`, `echo_server_cpu_ms_per_msg`, `echo_throughput_msgs_per_s`)."""

import asyncio

from bench.harness import BUDGETS, Bench, log, serving
from bench.phases.chat import CHAT_SECONDS, CONVERSATIONS, GRACE, chat_phase, rtt_pct, throughput


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
