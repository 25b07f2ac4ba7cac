"""The admin list's actions on the checked tickets (assign, set the priority, close) and on
one row (its Assign button): one confirmation for the lot, then each ticket through its own
verb, all in the request's one transaction. A ticket that changed under the selection
refuses the whole request: nothing is changed, and the answer says which ticket and why."""

from dataclasses import dataclass
from types import EllipsisType
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ccr.admin import bp
from ccr.admin.audit import AdminAction, audit
from ccr.admin.forms import BulkForm
from ccr.auth.guards import role_required
from ccr.errors import wants_json
from ccr.inputs import parse_id
from ccr.models import Priority, Role, Ticket, TicketStatus, User
from ccr.models.ticket import format_reference
from ccr.services import ServiceError, queries
from ccr.services.tickets import (
    assign_ticket,
    close_ticket,
    edit_ticket,
    ticket_summary,
)

BULK_MAX = 100
ACTIONS = ("assign", "priority", "close")


@dataclass
class Picked:
    """A selected row: the ticket and the assignee the row showed (... when it did not say)."""

    ticket: Ticket
    seen: int | None | EllipsisType


@dataclass
class Plan:
    action: str
    picked: list[Picked]
    agent: User | None = None
    priority: Priority | None = None

    @property
    def question(self) -> str:
        n = len(self.picked)
        what = f"{n} ticket{'s' if n != 1 else ''}"
        if self.action == "assign":
            assert self.agent is not None
            return f"Assign {what} to {self.agent.full_name}?"
        if self.action == "priority":
            assert self.priority is not None
            return f"Set {what} to {self.priority.value} priority?"
        return f"Close {what}?"


def list_url(raw: str | None) -> str:
    """Back to the admin list the form came from, with its filters and page (only that list)."""
    home = url_for("admin.dashboard")
    parts = urlsplit(raw or "")
    if parts.scheme or parts.netloc or parts.path != home:
        return home
    return home + ("?" + parts.query if parts.query else "")


def _filtered_by_agent(back: str, agent_id: int | None) -> str:
    """The list the form came from, showing the chosen agent's tickets (None: everyone's)."""
    path, _, query = back.partition("?")
    params = [(k, v) for k, v in parse_qsl(query) if k not in ("agent", "unassigned", "page")]
    if agent_id is not None:
        params.append(("agent", str(agent_id)))
    return path + ("?" + urlencode(params) if params else "")


def _selection(raw: list[str]) -> dict[int, int | None | EllipsisType]:
    """ "id:assignee id" values (the assignee part empty for nobody, absent: no check)."""
    if not raw:
        raise ServiceError("Select at least one ticket first.")
    if len(raw) > BULK_MAX:
        raise ServiceError(f"Select at most {BULK_MAX} tickets at a time.")
    out: dict[int, int | None | EllipsisType] = {}
    for value in raw:
        ticket_part, colon, seen_part = (value or "").partition(":")
        ticket_id = parse_id(ticket_part)
        seen = parse_id(seen_part) if seen_part else None
        if ticket_id is None or (seen_part and seen is None):
            raise ServiceError("That selection is not one this page offers; reload and try again.")
        out[ticket_id] = seen if colon else ...
    return out


def _plan(form: BulkForm, single: bool) -> Plan:
    action = "assign" if single else (form.action.data or "")
    if action not in ACTIONS:
        raise ServiceError("Choose an action: assign, set the priority or close.")
    raw = [form.only.data or ""] if single else request.form.getlist("ticket")
    wanted = _selection(raw)
    plan = Plan(action, [])
    if action == "assign":
        agent_id = parse_id(form.agent_id.data)
        agent = queries.get_user(agent_id) if agent_id else None
        if agent is None or agent.role not in (Role.AGENT, Role.ADMIN) or not agent.is_active:
            raise ServiceError("Choose an agent in the toolbar first.")
        plan.agent = agent
    elif action == "priority":
        if form.priority.data not in {p.value for p in Priority}:
            raise ServiceError("Choose a priority first.")
        plan.priority = Priority(form.priority.data)
    found = {t.id: t for t in queries.tickets_by_ids(list(wanted))}
    gone = [format_reference(i) for i in wanted if i not in found]
    if gone:
        raise ServiceError(f"{', '.join(gone)} no longer exist{'s' if len(gone) == 1 else ''}.")
    plan.picked = [Picked(found[i], seen) for i, seen in wanted.items()]
    return plan


