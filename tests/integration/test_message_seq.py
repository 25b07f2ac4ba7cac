"""Gap-free catch-up (RELIABILITY.md R9): every message has a number in its ticket's stream,
allocated under the ticket's row lock, so the numbers commit in order and a client that
asks for "everything after the highest number up to which I hold every message" misses
nothing; a customer's numbers count public messages only; a close and a message take
turns on the ticket's row. Real concurrent writers: threads against a live server, and two
connections of this process (the second waits on the first's row lock)."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, select, text

from ccr.extensions import db
from ccr.models import Message, Ticket, TicketStatus, User
from ccr.services import ServiceError, uow
from ccr.services.messages import messages_after_seq, post_message
from ccr.services.tickets import close_ticket
from tests.support.clients import ChatClient, login_session

pytestmark = pytest.mark.live


@pytest.fixture
def convo(scene):
    s = scene(customer={"email": "seq-cust@example.com"}, agent={"email": "seq-agent@example.com"})
    return s.ticket.id, s.customer, s.agent, s.admin


def _client(server, user) -> ChatClient:
    return ChatClient(server.url, login_session(server.url, user.email)).connect()


def _contiguous(seqs) -> int:
    """The highest n such that 1..n are all held."""
    held, n = set(seqs), 0
    while n + 1 in held:
        n += 1
    return n


# -- the observation: "after the newest id I hold" skipped messages --------------------------


def test_a_message_whose_push_was_lost_is_caught_up_although_the_receivers_own_ack_is_newer(
    live_server, convo
):
    """Two processes without a message queue between them (as with Redis down): the agent's
    message never reaches the customer's socket, and the customer's own reply, acked, has
    a higher id. By id the customer would ask after its own reply and never get the agent's;
    the customer holds number 2 but not 1, so it asks after 0 and gets it."""
    ticket_id, customer, agent, _ = convo
    env = {"CCR_OUTBOX_DISPATCHER": "off"}
    one, two = live_server(**env), live_server(**env)
    cust, agt = _client(one, customer), _client(two, agent)
    try:
        cust.join(ticket_id, after_seq=0)
        agt.join(ticket_id, after_seq=0)
        lost = agt.send(ticket_id, "your refund is on its way", "a1")
        own = cust.send(ticket_id, "any news?", "c1")
        assert lost["ok"] and own["ok"] and own["id"] > lost["id"]
        assert cust.received == []  # the push went nowhere
        assert cust.join(ticket_id, after_id=own["id"]) == []  # what the old page asked

        assert (lost["seq"], own["seq"]) == (1, 2)
        after = _contiguous([own["seq"]])
        got = cust.join(ticket_id, after_seq=after)
        assert after == 0
        assert [(m["id"], m["seq"]) for m in got] == [(lost["id"], 1), (own["id"], 2)]
        assert got[0]["body"] == "your refund is on its way"
    finally:
        cust.close()
        agt.close()


# -- real concurrent writers on one ticket ----------------------------------------------------


def test_concurrent_writers_on_one_ticket_get_contiguous_numbers_and_customers_see_no_notes(
    live_server, convo
):
    ticket_id, customer, agent, admin = convo
    server = live_server(CCR_CHAT_MESSAGE_LIMIT="10000 per 10 seconds", CCR_OUTBOX_DISPATCHER="off")
    writers = [(customer, False), (customer, False), (agent, True), (agent, True), (admin, True)]
    clients = [_client(server, user) for user, _ in writers]
    watcher = _client(server, customer)  # a third customer tab that only listens
    per_writer = 12
    start = threading.Barrier(len(clients))

    def write(index: int) -> list[tuple[bool, dict]]:
        client, (_, staff) = clients[index], writers[index]
        client.join(ticket_id, after_seq=0)
        start.wait(10)
        sent = []
        for k in range(per_writer):
            note = staff and k % 3 == 0  # staff write some internal notes
            ack = client.send(ticket_id, f"w{index} m{k}", f"w{index}-{k}", internal=note)
            sent.append((note, ack))
        return sent

    try:
        watcher.join(ticket_id, after_seq=0)
        with ThreadPoolExecutor(len(clients)) as pool:
            sent = [pair for result in pool.map(write, range(len(clients))) for pair in result]
        assert all(ack["ok"] for _, ack in sent), [a for _, a in sent if not a["ok"]]
        public = sorted(ack["seq"] for note, ack in sent if not note)
        notes = sorted(ack["seq"] for note, ack in sent if note)
        assert public == list(range(1, len(public) + 1))  # contiguous, no duplicates
        assert notes == list(range(1, len(notes) + 1))
        public_ids = {ack["id"] for note, ack in sent if not note}

        # The customer's catch-up: every public message once, numbered in saved order.
        caught = watcher.join(ticket_id, after_seq=0)
        assert [m["seq"] for m in caught] == public
        assert {m["id"] for m in caught} == public_ids and not any(m["internal"] for m in caught)
        assert [m["id"] for m in caught] == sorted(m["id"] for m in caught)
        # Its pushes: every public message exactly once, never a note.
        pushed = watcher.wait_for(len(public))
        assert sorted(m["seq"] for m in pushed) == public
        assert {m["id"] for m in pushed} == public_ids
        # Staff get both streams; each in its own order.
        staff = clients[2].join(ticket_id, after_seq=0, after_note_seq=0)
        assert [m["seq"] for m in staff if not m["internal"]] == public
        assert [m["seq"] for m in staff if m["internal"]] == notes
    finally:
        for client in [*clients, watcher]:
            client.close()
    row = db.session.execute(
        select(Ticket.public_seq, Ticket.note_seq).where(Ticket.id == ticket_id)
    ).one()
    assert tuple(row) == (len(public), len(notes))


# -- two connections: the second writer waits for the first ----------------------------------


def _waiting_for_a_lock(url: str, count: int) -> None:
    """PostgreSQL: until `count` other sessions of this database wait on a lock (bounded)."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 10
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                ).scalar()
                conn.rollback()
                if waiting >= count:
                    return
                time.sleep(0.02)
        raise AssertionError("the second writer never waited for the first's lock")
    finally:
        engine.dispose()


