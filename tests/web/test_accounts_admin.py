"""Admin agent management: create (password or invitation), edit, deactivate, promote."""

import logging
from datetime import timedelta

import pytest
import time_machine

from ccr.extensions import db
from ccr.models import Role, User, utcnow
from ccr.services import tickets
from ccr.services.uow import commit
from tests.support.codes import deliver, last_to, link_in
from tests.support.users import PASSWORD, login

AGENT_EMAIL = "new.agent@example.com"


@pytest.fixture
def admin(client, login_as):
    return login_as(Role.ADMIN, first_name="Root")


def _create(client, method="invite", **over):
    data = {
        "first_name": "Sam",
        "last_name": "Rivera",
        "email": AGENT_EMAIL,
        "method": method,
        "password": PASSWORD if method == "password" else "",
    }
    data.update(over)
    return client.post("/admin/agents", data=data)


def _agent() -> User:
    db.session.expire_all()
    return db.session.query(User).filter_by(email=AGENT_EMAIL).one()


def _invite_path(mailbox) -> str:
    deliver(mailbox, 1)
    msg = last_to(mailbox, AGENT_EMAIL)
    assert msg["Subject"] == "You are invited to Customer Care Registry"
    return link_in(msg, "/invite/").replace("http://localhost", "")


def _accept(client, path, password=PASSWORD):
    return client.post(path, data={"password": password, "confirm": password})


def test_an_admin_creates_an_agent_with_an_initial_password(app, client, admin):
    response = _create(client, "password")
    assert response.status_code == 302
    agent = _agent()
    assert agent.role == Role.AGENT
    login(app.test_client(), agent)


def test_an_invited_agent_sets_a_password_through_the_emailed_link(app, client, admin, mailbox):
    assert _create(client).status_code == 302
    path = _invite_path(mailbox)
    other = app.test_client()
    assert (
        other.post("/login", data={"email": AGENT_EMAIL, "password": PASSWORD}).status_code == 401
    )  # no password yet
    page = other.get(path)
    assert page.status_code == 200 and AGENT_EMAIL.encode() in page.data
    accepted = _accept(other, path)
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/agent/")
    assert other.get("/agent/").status_code == 200  # signed in by accepting
    login(app.test_client(), _agent())


def test_passwords_set_by_an_admin_or_an_invitation_may_not_be_the_email_or_name(
    app, client, admin, mailbox
):
    for password in (AGENT_EMAIL, "Rivera Sam", "new.agent", "Sam Rivera"):
        response = _create(client, "password", password=password)
        assert response.status_code == 400, password
        assert b"Do not use your email address or your name" in response.data, password
    assert _create(client).status_code == 302  # by invitation
    path = _invite_path(mailbox)
    client.post("/logout")
    for password in (AGENT_EMAIL, "rivera sam", "Sam Rivera 99"):
        response = _accept(client, path, password)
        assert response.status_code == 400, password
        assert b"Do not use your email address or your name" in response.data, password
    assert _accept(client, path).status_code == 302


def test_an_invitation_link_works_once(app, client, admin, mailbox):
    _create(client)
    path = _invite_path(mailbox)
    other = app.test_client()
    _accept(other, path)
    assert other.get(path).status_code == 404
    assert _accept(other, path, "a different passphrase").status_code == 404


def test_an_invitation_link_expires(app, client, admin, mailbox):
    _create(client)
    path = _invite_path(mailbox)
    with time_machine.travel(utcnow() + timedelta(days=3, minutes=1), tick=False):
        assert app.test_client().get(path).status_code == 404


def test_a_made_up_invitation_link_is_refused(client):
    assert client.get("/invite/not-a-real-token").status_code == 404


def test_the_invitation_email_row_is_erased_once_sent(app, client, admin, mailbox):
    from ccr.models import OutboxEmail
    from ccr.notify.dispatcher import REDACTED

    _create(client)
    path = _invite_path(mailbox)
    row = db.session.query(OutboxEmail).filter_by(kind="agent_invite").one()
    assert row.sensitive and row.body_text == REDACTED and path.split("/")[-1] not in row.body_html


def test_creating_an_agent_with_a_taken_email_shows_a_field_error(client, admin, make_user):
    make_user(Role.CUSTOMER, email=AGENT_EMAIL)
    response = _create(client, "password", first_name="Kept")
    assert response.status_code == 400
    assert b"already exists" in response.data and b'value="Kept"' in response.data


def test_password_method_needs_a_password(client, admin):
    response = _create(client, "password", password="")
    assert response.status_code == 400 and b"Enter an initial password" in response.data


def test_line_breaks_in_an_agent_name_are_refused(client, admin):
    response = _create(client, first_name="Sam\r\nBcc: all@example.com")
    assert response.status_code == 400 and b"no line breaks" in response.data


def test_the_agent_list_shows_load_and_last_activity(app, client, admin, make_user):
    agent = make_user(Role.AGENT, first_name="Loaded", last_seen_at=utcnow())
    customer = make_user(Role.CUSTOMER)
    for n in range(2):
        t = tickets.open_ticket(actor=customer, subject=f"T{n}", description="d")
        commit()
        tickets.assign_ticket(t, agent, actor=admin)
        commit()
    page = client.get("/admin/agents")
    assert page.status_code == 200
    row = page.data.decode().split(f'id="staff-{agent.id}"')[1].split("</tr>")[0]
    assert 'data-load="2"' in row
    assert "UTC" in row and "Loaded" in row


