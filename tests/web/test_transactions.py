"""The request boundary (ccr.boundary): one unit of work per request, committed after the
view only when nothing failed or was refused, pushes only after that commit."""

import pytest
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import Category, OneTimeCode, OutboxEmail, ReadMarker, Role, Ticket, User
from ccr.services import ServiceError, live
from ccr.services.categories import create_category
from ccr.services.messages import post_message
from ccr.services.tickets import assign_ticket, open_ticket
from ccr.services.uow import commit
from tests.support.codes import code_in, deliver
from tests.support.faults import commit_fails
from tests.support.users import login


class _Pushes(list):
    """The bound sockets, with every push recorded by its event's name instead of sent."""

    def __init__(self, real: live.Live) -> None:
        super().__init__()
        self.real = real

    def emit(self, event, *args, **kwargs):
        self.append(event)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def pushes(app, monkeypatch):
    sent = _Pushes(live._live)
    monkeypatch.setattr(live, "_live", sent)
    return sent


def _committed(model) -> int:
    db.session.rollback()  # read what is committed, from a fresh transaction
    return db.session.scalar(select(func.count()).select_from(model))


def _raise_ticket(client):
    return client.post(
        "/customer/tickets/new",
        data={"subject": "Printer on fire", "description": "Smoke.", "priority": "normal"},
    )


def test_a_view_that_raises_after_a_service_changed_something_saves_and_pushes_nothing(
    app, client, make_user, pushes
):
    customer_id = make_user(Role.CUSTOMER).id
    make_user(Role.ADMIN)  # would be emailed about the new ticket

    @app.post("/boom-after-a-change")
    def boom():
        open_ticket(actor=db.session.get(User, customer_id), subject="S", description="D")
        raise RuntimeError("after the service")

    assert client.post("/boom-after-a-change").status_code == 500
    assert _committed(Ticket) == 0 and _committed(OutboxEmail) == 0
    assert pushes == []


def test_a_refused_action_saves_nothing_even_when_the_view_answers_with_a_redirect(
    app, client, make_user
):
    admin_id = make_user(Role.ADMIN).id

    @app.post("/change-then-refuse")
    def change_then_refuse():
        create_category("Made first", actor=db.session.get(User, admin_id))
        try:
            create_category("made FIRST", actor=db.session.get(User, admin_id))
        except ServiceError:
            return "refused", 302, {"Location": "/"}
        return "saved"

    assert client.post("/change-then-refuse").status_code == 302
    assert _committed(Category) == 0


def test_a_successful_request_commits_and_pushes_once(client, make_user, pushes):
    login(client, make_user(Role.CUSTOMER))
    assert _raise_ticket(client).status_code == 302
    assert _committed(Ticket) == 1
    assert pushes == ["ticket_created"]


def test_a_failed_commit_is_a_complete_503_page_with_nothing_saved_or_pushed(
    client, make_user, pushes, monkeypatch
):
    login(client, make_user(Role.CUSTOMER))
    with commit_fails(monkeypatch):
        response = _raise_ticket(client)
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.data and b"Traceback" not in response.data
    assert "Content-Security-Policy" in response.headers  # the other hooks still ran
    assert response.headers["Cache-Control"] == "no-store"
    assert _committed(Ticket) == 0 and pushes == []
    assert b"was created" not in client.get("/customer/").data  # no success announced
    assert _raise_ticket(client).status_code == 302  # the next request works
    assert _committed(Ticket) == 1


def test_a_failed_commit_answers_json_clients_with_json(client, make_user, monkeypatch):
    customer = make_user(Role.CUSTOMER)
    login(client, customer)
    with commit_fails(monkeypatch):
        response = client.post(
            "/profile/notifications",
            data={"chat-chat_emails": ""},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 503 and response.json["ok"] is False


def test_a_wrong_code_keeps_only_its_attempt(app, client, mailbox, pushes):
    client.post(
        "/register",
        data={
            "first_name": "Nia",
            "last_name": "Okoro",
            "email": "nia@example.com",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
    )
    code = code_in(deliver(mailbox, 1)[0])
    outbox_before = _committed(OutboxEmail)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/verify-email", data={"email": "nia@example.com", "code": wrong})
    assert response.status_code == 400
    db.session.rollback()
    row = db.session.scalars(select(OneTimeCode)).one()
    assert row.attempts == 1 and row.used_at is None  # the attempt is counted ...
    user = db.session.scalars(select(User)).one()
    assert user.email_verified_at is None  # ... and nothing else happened
    assert _committed(OutboxEmail) == outbox_before and pushes == []


def test_a_read_only_page_does_not_commit(client, make_user, monkeypatch):
    login(client, make_user(Role.CUSTOMER))
    client.get("/customer/")  # notes the last activity (a write) once
    commits = []
    monkeypatch.setattr(db.engine.dialect, "do_commit", lambda conn: commits.append(conn))
    assert client.get("/customer/").status_code == 200
    assert commits == []


def test_the_last_activity_is_saved_by_the_request(client, make_user):
    customer = make_user(Role.CUSTOMER)
    login(client, customer)
    assert client.get("/customer/").status_code == 200
    db.session.rollback()
    assert db.session.get(User, customer.id).last_seen_at is not None


def test_the_agent_ticket_page_marks_messages_read_in_the_requests_commit(client, make_user):
    customer, agent, admin = (make_user(r) for r in (Role.CUSTOMER, Role.AGENT, Role.ADMIN))
    ticket = open_ticket(actor=customer, subject="S", description="D")
    assign_ticket(ticket, agent, actor=admin)
    message = post_message(ticket, customer, "Hello?", "c1")
    commit()
    login(client, agent)
    assert client.get(f"/agent/tickets/{ticket.id}").status_code == 200
    db.session.rollback()
    marker = db.session.get(ReadMarker, (agent.id, ticket.id))
    assert marker is not None and marker.last_read_message_id == message.message_id