class _Held:
    """One unit of work in a thread of its own, on its own connection, that does `work`
    and then holds its transaction open until release()."""

    def __init__(self, app, work):
        self.app, self.work = app, work
        self.done_work, self.go = threading.Event(), threading.Event()
        self.result: object = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with self.app.app_context(), uow.own_connection():
            try:
                self.result = self.work()
            except Exception as exc:  # a refusal is an outcome; the test reads it
                self.result = exc
            self.done_work.set()
            if not isinstance(self.result, Exception):
                self.go.wait(20)
                uow.commit()

    def release(self):
        self.go.set()
        self.thread.join(20)
        assert not self.thread.is_alive()
        return self.result


def _post(ticket_id: int, user_id: int, body: str):
    def work():
        user = db.session.get(User, user_id)
        return post_message(db.session.get(Ticket, ticket_id), user, body, uuid.uuid4().hex)

    return work


def _close(ticket_id: int, user_id: int):
    def work():
        user = db.session.get(User, user_id)
        close_ticket(db.session.get(Ticket, ticket_id), actor=user)

    return work


def test_a_message_saved_first_but_committed_later_cannot_be_skipped(
    app, backend, database_url, convo
):
    """With two writers racing, the second used to commit first with the higher id, so a
    receiver that was pushed it and asked "after it" never got the first. Now the second
    waits on the ticket's row for the first to commit, and takes the next number."""
    if backend != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: only PostgreSQL can race two")
    ticket_id, customer, agent, _ = convo
    first = _Held(app, _post(ticket_id, agent.id, "first, committed late"))
    assert first.done_work.wait(10)
    second = _Held(app, _post(ticket_id, customer.id, "second"))
    _waiting_for_a_lock(database_url, 1)
    assert not second.done_work.is_set()
    a = first.release()
    b = second.release()
    assert (a.seq, b.seq) == (1, 2) and a.message_id < b.message_id
    db.session.expire_all()
    seen = messages_after_seq(db.session.get(Ticket, ticket_id), customer, after_seq=0)
    assert [m.seq for m in seen] == [1, 2]


