"""The full lifecycle over HTTP for all three roles, with the exact emails the SMTP sink
(aiosmtpd) receives for each transition: recipients, subject and absolute link."""

import pytest
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Category, OutboxEmail, Role, Ticket, TicketStatus
from ccr.notify.dispatcher import dispatch_pending
from ccr.services.tickets import change_status, open_ticket
from ccr.services.uow import commit
from tests.support.smtp import body_html, body_text
from tests.support.users import login

BASE = "https://help.example.test"
SECRET = "SECRET-INTERNAL-NOTE-7f3a"


@pytest.fixture
def app_config(app_config):
    app_config.CCR_BASE_URL = BASE
    return app_config


class Mail:
    """Sends what the outbox holds and returns what the sink received, then forgets it."""

    def __init__(self, mailbox):
        self.mailbox = mailbox
        self.everything = []

    def take(self) -> list:
        sent = dispatch_pending()
        messages = self.mailbox.wait_for(sent) if sent else []
        assert len(messages) == sent
        self.mailbox.clear()
        self.everything += messages
        return messages

    def check(self, ticket: Ticket, expected: dict[str, tuple[str, str]]):
        """expected: recipient email -> (headline, role whose ticket page the link opens)."""
        messages = self.take()
        got = sorted(m["To"] for m in messages)
        assert got == sorted(expected), f"recipients {got} != {sorted(expected)}"
        for m in messages:
            headline, role = expected[m["To"]]
            assert m["Subject"] == f"[{ticket.reference}] {headline}: {ticket.subject}"
            link = f"{BASE}/{role}/tickets/{ticket.id}"
            assert link in body_text(m) and f'href="{link}"' in body_html(m)
            assert ticket.reference in body_text(m)


def _client(app, user):
    c = app.test_client()
    login(c, user)
    return c


