"""Ticket counts per (agent, status), kept in step with the tickets table.

Every flush that adds a ticket, or changes a ticket's status or assignee, moves its count
in ticket_counts in the same transaction, so the counts commit or roll back with the change.
The admin list and the agent queue read these rows instead of counting every ticket on each
page view (docs/performance.md#kept-ticket-counters).
A bulk load that bypasses the ORM calls rebuild() afterwards.
"""

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Integer, delete, event, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, attributes

from ccr.extensions import db
from ccr.models import Ticket, TicketCount, TicketStatus

UNASSIGNED = 0
_UNASSIGNED_SQL = literal_column("0", Integer)  # a literal: PostgreSQL matches GROUP BY to SELECT
_COUNTS = TicketCount.__table__
_TICKETS = Ticket.__table__


def _key(assignee_id: int | None, status: TicketStatus | str) -> tuple[int, str]:
    return (assignee_id or UNASSIGNED, TicketStatus(status).value)


def _old(ticket: Ticket, name: str):
    """The value as the database holds it (the columns keep active history)."""
    history = attributes.get_history(ticket, name)
    return (history.deleted or history.unchanged or [getattr(ticket, name)])[0]


def _changed(ticket: Ticket) -> bool:
    return any(attributes.get_history(ticket, n).has_changes() for n in ("status", "assignee_id"))


@event.listens_for(Session, "before_flush")
def _track(session: Session, _context, _instances) -> None:
    moves: Counter = Counter()
    for obj in session.new:
        if isinstance(obj, Ticket):
            moves[_key(obj.assignee_id, obj.status or TicketStatus.OPEN)] += 1
    for obj in session.dirty:
        if isinstance(obj, Ticket) and _changed(obj):
            old = _key(_old(obj, "assignee_id"), _old(obj, "status"))
            new = _key(obj.assignee_id, obj.status)
            if old != new:
                moves[old] -= 1
                moves[new] += 1
    for obj in session.deleted:
        if isinstance(obj, Ticket):
            moves[_key(_old(obj, "assignee_id"), _old(obj, "status"))] -= 1
    if any(moves.values()):
        _apply(session, moves)


def _apply(session: Session, moves: Counter) -> None:
    connection = session.connection()
    upsert = _UPSERTS.get(connection.dialect.name)
    for (assignee_id, status), delta in sorted(moves.items()):  # one lock order everywhere
        if delta == 0:
            continue
        if upsert is not None:
            # One statement: two transactions opening the same (agent, status) row at once
            # both succeed (an UPDATE-then-INSERT would fail one on the primary key).
            stmt = upsert(_COUNTS).values(assignee_id=assignee_id, status=status, tickets=delta)
            connection.execute(
                stmt.on_conflict_do_update(
                    index_elements=["assignee_id", "status"],
                    set_={"tickets": _COUNTS.c.tickets + delta},
                )
            )
            continue
        where = (_COUNTS.c.assignee_id == assignee_id) & (_COUNTS.c.status == status)
        changed = connection.execute(
            update(_COUNTS).where(where).values(tickets=_COUNTS.c.tickets + delta)
        ).rowcount
        if not changed:
            connection.execute(
                insert(_COUNTS).values(assignee_id=assignee_id, status=status, tickets=delta)
            )


_UPSERTS: dict[str, Callable[..., Any]] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def rebuild(connection) -> None:
    """Recount from the tickets table (after a bulk load, or to repair)."""
    assignee = func.coalesce(_TICKETS.c.assignee_id, _UNASSIGNED_SQL)
    connection.execute(delete(_COUNTS))
    connection.execute(
        insert(_COUNTS).from_select(
            ["assignee_id", "status", "tickets"],
            select(assignee, _TICKETS.c.status, func.count()).group_by(assignee, _TICKETS.c.status),
        )
    )


def by_status(assignee_id: int) -> dict[TicketStatus, int]:
    """One agent's tickets per status (UNASSIGNED: the pool's)."""
    rows = db.session.execute(
        select(_COUNTS.c.status, _COUNTS.c.tickets).where(_COUNTS.c.assignee_id == assignee_id)
    )
    return {TicketStatus(s): n for s, n in rows if n}


def by_assignee(statuses) -> dict[int, int]:
    """Tickets in these statuses per assignee id (UNASSIGNED included)."""
    rows = db.session.execute(
        select(_COUNTS.c.assignee_id, func.sum(_COUNTS.c.tickets))
        .where(_COUNTS.c.status.in_([TicketStatus(s).value for s in statuses]))
        .group_by(_COUNTS.c.assignee_id)
    )
    return {a: int(n) for a, n in rows if n}


def total(statuses, assignee_id: int | None = None) -> int:
    """Tickets in these statuses (of one assignee, UNASSIGNED for the pool, None for any)."""
    query = select(func.coalesce(func.sum(_COUNTS.c.tickets), 0)).where(
        _COUNTS.c.status.in_([TicketStatus(s).value for s in statuses])
    )
    if assignee_id is not None:
        query = query.where(_COUNTS.c.assignee_id == assignee_id)
    return int(db.session.scalar(query) or 0)
