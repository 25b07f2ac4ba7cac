"""Admin pages beyond the ticket list: the mail log with retry, and the strict-CSP script."""

import re

from sqlalchemy import select

from ccr.admin.audit import AdminAction
from ccr.extensions import db
from ccr.models import Category, OutboxEmail, OutboxStatus, Role
from ccr.notify.dispatcher import dispatch_pending
from ccr.services.tickets import open_ticket
from ccr.services.uow import commit
from tests.support.users import login


def test_mail_log_shows_rows_and_retries_a_dead_one(app, client, make_user, mailbox):
    admin = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER, email="cus@example.com")
    open_ticket(actor=customer, subject="S", description="D")
    commit()
    rows = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    dead = next(r for r in rows if r.recipient == "cus@example.com")
    dead.status = OutboxStatus.DEAD
    dead.attempts = 8
    dead.last_error = "SMTPServerDisconnected: gone away"
    commit()
    assert dispatch_pending() == 1  # the admin's notice goes; the dead row does not
    mailbox.wait_for(1)
    mailbox.clear()

    login(client, admin)
    page = client.get("/admin/mail?status=dead").data.decode()
    assert "cus@example.com" in page and "gone away" in page
    assert admin.email not in page  # the filter keeps only dead rows
    assert f'action="/admin/mail/{dead.id}/retry"' in page
    everything = client.get("/admin/mail").data.decode()
    assert admin.email in everything and "sent" in everything
    assert client.get("/admin/mail?status=bogus").status_code == 200

    sent_row = next(r for r in rows if r.recipient == admin.email)
    client.post(f"/admin/mail/{sent_row.id}/retry")  # only dead rows can be retried
    client.post(f"/admin/mail/{dead.id}/retry")
    db.session.expire_all()
    assert db.session.get(OutboxEmail, sent_row.id).status == OutboxStatus.SENT
    row = db.session.get(OutboxEmail, dead.id)
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    assert dispatch_pending() == 1
    [msg] = mailbox.wait_for(1)
    assert msg["To"] == "cus@example.com"
    assert client.post("/admin/mail/999999/retry").status_code == 404


def test_assign_script_carries_the_csp_nonce_and_no_inline_script(client, make_user):
    login(client, make_user(Role.ADMIN))
    customer = make_user(Role.CUSTOMER)
    ticket = open_ticket(actor=customer, subject="S", description="D")
    commit()
    for url in ("/admin/", f"/admin/tickets/{ticket.id}"):
        response = client.get(url)
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])[1]
        html = response.data.decode()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts, url
        for attrs, body in scripts:
            assert f'nonce="{nonce}"' in attrs and "src=" in attrs and body.strip() == ""
        assert 'name="csrf-token"' in html
        assert "style=" not in html


def test_categories_need_a_sane_name(client, make_user):
    login(client, make_user(Role.ADMIN))
    client.post("/admin/categories", data={"name": "x" * 81})
    client.post("/admin/categories", data={"name": "   "})
    from ccr.models import Category

    assert db.session.scalars(select(Category)).all() == []
    assert client.post("/admin/categories/12345/rename", data={"name": "A"}).status_code == 404


def test_admin_actions_are_in_the_security_log(client, make_user, caplog):
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT)
    ticket = open_ticket(actor=make_user(Role.CUSTOMER), subject="S", description="D")
    commit()
    login(client, admin)
    caplog.clear()
    with caplog.at_level("INFO", logger="ccr.security"):
        client.post(f"/admin/tickets/{ticket.id}/assign", data={"agent_id": str(agent.id)})
        client.post("/admin/categories", data={"name": "Billing"})
    lines = [r.getMessage() for r in caplog.records if r.name == "ccr.security"]
    assert any(
        "action=assign" in m and f"user={admin.id}" in m and f"ticket={ticket.id}" in m
        for m in lines
    ), lines
    assert any("action=create_category" in m for m in lines), lines


def test_a_subject_is_one_line_so_it_cannot_break_an_email_header(client, make_user, mailbox):
    customer = make_user(Role.CUSTOMER)
    login(client, customer)
    client.post(
        "/customer/tickets/new",
        data={"subject": "Help\r\nBcc: victim@example.com", "description": "d", "priority": "low"},
    )
    from ccr.models import Ticket

    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.subject == "Help Bcc: victim@example.com"
    dispatch_pending()
    [msg] = mailbox.wait_for(1)
    assert msg["Bcc"] is None and "\n" not in msg["Subject"]


def test_the_audit_log_names_admin_actions_by_fixed_strings(client, make_user, caplog, mailbox):
    """Renaming a view or a service must not rename what the audit log records."""
    assert {a.value for a in AdminAction} == {
        "assign",
        "set_priority",
        "close_ticket",
        "create_category",
        "rename_category",
        "toggle_retired",
        "mail_retry",
    }
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT)
    ticket = open_ticket(actor=make_user(Role.CUSTOMER), subject="S", description="D")
    commit()
    dead = db.session.scalars(select(OutboxEmail)).first()
    dead.status = OutboxStatus.DEAD
    commit()
    login(client, admin)
    caplog.clear()
    with caplog.at_level("INFO", logger="ccr.security"):
        client.post(f"/admin/tickets/{ticket.id}/assign", data={"agent_id": str(agent.id)})
        client.post("/admin/categories", data={"name": "Billing"})
        category = db.session.scalars(select(Category)).one()
        client.post(f"/admin/categories/{category.id}/rename", data={"name": "Invoices"})
        client.post(f"/admin/categories/{category.id}/retire")
        client.post(f"/admin/mail/{dead.id}/retry")
    actions = [
        m.split("action=")[1].split()[0]
        for m in (r.getMessage() for r in caplog.records if r.name == "ccr.security")
        if m.startswith("admin action=")
    ]
    assert actions == [
        "assign",
        "create_category",
        "rename_category",
        "toggle_retired",
        "mail_retry",
    ]


def test_an_admin_action_that_is_refused_is_not_in_the_audit_log(client, make_user, caplog):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    client.post("/admin/categories", data={"name": "Billing"})
    caplog.clear()
    with caplog.at_level("INFO", logger="ccr.security"):
        client.post("/admin/categories", data={"name": "BILLING"})
    assert not [r for r in caplog.records if r.getMessage().startswith("admin action=")]
