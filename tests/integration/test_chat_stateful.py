"""A Hypothesis state machine over two real server processes joined by a Redis of the test's
own (RELIABILITY.md R2, R3, R5, R8, R9): random interleavings of sends (customer messages,
agent messages, internal notes), resends of the same client id, disconnects, reconnects to
either process, Redis outages and killed-and-restarted processes. Whatever happened, once
everything is back and each page has caught up after the highest number up to which it
holds every message, each receiver holds every message it may see exactly once, in the
order they were saved, and the customer never a note.

Bounded: a fixed seed (derandomize), few examples and steps, no shrinking, and a time budget
after which the expensive rules (restarting a process) are no longer chosen."""

import collections
import itertools
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Message
from tests.support.clients import ChatClient, login_session
from tests.support.redis_server import RedisServer
from tests.support.scene import new_scene

pytestmark = pytest.mark.live

BUDGET = 25.0  # seconds after which no process is killed (each restart costs seconds)
WHO = ("customer", "agent")


@dataclass
class Page:
    """One user's ticket page, as static/js/chat.js keeps it: the messages it holds by
    (stream, number), and the messages typed but not acknowledged yet, resent in order
    when the socket is back."""

    who: str
    session: object
    client: ChatClient | None = None
    server: int = 0
    held: dict = field(default_factory=dict)  # (internal, seq) -> message id
    pending: list = field(default_factory=list)  # (client_id, body, internal)
    pushes_seen: int = 0

    def up_to(self, internal: bool) -> int:
        n = 0
        while (internal, n + 1) in self.held:
            n += 1
        return n

    def take(self, message: dict) -> None:
        key = (bool(message["internal"]), message["seq"])
        known = self.held.setdefault(key, message["id"])
        assert known == message["id"], f"{self.who}: number {key} was two messages"
        if self.who == "customer":
            assert not message["internal"], "the customer was sent an internal note"


def test_random_faults_over_two_processes_lose_and_duplicate_nothing(
    app, live_server, scene, tmp_path
):
    if RedisServer.binary() is None:
        pytest.skip("redis-server is not installed: this test starts and kills its own Redis")
    cast = scene(customer={"email": "sm-cust@example.com"}, agent={"email": "sm-agent@example.com"})
    (tmp_path / "redis").mkdir()
    redis_server = RedisServer(tmp_path / "redis").start()
    try:
        _run_machine(cast, redis_server, live_server)
    finally:
        redis_server.stop()


