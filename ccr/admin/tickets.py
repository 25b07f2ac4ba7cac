"""The admin's ticket pages: the list of every ticket, one ticket, status and assignment."""

from types import EllipsisType

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ccr.admin import bp
from ccr.admin.audit import AdminAction, audit
from ccr.admin.forms import AssignForm
from ccr.auth.guards import role_required
from ccr.errors import wants_json
from ccr.inputs import parse_id
from ccr.models import Priority, Role, TicketStatus
from ccr.services import ServiceError, queries
from ccr.services.categories import all_categories
from ccr.services.tickets import assign_ticket, ticket_summary
from ccr.views import (
    AgentChoices,
    apply_edit,
    apply_verb,
    load_ticket,
    paginate_tickets,
    render_ticket,
)

BUSIEST_SHOWN = 8  # agent chips on the list; the staff page has everyone's load


@bp.get("/")
@role_required(Role.ADMIN)
def dashboard():
    args = queries.parse_args(request.args)
    agents = queries.active_agents()
    query = queries.admin_tickets(args)
    page = paginate_tickets(query, total=queries.admin_total(args, query))
    return render_template(
        "admin/dashboard.html",
        page=page,
        args=args,
        list_url=url_for(
            "admin.dashboard", **args.params(page=page.number if page.number > 1 else None)
        ),
        sorts=queries.SORTS,
        statuses=list(TicketStatus),
        priorities=list(Priority),
        categories=all_categories(),
        agent_choices=AgentChoices(agents),
        filter_agent=queries.get_user(args.agent_id) if args.agent_id else None,
        counts=queries.admin_counts(agents),
        busiest=BUSIEST_SHOWN,
        live_script="live-list.js",
    )


@bp.get("/tickets/<id:ticket_id>")
@role_required(Role.ADMIN)
def ticket(ticket_id: int):
    ticket = load_ticket(ticket_id)
    return render_ticket(
        ticket,
        "admin/ticket.html",
        agents=AgentChoices(queries.active_agents()),
        other_tickets=queries.customer_other_tickets(ticket, current_user),
    )


@bp.post("/tickets/<id:ticket_id>/status")
@role_required(Role.ADMIN)
def ticket_status(ticket_id: int):
    return apply_verb(ticket_id)


@bp.post("/tickets/<id:ticket_id>/fields")
@role_required(Role.ADMIN)
def ticket_fields(ticket_id: int):
    return apply_edit(ticket_id)


@bp.post("/tickets/<id:ticket_id>/assign")
@role_required(Role.ADMIN)
def assign(ticket_id: int):
    """Assign or reassign: JSON for the page's fetch, a redirect for a plain form post."""
    ticket = load_ticket(ticket_id)
    form = AssignForm()
    back = request.form.get("next") == "list"
    target = url_for("admin.dashboard") if back else url_for("admin.ticket", ticket_id=ticket.id)
    error: str | None = None
    done = ""
    agent_id = parse_id(form.agent_id.data)
    if not form.validate_on_submit() or agent_id is None:
        error = "Choose an agent from the list."
    else:
        agent = queries.get_user(agent_id)
        try:
            if agent is None:
                raise ServiceError("Choose an active agent.")
            assign_ticket(ticket, agent, actor=current_user, expected_assignee_id=_expected())
            audit(AdminAction.ASSIGN, ticket=ticket.id, agent=agent.id)
            done = f"{ticket.reference} is now assigned to {agent.full_name}."
        except ServiceError as exc:
            error = str(exc)
    if wants_json():
        if error:  # with the ticket as it is now: the page shows who has it
            return jsonify(ok=False, error=error, ticket=ticket_summary(ticket)), 400
        return jsonify(ok=True, ticket=ticket_summary(ticket))
    if error:
        flash(error, "danger")
    else:
        flash(done, "success")
    return redirect(target)


def _expected() -> int | None | EllipsisType:
    """The assignee the posting page showed: an id, None for nobody, ... when the form did
    not say (a client older than the field: no check)."""
    if "expected_assignee" not in request.form:
        return ...
    raw = request.form["expected_assignee"]
    return parse_id(raw) if raw else None
