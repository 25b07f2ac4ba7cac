"""The benchmark suite: `make bench [SCALE=N]` or `python -m bench.run --scale N`.

Everything runs on 127.0.0.1 against the production server configuration (CCR_ENV=production,
gunicorn -k gevent -w 1). Prints a table and writes bench/results/latest.json. See
bench/README.md for what each metric means.
"""

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.harness import BUDGETS, ROOT, Bench, log, serving
from bench.phases.chat import chat_metrics
from bench.phases.db import dashboard_metrics, dashboard_p95
from bench.phases.echo import echo_metrics
from bench.phases.email import email_metrics
from bench.phases.idle import idle_metrics
from tests.support.pg import scratch_database

RESULTS = ROOT / "bench" / "results"
BASE_SCALE = 10_000


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
    dashboard_metrics(small, big, scale, m, suffix)
    email_metrics(url_big, m, suffix)


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
