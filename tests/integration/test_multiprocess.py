"""Two real server processes joined by Redis (R5, R8 of RELIABILITY.md): clients on different
processes talk to each other; a killed process's clients reconnect elsewhere and catch up;
a Redis outage loses no saved message."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from tests.support.clients import ChatClient, login_session
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.live


@pytest.fixture
def ticket_pair(scene):
    s = scene(
        customer={"email": "mp-cust@example.com"},
        agent={"email": "mp-agent@example.com"},
        subject="Multi",
        description="process",
    )
    return s.ticket.id, s.customer, s.agent


def _client(server, user) -> ChatClient:
    return ChatClient(server.url, login_session(server.url, user.email)).connect()


def _two_servers(live_server, redis_url):
    env = {"REDIS_URL": redis_url, "CCR_OUTBOX_DISPATCHER": "off"}
    return live_server(**env), live_server(**env)


def test_clients_on_different_processes_chat_through_redis(live_server, redis_url, ticket_pair):
    ticket_id, customer, agent = ticket_pair
    redis.Redis.from_url(redis_url).flushdb()
    one, two = _two_servers(live_server, redis_url)
    cust, agt = _client(one, customer), _client(two, agent)
    try:
        cust.join(ticket_id)
        agt.join(ticket_id)
        acks = [cust.send(ticket_id, f"hello {i}", f"c{i}") for i in range(3)]
        got = agt.wait_for(3)
        assert [m["id"] for m in got] == [a["id"] for a in acks]
        reply = agt.send(ticket_id, "hi from process two", "a1")
        # the customer hears of the reply (its own messages came back as acks)
        assert [m["id"] for m in cust.wait_for(1)] == [reply["id"]]
    finally:
        cust.close()
        agt.close()


def test_r8_a_killed_process_loses_nothing_and_duplicates_nothing(
    live_server, redis_url, ticket_pair
):
    ticket_id, customer, agent = ticket_pair
    one, two = _two_servers(live_server, redis_url)
    cust, agt = _client(one, customer), _client(two, agent)
    cust.join(ticket_id)
    agt.join(ticket_id)
    first = cust.send(ticket_id, "before the crash", "k0")["id"]
    seen = [m["id"] for m in agt.wait_for(1)]
    two.proc.kill()  # the agent's process dies without warning
    two.proc.wait(10)
    sent = [cust.send(ticket_id, f"during {i}", f"k{i + 1}")["id"] for i in range(3)]
    # The agent's page reconnects (to the surviving process) and asks for what it missed.
    agt2 = _client(one, agent)
    missed = agt2.join(ticket_id, after_id=max(seen))
    assert [m["id"] for m in missed] == sent
    assert seen == [first]
    assert len(set(seen + [m["id"] for m in missed])) == 4
    cust.close()
    agt2.close()


def test_r5_a_redis_outage_loses_no_saved_message(live_server, ticket_pair, tmp_path):
    """Our own Redis (never the shared one) is stopped mid-conversation and restarted."""
    if RedisServer.binary() is None:
        pytest.skip("redis-server is not installed: this test starts and kills its own Redis")
    ticket_id, customer, agent = ticket_pair
    own = RedisServer(tmp_path).start()
    try:
        one, two = _two_servers(live_server, own.url)
        cust, agt = _client(one, customer), _client(two, agent)
        cust.join(ticket_id)
        agt.join(ticket_id)
        first = cust.send(ticket_id, "before outage", "r0")
        assert first["ok"]
        agt.wait_for(1)

        own.stop()
        during = [cust.send(ticket_id, f"during outage {i}", f"r{i + 1}") for i in range(3)]
        assert all(a["ok"] for a in during), during  # saved and acknowledged without Redis

        own.start()
        # Catch-up (what the page does on reconnect or its periodic sync) fills the gap.
        missed = agt.join(ticket_id, after_id=first["id"])
        assert [m["id"] for m in missed] == [a["id"] for a in during]
        assert [m["body"] for m in missed] == [f"during outage {i}" for i in range(3)]
        cust.close()
        agt.close()
    finally:
        own.stop()


def test_r9_a_redis_outage_while_both_sides_send_loses_nothing_at_the_receivers(
    live_server, ticket_pair, tmp_path
):
    """Both sides write at once on two processes while our own Redis is down: every push
    between the processes is lost, and the pages' own acks are newer than the other side's
    messages. Each page catches up after the highest number up to which it holds every
    message and ends with all of them, each once."""
    if RedisServer.binary() is None:
        pytest.skip("redis-server is not installed: this test starts and kills its own Redis")
    ticket_id, customer, agent = ticket_pair
    own = RedisServer(tmp_path).start()
    try:
        env = {"REDIS_URL": own.url, "CCR_OUTBOX_DISPATCHER": "off"}
        one, two = live_server(**env), live_server(**env)
        cust, agt = _client(one, customer), _client(two, agent)
        cust.join(ticket_id, after_seq=0)
        agt.join(ticket_id, after_seq=0)
        acks = {"c": [cust.send(ticket_id, "before", "c-before")]}
        agt.wait_for(1)
        own.stop()

        def write(client, prefix):
            return [client.send(ticket_id, f"{prefix} {i}", f"{prefix}-{i}") for i in range(8)]

        with ThreadPoolExecutor(2) as pool:
            sent = dict(zip("ca", pool.map(write, (cust, agt), ("c", "a")), strict=True))
        acks["c"] += sent["c"]
        acks["a"] = sent["a"]
        assert all(a["ok"] for a in acks["c"] + acks["a"])
        own.start()
        everything = {a["seq"]: a["id"] for a in acks["c"] + acks["a"]}
        assert sorted(everything) == list(range(1, 18))
        assert cust.holdings(ticket_id, acks["c"]) == everything
        assert agt.holdings(ticket_id, acks["a"]) == everything
        cust.close()
        agt.close()
    finally:
        own.stop()
