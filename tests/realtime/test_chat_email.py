"""Chat emails: one summary per ticket per 10 minutes to a recipient who is away."""

from datetime import timedelta

import time_machine

from ccr.extensions import db
from ccr.models import Ticket
from ccr.notify.dispatcher import dispatch_pending
from ccr.services.messages import post_message
from ccr.services.uow import commit
from tests.support.chat import joined, send
from tests.support.faults import commit_fails
from tests.support.smtp import body_text


def _post(ticket_id, author, body, cid):
    """As a boundary would: the message and its email are committed together."""
    posted = post_message(db.session.get(Ticket, ticket_id), author, body, cid)
    commit()
    return posted


def _chat_mails(mailbox, address):
    dispatch_pending()
    return [m for m in mailbox.to(address) if "New message" in m["Subject"]]


def test_an_away_agent_gets_one_email_per_ticket_per_10_minutes(app, convo, mailbox):
    ticket_id, customer, agent, _ = convo
    dispatch_pending()
    mailbox.clear()
    _post(ticket_id, customer, "first", "e1")
    _post(ticket_id, customer, "second", "e2")
    [mail] = _chat_mails(mailbox, agent.email)
    assert customer.full_name in mail["Subject"] and "CCR-" in mail["Subject"]
    assert f"/agent/tickets/{ticket_id}" in body_text(mail)
    assert "first" not in body_text(mail)  # the email points to the chat; it does not copy it
    with time_machine.travel(timedelta(minutes=11)):
        _post(ticket_id, customer, "third", "e3")
        assert len(_chat_mails(mailbox, agent.email)) == 2


def test_a_recipient_watching_the_ticket_gets_no_email(app, convo, mailbox, socket_client):
    ticket_id, customer, agent, _ = convo
    joined(app, socket_client, agent, ticket_id)
    dispatch_pending()
    mailbox.clear()
    _post(ticket_id, customer, "hello", "w1")
    assert _chat_mails(mailbox, agent.email) == []


def test_a_customer_who_turned_chat_emails_off_gets_none(app, convo, mailbox):
    ticket_id, customer, agent, _ = convo
    customer.notify_chat_email = False
    db.session.commit()
    dispatch_pending()
    mailbox.clear()
    _post(ticket_id, agent, "an answer", "o1")
    assert _chat_mails(mailbox, customer.email) == []


def test_internal_notes_never_email_the_customer(app, convo, mailbox):
    ticket_id, customer, agent, _ = convo
    dispatch_pending()
    mailbox.clear()
    post_message(db.session.get(Ticket, ticket_id), agent, "secret note", "n1", internal=True)
    dispatch_pending()
    assert mailbox.to(customer.email) == []
    assert all("secret note" not in body_text(m) for m in mailbox.messages)


def test_a_socket_message_to_an_away_agent_emails_them_in_the_same_transaction(
    app, convo, mailbox, socket_client, monkeypatch
):
    """Over the socket the message is a Core insert on the event's own connection and the
    email an ORM row; a failed COMMIT must lose both, and the retry must save both once."""
    from sqlalchemy import func, select

    from ccr.models import Message, OutboxEmail

    ticket_id, customer, agent, _ = convo
    dispatch_pending()
    mailbox.clear()
    cust, _ = joined(app, socket_client, customer, ticket_id)  # the agent is not connected

    def counts():
        db.session.rollback()  # read what is committed now
        return [
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Message, OutboxEmail)
        ]

    before = counts()
    with commit_fails(monkeypatch):
        ack = send(cust, ticket_id, "Are you there?", client_id="away-1")
    assert ack["ok"] is False
    assert counts() == before

    retry = send(cust, ticket_id, "Are you there?", client_id="away-1")
    assert retry["ok"]
    assert counts() == [before[0] + 1, before[1] + 1]
    [mail] = _chat_mails(mailbox, agent.email)
    assert customer.full_name in mail["Subject"]
