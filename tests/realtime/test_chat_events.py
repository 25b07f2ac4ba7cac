"""Chat over the Socket.IO test client: saved before acknowledged, idempotent retries,
catch-up without gaps or duplicates, no phantoms, and authorisation on every event."""

import logging
import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import func, select, update

from ccr.extensions import db
from ccr.models import Message, ReadMarker, Role, Ticket, TicketEvent, TicketStatus, User, utcnow
from ccr.realtime import dispatch
from ccr.realtime.ratelimit import SocketLimits
from ccr.services import tickets
from ccr.services.uow import commit
from tests.support.chat import connect_as, created, joined, send
from tests.support.faults import commit_fails, database_unreachable
from tests.support.users import login


def count_messages():
    return db.session.scalar(select(func.count(Message.id)))


def test_a_message_is_acked_with_its_server_id_and_reaches_the_other_side(
    app, socket_client, convo
):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    ack = send(cust, ticket_id, "Hello there")
    assert ack["ok"] and isinstance(ack["id"], int)
    row = db.session.get(Message, ack["id"])
    assert row is not None and row.body == "Hello there"  # saved before acknowledged
    [msg] = created(agt)
    assert msg["id"] == ack["id"] and msg["author_name"].startswith("Cara")
    assert msg["author_role"] == "customer"


def test_r1_a_failed_commit_gives_a_failure_ack_no_row_no_broadcast_then_a_retry_works(
    app, socket_client, convo, monkeypatch
):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    with commit_fails(monkeypatch):
        ack = send(cust, ticket_id, "Lost?", client_id="c-1")
    assert ack["ok"] is False and "not saved" in ack["error"]
    assert count_messages() == 0
    assert created(agt) == [] and created(cust) == []

    retry = send(cust, ticket_id, "Lost?", client_id="c-1")
    assert retry["ok"] and count_messages() == 1
    assert [m["id"] for m in created(agt)] == [retry["id"]]


def test_a_database_failure_during_the_user_check_gives_a_failure_ack_then_a_retry_works(
    app, socket_client, convo, monkeypatch
):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    with database_unreachable(monkeypatch):
        ack = send(cust, ticket_id, "Anyone there?", client_id="c-9")
    assert ack["ok"] is False and "not saved" in ack["error"]
    assert cust.is_connected() and count_messages() == 0 and created(agt) == []

    retry = send(cust, ticket_id, "Anyone there?", client_id="c-9")
    assert retry["ok"] and count_messages() == 1
    assert [m["id"] for m in created(agt)] == [retry["id"]]