def test_a_message_that_commits_before_the_close_is_older_than_the_close(
    app, backend, database_url, convo
):
    ticket_id, customer, agent, _ = convo
    message = _Held(app, _post(ticket_id, agent.id, "last words"))
    assert message.done_work.wait(10)
    closing = _Held(app, _close(ticket_id, customer.id))
    if backend == "postgresql":
        _waiting_for_a_lock(database_url, 1)
        assert not closing.done_work.is_set()
    posted = message.release()
    assert not isinstance(closing.release(), Exception)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    saved = db.session.get(Message, posted.message_id)
    assert ticket.status == TicketStatus.CLOSED and saved.created_at <= ticket.closed_at


def test_a_message_that_meets_a_close_in_progress_is_refused_once_the_close_commits(
    app, backend, database_url, convo
):
    ticket_id, customer, agent, _ = convo
    closing = _Held(app, _close(ticket_id, customer.id))
    assert closing.done_work.wait(10)
    assert not isinstance(closing.result, Exception), closing.result
    message = _Held(app, _post(ticket_id, agent.id, "too late"))
    if backend == "postgresql":
        _waiting_for_a_lock(database_url, 1)
        assert not message.done_work.is_set()
    closing.release()
    refused = message.release()
    assert isinstance(refused, ServiceError) and "closed" in str(refused)
    db.session.expire_all()
    assert db.session.scalars(select(Message).where(Message.ticket_id == ticket_id)).all() == []
    assert db.session.get(Ticket, ticket_id).public_seq == 0  # no number was spent


def _csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=5)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)


def test_close_racing_live_senders_accepts_no_message_after_the_close(live_server, convo):
    """Three sockets send as fast as they can while an admin closes the ticket over HTTP:
    every acknowledged message is saved and older than the close; everything after the
    close is refused as closed; no number is skipped."""
    ticket_id, customer, agent, admin = convo
    server = live_server(CCR_CHAT_MESSAGE_LIMIT="10000 per 10 seconds", CCR_OUTBOX_DISPATCHER="off")
    senders = [_client(server, customer), _client(server, agent), _client(server, customer)]
    closer = login_session(server.url, admin.email)
    token = _csrf(closer, f"{server.url}/admin/tickets/{ticket_id}")
    started = threading.Barrier(len(senders) + 1)
    acks: list[dict] = []
    lock = threading.Lock()

    def send_until_closed(index: int) -> None:
        senders[index].join(ticket_id, after_seq=0)
        started.wait(10)
        for k in range(200):  # bounded: the close lands well before
            ack = senders[index].send(ticket_id, f"s{index} m{k}", f"s{index}-{k}")
            with lock:
                acks.append(ack)
            if not ack["ok"]:
                return

    try:
        threads = [threading.Thread(target=send_until_closed, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        started.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # close mid-stream
            with lock:
                if len(acks) >= 10:
                    break
            time.sleep(0.01)
        r = closer.post(
            f"{server.url}/admin/tickets/{ticket_id}/status",
            data={"csrf_token": token, "verb": "close"},
            timeout=10,
            allow_redirects=False,
        )
        assert r.status_code == 302
        for t in threads:
            t.join(30)
    finally:
        for s in senders:
            s.close()
    accepted = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert len(refused) == 3 and all("closed" in a["error"] for a in refused)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    saved = db.session.scalars(select(Message).where(Message.ticket_id == ticket_id)).all()
    assert ticket.status == TicketStatus.CLOSED
    assert {m.id for m in saved} == {a["id"] for a in accepted}
    assert all(m.created_at <= ticket.closed_at for m in saved)
    assert sorted(m.seq for m in saved) == list(range(1, len(saved) + 1))
    assert ticket.public_seq == len(saved)


def test_a_second_close_waiting_on_the_first_is_refused_with_a_clear_answer(
    app, backend, database_url, convo
):
    ticket_id, customer, _, admin = convo
    first = _Held(app, _close(ticket_id, customer.id))
    assert first.done_work.wait(10)
    assert not isinstance(first.result, Exception), first.result
    second = _Held(app, _close(ticket_id, admin.id))
    if backend == "postgresql":
        _waiting_for_a_lock(database_url, 1)
        assert not second.done_work.is_set()
    first.release()
    refused = second.release()
    assert isinstance(refused, ServiceError) and "while the ticket is closed" in str(refused)
