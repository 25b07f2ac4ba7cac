"""Writes a user can repeat are rate limited: raising tickets (each emails the customer and
every admin) per customer and per IP; the 429 page says how long to wait."""

import pytest
from sqlalchemy import func, select

from ccr.customer.routes import STATUS_CHANGES_PER_CUSTOMER, TICKETS_PER_CUSTOMER, TICKETS_PER_IP
from ccr.errors import wait_words
from ccr.extensions import db
from ccr.models import Role, Ticket
from tests.support.users import login

PER_CUSTOMER = int(TICKETS_PER_CUSTOMER.split()[0])
PER_IP = int(TICKETS_PER_IP.split()[0])


def _raise(client, n: int = 0, ip: str = "127.0.0.1", **over):
    data = {"subject": f"Printer {n}", "description": "It burns.", "priority": "normal"}
    data.update(over)
    return client.post("/customer/tickets/new", data=data, environ_base={"REMOTE_ADDR": ip})


def _tickets() -> int:
    return db.session.scalar(select(func.count(Ticket.id))) or 0


def test_a_customer_raises_a_bounded_number_of_tickets_and_is_told_how_long_to_wait(
    client, login_as
):
    login_as(Role.CUSTOMER)
    assert _raise(client, subject="").status_code == 400  # a refused form does not count
    for n in range(PER_CUSTOMER):
        assert _raise(client, n).status_code == 302, n
    limited = _raise(client, 99)
    assert limited.status_code == 429
    assert b"Try again in " in limited.data and b"minutes" in limited.data
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    fetch = client.post(
        "/customer/tickets/new",
        data={"subject": "x", "description": "y", "priority": "normal"},
        headers={"Accept": "application/json"},
    )
    assert fetch.status_code == 429 and "Try again in " in fetch.json["error"]
    assert _tickets() == PER_CUSTOMER
    assert client.get("/customer/").status_code == 200  # reading is not limited


def test_another_customer_is_not_limited_by_the_first(app, client, make_user):
    first, second = make_user(Role.CUSTOMER), make_user(Role.CUSTOMER)
    login(client, first)
    for n in range(PER_CUSTOMER):
        _raise(client, n)
    assert _raise(client, 99).status_code == 429
    other = app.test_client()
    login(other, second)
    assert _raise(other, 1).status_code == 302


def test_one_address_raises_a_bounded_number_of_tickets_across_customers(app, make_user):
    created = 0
    while created < PER_IP:
        client = app.test_client()
        login(client, make_user(Role.CUSTOMER))
        for _ in range(min(PER_CUSTOMER, PER_IP - created)):
            assert _raise(client, created, ip="203.0.113.7").status_code == 302
            created += 1
    client = app.test_client()
    login(client, make_user(Role.CUSTOMER))
    assert _raise(client, 0, ip="203.0.113.7").status_code == 429
    assert _raise(client, 0, ip="203.0.113.8").status_code == 302


def test_a_customer_cannot_close_and_reopen_a_ticket_without_bound(scene, client):
    sc = scene()
    login(client, sc.customer)
    allowed = int(STATUS_CHANGES_PER_CUSTOMER.split()[0])
    url = f"/customer/tickets/{sc.ticket.id}/status"
    statuses = [
        client.post(url, data={"verb": ("close", "reopen")[n % 2]}).status_code
        for n in range(allowed + 1)
    ]
    assert statuses == [302] * allowed + [429]


@pytest.mark.parametrize(
    "seconds, words",
    [(0.2, "1 second"), (59, "59 seconds"), (60, "1 minute"), (61, "2 minutes"),
     (2520, "42 minutes"), (3601, "61 minutes"), (7201, "3 hours")],
)  # fmt: skip
def test_the_wait_is_said_in_words(seconds, words):
    assert wait_words(1000 + seconds, now=1000) == words


def test_a_throttled_login_says_how_long_to_wait_too(client, make_user):
    user = make_user()
    for _ in range(5):
        client.post("/login", data={"email": user.email, "password": "wrong password"})
    limited = client.post("/login", data={"email": user.email, "password": "wrong password"})
    assert limited.status_code == 429 and b"Try again in " in limited.data
