from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ccr.agent import bp
from ccr.auth.guards import role_required
from ccr.forms import TicketTransferForm
from ccr.inputs import parse_id
from ccr.models import Role, TicketStatus
from ccr.services import NotFound, ServiceError, queries
from ccr.services.messages import mark_read
from ccr.services.transfers import transfer_ticket
from ccr.views import (
    apply_edit,
    apply_verb,
    first_error,
    live_part,
    load_ticket,
    paginate_tickets,
    render_ticket,
)


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
    if not live_part():
        mark_read(ticket, current_user)  # saved by the request's commit
    return render_ticket(
        ticket,
        "agent/ticket.html",
        other_tickets=queries.customer_other_tickets(ticket, current_user),
        transfer_form=_transfer_form(),
    )


def _transfer_form(formdata=None) -> TicketTransferForm:
    form = TicketTransferForm(formdata=formdata)
    form.set_agents(a for a in queries.active_agents() if a.id != current_user.id)
    return form


@bp.post("/tickets/<id:ticket_id>/status")
@role_required(Role.AGENT)
def ticket_status(ticket_id: int):
    return apply_verb(ticket_id)


@bp.post("/tickets/<id:ticket_id>/fields")
@role_required(Role.AGENT)
def ticket_fields(ticket_id: int):
    return apply_edit(ticket_id)


@bp.post("/tickets/<id:ticket_id>/transfer")
@role_required(Role.AGENT)
def transfer(ticket_id: int):
    """Hand the ticket on: back to the queue once it is someone else's."""
    ticket = load_ticket(ticket_id)
    form = _transfer_form(request.form)
    agent_id = parse_id(form.agent_id.data)
    agent = queries.get_user(agent_id) if agent_id is not None else None
    error = None
    if not form.validate_on_submit():
        error = first_error(form, "Choose a colleague and write a note.")
    elif agent is None:
        error = "Choose a colleague from the list."
    else:
        try:
            transfer_ticket(ticket, agent, form.note.data or "", actor=current_user)
        except NotFound:
            abort(404)
        except ServiceError as exc:
            error = str(exc)
    if error or agent is None:  # the page again, with what was chosen and written
        flash(error or "Choose a colleague from the list.", "danger")
        other_tickets = queries.customer_other_tickets(ticket, current_user)
        page = render_ticket(
            ticket, "agent/ticket.html", other_tickets=other_tickets, transfer_form=form
        )
        return page, 400
    flash(f"{ticket.reference} is now with {agent.full_name}, with your note.", "success")
    return redirect(url_for("agent.dashboard"))
