"""Two changes of one ticket at the same moment: one wins, the other is refused with what
happened and changes nothing (RELIABILITY.md R10). Real concurrent writers: requests on
threads against a live server, and units of work on two database connections."""

import re
import threading

import pytest
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import OutboxEmail, Role, Ticket, TicketEvent, TicketStatus, User
from ccr.services import ServiceError, tickets, uow
from tests.integration.test_ticket_counts import _kept, _real
from tests.support.clients import login_session

S = TicketStatus
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _events(ticket_id: int, verb: str) -> int:
    return db.session.scalar(
        select(func.count()).where(TicketEvent.ticket_id == ticket_id, TicketEvent.verb == verb)
    )


def _emails(ticket_id: int, kind: str) -> list[str]:
    return list(
        db.session.scalars(
            select(OutboxEmail.recipient).where(
                OutboxEmail.ticket_id == ticket_id, OutboxEmail.kind == kind
            )
        )
    )


def test_two_admins_assigning_one_ticket_at_once_get_one_winner(
    app, make_user, live_server, backend
):
    """The issue's race over HTTP: each admin's page showed the tickets unassigned; both
    press Assign at the same moment, to different agents, on several tickets in a row."""
    admins = [make_user(Role.ADMIN, first_name=n) for n in ("Ada", "Bo")]
    agents = [
        make_user(Role.AGENT, first_name="Priya", last_name="Natarajan"),
        make_user(Role.AGENT, first_name="Sam", last_name="Okafor"),
    ]
    customer = make_user(Role.CUSTOMER)
    ids = []
    for n in range(4):
        ids.append(tickets.open_ticket(actor=customer, subject=f"T{n}", description="D").id)
        uow.commit()
    names = {a.id: a.full_name for a in agents}
    agent_ids = [a.id for a in agents]
    srv = live_server(CCR_OUTBOX_DISPATCHER="off")
    sessions = [login_session(srv.url, a.email) for a in admins]
    page = f"{srv.url}/admin/tickets/{ids[0]}"
    token = [TOKEN.search(s.get(page).text).group(1) for s in sessions]

    for ticket_id in ids:
        barrier = threading.Barrier(2, timeout=10)
        answers: list[tuple[int, dict] | BaseException] = [None, None]  # type: ignore[list-item]

        def press(i: int, ticket_id: int = ticket_id, barrier=barrier, answers=answers) -> None:
            try:
                barrier.wait()
                r = sessions[i].post(
                    f"{srv.url}/admin/tickets/{ticket_id}/assign",
                    data={"csrf_token": token[i], "agent_id": agent_ids[i],
                          "expected_assignee": ""},
                    headers={"Accept": "application/json", "X-CSRFToken": token[i]},
                    timeout=20,
                )  # fmt: skip
                answers[i] = (r.status_code, r.json())
            except BaseException as exc:  # noqa: BLE001 (reported below)
                answers[i] = exc

        threads = [threading.Thread(target=press, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(isinstance(a, tuple) for a in answers), answers
        won = [i for i, (status, body) in enumerate(answers) if status == 200 and body["ok"]]
        assert len(won) == 1, answers
        winner, loser = won[0], 1 - won[0]
        status, body = answers[loser]
        reference = f"CCR-{ticket_id:06d}"
        assert status == 400
        assert body["error"] == f"{reference} was just assigned to {names[agents[winner].id]}."
        assert body["ticket"]["assignee_id"] == agents[winner].id  # the page can show it

        db.session.expire_all()
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.assignee_id == agents[winner].id
        assert ticket.status == S.ASSIGNED
        assert _events(ticket_id, "assigned") == 1
        assert _events(ticket_id, "reassigned") == 0
        assert _emails(ticket_id, "ticket_assigned_agent") == [agents[winner].email]
        assert _emails(ticket_id, "ticket_assigned_customer") == [customer.email]
    assert _kept() == _real()


def test_a_reassignment_from_a_stale_page_is_refused(client, make_user, login_as):
    """The admin's page showed Priya; meanwhile Sam got the ticket. The plain form post is
    refused with who has it now, and nothing changes."""
    admin = login_as(Role.ADMIN)
    priya = make_user(Role.AGENT, first_name="Priya", last_name="Natarajan")
    sam = make_user(Role.AGENT, first_name="Sam", last_name="Okafor")
    tom = make_user(Role.AGENT, first_name="Tom")
    customer = make_user(Role.CUSTOMER)
    ticket = tickets.open_ticket(actor=customer, subject="S", description="D")
    uow.commit()
    tickets.assign_ticket(ticket, priya, actor=admin)
    uow.commit()
    seen = priya.id
    tickets.assign_ticket(ticket, sam, actor=admin, expected_assignee_id=seen)
    uow.commit()
    r = client.post(
        f"/admin/tickets/{ticket.id}/assign",
        data={"agent_id": tom.id, "expected_assignee": seen},
        follow_redirects=True,
    )
    assert f"{ticket.reference} was just assigned to Sam Okafor." in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id == sam.id
    assert _events(ticket.id, "reassigned") == 1


def test_the_second_assignment_waits_for_the_first_and_is_refused(app, make_user, backend):
    """Two units of work on two connections: the second one's lock waits until the first
    commits, then it decides on the committed row (PostgreSQL: a row lock; SQLite: the
    write lock BEGIN IMMEDIATE takes)."""
    admin = make_user(Role.ADMIN)
    priya = make_user(Role.AGENT, first_name="Priya", last_name="Natarajan")
    sam = make_user(Role.AGENT, first_name="Sam")
    customer = make_user(Role.CUSTOMER)
    ticket_id = tickets.open_ticket(actor=customer, subject="S", description="D").id
    uow.commit()
    ids = {"admin": admin.id, "priya": priya.id, "sam": sam.id}
    first_locked, first_may_commit = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with app.app_context():
            try:
                with uow.unit():
                    get = db.session.get
                    tickets.assign_ticket(
                        get(Ticket, ticket_id), get(User, ids["priya"]),
                        actor=get(User, ids["admin"]), expected_assignee_id=None,
                    )  # fmt: skip
                    db.session.flush()
                    first_locked.set()
                    first_may_commit.wait(20)
                outcome["first"] = "committed"
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome["first"] = exc
                first_locked.set()

    def second() -> None:
        with app.app_context():
            try:
                with uow.unit():
                    get = db.session.get
                    ticket = get(Ticket, ticket_id)  # read before the first commits
                    assert ticket.assignee_id is None
                    tickets.assign_ticket(
                        ticket, get(User, ids["sam"]),
                        actor=get(User, ids["admin"]), expected_assignee_id=None,
                    )  # fmt: skip
                outcome["second"] = "committed"
            except ServiceError as exc:
                outcome["second"] = str(exc)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                outcome["second"] = exc

    one = threading.Thread(target=first)
    one.start()
    assert first_locked.wait(20)
    two = threading.Thread(target=second)
    two.start()
    two.join(1.0)
    assert two.is_alive()  # waiting for the first unit's lock
    first_may_commit.set()
    one.join(20)
    two.join(20)
    assert outcome == {
        "first": "committed",
        "second": f"CCR-{ticket_id:06d} was just assigned to Priya Natarajan.",
    }
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).assignee_id == priya.id
    assert _events(ticket_id, "assigned") == 1
    assert _emails(ticket_id, "ticket_assigned_agent") == [priya.email]
    assert _kept() == _real()


@pytest.mark.parametrize(
    ("verb", "then", "refusal"),
    [
        ("close", S.CLOSED, "“Close ticket” is not possible while the ticket is closed."),
        ("resolve", S.RESOLVED, "“Resolve” is not possible while the ticket is resolved."),
    ],
)
def test_the_second_of_two_equal_status_changes_is_refused(
    app, scene, backend, verb, then, refusal
):
    """Two people press the same button at once: the second is checked against the row the
    first committed, so one event, one set of emails, counters moved once."""
    s = scene()
    actor = s.admin if verb == "close" else s.agent
    ids = {"ticket": s.ticket.id, "actor": actor.id}
    gate = threading.Barrier(2, timeout=10)
    answers: list[object] = []
    lock = threading.Lock()

    def press() -> None:
        with app.app_context():
            try:
                with uow.unit():
                    ticket = db.session.get(Ticket, ids["ticket"])
                    assert ticket.status == S.ASSIGNED  # both saw it open for the change
                    gate.wait()
                    tickets.change_status(ticket, verb, actor=db.session.get(User, ids["actor"]))
                answer: object = "done"
            except ServiceError as exc:
                answer = str(exc)
            except BaseException as exc:  # noqa: BLE001 (reported below)
                answer = exc
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(map(str, answers)) == sorted(["done", refusal])
    db.session.expire_all()
    assert db.session.get(Ticket, ids["ticket"]).status == then
    verb_logged = "close" if verb == "close" else "status"
    assert _events(ids["ticket"], verb_logged) == (1 if verb == "close" else 2)  # + assigned
    assert _kept() == _real()
