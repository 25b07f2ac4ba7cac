"""The ticket lifecycle: one transition table decides what is allowed and who may do it.

Every change locks the ticket's row first (lock_ticket) and checks the transition against
the locked row, so of two concurrent changes one wins and the other is refused with what
happened (RELIABILITY.md R10), and the kept counters move from the row's real old values.
Every change writes a TicketEvent and queues its emails (outbox, same transaction) and its
pushes (after the commit). The caller's boundary commits (services.uow).
"""

from dataclasses import dataclass
from datetime import datetime
from types import EllipsisType

from sqlalchemy import select

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
from ccr.services import NotFound, ServiceError, idempotency, live
from ccr.services import counts as _counts  # noqa: F401 (its flush hook keeps ticket_counts)
from ccr.services.locks import lock_row
from ccr.services.permissions import (
    can_assign,
    can_edit_ticket,
    can_open_ticket,
    can_rate_ticket,
    can_view_ticket,
    has_role,
    require,
)
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


def lock_ticket(ticket: Ticket | int) -> Ticket:
    """The ticket's row locked for the rest of the unit of work and reloaded: every verb
    starts here and decides on what it returns (the session's copy is refreshed in place).
    NotFound when the ticket is gone."""
    ticket_id = ticket if isinstance(ticket, int) else ticket.id
    locked = lock_row(Ticket, ticket_id)
    if locked is None:
        raise NotFound("No such ticket.")
    return locked


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
    idempotency_key: str | None = None,
) -> Ticket:
    """A customer raises a ticket; the customer and the admins are emailed. The ticket is
    flushed (it has its id). A repeat of a form already sent (the same idempotency_key)
    returns the ticket the first one raised, and nothing is sent again."""
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
    first = idempotency.first_result(actor, idempotency_key, "ticket")
    if first is not None:
        raised = db.session.get(Ticket, first)
        if raised is None:
            raise NotFound("No such ticket.")
        return raised
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
    idempotency.created(actor, idempotency_key, ticket.id)
    record_event(ticket, actor, "created", None, S.OPEN.value)
    _email(actor, ticket, "ticket_created", headline="We received your request")
    for admin in _active_staff(Role.ADMIN):
        _email(admin, ticket, "ticket_new_admin", headline="A new ticket was raised")
    live.publish("ticket_created", ticket_summary(ticket), rooms.admins())
    return ticket


def assign_ticket(
    ticket: Ticket,
    agent: User,
    *,
    actor: User,
    expected_assignee_id: int | None | EllipsisType = ...,
) -> None:
    """An admin assigns or reassigns; the old agent loses access at once.

    expected_assignee_id: the assignee (None: nobody) the admin saw when choosing. When the
    ticket has been (re)assigned since, nothing changes and the refusal names who has it:
    of two admins assigning at once, the second learns of the first."""
    require(can_assign, actor)
    ticket = lock_ticket(ticket)
    if agent.role not in STAFF or not agent.is_active:
        raise ServiceError("Choose an active agent.")
    if ticket.status == S.CLOSED:
        raise ServiceError("A closed ticket cannot be assigned; reopen it first.")
    if expected_assignee_id is not ... and ticket.assignee_id != expected_assignee_id:
        if ticket.assignee is None:
            raise ServiceError(f"{ticket.reference} was just returned to the unassigned pool.")
        raise ServiceError(f"{ticket.reference} was just assigned to {ticket.assignee.full_name}.")
    if ticket.assignee_id == agent.id:
        raise ServiceError(f"{ticket.reference} is already assigned to {agent.full_name}.")
    give_to(ticket, agent, actor=actor, verb="reassigned" if ticket.assignee else "assigned")


def give_to(ticket: Ticket, agent: User, *, actor: User, verb: str) -> None:
    """Give the locked ticket to `agent` (assign_ticket, services.transfers): the event, the
    emails, the pushes; the previous agent's sockets leave the ticket."""
    previous = ticket.assignee
    old_status = ticket.status
    ticket.assignee_id = agent.id
    ticket.assignee = agent
    if ticket.status == S.OPEN:
        ticket.status = S.ASSIGNED
    _touch(ticket)
    record_event(ticket, actor, verb, previous.full_name if previous else None, agent.full_name)
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


def edit_ticket(
    ticket: Ticket,
    *,
    priority: Priority | str,
    category_id: int | None,
    actor: User,
) -> list[str]:
    """Staff set the ticket's priority and category. Each field that changes is an event on
    the timeline; the assigned agent is emailed when someone else changed their ticket.
    Returns the names of the fields that changed (none: nothing was written)."""
    ticket = lock_ticket(ticket)
    require(can_view_ticket, actor, ticket)
    require(can_edit_ticket, actor, ticket)
    try:
        priority = Priority(priority)
    except ValueError:
        raise ServiceError("Choose a priority from the list.") from None
    category = None
    if category_id is not None:
        category = db.session.get(Category, category_id)
        if category is None or (category.retired and category_id != ticket.category_id):
            raise ServiceError("Choose a category from the list.")
    changed = []
    if priority != ticket.priority:
        record_event(ticket, actor, "priority", ticket.priority.value, priority.value)
        ticket.priority = priority
        ticket.priority_rank = priority.rank
        changed.append("priority")
    if category_id != ticket.category_id:
        old = ticket.category.name if ticket.category else None
        record_event(ticket, actor, "category", old, category.name if category else None)
        ticket.category_id = category_id
        ticket.category = category
        changed.append("category")
    if not changed:
        return changed
    _touch(ticket)
    if ticket.assignee is not None and ticket.assignee_id != actor.id:
        what = " and ".join(changed).capitalize()
        _email(ticket.assignee, ticket, "ticket_edited", headline=f"{what} changed")
    data = ticket_summary(ticket)
    live.publish("ticket_updated", data, rooms.ticket(ticket.id))
    live.publish("ticket_updated", data, rooms.admins())
    return changed


def change_status(ticket: Ticket, verb: str, *, actor: User) -> None:
    """Apply a verb from TRANSITIONS; an illegal transition raises and changes nothing."""
    transition = TRANSITIONS.get(verb)
    if transition is None:
        raise ServiceError("Unknown action.")
    ticket = lock_ticket(ticket)
    require(can_view_ticket, actor, ticket)
    require(has_role, actor, transition.roles, message="You cannot do that to this ticket.")
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


def close_ticket(ticket: Ticket, *, actor: User) -> None:
    change_status(ticket, "close", actor=actor)


def reopen_ticket(ticket: Ticket, *, actor: User) -> None:
    """Back to the assigned agent, or to the open pool when that agent is gone."""
    change_status(ticket, "reopen", actor=actor)


def rate_ticket(ticket: Ticket, rating: int, comment: str | None, *, actor: User) -> None:
    """The customer rates a resolved or closed ticket (1 to 5, with an optional comment)."""
    ticket = lock_ticket(ticket)
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
