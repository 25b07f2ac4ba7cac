"""The transition table, proved over every status × verb × role: an allowed move lands on the
expected status with one event; anything else raises a clear error and changes nothing."""

import pytest
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import OutboxEmail, Role, Ticket, TicketEvent, TicketStatus
from ccr.services import ServiceError
from ccr.services.tickets import (
    TRANSITIONS,
    allowed_verbs,
    change_status,
)
from ccr.services.uow import commit

S = TicketStatus
STAFF = {Role.AGENT, Role.ADMIN}
CUSTOMER = {Role.CUSTOMER}
CLOSERS = {Role.CUSTOMER, Role.ADMIN}
WORKING = {S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER}

# Written out independently of TRANSITIONS: (verb, from) -> (to, roles allowed).
EXPECTED = {
    **{("start", s): (S.IN_PROGRESS, STAFF) for s in (S.ASSIGNED, S.WAITING_ON_CUSTOMER)},
    **{("wait", s): (S.WAITING_ON_CUSTOMER, STAFF) for s in (S.ASSIGNED, S.IN_PROGRESS)},
    ("customer_replied", S.WAITING_ON_CUSTOMER): (S.IN_PROGRESS, CUSTOMER),
    **{("resolve", s): (S.RESOLVED, STAFF) for s in WORKING},
    **{("close", s): (S.CLOSED, CLOSERS) for s in {S.OPEN, *WORKING, S.RESOLVED}},
    # the assigned agent is still active, so a reopen goes back to them
    **{("reopen", s): (S.ASSIGNED, CLOSERS) for s in (S.RESOLVED, S.CLOSED)},
}
VERBS = [*TRANSITIONS, "delete"]


def test_the_table_has_exactly_the_expected_verbs():
    assert set(TRANSITIONS) == {v for v, _ in EXPECTED}


@pytest.fixture
def cast(scene):
    s = scene(subject="S", description="D")
    return {Role.ADMIN: s.admin, Role.AGENT: s.agent, Role.CUSTOMER: s.customer}, s.ticket


def _counts(ticket_id):
    events = db.session.scalar(
        select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    )
    return events, db.session.scalar(select(func.count()).select_from(OutboxEmail))


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
def test_transition(app, cast, status, verb, role):
    people, ticket = cast
    actor = people[role]
    ticket.status = status
    commit()
    before = _counts(ticket.id)
    expected = EXPECTED.get((verb, status))
    if expected and role in expected[1]:
        change_status(ticket, verb, actor=actor)
        commit()
        db.session.expire_all()
        ticket = db.session.get(Ticket, ticket.id)
        assert ticket.status == expected[0]
        assert _counts(ticket.id)[0] == before[0] + 1
        event = db.session.scalars(select(TicketEvent).order_by(TicketEvent.id.desc())).first()
        assert (event.old_value, event.new_value, event.actor_id) == (
            status.value,
            expected[0].value,
            actor.id,
        )
        if expected[0] == S.RESOLVED:
            assert ticket.resolved_at is not None
        if expected[0] == S.CLOSED:
            assert ticket.closed_at is not None
    else:
        with pytest.raises(ServiceError) as err:
            change_status(ticket, verb, actor=actor)
        assert str(err.value)  # a clear message for the person who asked
        db.session.rollback()
        db.session.expire_all()
        assert db.session.get(Ticket, ticket.id).status == status
        assert _counts(ticket.id) == before
    # the buttons offered are the allowed verbs (never the implicit customer_replied)
    if verb != "customer_replied":
        db.session.expire_all()
        ticket = db.session.get(Ticket, ticket.id)
        ticket.status = status
        shown = verb in allowed_verbs(ticket, actor)
        assert shown == bool(expected and role in expected[1])
        db.session.rollback()


def test_an_agent_who_is_not_assigned_gets_not_found(app, cast, make_user):
    from ccr.services import NotFound

    _people, ticket = cast
    stranger = make_user(Role.AGENT)
    with pytest.raises(NotFound):
        change_status(ticket, "start", actor=stranger)
    assert allowed_verbs(ticket, stranger) == []
