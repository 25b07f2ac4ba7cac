"""Numbers and text from outside (paths, query strings, forms) never reach the database in a
form it cannot hold: what does not fit is the 404 or 400 a missing thing gets, never a 500,
and a 503 only ever means the database is down."""

import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from ccr.extensions import db
from ccr.inputs import INT_MAX
from ccr.models import Role, User
from ccr.models.ticket import parse_reference
from ccr.security import parse_token
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
