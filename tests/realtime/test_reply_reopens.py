"""A customer's chat reply on a resolved ticket reopens it to the agent, through the same
service path as the web form: an event on the timeline, the agent's "Reopened" email, the
ticket_updated push the pages follow."""

from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Ticket, TicketEvent, TicketStatus
from ccr.notify.dispatcher import dispatch_pending
from ccr.services import tickets
from ccr.services.uow import commit
from tests.support.chat import joined, send


def _updates(sc):
    return [e["args"][0] for e in sc.get_received() if e["name"] == "ticket_updated"]


def test_a_chat_reply_on_a_resolved_ticket_reopens_it(app, socket_client, convo, mailbox):
    ticket_id, customer, agent, _ = convo
    tickets.change_status(db.session.get(Ticket, ticket_id), "resolve", actor=agent)
    commit()
    dispatch_pending()
    mailbox.clear()
    cust, _ = joined(app, socket_client, customer, ticket_id)
    agt, _ = joined(app, socket_client, agent, ticket_id)
    ack = send(cust, ticket_id, "It is back")
    assert ack["ok"]
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert ticket.status == TicketStatus.ASSIGNED and ticket.resolved_at is None
    last = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    ).all()[-1]
    assert (last.verb, last.actor_id, last.old_value) == ("reopen", customer.id, "resolved")
    assert {u["status"] for u in _updates(agt)} == {"assigned"}  # its page follows
    sent = dispatch_pending()
    mails = mailbox.wait_for(sent)
    to_agent = [m["Subject"] for m in mails if m["To"] == agent.email]
    # The agent watches the page, yet hears of the reopen as of any; no chat email besides.
    assert to_agent == [f"[{ticket.reference}] Reopened: {ticket.subject}"]


def test_a_second_reply_adds_no_event(app, socket_client, convo):
    ticket_id, customer, agent, _ = convo
    tickets.change_status(db.session.get(Ticket, ticket_id), "resolve", actor=agent)
    commit()
    cust, _ = joined(app, socket_client, customer, ticket_id)
    assert send(cust, ticket_id, "one")["ok"] and send(cust, ticket_id, "two")["ok"]
    verbs = db.session.scalars(
        select(TicketEvent.verb).where(TicketEvent.ticket_id == ticket_id)
    ).all()
    assert verbs.count("reopen") == 1
