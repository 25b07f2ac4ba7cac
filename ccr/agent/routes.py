from flask import render_template, request
from flask_login import current_user

from ccr.agent import bp
from ccr.auth.guards import role_required
from ccr.models import Role, TicketStatus
from ccr.services import queries
from ccr.services.messages import mark_read
from ccr.views import apply_verb, load_ticket, paginate_tickets, render_ticket


@bp.get("/")
@role_required(Role.AGENT)
def dashboard():
    args = queries.parse_args(request.args)
    query = queries.agent_queue(current_user, args)
    counts = queries.agent_status_counts(current_user)
    page = paginate_tickets(query, total=queries.agent_total(args, query, counts))
    return render_template(
        "agent/dashboard.html",
        page=page,
        args=args,
        sorts=queries.SORTS,
        statuses=list(TicketStatus),
        counts=counts,
        unread=queries.unread_counts(current_user, [t.id for t in page.items]),
        live_script="live-list.js",
    )


@bp.get("/tickets/<id:ticket_id>")
@role_required(Role.AGENT)
def ticket(ticket_id: int):
    ticket = load_ticket(ticket_id)
    mark_read(ticket, current_user)  # saved by the request's commit
    return render_ticket(
        ticket,
        "agent/ticket.html",
        other_tickets=queries.customer_other_tickets(ticket, current_user),
    )


@bp.post("/tickets/<id:ticket_id>/status")
@role_required(Role.AGENT)
def ticket_status(ticket_id: int):
    return apply_verb(ticket_id)
