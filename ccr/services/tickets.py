"""The ticket lifecycle: one transition table decides what is allowed and who may do it.

Every change writes a TicketEvent and queues its emails (outbox, same transaction) and its
pushes (after the commit). The caller's boundary commits (services.uow).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

from ccr import rooms
from ccr.extensions import db
from ccr.models import (
    WORKING_STATUSES,
    Category,
    Priority,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    utcnow,
)
from ccr.notify.outbox import queue_email
from ccr.services import NotFound, ServiceError, live
from ccr.services import counts as _counts  # noqa: F401 (its flush hook keeps ticket_counts)
from ccr.services.permissions import (
    can_assign,
    can_open_ticket,
    can_rate_ticket,
    can_view_ticket,
    has_role,
    require,
)
from ccr.services.uow import connection as uow_connection
from ccr.urls import ticket_url

S = TicketStatus
SUBJECT_MAX = 200
DESCRIPTION_MAX = 10_000


@dataclass(frozen=True)
class Transition:
    sources: frozenset[TicketStatus]
    target: TicketStatus | None  # None: decided by the verb (reopen)
    roles: frozenset[Role]
    label: str


def _t(sources, target, roles, label) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles), label)


STAFF = {Role.AGENT, Role.ADMIN}

TRANSITIONS: dict[str, Transition] = {
    "start": _t({S.ASSIGNED, S.WAITING_ON_CUSTOMER}, S.IN_PROGRESS, STAFF, "Start work"),
    "wait": _t({S.ASSIGNED, S.IN_PROGRESS}, S.WAITING_ON_CUSTOMER, STAFF, "Wait on customer"),
    # A customer's reply to a ticket waiting on them (see services.messages).
    "customer_replied": _t({S.WAITING_ON_CUSTOMER}, S.IN_PROGRESS, {Role.CUSTOMER}, "Reply"),
    "resolve": _t(WORKING_STATUSES, S.RESOLVED, STAFF, "Resolve"),
    "close": _t(
        {S.OPEN, *WORKING_STATUSES, S.RESOLVED},
        S.CLOSED,
        {Role.CUSTOMER, Role.ADMIN},
        "Close ticket",
    ),
    "reopen": _t({S.RESOLVED, S.CLOSED}, None, {Role.CUSTOMER, Role.ADMIN}, "Reopen"),
}


def allowed_verbs(ticket: Ticket, actor: User) -> list[str]:
    """The verbs this actor may apply to this ticket now (for rendering buttons)."""
    if not can_view_ticket(actor, ticket):
        return []
    return [
        verb
        for verb, t in TRANSITIONS.items()
        if verb != "customer_replied" and ticket.status in t.sources and actor.role in t.roles
    ]


def get_ticket_for(ticket_id: int, actor: User) -> Ticket:
    """The ticket if the actor may see it; NotFound otherwise (existence is not leaked)."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("No such ticket.")
    require(can_view_ticket, actor, ticket)
    return ticket


def record_event(
    ticket: Ticket, actor: User | None, verb: str, old: str | None = None, new: str | None = None
) -> TicketEvent:
    ev = TicketEvent(
        ticket_id=ticket.id,
        actor_id=actor.id if actor else None,
        verb=verb,
        old_value=old,
        new_value=new,
        created_at=utcnow(),
    )
    db.session.add(ev)
    return ev