def _unchanged(plan: Plan, ticket: Ticket) -> bool:
    """Already as asked: left alone, not an error."""
    if plan.action == "assign":
        return plan.agent is not None and ticket.assignee_id == plan.agent.id
    if plan.action == "priority":
        return ticket.priority == plan.priority
    return ticket.status == TicketStatus.CLOSED


def _apply(plan: Plan, p: Picked) -> None:
    ticket = p.ticket
    if plan.action == "assign":
        assert plan.agent is not None
        assign_ticket(ticket, plan.agent, actor=current_user, expected_assignee_id=p.seen)
        audit(AdminAction.ASSIGN, ticket=ticket.id, agent=plan.agent.id)
    elif plan.action == "priority":
        assert plan.priority is not None
        edit_ticket(
            ticket, priority=plan.priority, category_id=ticket.category_id, actor=current_user
        )
        audit(AdminAction.SET_PRIORITY, ticket=ticket.id, priority=plan.priority.value)
    else:
        close_ticket(ticket, actor=current_user)
        audit(AdminAction.CLOSE_TICKET, ticket=ticket.id)


def _done(plan: Plan, changed: list[Ticket], unchanged: list[Ticket]) -> str:
    refs = ", ".join(t.reference for t in changed)
    if plan.action == "assign":
        assert plan.agent is not None
        text = f"{refs} assigned to {plan.agent.full_name}." if changed else ""
        same = f"already with {plan.agent.full_name}"
    elif plan.action == "priority":
        assert plan.priority is not None
        text = f"{refs} set to {plan.priority.value} priority." if changed else ""
        same = f"already {plan.priority.value} priority"
    else:
        text = f"{refs} closed." if changed else ""
        same = "already closed"
    if unchanged:
        was = "it was" if len(unchanged) == 1 else "they were"
        text += f" {', '.join(t.reference for t in unchanged)}: {same}, left as {was}."
    return text.strip()


def _answer(ok: bool, message: str, back: str, tickets: list[Ticket], status: int = 400):
    if wants_json():
        body = jsonify(
            ok=ok,
            message=message,
            error=None if ok else message,
            tickets=[ticket_summary(t) for t in tickets],
        )
        return (body, 200) if ok else (body, status)
    flash(message, "success" if ok else "danger")
    return redirect(back)


@bp.post("/tickets/bulk")
@role_required(Role.ADMIN)
def bulk():
    form = BulkForm()
    back = list_url(form.next.data)
    if not form.validate_on_submit():
        return _answer(
            False, "The form could not be read; reload the page and try again.", back, []
        )
    if form.action.data == "filter":  # the picker also chooses the list's agent filter
        return redirect(_filtered_by_agent(back, parse_id(form.agent_id.data)))
    single = bool(form.only.data)
    try:
        plan = _plan(form, single)
    except ServiceError as exc:
        return _answer(False, str(exc), back, [])
    if not single and form.confirmed.data != "1":
        if wants_json():
            return _answer(False, "Confirm the action first.", back, [])
        return render_template(
            "admin/bulk_confirm.html",
            plan=plan,
            form=form,
            back=back,
            selection=request.form.getlist("ticket"),
        )
    changed: list[Ticket] = []
    unchanged: list[Ticket] = []
    problems: list[Ticket] = []
    reasons: list[str] = []
    for p in plan.picked:
        if _unchanged(plan, p.ticket):
            unchanged.append(p.ticket)
            continue
        try:
            _apply(plan, p)
        except ServiceError as exc:  # the request rolls back: nothing of the lot is saved
            problems.append(p.ticket)
            reasons.append(
                str(exc) if p.ticket.reference in str(exc) else f"{p.ticket.reference}: {exc}"
            )
        else:
            changed.append(p.ticket)
    if problems:
        message = "Nothing was changed. " + " ".join(reasons) + " Check the list and try again."
        return _answer(False, message, back, problems, status=409)
    return _answer(True, _done(plan, changed, unchanged), back, changed + unchanged)
