"""Helpers shared by the role blueprints' views (plumbing only, no state changes)."""

from dataclasses import dataclass

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import Select, select

from ccr.extensions import db
from ccr.models import Message, TicketEvent
from ccr.services import NotFound
from ccr.services.messages import messages_after
from ccr.services.tickets import allowed_verbs, get_ticket_for

PER_PAGE = 25


@dataclass
class Page:
    items: list
    number: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1


def page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 10_000) if raw.isdigit() and int(raw) > 0 else 1


def paginate(query: Select, per_page: int = PER_PAGE) -> Page:
    """One page without counting the whole table: fetch one extra row to know if more follow."""
    number = page_number()
    rows = list(db.session.scalars(query.limit(per_page + 1).offset((number - 1) * per_page)))
    return Page(rows[:per_page], number, len(rows) > per_page)


def ticket_page(ticket_id: int, template: str, **extra):
    """Render a role's ticket page: 404 unless the current user may see the ticket."""
    try:
        ticket = get_ticket_for(ticket_id, current_user)
    except NotFound:
        abort(404)
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()
    messages: list[Message] = messages_after(ticket, current_user, 0, limit=2000)
    return render_template(
        template,
        ticket=ticket,
        events=events,
        messages=messages,
        verbs=allowed_verbs(ticket, current_user),
        live_script="chat.js",
        **extra,
    )
