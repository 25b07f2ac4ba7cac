"""Where things are on the site: each role's endpoints, and absolute links for emails.

Outside the blueprints, so the services and the pages build links the same way.
"""

from flask import current_app

from ccr.models import Role


def home_endpoint(role: Role) -> str:
    return f"{role.value}.dashboard"


def ticket_endpoint(role: Role) -> str:
    return f"{role.value}.ticket"


def absolute_url(endpoint: str, **values: object) -> str:
    """An absolute link for an email, from CCR_BASE_URL (works outside a request too)."""
    path = current_app.url_map.bind("ccr.invalid").build(endpoint, values)
    return current_app.config["CCR_BASE_URL"] + path