def test_r2_the_same_client_id_three_times_makes_one_row_and_one_id(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    acks = [send(cust, ticket_id, "Only once", client_id="same") for _ in range(3)]
    assert all(a["ok"] for a in acks)
    assert len({a["id"] for a in acks}) == 1
    assert count_messages() == 1
    assert len(created(agt)) == 1  # resends are not broadcast again


def test_a_resend_after_the_ticket_closed_still_gets_the_saved_messages_id(
    app, socket_client, convo
):
    """The first ack was lost; by the time the client resends, the customer closed the
    ticket elsewhere. The message was saved, so the resend gets its id, not an error."""
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    first = send(cust, ticket_id, "Saved before closing", client_id="c-9")
    tickets.close_ticket(db.session.get(Ticket, ticket_id), actor=db.session.get(User, customer.id))
    commit()
    resend = send(cust, ticket_id, "Saved before closing", client_id="c-9")
    assert resend == first
    fresh = send(cust, ticket_id, "A new one", client_id="c-10")
    assert fresh["ok"] is False and "closed" in fresh["error"]
    assert count_messages() == 1


def test_r3_a_reconnecting_client_gets_exactly_what_it_missed_in_order(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    first = send(cust, ticket_id, "before")["id"]
    assert [m["id"] for m in created(agt)] == [first]
    agt.disconnect()

    missed = [send(cust, ticket_id, f"missed {i}")["id"] for i in range(3)]
    agt2, ack = joined(app, socket_client, agent, ticket_id, after_id=first)
    assert [m["id"] for m in ack["messages"]] == missed
    assert [m["body"] for m in ack["messages"]] == ["missed 0", "missed 1", "missed 2"]


def test_r3_two_tabs_of_one_user_each_see_every_message_once(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    tab1, _ = joined(app, socket_client, agent, ticket_id)
    tab2, _ = joined(app, socket_client, agent, ticket_id)
    ids = [send(cust, ticket_id, f"m{i}")["id"] for i in range(3)]
    assert [m["id"] for m in created(tab1)] == ids
    assert [m["id"] for m in created(tab2)] == ids


def test_catch_up_is_also_available_as_json(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    ids = [send(cust, ticket_id, f"m{i}")["id"] for i in range(3)]
    client = app.test_client()
    login(client, agent)
    body = client.get(f"/chat/tickets/{ticket_id}/messages?after={ids[0]}").json
    assert [m["id"] for m in body["messages"]] == ids[1:]


def test_internal_notes_reach_staff_only(app, socket_client, convo):
    ticket_id, customer, agent, admin = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    adm, _ = joined(app, socket_client, admin, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    ack = send(agt, ticket_id, "customer seems confused", internal=True)
    assert ack["ok"]
    assert [m["id"] for m in created(adm)] == [ack["id"]]
    assert created(cust) == []
    cust2, join_ack = joined(app, socket_client, customer, ticket_id)
    assert join_ack["messages"] == []
    refused = send(cust, ticket_id, "let me in", internal=True)
    assert refused["ok"] is False


@pytest.mark.parametrize("body,reason", [("   ", "Write a message"), ("x" * 5001, "at most")])
def test_bad_bodies_get_a_clear_error_and_store_nothing(app, socket_client, convo, body, reason):
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    ack = send(cust, ticket_id, body)
    assert ack["ok"] is False and reason in ack["error"]
    assert count_messages() == 0


def test_more_than_30_messages_in_10_seconds_are_refused(app, socket_client, convo):
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    acks = [send(cust, ticket_id, f"m{i}") for i in range(31)]
    assert all(a["ok"] for a in acks[:30])
    assert acks[30]["ok"] is False and "too fast" in acks[30]["error"]
    assert count_messages() == 30


def test_typing_is_shown_to_the_other_side_only(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    assert agt.emit("typing", {"ticket_id": ticket_id}, callback=True)["ok"]
    got = [e["args"][0] for e in cust.get_received() if e["name"] == "typing"]
    assert got and got[0]["name"].startswith("Sam") and got[0]["role"] == "agent"
    assert [e for e in agt.get_received() if e["name"] == "typing"] == []


def test_mark_read_stores_the_marker_and_tells_the_sender(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    mid = send(cust, ticket_id, "read me")["id"]
    cust.get_received()
    ack = agt.emit("mark_read", {"ticket_id": ticket_id, "message_id": mid}, callback=True)
    assert ack == {"ok": True, "message_id": mid}
    marker = db.session.get(ReadMarker, (agent.id, ticket_id))
    assert marker.last_read_message_id == mid
    reads = [e["args"][0] for e in cust.get_received() if e["name"] == "messages_read"]
    assert reads == [{"ticket_id": ticket_id, "user_id": agent.id, "message_id": mid}]
    # A marker never moves back, and cannot point past the newest message.
    back = agt.emit("mark_read", {"ticket_id": ticket_id, "message_id": 0}, callback=True)
    assert back["message_id"] == mid


# -- authorisation on every event -----------------------------------------------------------

EVENTS = [
    ("join_ticket", {}),
    ("send_message", {"body": "hi", "client_id": "x1"}),
    ("typing", {}),
    ("mark_read", {"message_id": 1}),
]


@pytest.mark.parametrize("event,payload", EVENTS)
def test_a_customer_of_another_ticket_is_refused_every_event(
    app, socket_client, convo, make_user, event, payload
):
    ticket_id, *_ = convo
    stranger = connect_as(app, socket_client, make_user(Role.CUSTOMER))
    ack = stranger.emit(event, {"ticket_id": ticket_id, **payload}, callback=True)
    assert ack["ok"] is False and ack["error"] == "No such ticket."
    assert count_messages() == 0


@pytest.mark.parametrize("event,payload", EVENTS)
def test_an_agent_loses_every_event_at_once_after_reassignment(
    app, socket_client, convo, make_user, event, payload
):
    ticket_id, customer, agent, admin = convo
    agt, _ = joined(app, socket_client, agent, ticket_id)
    other = make_user(Role.AGENT)
    from ccr.models import Ticket

    tickets.assign_ticket(db.session.get(Ticket, ticket_id), other, actor=admin)
    commit()
    ack = agt.emit(event, {"ticket_id": ticket_id, **payload}, callback=True)
    assert ack["ok"] is False
    # ... and no longer receives the conversation.
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt.get_received()
    send(cust, ticket_id, "after reassignment")
    assert created(agt) == []


@pytest.mark.parametrize("bad_id", [0, -3, 2**63, 10**30, "x", None, [1], {"id": 1}])
def test_a_ticket_id_that_cannot_exist_gets_no_such_ticket_on_every_event(
    app, socket_client, convo, bad_id
):
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    for event, payload in EVENTS:
        ack = cust.emit(event, {"ticket_id": bad_id, **payload}, callback=True)
        assert ack == {"ok": False, "error": "No such ticket."}, event
    assert cust.is_connected() and count_messages() == 0


def test_a_customers_chat_reply_to_a_ticket_waiting_on_them_moves_it_back_to_the_agent(
    app, socket_client, convo
):
    ticket_id, customer, agent, _ = convo
    tickets.change_status(db.session.get(Ticket, ticket_id), "wait", actor=agent)
    commit()
    cust, _ = joined(app, socket_client, customer, ticket_id)
    assert send(cust, ticket_id, "Here is the screenshot you asked for")["ok"]
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert ticket.status == TicketStatus.IN_PROGRESS
    [event] = db.session.scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.new_value == "in_progress"
        )
    ).all()
    assert event.actor_id == customer.id


def test_a_stranger_without_a_session_cannot_connect(app, socket_client):
    sc = socket_client(app.test_client())
    assert not sc.is_connected()


def test_logout_disconnects_the_users_live_sockets(app, socket_client, convo):
    ticket_id, customer, *_ = convo
    client = app.test_client()
    login(client, customer)
    sc = socket_client(client)
    assert sc.is_connected()
    client.post("/logout")
    assert not sc.is_connected()


def test_a_socket_whose_login_session_has_expired_is_refused_and_disconnected(
    app, socket_client, convo
):
    """The session cookie is decoded once per socket for speed; its lifetime still ends it."""
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    assert send(cust, ticket_id, "still logged in")["ok"]
    later = utcnow() + app.permanent_session_lifetime + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        ack = send(cust, ticket_id, "after the session expired")
    assert ack["ok"] is False and "log in again" in ack["error"]
    assert not cust.is_connected()
    assert count_messages() == 1


@pytest.mark.parametrize(
    "change",
    [{"active": False}, {"session_version": User.session_version + 1}, {"deleted_at": utcnow()}],
    ids=["deactivated", "signed-out-elsewhere", "deleted"],
)
def test_every_event_rereads_the_user_row_even_without_a_disconnect_push(
    app, socket_client, convo, change
):
    """The socket keeps its User object between events, but each event checks the row: a
    change made where no push reached this socket (another process, a console) still counts."""
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    assert send(cust, ticket_id, "before")["ok"]
    db.session.execute(update(User).where(User.id == customer.id).values(**change))
    commit()
    ack = send(cust, ticket_id, "after")
    assert ack["ok"] is False and "log in again" in ack["error"]
    assert not cust.is_connected()
    assert count_messages() == 1


def test_a_renamed_user_is_shown_with_the_new_name_on_the_next_message(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    send(cust, ticket_id, "first")
    db.session.execute(update(User).where(User.id == customer.id).values(first_name="Carla"))
    commit()
    send(cust, ticket_id, "second")
    names = [m["author_name"] for m in created(agt)]
    assert names == ["Cara Tester", "Carla Tester"]


def test_dashboard_sockets_hear_of_new_messages_but_the_open_ticket_page_is_not_told_twice(
    app, socket_client, convo
):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    on_page, _ = joined(app, socket_client, agent, ticket_id)
    dashboard = connect_as(app, socket_client, agent)
    dashboard.get_received()
    send(cust, ticket_id, "hello")
    page_events = [e["name"] for e in on_page.get_received()]
    dashboard_events = [e["name"] for e in dashboard.get_received()]
    assert page_events == ["message_created"]
    assert dashboard_events == ["ticket_activity"]


def test_the_sending_socket_learns_its_message_from_the_ack_and_its_other_tabs_by_push(
    app, socket_client, convo
):
    ticket_id, customer, agent, _ = convo
    sender, _ = joined(app, socket_client, customer, ticket_id)
    other_tab, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    ack = send(sender, ticket_id, "from tab one")
    assert ack["ok"]
    assert created(sender) == []  # one frame less: the ack already carries the id
    assert [m["id"] for m in created(other_tab)] == [ack["id"]]
    assert [m["id"] for m in created(agt)] == [ack["id"]]


def test_a_message_moves_the_tickets_last_activity_at_most_every_30_seconds(
    app, socket_client, convo
):
    """Lists sort by last activity; rewriting its indexes on every message of a lively chat
    cost more than the message itself, so a burst moves it once (lists show minutes)."""
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)

    def activity():
        db.session.expire_all()
        return db.session.get(Ticket, ticket_id).last_activity_at

    start = utcnow() + timedelta(hours=1)
    with time_machine.travel(start, tick=False):
        assert send(cust, ticket_id, "an hour later")["ok"]
        assert activity() == start
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        assert send(cust, ticket_id, "ten seconds later")["ok"]
        assert activity() == start
    later = start + timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        assert send(cust, ticket_id, "half a minute later")["ok"]
        assert activity() == later
    assert count_messages() == 3


# -- payloads that do not fit their declaration ---------------------------------------------


@pytest.mark.parametrize(
    "extra,reason",
    [
        ({"body": ["a", "list"]}, "must be text"),
        ({"body": {"a": "dict"}}, "must be text"),
        ({"body": "a NUL \x00 inside"}, "control characters"),
        ({"body": "x" * 5001}, "at most 5,000 characters"),
        ({"internal": "false"}, "must be true or false"),
        ({"client_id": 12345}, "must be text"),
        ({"client_id": "x" * 65}, "at most 64 characters"),
    ],
)
def test_a_message_payload_of_the_wrong_shape_is_refused_and_nothing_is_stored(
    app, socket_client, convo, extra, reason
):
    ticket_id, customer, agent, _ = convo
    agt, _ = joined(app, socket_client, agent, ticket_id)
    payload = {"ticket_id": ticket_id, "body": "hello", "client_id": "c-1", **extra}
    ack = agt.emit("send_message", payload, callback=True)
    assert ack["ok"] is False and reason in ack["error"]
    assert count_messages() == 0 and created(agt) == []


@pytest.mark.parametrize("bad", [2**70, 1e308, -1, True, "1e3", [1]])
@pytest.mark.parametrize("event,field", [("join_ticket", "after_id"), ("mark_read", "message_id")])
def test_a_number_no_column_holds_gets_a_clean_failure_ack_and_no_traceback(
    app, socket_client, convo, caplog, event, field, bad
):
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    with caplog.at_level(logging.INFO):
        ack = cust.emit(event, {"ticket_id": ticket_id, field: bad}, callback=True)
    assert ack == {
        "ok": False,
        "error": f"The field {field} must be a whole number from 0 to 2147483647.",
    }
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert cust.is_connected()


# -- what concerns internal notes stays with staff ------------------------------------------


def reads(sc):
    return [e["args"][0]["message_id"] for e in sc.get_received() if e["name"] == "messages_read"]


def test_a_read_marker_on_an_internal_note_reaches_staff_only(app, socket_client, convo):
    ticket_id, customer, agent, admin = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    adm, _ = joined(app, socket_client, admin, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    public = send(cust, ticket_id, "my printer is on fire")["id"]
    note = send(adm, ticket_id, "escalate to hardware", internal=True)["id"]
    for sc in (cust, adm, agt):
        sc.get_received()

    ack = agt.emit("mark_read", {"ticket_id": ticket_id, "message_id": note}, callback=True)
    assert ack == {"ok": True, "message_id": note}
    assert reads(cust) == [public]  # the customer never learns the note's id
    assert max(reads(adm)) == note

    later_note = send(adm, ticket_id, "hardware says next week", internal=True)["id"]
    cust.get_received()
    adm.get_received()
    agt.emit("mark_read", {"ticket_id": ticket_id, "message_id": later_note}, callback=True)
    assert reads(cust) == []  # the public marker did not move: nothing at all
    assert reads(adm) == [later_note]


def test_a_customers_read_marker_still_reaches_the_agent(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    mid = send(agt, ticket_id, "have you tried turning it off")["id"]
    agt.get_received()
    cust.emit("mark_read", {"ticket_id": ticket_id, "message_id": mid}, callback=True)
    assert reads(agt) == [mid]


def test_typing_while_the_internal_note_box_is_ticked_is_shown_to_staff_only(
    app, socket_client, convo
):
    ticket_id, customer, agent, admin = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    adm, _ = joined(app, socket_client, admin, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    ack = agt.emit("typing", {"ticket_id": ticket_id, "internal": True}, callback=True)
    assert ack == {"ok": True}
    assert [e for e in cust.get_received() if e["name"] == "typing"] == []
    [typing] = [e["args"][0] for e in adm.get_received() if e["name"] == "typing"]
    assert typing["user_id"] == agent.id
    # A customer cannot hide their typing from the agent with the flag.
    cust.emit("typing", {"ticket_id": ticket_id, "internal": True}, callback=True)
    assert [e["args"][0]["user_id"] for e in agt.get_received() if e["name"] == "typing"] == [
        customer.id
    ]


# -- one per-user budget for the chat socket and the HTTP chat form -------------------------


def http_post(client, ticket_id, body, client_id):
    return client.post(
        f"/chat/tickets/{ticket_id}/messages",
        data={"body": body, "client_id": client_id},
        follow_redirects=True,
    )


def test_the_http_chat_form_shares_the_sockets_per_user_limit(app, socket_client, convo):
    ticket_id, customer, *_ = convo
    app.config["CCR_SOCKET_LIMITS"]["send_message"] = "5 per minute"
    dispatch.register(app)  # the limits are read when the events are bound
    http = app.test_client()
    login(http, customer)
    cust = socket_client(http)
    assert cust.emit("join_ticket", {"ticket_id": ticket_id}, callback=True)["ok"]
    assert all(send(cust, ticket_id, f"socket {i}")["ok"] for i in range(3))
    for i in range(2):
        assert f"form {i}" in http_post(http, ticket_id, f"form {i}", f"f{i}").data.decode()

    page = http_post(http, ticket_id, "one too many", "f-over").data.decode()
    assert "You are sending messages too quickly; try again in " in page
    assert re.search(r"try again in (1 minute|([1-5][0-9]|[2-9]) seconds|1 second)\.", page)
    assert count_messages() == 5
    assert "too fast" in send(cust, ticket_id, "and by socket")["error"]
    assert count_messages() == 5


def test_the_shared_limit_is_one_budget_for_every_process_on_redis(redis_url):
    def process_limits():  # what each process's create_app builds from the same config
        config = {"CCR_SOCKET_LIMITS": {"send_message": "3 per minute"}}
        return SocketLimits(SimpleNamespace(config={**config, "RATELIMIT_STORAGE_URI": redis_url}))

    one, two = process_limits(), process_limits()
    user_id = uuid.uuid4().int % 10**9  # a user no other test counts
    assert [one.wait("send_message", user_id), two.wait("send_message", user_id)] == [0, 0]
    assert one.wait("send_message", user_id) == 0
    assert 1 <= two.wait("send_message", user_id) <= 60
    assert 1 <= one.wait("send_message", user_id) <= 60