def _run_machine(cast, redis_server, live_server):
    env = {
        "REDIS_URL": redis_server.url,
        "CCR_OUTBOX_DISPATCHER": "off",
        "CCR_CHAT_MESSAGE_LIMIT": "10000 per 10 seconds",
    }
    servers = [live_server(**env), live_server(**env)]
    sessions = {
        "customer": login_session(servers[0].url, cast.customer.email),
        "agent": login_session(servers[1].url, cast.agent.email),
    }
    started = time.monotonic()
    counter = itertools.count()
    ran: collections.Counter = collections.Counter()  # rule -> times it ran, over all examples

    class ChatFaults(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.ticket_id = new_scene(
                admin=cast.admin, agent=cast.agent, customer=cast.customer, subject="SM"
            ).ticket.id
            self.pages = {w: Page(w, sessions[w], server=i) for i, w in enumerate(WHO)}
            self.acked: dict[str, dict] = {}  # client_id -> the first ack
            for page in self.pages.values():
                self._connect(page)

        # -- plumbing ------------------------------------------------------------------

        def _alive(self, index: int) -> bool:
            return servers[index].proc is not None and servers[index].proc.poll() is None

        def _connect(self, page: Page) -> None:
            if page.client is not None or not self._alive(page.server):
                return
            client = ChatClient(servers[page.server].url, page.session)
            try:
                client.connect()
                caught = client.join(
                    self.ticket_id,
                    after_seq=page.up_to(False),
                    after_note_seq=page.up_to(True),
                )
            except Exception:  # the process is going down: the page tries again later
                client.drop()
                return
            page.client, page.pushes_seen = client, 0
            for m in caught:
                page.take(m)
            self._pump(page)

        def _drop(self, page: Page) -> None:
            if page.client is not None:
                page.client.drop()
                page.client = None

        def _absorb(self, page: Page) -> None:
            """The pushes the page's socket got so far."""
            if page.client is None:
                return
            with page.client.lock:
                new = page.client.received[page.pushes_seen :]
                page.pushes_seen = len(page.client.received)
            for m in new:
                page.take(m)

        def _pump(self, page: Page) -> None:
            """Send what is pending, in order, as chat.js does; stop at the first failure."""
            while page.pending and page.client is not None:
                client_id, body, internal = page.pending[0]
                try:
                    ack = page.client.send(self.ticket_id, body, client_id, internal=internal)
                except Exception:  # no answer: the connection broke; resent on reconnect
                    self._drop(page)
                    return
                if not ack.get("ok"):
                    assert "not saved" in ack["error"], ack  # a transient failure only
                    return
                first = self.acked.setdefault(client_id, {**ack, "internal": internal})
                assert (ack["id"], ack["seq"]) == (first["id"], first["seq"]), "a resend moved"
                page.take({"id": ack["id"], "seq": ack["seq"], "internal": internal})
                page.pending.pop(0)

        # -- rules ---------------------------------------------------------------------

        @rule(who=st.sampled_from(WHO), note=st.booleans())
        def send(self, who, note):
            ran["send"] += 1
            page = self.pages[who]
            internal = note and who == "agent"
            n = next(counter)
            page.pending.append((f"{who}-{n}", f"{who} says {n}", internal))
            self._absorb(page)
            self._pump(page)

        @precondition(lambda self: bool(self.acked))
        @rule(data=st.data())
        def retry(self, data):
            """A resend of an acknowledged message (its ack was lost): same id, same number."""
            ran["retry"] += 1
            client_id = data.draw(st.sampled_from(sorted(self.acked)))
            page = self.pages[client_id.split("-", 1)[0]]
            if page.client is None:
                return
            first = self.acked[client_id]
            try:
                ack = page.client.send(
                    self.ticket_id, "again", client_id, internal=first["internal"]
                )
            except Exception:  # the connection broke
                self._drop(page)
                return
            if ack.get("ok"):
                assert (ack["id"], ack["seq"]) == (first["id"], first["seq"])

        @rule(who=st.sampled_from(WHO))
        def disconnect(self, who):
            ran["disconnect"] += 1
            self._absorb(self.pages[who])
            self._drop(self.pages[who])

        @rule(who=st.sampled_from(WHO), server=st.sampled_from([0, 1]))
        def reconnect(self, who, server):
            ran["reconnect"] += 1
            page = self.pages[who]
            self._absorb(page)
            self._drop(page)
            page.server = server
            self._connect(page)

        @rule()
        def redis_outage(self):
            ran["redis_outage"] += 1
            if redis_server.proc is None:
                redis_server.start()
            else:
                redis_server.stop()

        @precondition(lambda self: time.monotonic() - started < BUDGET)
        @rule(index=st.sampled_from([0, 1]))
        def kill_process(self, index):
            """The process dies without warning and is started again on its port."""
            ran["kill_process"] += 1
            servers[index].proc.kill()
            servers[index].proc.wait(10)
            for page in self.pages.values():
                if page.server == index:
                    self._absorb(page)
                    self._drop(page)
            servers[index].start()

        # -- the end of an example ---------------------------------------------------------

        def teardown(self):
            try:
                if redis_server.proc is None:
                    redis_server.start()
                for server in servers:
                    if not (server.proc is not None and server.proc.poll() is None):
                        server.start()
                for page in self.pages.values():
                    self._absorb(page)
                    self._drop(page)
                    self._connect(page)
                    for _ in range(20):  # bounded: a "not saved" retried, as the page would
                        if not page.pending:
                            break
                        self._pump(page)
                    assert not page.pending, f"{page.who} could not send {page.pending}"
                for page in self.pages.values():  # the page's periodic catch-up
                    self._absorb(page)
                    assert page.client is not None, f"{page.who} could not reconnect"
                    for m in page.client.join(
                        self.ticket_id,
                        after_seq=page.up_to(False),
                        after_note_seq=page.up_to(True),
                    ):
                        page.take(m)
                db.session.expire_all()
                saved = db.session.scalars(
                    select(Message).where(Message.ticket_id == self.ticket_id).order_by(Message.id)
                ).all()
                for internal in (False, True):
                    stream = [m for m in saved if m.is_internal == internal]
                    # numbered 1..n in the order they were saved
                    assert [m.seq for m in stream] == list(range(1, len(stream) + 1))
                assert {m.client_id for m in saved} == set(self.acked)  # nothing twice
                for page in self.pages.values():
                    may_see = [m for m in saved if page.who == "agent" or not m.is_internal]
                    self._absorb(page)
                    expected = {(m.is_internal, m.seq): m.id for m in may_see}
                    assert page.held == expected, f"{page.who} holds the wrong messages"
                    for internal in (False, True):
                        count = sum(1 for m in may_see if m.is_internal == internal)
                        assert page.up_to(internal) == count
            finally:
                for page in self.pages.values():
                    self._drop(page)

    run_state_machine_as_test(
        ChatFaults,
        settings=settings(
            max_examples=6,
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    # The fixed seed's run exercised every kind of fault (a change that drops one fails here).
    assert set(ran) >= {
        "send",
        "retry",
        "disconnect",
        "reconnect",
        "redis_outage",
        "kill_process",
    }, ran
