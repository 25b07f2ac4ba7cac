from flask import render_template
from sqlalchemy import select

from ccr.admin import bp
from ccr.auth.guards import role_required
from ccr.models import Role, Ticket
from ccr.views import paginate, ticket_page


@bp.get("/")
@role_required(Role.ADMIN)
def dashboard():
    query = select(Ticket).order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())
    return render_template("admin/dashboard.html", page=paginate(query), live_script="live-list.js")


@bp.get("/tickets/<int:ticket_id>")
@role_required(Role.ADMIN)
def ticket(ticket_id: int):
    return ticket_page(ticket_id, "admin/ticket.html")