def test_editing_an_agent(client, admin, make_user):
    agent = make_user(Role.AGENT)
    response = client.post(
        f"/admin/agents/{agent.id}/edit",
        data={"first_name": "Renamed", "last_name": "Agent", "email": "renamed@example.com"},
    )
    assert response.status_code == 302
    db.session.refresh(agent)
    assert agent.full_name == "Renamed Agent" and agent.email == "renamed@example.com"


def test_deactivating_logs_the_agent_out_and_flags_their_tickets(app, client, admin, scene):
    s = scene(admin=admin, subject="Stranded", description="d")
    agent, t = s.agent, s.ticket
    agent_client = app.test_client()
    login(agent_client, agent)
    assert (
        client.post(f"/admin/agents/{agent.id}/deactivate", data={"confirmed": "1"}).status_code
        == 302
    )
    assert agent_client.get("/agent/").status_code == 302
    assert (
        agent_client.post("/login", data={"email": agent.email, "password": PASSWORD}).status_code
        == 401
    )
    page = client.get("/admin/agents")
    assert b"need reassignment" in page.data and t.reference.encode() in page.data
    # Reactivation lets them back in, and the tickets no longer need reassignment.
    assert client.post(f"/admin/agents/{agent.id}/reactivate").status_code == 302
    login(app.test_client(), agent)
    assert b"need reassignment" not in client.get("/admin/agents").data


def test_promoting_an_agent_to_admin_and_back(app, client, admin, make_user):
    agent = make_user(Role.AGENT)
    assert (
        client.post(f"/admin/agents/{agent.id}/promote", data={"confirmed": "1"}).status_code == 302
    )
    db.session.refresh(agent)
    assert agent.role == Role.ADMIN
    c = app.test_client()
    login(c, agent)
    assert c.get("/admin/").status_code == 200
    assert (
        client.post(f"/admin/agents/{agent.id}/demote", data={"confirmed": "1"}).status_code == 302
    )
    db.session.refresh(agent)
    assert agent.role == Role.AGENT
    assert c.get("/admin/").status_code == 302  # the admin session ended with the role


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(client, admin):
    for action in ("deactivate", "demote"):
        response = client.post(
            f"/admin/agents/{admin.id}/{action}", data={"confirmed": "1"}, follow_redirects=True
        )
        assert b"last active administrator" in response.data
        db.session.refresh(admin)
        assert admin.role == Role.ADMIN and admin.active
    assert client.get("/admin/").status_code == 200


def test_with_two_admins_one_can_be_demoted(client, admin, make_user):
    other = make_user(Role.ADMIN)
    assert (
        client.post(f"/admin/agents/{other.id}/demote", data={"confirmed": "1"}).status_code == 302
    )
    db.session.refresh(other)
    assert other.role == Role.AGENT
    client.post(f"/admin/agents/{admin.id}/demote", data={"confirmed": "1"})
    db.session.refresh(admin)
    assert admin.role == Role.ADMIN  # now the last one again


def test_a_deactivated_admin_does_not_count_as_active(client, admin, make_user):
    other = make_user(Role.ADMIN, active=False)
    client.post(f"/admin/agents/{admin.id}/deactivate", data={"confirmed": "1"})
    db.session.refresh(admin)
    assert admin.active
    assert other.active is False


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT])
def test_only_admins_reach_agent_management(client, login_as, make_user, role):
    target = make_user(Role.AGENT)
    login_as(role)
    assert client.get("/admin/agents").status_code == 404
    assert client.post("/admin/agents", data={"email": "x@example.com"}).status_code == 404
    assert (
        client.post(f"/admin/agents/{target.id}/deactivate", data={"confirmed": "1"}).status_code
        == 404
    )
    db.session.refresh(target)
    assert target.active


def test_customers_are_not_managed_as_agents(client, admin, make_user):
    customer = make_user(Role.CUSTOMER)
    assert (
        client.post(f"/admin/agents/{customer.id}/promote", data={"confirmed": "1"}).status_code
        == 404
    )
    assert client.get(f"/admin/agents/{customer.id}/edit").status_code == 404


def test_admin_actions_are_logged_without_secrets(app, client, admin, caplog, mailbox):
    caplog.set_level(logging.INFO, logger="ccr.security")
    _create(client, "password")
    agent = _agent()
    client.post(f"/admin/agents/{agent.id}/deactivate", data={"confirmed": "1"})
    lines = [r.getMessage() for r in caplog.records if r.name == "ccr.security"]
    assert any(
        f"agent_created user={admin.id}" in line and f"target={agent.id}" in line for line in lines
    )
    assert any("user_deactivated" in line for line in lines)
    assert all(PASSWORD not in line for line in lines)


def test_a_role_denial_is_logged_on_the_security_logger(client, login_as, caplog):
    caplog.set_level(logging.INFO, logger="ccr.security")
    user = login_as(Role.CUSTOMER)
    assert client.get("/admin/agents").status_code == 404
    assert any(
        "access_denied" in r.getMessage()
        and f"user={user.id}" in r.getMessage()
        and "path=/admin/agents" in r.getMessage()
        for r in caplog.records
        if r.name == "ccr.security"
    )


def test_resending_an_invitation_cancels_the_first_link(app, client, admin, mailbox):
    _create(client)
    first = _invite_path(mailbox)
    agent = _agent()
    assert client.post(f"/admin/agents/{agent.id}/resend-invite").status_code == 302
    deliver(mailbox, 2)
    second = link_in(last_to(mailbox, AGENT_EMAIL), "/invite/").replace("http://localhost", "")
    assert first != second
    other = app.test_client()
    assert other.get(first).status_code == 404
    assert _accept(other, second).status_code == 302
