"""The names this module held before the email code was split by concern, kept while their
callers move: queue_email and header_safe live in ccr.notify.outbox, dispatch_pending in
ccr.notify.dispatcher. Delete this module once nothing imports it.
"""

from flask import current_app

from ccr.notify.dispatcher import dispatch_pending
from ccr.notify.outbox import header_safe, queue_email

__all__ = ["absolute_url", "dispatch_pending", "header_safe", "queue_email"]


def absolute_url(endpoint: str, **values: object) -> str:
    """An absolute link for an email, from CCR_BASE_URL (works outside a request too)."""
    path = current_app.url_map.bind("ccr.invalid").build(endpoint, values)
    return current_app.config["CCR_BASE_URL"] + path
