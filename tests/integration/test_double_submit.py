"""The issue's double submit against a live server: the same "Raise ticket" form sent twice
at the same moment (a double click, a browser retrying the POST) raises one ticket, both
answers lead to it, and the customer and admin are emailed once (R11)."""

import re
import threading

import requests
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import OutboxEmail, Role, Ticket, User
from ccr.services import tickets, uow
from tests.support.clients import login_session

KEY = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def test_one_form_sent_twice_at_once_raises_one_ticket(app, make_user, live_server, backend):
    make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    srv = live_server(CCR_OUTBOX_DISPATCHER="off")
    first_tab = login_session(srv.url, customer.email)
    for n in range(3):
        page = first_tab.get(srv.url + "/customer/tickets/new", timeout=10).text
        form = {"csrf_token": TOKEN.search(page).group(1),
                "idempotency_key": KEY.search(page).group(1),
                "subject": f"Modem offline {n}", "description": "No light.",
                "priority": "normal"}  # fmt: skip
        tabs = [first_tab, requests.Session()]
        tabs[1].cookies.update(first_tab.cookies)  # the same browser: a retry of the POST
        barrier = threading.Barrier(2, timeout=10)
        answers: list[requests.Response | BaseException] = [RuntimeError("not run")] * 2

        def post(i: int, tabs=tabs, barrier=barrier, answers=answers, form=form) -> None:
            try:
                barrier.wait()
                answers[i] = tabs[i].post(
                    srv.url + "/customer/tickets/new",
                    data=form,
                    timeout=30,
                    allow_redirects=False,
                )
            except BaseException as exc:  # noqa: BLE001 (reported below)
                answers[i] = exc

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for answer in answers:
            assert isinstance(answer, requests.Response), answer
            assert answer.status_code == 302, answer.text[:500]
        assert answers[0].headers["Location"] == answers[1].headers["Location"]
        db.session.expire_all()
        subject = f"Modem offline {n}"
        assert db.session.scalar(select(func.count()).where(Ticket.subject == subject)) == 1
        for kind in ("ticket_created", "ticket_new_admin"):
            sent = db.session.scalar(
                select(func.count()).where(
                    OutboxEmail.kind == kind, OutboxEmail.subject.contains(subject)
                )
            )
            assert sent == 1, kind


def test_the_repeat_waits_for_the_first_and_gets_its_ticket(app, make_user, backend):
    """Two units on two connections with one form's key: the repeat's claim waits until the
    first commits, then it is answered with the first ticket and raises none."""
    customer_id = make_user(Role.CUSTOMER).id
    key = "k" * 24
    first_raised, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def submit(name: str, hold: bool) -> None:
        with app.app_context():
            try:
                with uow.unit():
                    ticket = tickets.open_ticket(
                        actor=db.session.get(User, customer_id), subject="Once",
                        description="D", idempotency_key=key,
                    )  # fmt: skip
                    outcome[name] = ticket.id
                    if hold:
                        first_raised.set()
                        first_may_commit.wait(20)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome[name] = exc
            first_raised.set()

    one = threading.Thread(target=submit, args=("first", True))
    one.start()
    assert first_raised.wait(20)
    two = threading.Thread(target=submit, args=("repeat", False))
    two.start()
    two.join(1.0)
    assert two.is_alive()  # its claim of the key waits for the first unit
    first_may_commit.set()
    one.join(20)
    two.join(20)
    assert isinstance(outcome["first"], int) and outcome["repeat"] == outcome["first"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
    sent = db.session.scalar(select(func.count()).where(OutboxEmail.kind == "ticket_created"))
    assert sent == 1
