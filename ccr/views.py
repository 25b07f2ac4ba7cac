"""Helpers shared by the role blueprints' views (plumbing only, no state changes)."""

from dataclasses import dataclass

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import Select, select
from sqlalchemy.orm import defer, selectinload

from ccr.extensions import db
from ccr.forms import TicketActionForm, TicketEditForm
from ccr.inputs import parse_int
from ccr.models import Message, Ticket, TicketEvent, User
from ccr.services import NotFound, ServiceError, queries
from ccr.services.categories import active_categories
from ccr.services.messages import messages_after
from ccr.services.queries import Total
from ccr.services.tickets import (
    TRANSITIONS,
    allowed_verbs,
    change_status,
    edit_ticket,
    get_ticket_for,
)
from ccr.urls import ticket_endpoint

PER_PAGE = 25
PAGE_MAX = 10_000


@dataclass
class Page:
    items: list
    number: int
    has_next: bool
    total: Total | None = None  # the whole list's size, when the page knows it
    per_page: int = PER_PAGE

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def first(self) -> int:
        """The 1-based position of the page's first row."""
        return (self.number - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1

    @property
    def pages(self) -> int:
        """How many pages the total fills (at least this one, at most PAGE_MAX)."""
        if self.total is None:
            return self.number + (1 if self.has_next else 0)
        return max(1, min(PAGE_MAX, -(-self.total.n // self.per_page)))

    def links(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and those near this one; None marks a gap."""
        last = max(self.pages, self.number)
        shown = sorted({1, last, *range(self.number - around, self.number + around + 1)})
        out: list[int | None] = []
        for n in (n for n in shown if 1 <= n <= last):
            if out and out[-1] is not None and n - out[-1] > 1:
                out.append(None)
            out.append(n)
        return out


def page_number() -> int:
    """?page=: a page number from 1 to PAGE_MAX; anything else is the first page."""
    return parse_int(request.args.get("page"), minimum=1, maximum=PAGE_MAX) or 1


def paginate(query: Select, per_page: int = PER_PAGE) -> Page:
    """One page without counting the whole table: fetch one extra row to know if more follow."""
    number = page_number()
    rows = list(db.session.scalars(query.limit(per_page + 1).offset((number - 1) * per_page)))
    return Page(rows[:per_page], number, len(rows) > per_page)


_LIST_USER = (User.first_name, User.last_name, User.role, User.deleted_at)  # for full_name


def paginate_tickets(query: Select, per_page: int = PER_PAGE, total: Total | None = None) -> Page:
    """A page of tickets: first the page's ids, which the list indexes hold (a deep page skips
    thousands of index entries, not thousands of rows), then those tickets with their
    customers and agents, in three queries rather than two per row."""
    ids = paginate(query.with_only_columns(Ticket.id), per_page)
    rows = db.session.scalars(
        select(Ticket)
        .where(Ticket.id.in_(ids.items))
        .options(
            defer(Ticket.description),
            defer(Ticket.rating_comment),
            selectinload(Ticket.customer).load_only(*_LIST_USER),
            selectinload(Ticket.assignee).load_only(*_LIST_USER),
        )
    )
    by_id = {t.id: t for t in rows}
    items = [by_id[i] for i in ids.items if i in by_id]
    return Page(items, ids.number, ids.has_next, total, per_page)


class AgentChoices:
    """The <option>s of the assign dropdown, rendered once per page and reused on every row
    (docs/performance.md#agent-options-rendered-once)."""

    def __init__(self, agents) -> None:
        self.ids = {a.id for a in agents}
        self._html = "".join(
            f'<option value="{a.id}">{escape(a.full_name)}</option>' for a in agents
        )

    def options(self, selected_id: int | None) -> Markup:
        html = self._html
        if selected_id in self.ids:
            html = html.replace(
                f'<option value="{selected_id}">', f'<option value="{selected_id}" selected>', 1
            )
        return Markup(html)  # noqa: S704 (built from escaped parts above)


def load_ticket(ticket_id: int) -> Ticket:
    """The ticket if the current user may see it; 404 otherwise."""
    try:
        return get_ticket_for(ticket_id, current_user)
    except NotFound:
        abort(404)


def ticket_page(ticket_id: int, template: str, **extra):
    """Render a role's ticket page: 404 unless the current user may see the ticket."""
    return render_ticket(load_ticket(ticket_id), template, **extra)


def live_part() -> bool:
    """The ticket page asked for by its own script (?part=live) for the parts that follow
    live changes: no page chrome, no messages, no flash messages taken, nothing marked read."""
    return request.args.get("part") == "live"


def render_ticket(ticket: Ticket, template: str, **extra):
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ).all()
    live = live_part()
    messages: list[Message] = [] if live else messages_after(ticket, current_user, 0, limit=2000)
    staff = current_user.is_staff
    if staff and "edit_form" not in extra:
        extra["edit_form"] = edit_form(ticket)
    response = make_response(
        render_template(
            template,
            ticket=ticket,
            events=events,
            messages=messages,
            read_upto=(0, 0) if live else queries.read_upto(ticket, current_user),
            handover=queries.transfer_note(ticket, current_user, events) if staff else None,
            describe=describe_event,
            verbs=allowed_verbs(ticket, current_user),
            live_script="chat.js",
            live_part=live,
            action_form=TicketActionForm(),
            verb_labels={verb: t.label for verb, t in TRANSITIONS.items()},
            **extra,
        )
    )
    if live:
        response.headers["Cache-Control"] = "no-store"
    return response


def edit_form(ticket: Ticket) -> TicketEditForm:
    """The staff's priority and category form, showing the ticket's values."""
    form = TicketEditForm(
        formdata=None, priority=ticket.priority.value, category=str(ticket.category_id or "")
    )
    form.set_categories(active_categories(), ticket.category)
    return form


def apply_edit(ticket_id: int):
    """POST handler for the staff roles: set priority and category, flash, go back."""
    ticket = load_ticket(ticket_id)
    form = TicketEditForm()
    form.set_categories(active_categories(), ticket.category)
    if not form.validate_on_submit():
        flash(first_error(form, "Choose a priority and a category from the lists."), "danger")
        return redirect(ticket_url(ticket.id))
    try:
        changed = edit_ticket(
            ticket,
            priority=form.priority.data or "",
            category_id=form.category_id,
            actor=current_user,
        )
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(str(exc), "danger")
    else:
        done = " and ".join(changed).capitalize() + " saved." if changed else "Nothing changed."
        flash(done, "success" if changed else "info")
    return redirect(ticket_url(ticket.id))


def first_error(form, default: str) -> str:
    """The first of a form's field errors, for a flash message."""
    for errors in form.errors.values():
        for error in errors:
            return str(error)
    return default


# The timeline in words: what each event verb says after the actor's name.
_STATUS_WORDS = {
    "in_progress": "started work on the ticket",
    "waiting_on_customer": "is waiting on the customer's reply",
    "resolved": "resolved the ticket",
    "assigned": "set the ticket to assigned",
    "open": "returned the ticket to the unassigned pool",
}


def describe_event(event: TicketEvent) -> str:
    """The timeline's sentence for an event, without its actor: "resolved the ticket",
    "rated 4 of 5", "changed the priority from normal to high"; "" for an event another one
    already says."""
    old, new = event.old_value, event.new_value
    words = {
        "created": "created the ticket",
        "assigned": f"assigned the ticket to {new}",
        "reassigned": f"reassigned the ticket from {old} to {new}",
        "transferred": f"handed the ticket on to {new}",
        "close": "closed the ticket",
        "reopen": "reopened the ticket",
        "rated": f"changed the rating from {old} to {new} of 5" if old else f"rated {new} of 5",
        "priority": f"changed the priority from {old} to {new}",
        "category": f"changed the category from {old or 'none'} to {new or 'none'}",
    }
    if event.verb == "status":
        if old == "open" and new == "assigned":
            return ""  # said by the assignment next to it
        if old == "waiting_on_customer" and new == "in_progress":
            return "replied, so the ticket is in progress again"
        return _STATUS_WORDS.get(new or "", f"set the status to {_label(new)}")
    return words.get(event.verb, f"{_label(event.verb)}: {_label(old)} → {_label(new)}")


def _label(value: str | None) -> str:
    return (value or "—").replace("_", " ")


def ticket_url(ticket_id: int) -> str:
    return url_for(ticket_endpoint(current_user.role), ticket_id=ticket_id)


def apply_verb(ticket_id: int):
    """POST handler shared by the roles: apply a status verb, flash the outcome, go back."""
    ticket = load_ticket(ticket_id)
    form = TicketActionForm()
    if not form.validate_on_submit():
        flash("Choose an action from the ticket page.", "danger")
        return redirect(ticket_url(ticket.id))
    try:
        change_status(ticket, form.verb.data or "", actor=current_user)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(str(exc), "danger")
    else:
        flash(f"{ticket.reference} is now {ticket.status.label.lower()}.", "success")
    return redirect(ticket_url(ticket_id))