def open_ticket(
    *,
    actor: User,
    subject: str,
    description: str,
    priority: Priority | str = Priority.NORMAL,
    category_id: int | None = None,
) -> Ticket:
    """A customer raises a ticket; the customer and the admins are emailed. The ticket is
    flushed (it has its id)."""
    require(can_open_ticket, actor)
    subject = " ".join((subject or "").split())  # one line: it travels in email subjects
    description = (description or "").replace("\r\n", "\n").strip()
    if not subject or len(subject) > SUBJECT_MAX:
        raise ServiceError(f"The subject must be 1 to {SUBJECT_MAX} characters.")
    if not description or len(description) > DESCRIPTION_MAX:
        raise ServiceError(f"The description must be 1 to {DESCRIPTION_MAX:,} characters.")
    try:
        priority = Priority(priority)
    except ValueError:
        raise ServiceError("Choose a priority from the list.") from None
    if category_id is not None:
        category = db.session.get(Category, category_id)
        if category is None or category.retired:
            raise ServiceError("Choose a category from the list.")
    now = utcnow()
    ticket = Ticket(
        subject=subject,
        description=description,
        priority=priority,
        priority_rank=priority.rank,
        category_id=category_id,
        status=S.OPEN,
        customer_id=actor.id,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    db.session.add(ticket)
    db.session.flush()
    record_event(ticket, actor, "created", None, S.OPEN.value)
    _email(actor, ticket, "ticket_created", headline="We received your request")
    for admin in _active_staff(Role.ADMIN):
        _email(admin, ticket, "ticket_new_admin", headline="A new ticket was raised")
    live.publish("ticket_created", ticket_summary(ticket), rooms.admins())
    return ticket


def assign_ticket(ticket: Ticket, agent: User, *, actor: User) -> None:
    """An admin assigns or reassigns; the old agent loses access at once."""
    require(can_assign, actor)
    if agent.role not in STAFF or not agent.is_active:
        raise ServiceError("Choose an active agent.")
    if ticket.status == S.CLOSED:
        raise ServiceError("A closed ticket cannot be assigned; reopen it first.")
    if ticket.assignee_id == agent.id:
        raise ServiceError(f"{ticket.reference} is already assigned to {agent.full_name}.")
    previous = ticket.assignee
    old_status = ticket.status
    ticket.assignee_id = agent.id
    ticket.assignee = agent
    if ticket.status == S.OPEN:
        ticket.status = S.ASSIGNED
    _touch(ticket)
    record_event(
        ticket,
        actor,
        "reassigned" if previous else "assigned",
        previous.full_name if previous else None,
        agent.full_name,
    )
    if old_status != ticket.status:
        record_event(ticket, actor, "status", old_status.value, ticket.status.value)
    _email(agent, ticket, "ticket_assigned_agent", headline="A ticket was assigned to you")
    _email(ticket.customer, ticket, "ticket_assigned_customer", headline="Your ticket has an agent")
    data = ticket_summary(ticket)
    live.publish("ticket_assigned", data, rooms.user(agent.id))
    live.publish("ticket_updated", data, rooms.ticket(ticket.id))
    live.publish("ticket_updated", data, rooms.admins())
    if previous is not None:
        live.publish("ticket_unassigned", {"id": ticket.id}, rooms.user(previous.id))
        live.revoke(previous.id, ticket.id)


def change_status(ticket: Ticket, verb: str, *, actor: User) -> None:
    """Apply a verb from TRANSITIONS; an illegal transition raises and changes nothing."""
    transition = TRANSITIONS.get(verb)
    if transition is None:
        raise ServiceError("Unknown action.")
    require(can_view_ticket, actor, ticket)
    require(has_role, actor, transition.roles, message="You cannot do that to this ticket.")
    lock_ticket(ticket)
    if ticket.status not in transition.sources:
        raise ServiceError(
            f"“{transition.label}” is not possible while the ticket is "
            f"{ticket.status.label.lower()}."
        )
    old = ticket.status
    if verb == "reopen":
        agent = ticket.assignee
        still_staff = agent is not None and agent.is_active and agent.role in STAFF
        new = S.ASSIGNED if still_staff else S.OPEN
        if new == S.OPEN:
            ticket.assignee_id = None
            ticket.assignee = None
        ticket.closed_at = None
        ticket.resolved_at = None
    else:
        assert transition.target is not None  # only reopen decides its target
        new = transition.target
    now = utcnow()
    ticket.status = new
    if new == S.RESOLVED:
        ticket.resolved_at = now
    if new == S.CLOSED:
        ticket.closed_at = now
    _touch(ticket, now)
    record_event(
        ticket, actor, verb if verb in ("reopen", "close") else "status", old.value, new.value
    )
    _notify_status(ticket, actor, verb, old)


_T = Ticket.__table__
_LOCK = (  # a write that changes nothing: it takes the row's lock on every database
    update(_T)
    .where(_T.c.id == bindparam("ticket"))
    .values(status=_T.c.status, updated_at=_T.c.updated_at)
)
_LOCK_RETURNING = _LOCK.returning(_T.c.status)
_READ_STATUS = select(_T.c.status).where(_T.c.id == bindparam("ticket"))
_LOCKED_STATE = ["status", "assignee_id", "assignee", "closed_at", "resolved_at"]


def lock_ticket(ticket: Ticket) -> None:
    """Hold the ticket's row until the commit, and read its status under the lock.

    The chat's messages take the same lock (ccr.services.messages), so a change and a
    message on one ticket take turns: a close that commits first refuses every later
    public message, and a message that commits first is older than the close's time (the
    time is read after the lock)."""
    db.session.flush()  # what this unit changed already is what the lock then reads
    connection = uow_connection()
    params = {"ticket": ticket.id}
    if connection.dialect.update_returning:
        status = connection.execute(_LOCK_RETURNING, params).scalar()
    else:  # e.g. Db2
        connection.execute(_LOCK, params)
        status = connection.execute(_READ_STATUS, params).scalar()
    if status is not None and TicketStatus(status) != ticket.status:
        db.session.expire(ticket, _LOCKED_STATE)  # changed since it was loaded: read it again


def close_ticket(ticket: Ticket, *, actor: User) -> None:
    change_status(ticket, "close", actor=actor)


def reopen_ticket(ticket: Ticket, *, actor: User) -> None:
    """Back to the assigned agent, or to the open pool when that agent is gone."""
    change_status(ticket, "reopen", actor=actor)


def rate_ticket(ticket: Ticket, rating: int, comment: str | None, *, actor: User) -> None:
    """The customer rates a resolved or closed ticket (1 to 5, with an optional comment)."""
    require(can_rate_ticket, actor, ticket)
    if ticket.status not in (S.RESOLVED, S.CLOSED):
        raise ServiceError("You can rate a ticket once it is resolved or closed.")
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ServiceError("Choose a rating from 1 to 5.")
    comment = (comment or "").strip()[:2000] or None
    old = str(ticket.rating) if ticket.rating else None
    ticket.rating = rating
    ticket.rating_comment = comment
    _touch(ticket)
    record_event(ticket, actor, "rated", old, str(rating))
    if ticket.assignee is not None:
        _email(ticket.assignee, ticket, "ticket_rated", headline=f"Rated {rating} of 5")
    live.publish("ticket_updated", ticket_summary(ticket), rooms.ticket(ticket.id))


# -- helpers -------------------------------------------------------------------------------


def _touch(ticket: Ticket, now: datetime | None = None) -> None:
    now = now or utcnow()
    ticket.updated_at = now
    ticket.last_activity_at = now


def _active_staff(role: Role) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == role, User.active.is_(True), User.deleted_at.is_(None))
        )
    )


