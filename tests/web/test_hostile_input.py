"""Numbers and text from outside (paths, query strings, forms) never reach the database in a
form it cannot hold: what does not fit is the 404 or 400 a missing thing gets, never a 500,
and a 503 only ever means the database is down."""

import logging

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from ccr.extensions import db
from ccr.forms import CCRForm
from ccr.inputs import CONTROL_PROBLEM, INT_MAX
from ccr.models import Category, Message, Role, Ticket, User
from ccr.models.ticket import parse_reference
from ccr.security import parse_token
from ccr.services.tickets import change_status
from ccr.services.uow import commit
from tests.support.users import login

# Numbers that are not ids: superscript digits (str.isdigit() says yes, int() says no),
# one past what an INTEGER column holds, 20 digits (past SQLite's 64 bits), other scripts.
NOT_IDS = ["²", "1²", str(INT_MAX + 1), "9" * 20, "٣", "-1", "0", "1e308"]


@pytest.mark.parametrize("raw", NOT_IDS)
def test_a_path_id_that_no_column_holds_is_the_404_of_a_missing_ticket(scene, client, raw):
    sc = scene()
    for user, path in (
        (sc.customer, f"/customer/tickets/{raw}"),
        (sc.agent, f"/agent/tickets/{raw}"),
        (sc.admin, f"/admin/tickets/{raw}"),
        (sc.admin, f"/admin/agents/{raw}/edit"),
        (sc.customer, f"/chat/tickets/{raw}/messages"),
    ):
        login(client, user)
        assert client.get(path).status_code == 404, path
        client.post("/logout")
    login(client, sc.admin)
    for path in (
        f"/admin/tickets/{raw}/assign",
        f"/admin/categories/{raw}/rename",
        f"/admin/mail/{raw}/retry",
        f"/admin/agents/{raw}/deactivate",
    ):
        assert client.post(path, data={"agent_id": "1", "name": "x"}).status_code == 404, path


@pytest.mark.parametrize("raw", NOT_IDS)
def test_query_numbers_that_are_no_numbers_are_ignored(scene, client, raw):
    sc = scene(subject="Printer on fire")
    login(client, sc.admin)
    for query in (f"page={raw}", f"agent={raw}", f"category={raw}", f"page={raw}&agent={raw}"):
        response = client.get(f"/admin/?{query}")
        assert response.status_code == 200, query
        assert b"Printer on fire" in response.data, query  # the filter was dropped
    client.post("/logout")
    login(client, sc.customer)
    assert client.get(f"/customer/?page={raw}").status_code == 200
    response = client.get(f"/chat/tickets/{sc.ticket.id}/messages?after={raw}")
    assert response.status_code == 200 and response.json["messages"] == []


@pytest.mark.parametrize("raw", ["²", str(INT_MAX + 1), "999999999999"])
def test_an_assign_form_agent_id_that_is_no_id_is_the_answer_for_a_missing_agent(
    scene, client, raw
):
    sc = scene()
    login(client, sc.admin)
    response = client.post(
        f"/admin/tickets/{sc.ticket.id}/assign",
        data={"agent_id": raw},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["error"] == "Choose an agent from the list."


def test_references_and_session_tokens_parse_strictly():
    assert parse_reference("CCR-000042") == 42 and parse_reference("ccr-42") == 42
    for raw in ("CCR-²", "²", "CCR-" + "9" * 20, f"CCR-{INT_MAX + 1}"):
        assert parse_reference(raw) is None
    assert parse_token("7:3") == (7, 3)
    for raw in ("²:1", "1:²", f"{INT_MAX + 1}:1", "9" * 20 + ":1", "1:" + "9" * 20, ":"):
        assert parse_token(raw) is None


def test_a_value_the_database_refuses_is_a_400_not_a_503(app, client, caplog):
    @app.get("/refused-for-test")
    def refused():
        raise DataError("INSERT …", {}, Exception("integer out of range"))

    with caplog.at_level(logging.WARNING):
        page = client.get("/refused-for-test")
        fetch = client.get("/refused-for-test", headers={"Accept": "application/json"})
    assert page.status_code == 400 and b"That value cannot be stored" in page.data
    assert fetch.status_code == 400 and fetch.json["error"].startswith(
        "That value cannot be stored"
    )
    lines = [r for r in caplog.records if "refused a value" in r.getMessage()]
    assert len(lines) == 2 and all(r.levelno == logging.WARNING for r in lines)
    assert not any(r.exc_info for r in caplog.records)  # no traceback


def test_a_value_refused_at_the_commit_is_a_400_with_nothing_saved(app, client, make_user, caplog):
    taken = make_user(Role.CUSTOMER)

    @app.post("/duplicate-for-test")
    def duplicate():
        db.session.add(User(email=taken.email, first_name="A", last_name="B", role=Role.CUSTOMER))
        return "saved?"

    with caplog.at_level(logging.WARNING):
        response = client.post("/duplicate-for-test")
    assert response.status_code == 400 and b"That value cannot be stored" in response.data
    assert db.session.scalar(select(func.count(User.id))) == 1
    assert not any(r.exc_info for r in caplog.records)


# -- text: control characters ----------------------------------------------------------------

CONTROL = ["\x00", "\x1b[31m", "\x07", "\x7f"]


def test_every_form_refuses_control_characters_in_its_text_fields(app):
    """Every form of the app derives from the base that checks its text fields: a new form
    cannot forget it."""

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(FlaskForm) if c.__module__.startswith("ccr.")]
    assert len(ours) > 15
    assert [c.__name__ for c in ours if not issubclass(c, CCRForm)] == []


