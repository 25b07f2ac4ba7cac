from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from ccr.auth.guards import role_required
from ccr.customer import bp
from ccr.models import Role, Ticket
from ccr.views import paginate, ticket_page


@bp.get("/")
@role_required(Role.CUSTOMER)
def dashboard():
    query = (
        select(Ticket)
        .where(Ticket.customer_id == current_user.id)
        .order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())
    )
    return render_template(
        "customer/dashboard.html", page=paginate(query), live_script="live-list.js"
    )


@bp.get("/tickets/<int:ticket_id>")
@role_required(Role.CUSTOMER)
def ticket(ticket_id: int):
    return ticket_page(ticket_id, "customer/ticket.html")