def test_full_lifecycle_for_all_three_roles_with_exact_emails(app, make_user, mailbox):
    admin = make_user(Role.ADMIN, email="admin@example.com")
    admin2 = make_user(Role.ADMIN, email="admin2@example.com")
    make_user(Role.ADMIN, email="gone-admin@example.com", active=False)
    ann = make_user(Role.AGENT, email="ann@example.com", first_name="Ann")
    bob = make_user(Role.AGENT, email="bob@example.com", first_name="Bob")
    cus = make_user(Role.CUSTOMER, email="cus@example.com")
    db.session.add(Category(name="Hardware"))
    commit()
    mail = Mail(mailbox)
    C, A, B, M = (_client(app, u) for u in (cus, ann, bob, admin))

    def t() -> Ticket:
        db.session.expire_all()
        return db.session.scalars(select(Ticket)).one()

    # customer raises a ticket
    r = C.post(
        "/customer/tickets/new",
        data={"subject": "Printer on fire", "description": "Smoke", "priority": "urgent"},
    )
    assert r.status_code == 302
    ticket = t()
    assert ticket.status == TicketStatus.OPEN
    mail.check(
        ticket,
        {
            cus.email: ("We received your request", "customer"),
            admin.email: ("A new ticket was raised", "admin"),
            admin2.email: ("A new ticket was raised", "admin"),
        },
    )

    # admin assigns (the fetch path)
    r = M.post(
        f"/admin/tickets/{ticket.id}/assign",
        data={"agent_id": str(ann.id)},
        headers={"Accept": "application/json"},
    )
    assert r.json["ok"] and t().status == TicketStatus.ASSIGNED
    mail.check(
        t(),
        {
            ann.email: ("A ticket was assigned to you", "agent"),
            cus.email: ("Your ticket has an agent", "customer"),
        },
    )

    # agent starts work
    A.post(f"/agent/tickets/{ticket.id}/status", data={"verb": "start"})
    assert t().status == TicketStatus.IN_PROGRESS
    mail.check(t(), {cus.email: ("Work has started", "customer")})

    # an internal note and a reply: no status change
    A.post(
        f"/chat/tickets/{ticket.id}/messages",
        data={"body": SECRET, "client_id": "n1", "internal": "y"},
    )
    A.post(f"/chat/tickets/{ticket.id}/messages", data={"body": "Unplug it", "client_id": "r1"})
    assert t().first_response_at is not None
    # The customer is not watching: one chat email, for the reply only (never the note).
    mail.check(t(), {cus.email: (f"New message from {ann.full_name}", "customer")})

    # agent waits on the customer; the customer's reply moves it back to in progress
    A.post(f"/agent/tickets/{ticket.id}/status", data={"verb": "wait"})
    assert t().status == TicketStatus.WAITING_ON_CUSTOMER
    mail.check(t(), {cus.email: ("Waiting for the customer's reply", "customer")})
    assert b"Waiting on me" in C.get("/customer/?tab=waiting").data
    C.post(f"/chat/tickets/{ticket.id}/messages", data={"body": "Done", "client_id": "c1"})
    assert t().status == TicketStatus.IN_PROGRESS
    mail.check(t(), {ann.email: ("The customer replied", "agent")})

    # agent resolves
    A.post(f"/agent/tickets/{ticket.id}/status", data={"verb": "resolve"})
    assert t().status == TicketStatus.RESOLVED and t().resolved_at is not None
    mail.check(t(), {cus.email: ("Resolved", "customer")})

    # customer rates, closes (after the confirm page), reopens
    C.post(f"/customer/tickets/{ticket.id}/rating", data={"rating": "5", "comment": "Great"})
    assert t().rating == 5
    mail.check(t(), {ann.email: ("Rated 5 of 5", "agent")})
    assert C.get(f"/customer/tickets/{ticket.id}/close").status_code == 200
    C.post(f"/customer/tickets/{ticket.id}/status", data={"verb": "close"})
    assert t().status == TicketStatus.CLOSED
    mail.check(t(), {cus.email: ("Closed", "customer"), ann.email: ("Closed", "agent")})
    C.post(f"/customer/tickets/{ticket.id}/status", data={"verb": "reopen"})
    assert t().status == TicketStatus.ASSIGNED and t().assignee_id == ann.id
    mail.check(t(), {cus.email: ("Reopened", "customer"), ann.email: ("Reopened", "agent")})

    # admin reassigns (no-JS path): the old agent loses the ticket at once
    r = M.post(f"/admin/tickets/{ticket.id}/assign", data={"agent_id": str(bob.id)})
    assert r.status_code == 302
    mail.check(
        t(),
        {
            bob.email: ("A ticket was assigned to you", "agent"),
            cus.email: ("Your ticket has an agent", "customer"),
        },
    )
    assert A.get(f"/agent/tickets/{ticket.id}").status_code == 404
    assert B.get(f"/agent/tickets/{ticket.id}").status_code == 200

    # the new agent works it; the admin closes and reopens it
    B.post(f"/agent/tickets/{ticket.id}/status", data={"verb": "start"})
    mail.check(t(), {cus.email: ("Work has started", "customer")})
    B.post(f"/agent/tickets/{ticket.id}/status", data={"verb": "resolve"})
    mail.check(t(), {cus.email: ("Resolved", "customer")})
    M.post(f"/admin/tickets/{ticket.id}/status", data={"verb": "close"})
    assert t().status == TicketStatus.CLOSED
    mail.check(t(), {cus.email: ("Closed", "customer"), bob.email: ("Closed", "agent")})
    M.post(f"/admin/tickets/{ticket.id}/status", data={"verb": "reopen"})
    assert t().status == TicketStatus.ASSIGNED
    mail.check(t(), {cus.email: ("Reopened", "customer"), bob.email: ("Reopened", "agent")})

    # internal notes never reach an email; the timeline has every step
    for m in mail.everything:
        assert SECRET not in body_text(m) and SECRET not in body_html(m)
    page = C.get(f"/customer/tickets/{ticket.id}").data.decode()
    assert SECRET not in page
    for words in (
        f"{cus.full_name}</span> created the ticket",
        "assigned the ticket to",
        "reassigned the ticket from",
        "closed the ticket",
        "reopened the ticket",
        f"{cus.full_name}</span> rated 5 of 5",
    ):
        assert words in page
    audit = M.get("/admin/audit").data.decode()
    assert audit.count(ticket.reference) >= 15


def test_reopen_goes_to_open_when_the_agent_is_gone(app, scene, mailbox):
    s = scene(subject="S", description="D")
    ann, cus, ticket = s.agent, s.customer, s.ticket
    change_status(ticket, "resolve", actor=ann)
    commit()
    ann.active = False
    commit()
    C = _client(app, cus)
    C.post(f"/customer/tickets/{ticket.id}/status", data={"verb": "reopen"})
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == TicketStatus.OPEN and ticket.assignee_id is None
    assert b"Not assigned yet" in C.get(f"/customer/tickets/{ticket.id}").data


def test_a_failed_commit_sends_no_email(app, make_user, mailbox):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT)
    cus = make_user(Role.CUSTOMER)
    ticket = open_ticket(actor=cus, subject="S", description="D")
    db.session.add(Category(name="Dup"))
    commit()
    dispatch_pending()
    mailbox.wait_for(2)
    mailbox.clear()

    from sqlalchemy.exc import IntegrityError

    from ccr.services.tickets import assign_ticket

    assign_ticket(ticket, ann, actor=admin)
    db.session.add(Category(name="Dup"))  # the unique name makes this commit fail
    with pytest.raises(IntegrityError):
        commit()
    assert (
        db.session.scalars(select(OutboxEmail).where(OutboxEmail.status == "pending")).all() == []
    )
    assert dispatch_pending() == 0
    assert mailbox.messages == []
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id is None