@pytest.mark.parametrize("bad", CONTROL)
def test_a_ticket_with_control_characters_is_refused_with_a_field_error(client, login_as, bad):
    login_as(Role.CUSTOMER)
    for data in (
        {"subject": f"Printer{bad}", "description": "It burns."},
        {"subject": "Printer", "description": f"It{bad} burns."},
    ):
        response = client.post("/customer/tickets/new", data={**data, "priority": "normal"})
        assert response.status_code == 400
        assert CONTROL_PROBLEM.encode() in response.data
    assert db.session.scalar(select(func.count(Ticket.id))) == 0


def test_a_chat_message_with_a_nul_is_refused_and_not_stored(scene, client):
    sc = scene()
    login(client, sc.customer)
    response = client.post(
        f"/chat/tickets/{sc.ticket.id}/messages",
        data={"body": "hello\x00world", "client_id": "c1"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and CONTROL_PROBLEM.encode() in response.data
    response = client.post(
        f"/chat/tickets/{sc.ticket.id}/messages",
        data={"body": "hello", "client_id": "c\x002"},
        follow_redirects=True,
    )
    assert CONTROL_PROBLEM.encode() in response.data
    assert db.session.scalar(select(func.count(Message.id))) == 0


def test_account_forms_refuse_control_characters(client, make_user):
    response = client.post(
        "/register",
        data={
            "first_name": "Nia",
            "last_name": "Okafor",
            "email": "nia@example.com",
            "password": "long enough\x00 passphrase",
            "confirm": "long enough\x00 passphrase",
        },
    )
    assert response.status_code == 400 and CONTROL_PROBLEM.encode() in response.data
    assert db.session.scalar(select(func.count(User.id))) == 0
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x\x00"})
    assert response.status_code in (200, 400) and b"Traceback" not in response.data


def test_admin_forms_refuse_control_characters(client, login_as):
    login_as(Role.ADMIN)
    response = client.post("/admin/categories", data={"name": "Bill\x00ing"}, follow_redirects=True)
    assert CONTROL_PROBLEM.encode() in response.data
    assert db.session.scalar(select(func.count(Category.id))) == 0


def test_a_rating_comment_with_control_characters_says_so(scene, client):
    sc = scene()
    change_status(sc.ticket, "resolve", actor=sc.agent)
    commit()
    login(client, sc.customer)
    response = client.post(
        f"/customer/tickets/{sc.ticket.id}/rating",
        data={"rating": "5", "comment": "great\x1b[2J"},
        follow_redirects=True,
    )
    assert CONTROL_PROBLEM.encode() in response.data
    db.session.expire_all()
    assert db.session.get(Ticket, sc.ticket.id).rating is None


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x07", "\x7f"])
def test_a_search_with_control_characters_searches_without_them(scene, client, bad):
    sc = scene(subject="Printer on fire")
    for user, path in ((sc.customer, "/customer/"), (sc.agent, "/agent/"), (sc.admin, "/admin/")):
        login(client, user)
        response = client.get(f"{path}?q=Prin{bad}ter")
        assert response.status_code == 200 and b"Printer on fire" in response.data, path
        client.post("/logout")
