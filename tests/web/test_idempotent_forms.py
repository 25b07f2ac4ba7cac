"""A form that creates something, sent twice (a double click, a retried POST), creates one
thing: the repeat is answered with the first result and sends nothing again (R11)."""

import re

from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import Category, OutboxEmail, Role, Ticket, User
from tests.support.users import PASSWORD

KEY = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')


def _key(client, page: str) -> str:
    return KEY.search(client.get(page).get_data(as_text=True)).group(1)


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _emails(kind: str) -> int:
    return _count(OutboxEmail, OutboxEmail.kind == kind)


TICKET = {"subject": "Modem offline", "description": "No light.", "priority": "normal"}


def test_raising_a_ticket_twice_with_one_form_raises_one(client, login_as, make_user):
    make_user(Role.ADMIN)
    login_as(Role.CUSTOMER)
    key = _key(client, "/customer/tickets/new")
    first = client.post("/customer/tickets/new", data={**TICKET, "idempotency_key": key})
    again = client.post("/customer/tickets/new", data={**TICKET, "idempotency_key": key})
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]  # the first ticket
    assert _count(Ticket) == 1
    assert _emails("ticket_created") == 1 and _emails("ticket_new_admin") == 1
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Modem offline" in page


def test_each_rendered_form_has_its_own_key(client, login_as):
    login_as(Role.CUSTOMER)
    one, two = _key(client, "/customer/tickets/new"), _key(client, "/customer/tickets/new")
    assert one != two
    for key in (one, two):
        client.post("/customer/tickets/new", data={**TICKET, "idempotency_key": key})
    assert _count(Ticket) == 2


def test_a_refused_submission_can_be_corrected_and_sent_with_the_same_key(client, login_as):
    login_as(Role.CUSTOMER)
    key = _key(client, "/customer/tickets/new")
    refused = client.post(
        "/customer/tickets/new", data={**TICKET, "subject": "", "idempotency_key": key}
    )
    assert refused.status_code == 400
    assert key in refused.get_data(as_text=True)  # the re-rendered form keeps its key
    fixed = client.post("/customer/tickets/new", data={**TICKET, "idempotency_key": key})
    assert fixed.status_code == 302
    assert _count(Ticket) == 1


def test_a_form_from_before_the_keys_still_raises_tickets(client, login_as):
    login_as(Role.CUSTOMER)
    assert client.post("/customer/tickets/new", data=TICKET).status_code == 302
    assert _count(Ticket) == 1


def test_creating_an_agent_twice_with_one_form_creates_one_and_one_invitation(client, login_as):
    login_as(Role.ADMIN)
    key = _key(client, "/admin/agents")
    form = {"first_name": "Priya", "last_name": "Natarajan", "email": "priya@example.com",
            "method": "invite", "idempotency_key": key}  # fmt: skip
    answers = [client.post("/admin/agents", data=form) for _ in range(2)]
    assert [a.status_code for a in answers] == [302, 302]
    assert _count(User, User.email == "priya@example.com") == 1
    assert _emails("agent_invite") == 1
    page = client.get("/admin/agents").get_data(as_text=True)
    assert "already exists" not in page


def test_creating_an_agent_with_a_password_twice_creates_one(client, login_as):
    login_as(Role.ADMIN)
    key = _key(client, "/admin/agents")
    form = {"first_name": "Sam", "last_name": "Okafor", "email": "sam@example.com",
            "method": "password", "password": PASSWORD, "idempotency_key": key}  # fmt: skip
    assert [client.post("/admin/agents", data=form).status_code for _ in range(2)] == [302, 302]
    assert _count(User, User.email == "sam@example.com") == 1


def test_adding_a_category_twice_with_one_form_adds_one_without_an_error(client, login_as):
    login_as(Role.ADMIN)
    key = _key(client, "/admin/categories")
    for _ in range(2):
        r = client.post(
            "/admin/categories",
            data={"name": "Billing", "idempotency_key": key},
            follow_redirects=True,
        )
        page = r.get_data(as_text=True)
        assert "already exists" not in page and "Categories updated." in page
    assert _count(Category) == 1


def test_every_page_loads_the_script_that_disables_buttons_in_flight(client, login_as):
    assert "js/lib/forms.js" in client.get("/login").get_data(as_text=True)
    login_as(Role.CUSTOMER)
    assert "js/lib/forms.js" in client.get("/customer/tickets/new").get_data(as_text=True)
