"""Links outside the blueprints: each role's pages, and absolute URLs for emails (built from
CCR_BASE_URL, so they work outside a request too)."""

from flask import current_app

from ccr.models import Role, TicketLike, User


def home_endpoint(role: Role) -> str:
    return f"{role.value}.dashboard"


def ticket_endpoint(role: Role) -> str:
    return f"{role.value}.ticket"


def absolute_url(endpoint: str, **values: object) -> str:
    """An absolute link for an email, from CCR_BASE_URL."""
    path = current_app.url_map.bind("ccr.invalid").build(endpoint, values)
    return current_app.config["CCR_BASE_URL"] + path


def ticket_url(ticket: TicketLike, user: User) -> str:
    """The ticket's page for this user's role, as an absolute link for an email."""
    return absolute_url(ticket_endpoint(user.role), ticket_id=ticket.id)
