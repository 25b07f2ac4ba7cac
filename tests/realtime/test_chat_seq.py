"""Sequence numbers as the chat's clients see them: every push, ack, catch-up and page
carries the message's number in its stream; a customer's numbers never reveal a note; a
resend spends no number."""

import re

from ccr.extensions import db
from ccr.models import Ticket
from tests.support.chat import created, joined, send
from tests.support.users import login


def test_pushes_acks_and_catch_up_carry_each_audiences_own_numbers(app, socket_client, convo):
    ticket_id, customer, agent, admin = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    adm, _ = joined(app, socket_client, admin, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    hello = send(cust, ticket_id, "hello")
    note = send(agt, ticket_id, "is this the refund case?", internal=True)
    reply = send(agt, ticket_id, "looking into it")
    assert (hello["seq"], note["seq"], reply["seq"]) == (1, 1, 2)
    # The customer's stream goes 1, 2: nothing shows that a note came in between.
    assert [(m["id"], m["seq"]) for m in created(cust)] == [(reply["id"], 2)]
    # Staff are in both rooms, and get each message once, with its stream's number.
    pushed = created(adm)
    assert [(m["id"], m["seq"], m["internal"]) for m in pushed] == [
        (hello["id"], 1, False),
        (note["id"], 1, True),
        (reply["id"], 2, False),
    ]
    _, ack = joined(app, socket_client, customer, ticket_id, after_seq=1)
    assert [m["id"] for m in ack["messages"]] == [reply["id"]] and ack["more"] is False
    _, ack = joined(app, socket_client, admin, ticket_id, after_seq=1, after_note_seq=0)
    assert [m["id"] for m in ack["messages"]] == [note["id"], reply["id"]]
    _, ack = joined(app, socket_client, admin, ticket_id, after_seq=2, after_note_seq=1)
    assert ack["messages"] == []


def test_a_customer_asking_for_notes_gets_none(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    agt, _ = joined(app, socket_client, agent, ticket_id)
    send(agt, ticket_id, "staff only", internal=True)
    _, ack = joined(app, socket_client, customer, ticket_id, after_seq=0, after_note_seq=0)
    assert ack["messages"] == []
    client = app.test_client()
    login(client, customer)
    body = client.get(f"/chat/tickets/{ticket_id}/messages?after_seq=0&after_note_seq=0").json
    assert body["messages"] == []


def test_a_resend_gets_the_first_number_and_spends_none(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    first = send(cust, ticket_id, "once", client_id="same")
    again = send(cust, ticket_id, "once", client_id="same")
    after = send(cust, ticket_id, "next", client_id="other")
    assert first == again and first["seq"] == 1
    assert after["seq"] == 2  # no gap a client would wait on
    assert db.session.get(Ticket, ticket_id).public_seq == 2


def test_json_catch_up_by_number_and_the_old_id_form(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    acks = [send(cust, ticket_id, f"m{i}") for i in range(3)]
    client = app.test_client()
    login(client, agent)
    body = client.get(f"/chat/tickets/{ticket_id}/messages?after_seq=1").json
    assert [(m["id"], m["seq"]) for m in body["messages"]] == [
        (a["id"], a["seq"]) for a in acks[1:]
    ]
    body = client.get(f"/chat/tickets/{ticket_id}/messages?after={acks[1]['id']}").json
    assert [m["id"] for m in body["messages"]] == [acks[2]["id"]]
    for junk in ("-1", "1e3", "99999999999", "x"):  # read as 0: everything, never an error
        r = client.get(f"/chat/tickets/{ticket_id}/messages?after_seq={junk}")
        assert r.status_code == 200 and len(r.json["messages"]) == 3


def test_the_page_carries_each_messages_number(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    agt, _ = joined(app, socket_client, agent, ticket_id)
    send(agt, ticket_id, "note", internal=True)
    send(agt, ticket_id, "public")
    client = app.test_client()
    login(client, agent)
    page = client.get(f"/agent/tickets/{ticket_id}").text
    assert re.findall(
        r'<li class="message( internal)?[^"]*" data-id="\d+" data-seq="(\d+)"', page
    ) == [
        (" internal", "1"),
        ("", "1"),
    ]
    client = app.test_client()
    login(client, customer)
    page = client.get(f"/customer/tickets/{ticket_id}").text
    assert re.findall(r'data-seq="(\d+)"', page) == ["1"]
