from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ccr.auth.guards import role_required
from ccr.customer import bp
from ccr.customer.forms import TicketOpenForm, TicketRateForm
from ccr.extensions import limiter
from ccr.forms import TicketActionForm
from ccr.models import Role, TicketStatus
from ccr.services import NotFound, ServiceError, queries
from ccr.services.categories import active_categories
from ccr.services.tickets import open_ticket, rate_ticket
from ccr.views import apply_verb, load_ticket, paginate_tickets, render_ticket

# Each new ticket emails the customer and every admin: creations are limited per customer
# and, more loosely (offices share an address), per IP. Only a created ticket counts.
TICKETS_PER_CUSTOMER = "10 per hour"
TICKETS_PER_IP = "30 per hour"
# Closing and reopening email the staff too: a customer cannot loop them without bound.
STATUS_CHANGES_PER_CUSTOMER = "30 per hour"


def _created(response) -> bool:
    return response.status_code == 302 and current_user.is_authenticated


@bp.get("/")
@role_required(Role.CUSTOMER)
def dashboard():
    args = queries.parse_args(request.args)
    query = queries.customer_tickets(current_user, args)
    counts = queries.customer_tab_counts(current_user)
    return render_template(
        "customer/dashboard.html",
        page=paginate_tickets(query, total=queries.customer_total(args, query, counts)),
        args=args,
        tabs=queries.CUSTOMER_TABS,
        counts=counts,
        live_script="live-list.js",
    )


@bp.route("/tickets/new", methods=["GET", "POST"])
@limiter.limit(TICKETS_PER_IP, methods=["POST"], deduct_when=_created)
@limiter.limit(
    TICKETS_PER_CUSTOMER,
    key_func=lambda: f"tickets:{getattr(current_user, 'id', None)}",
    methods=["POST"],
    deduct_when=_created,
)
@role_required(Role.CUSTOMER)
def new_ticket():
    form = TicketOpenForm()
    form.set_categories(active_categories())
    if form.validate_on_submit():
        try:
            # Only the form's own fields reach the service: posted status, assignee_id or
            # customer_id are never read.
            ticket = open_ticket(
                actor=current_user,
                subject=form.subject.data,
                description=form.description.data,
                priority=form.priority.data,
                category_id=form.category_id,
                idempotency_key=form.sent_key,
            )
        except ServiceError as exc:
            flash(str(exc), "danger")
        else:
            flash(f"Ticket {ticket.reference} was created. We have emailed you a copy.", "success")
            return redirect(url_for("customer.ticket", ticket_id=ticket.id))
    status = 400 if request.method == "POST" else 200
    return render_template("customer/new_ticket.html", form=form), status


@bp.get("/tickets/<id:ticket_id>")
@role_required(Role.CUSTOMER)
def ticket(ticket_id: int):
    ticket = load_ticket(ticket_id)
    # "Change your rating" starts from the rating given.
    rated = (
        {"rating": str(ticket.rating), "comment": ticket.rating_comment} if ticket.rating else {}
    )
    return render_ticket(ticket, "customer/ticket.html", rate_form=TicketRateForm(**rated))


@bp.get("/tickets/<id:ticket_id>/close")
@role_required(Role.CUSTOMER)
def close_confirm(ticket_id: int):
    ticket = load_ticket(ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        return redirect(url_for("customer.ticket", ticket_id=ticket.id))
    return render_template(
        "customer/close_confirm.html", ticket=ticket, action_form=TicketActionForm()
    )


@bp.post("/tickets/<id:ticket_id>/status")
@limiter.limit(
    STATUS_CHANGES_PER_CUSTOMER, key_func=lambda: f"status:{getattr(current_user, 'id', None)}"
)
@role_required(Role.CUSTOMER)
def ticket_status(ticket_id: int):
    return apply_verb(ticket_id)


@bp.post("/tickets/<id:ticket_id>/rating")
@role_required(Role.CUSTOMER)
def rate(ticket_id: int):
    ticket = load_ticket(ticket_id)
    form = TicketRateForm()
    page = url_for("customer.ticket", ticket_id=ticket.id)
    if not form.validate_on_submit():
        flash(
            form.comment.errors[0] if form.comment.errors else "Choose a rating from 1 to 5.",
            "danger",
        )
        return redirect(page)
    try:
        rate_ticket(ticket, int(form.rating.data or 0), form.comment.data, actor=current_user)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            abort(404)
        flash(str(exc), "danger")
    else:
        flash("Thank you for rating this ticket.", "success")
    return redirect(page)
