"""The production topology on loopback (scripts/cluster.py): nginx with sticky sessions and
websocket upgrade, three gunicorn+gevent processes, Redis, PostgreSQL, a separate outbox
worker. Clients on different processes chat; killing a process, stopping Redis and stopping
SMTP lose nothing."""

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ccr import create_app
from ccr.extensions import db
from scripts.cluster import Cluster
from tests.support.clients import ChatClient, login_session
from tests.support.database import config_for
from tests.support.pg import scratch_database
from tests.support.redis_server import RedisServer
from tests.support.scene import new_scene
from tests.support.services import IN_CI, PG_URL

pytestmark = pytest.mark.live


def _need(what: str, ok: bool) -> None:
    if not ok:
        if IN_CI:
            pytest.fail(f"the cluster test needs {what} in CI")
        pytest.skip(f"the cluster test needs {what}")


@pytest.fixture
def cluster_db():
    _need("PostgreSQL (CCR_TEST_DATABASE_URL)", bool(PG_URL))
    with scratch_database(PG_URL, "ccr_cluster") as url:
        yield url


@pytest.fixture
def cluster(cluster_db, mailbox, tmp_path):
    _need("nginx", bool(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")))
    _need("redis-server", RedisServer.binary() is not None)
    c = Cluster(cluster_db, mailbox.port, work=tmp_path / "cluster").start()
    yield c
    c.stop()


@pytest.fixture
def people(cluster, cluster_db):
    """A customer, an agent and an assigned ticket, written straight into the cluster's database."""
    app = create_app(config_for(cluster_db))
    with app.app_context():
        cast = {
            role: {
                "email": f"{role}@cluster.example.com",
                "first_name": role.title(),
                "last_name": "Cluster",
            }
            for role in ("admin", "agent", "customer")
        }
        s = new_scene(**cast, subject="Cluster", description="x")
        out = (s.ticket.id, s.customer.email, s.agent.email)
        db.engine.dispose()
    return out


def _client_on(cluster, email: str, avoid: str | None = None, want: str | None = None):
    """Log in through nginx until the sticky route lands on the wanted (or another) process."""
    for _ in range(40):
        session = login_session(cluster.url, email)
        upstream = cluster.upstream_for(session.cookies.get("ccr_route"))
        if (avoid is None or upstream != avoid) and (want is None or upstream == want):
            return ChatClient(cluster.url, session).connect(), upstream
    raise AssertionError("could not land on the wanted process")


def test_chat_across_processes_survives_a_killed_process_and_a_redis_outage(
    cluster, people, mailbox
):
    ticket_id, customer_email, agent_email = people
    cust, cust_up = _client_on(cluster, customer_email)
    agt, agt_up = _client_on(cluster, agent_email, avoid=cust_up)
    assert cust_up != agt_up  # really two different processes
    cust.join(ticket_id)
    agt.join(ticket_id)

    # 1. Messages cross processes through Redis.
    acks = [cust.send(ticket_id, f"hello {i}", f"h{i}") for i in range(3)]
    assert [m["id"] for m in agt.wait_for(3)] == [a["id"] for a in acks]

    # 2. The agent's process is killed mid-conversation; the agent reconnects through nginx
    #    (same sticky cookie, another process) and catches up without loss or duplicates.
    cluster.kill_app(int(agt_up.rsplit(":", 1)[1]))
    sent = [cust.send(ticket_id, f"while down {i}", f"d{i}")["id"] for i in range(3)]
    agt.close()
    agt2 = ChatClient(cluster.url, agt.session).connect()
    missed = agt2.join(ticket_id, after_id=acks[-1]["id"])
    assert [m["id"] for m in missed] == sent

    # 3. Redis stops for a few seconds: sends are still saved and acknowledged; catch-up
    #    delivers them once it is back.
    cluster.redis.stop()
    during = [cust.send(ticket_id, f"no redis {i}", f"r{i}") for i in range(3)]
    assert all(a["ok"] for a in during), during
    time.sleep(2)
    cluster.redis.start()
    missed = agt2.join(ticket_id, after_id=sent[-1])
    assert [m["id"] for m in missed] == [a["id"] for a in during]
    cust.close()
    agt2.close()


def test_a_redis_outage_while_both_sides_send_loses_nothing_at_the_receivers(cluster, people):
    """R9: the customer and the agent, on different processes, write at once while Redis is
    down; every push between them is lost and each one's own acks are newer than the other
    side's messages. Once Redis is back, each page catches up after the highest number up
    to which it holds every message, and ends with every message exactly once."""
    ticket_id, customer_email, agent_email = people
    cust, cust_up = _client_on(cluster, customer_email)
    agt, agt_up = _client_on(cluster, agent_email, avoid=cust_up)
    assert cust_up != agt_up
    cust.join(ticket_id, after_seq=0)
    agt.join(ticket_id, after_seq=0)
    acks = {"c": [cust.send(ticket_id, "before the outage", "c-before")], "a": []}
    agt.wait_for(1)

    cluster.redis.stop()

    def write(client, prefix):
        return [client.send(ticket_id, f"{prefix} {i}", f"{prefix}-{i}") for i in range(10)]

    with ThreadPoolExecutor(2) as pool:
        sent = dict(zip("ca", pool.map(write, (cust, agt), ("c", "a")), strict=True))
    acks["c"] += sent["c"]
    acks["a"] += sent["a"]
    assert all(a["ok"] for a in acks["c"] + acks["a"]), acks
    cluster.redis.start()

    everything = {a["seq"]: a["id"] for a in acks["c"] + acks["a"]}
    assert sorted(everything) == list(range(1, 22))  # one number each, none skipped
    assert cust.holdings(ticket_id, acks["c"]) == everything
    assert agt.holdings(ticket_id, acks["a"]) == everything
    cust.close()
    agt.close()


def test_stopping_smtp_delays_emails_but_delivers_every_one(cluster, people, mailbox):
    ticket_id, customer_email, _ = people
    # Creation (customer, admin) and assignment (agent, customer) emails, all sent by the
    # separate worker process.
    assert len(mailbox.wait_for(4, timeout=30)) == 4
    mailbox.stop()
    session = login_session(cluster.url, customer_email)
    cust = ChatClient(cluster.url, session).connect()
    cust.join(ticket_id)
    assert cust.send(ticket_id, "email the agent please", "m1")["ok"]
    time.sleep(2)  # the worker tries and fails while SMTP is down
    assert len(mailbox.messages) == 4
    mailbox.start()
    # Backoff is 5 s after the first failure: the email arrives once the server is back.
    got = mailbox.wait_for(5, timeout=40)
    assert "New message" in got[4]["Subject"]
    assert got[4]["To"] == "agent@cluster.example.com"
    cust.close()
