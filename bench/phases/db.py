"""The dashboards: server-side p95 of the admin and agent lists at SCALE tickets against the
same at BASE_SCALE (`dashboard_p95_ms`, `list_growth_ratio`)."""

import requests
from sqlalchemy import create_engine, text

from bench.harness import Bench, Server, pct


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


def dashboard_metrics(small: dict, big: dict, scale: int, m: dict, suffix: str) -> None:
    """Record dashboard_p95 at BASE_SCALE (small) and at `scale` tickets (big)."""
    m["dashboard_p95_ms" + suffix] = {
        "value": big["worst"], "unit": "ms", "baseline": small["worst"],
        "detail": {"scale": scale, "per_url": big["per_url"], "base_per_url": small["per_url"]},
    }  # fmt: skip
    m["list_growth_ratio" + suffix] = {
        "value": round(big["worst"] / small["worst"], 2), "unit": "x", "baseline": 1.0,
    }  # fmt: skip
