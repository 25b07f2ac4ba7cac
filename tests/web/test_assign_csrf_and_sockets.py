"""Assignment end to end: the fetch request with the CSRF token from the meta tag, and the
old agent's live socket losing the ticket at once."""

import re

import pytest
from flask import g

from ccr.extensions import db
from ccr.models import Role, Ticket, User
from ccr.services.tickets import assign_ticket, open_ticket
from ccr.services.uow import commit


@pytest.fixture
def app_config(app_config):
    app_config.WTF_CSRF_ENABLED = True
    return app_config


def _login_with_csrf(client, user):
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    r = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "csrf_token": token},
    )
    assert r.status_code == 302
    # Requests in tests share the fixture's app context, so Flask-WTF's per-request cache of
    # the token in `g` would outlive the session that login cleared; forget it as a new
    # request would.
    g.pop("csrf_token", None)


def test_fetch_assign_needs_the_meta_csrf_token(client, make_user):
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT)
    ticket = open_ticket(actor=make_user(Role.CUSTOMER), subject="S", description="D")
    commit()
    _login_with_csrf(client, admin)
    page = client.get(f"/admin/tickets/{ticket.id}").data.decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)[1]
    url = f"/admin/tickets/{ticket.id}/assign"
    json = {"Accept": "application/json"}

    refused = client.post(url, data={"agent_id": str(agent.id)}, headers=json)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id is None

    ok = client.post(url, data={"agent_id": str(agent.id)}, headers={**json, "X-CSRFToken": token})
    assert ok.status_code == 200 and ok.json["ok"] is True, ok.json
    assert ok.json["ticket"]["assignee_id"] == agent.id
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id == agent.id


def test_reassignment_refuses_the_old_agents_next_socket_event(app, make_user, socket_client):
    admin = make_user(Role.ADMIN)
    old, new = make_user(Role.AGENT), make_user(Role.AGENT)
    ticket = open_ticket(actor=make_user(Role.CUSTOMER), subject="S", description="D")
    assign_ticket(ticket, old, actor=admin)
    commit()
    client = app.test_client()
    _login_with_csrf(client, old)
    ticket_id, admin_id, new_id = ticket.id, admin.id, new.id
    sc = socket_client(client)
    assert sc.emit("join_ticket", {"ticket_id": ticket_id}, callback=True)["ok"] is True

    # the socket handler ended the shared session: load afresh
    assign_ticket(
        db.session.get(Ticket, ticket_id),
        db.session.get(User, new_id),
        actor=db.session.get(User, admin_id),
    )
    commit()
    ack = sc.emit(
        "send_message",
        {"ticket_id": ticket_id, "body": "still here?", "client_id": "z1"},
        callback=True,
    )
    assert ack["ok"] is False
    assert sc.emit("join_ticket", {"ticket_id": ticket_id}, callback=True)["ok"] is False
    assert client.get(f"/agent/tickets/{ticket_id}").status_code == 404