def ticket_summary(ticket: Ticket) -> dict:
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "status_label": ticket.status.label,
        "priority": ticket.priority.value,
        "assignee_id": ticket.assignee_id,
        "assignee_name": ticket.assignee.full_name if ticket.assignee else None,
        "customer_id": ticket.customer_id,
        "last_activity_at": ticket.last_activity_at.isoformat() + "Z",
    }


def _email(user: User | None, ticket: Ticket, kind: str, *, headline: str) -> None:
    """One email about a ticket, written to the outbox in the caller's transaction."""
    if user is None or not user.is_active:
        return
    queue_email(
        user.email,
        f"[{ticket.reference}] {headline}: {ticket.subject}",
        "ticket_notice",
        kind=kind,
        ticket_id=ticket.id,
        user=user,
        ticket=ticket,
        headline=headline,
        link=ticket_url(ticket, user),
    )


HEADLINES = {
    "start": "Work has started",
    "wait": "Waiting for the customer's reply",
    "customer_replied": "The customer replied",
    "resolve": "Resolved",
    "close": "Closed",
    "reopen": "Reopened",
}


def _notify_status(ticket: Ticket, actor: User, verb: str, old: TicketStatus) -> None:
    """The customer hears of every status change they did not make by replying; the agent
    hears of changes the customer made and of every close and reopen."""
    headline = HEADLINES.get(verb, f"Status changed to {ticket.status.label.lower()}")
    if verb != "customer_replied":
        _email(ticket.customer, ticket, "ticket_status", headline=headline)
    if ticket.assignee is not None and (actor.role == Role.CUSTOMER or verb in ("close", "reopen")):
        _email(ticket.assignee, ticket, "ticket_status", headline=headline)
    data = ticket_summary(ticket)
    live.publish("ticket_updated", data, rooms.ticket(ticket.id))
    live.publish("ticket_updated", data, rooms.admins())
    if ticket.assignee_id:
        live.publish("ticket_updated", data, rooms.user(ticket.assignee_id))
