"""The outbox: an email is a row written in the caller's transaction, committed with the
change it reports or rolled back with it. ccr.notify.dispatcher sends the committed rows.
"""

import re
import threading

from flask import current_app, render_template

from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus, utcnow
from ccr.services.uow import on_commit

_HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")
_work = threading.Event()


def header_safe(value: str, limit: int = 250) -> str:
    """Collapse CR, LF and other control characters: they can never reach a header."""
    return _HEADER_UNSAFE.sub(" ", value).strip()[:limit]


def queue_email(
    recipient: str,
    subject: str,
    template: str,
    *,
    kind: str = "notice",
    sensitive: bool = False,
    ticket_id: int | None = None,
    **context: object,
) -> OutboxEmail:
    """Render templates/email/<template>.txt and .html into an outbox row in the caller's
    transaction (not committed); the dispatcher is woken once it commits.

    A sensitive row (a one-time code, an invitation link) has its bodies erased once sent.
    """
    context.setdefault("base_url", current_app.config["CCR_BASE_URL"])
    row = OutboxEmail(
        recipient=header_safe(recipient, 254),
        subject=header_safe(subject),
        body_text=render_template(f"email/{template}.txt", kind=kind, **context),
        body_html=render_template(f"email/{template}.html", kind=kind, **context),
        kind=kind,
        sensitive=sensitive,
        ticket_id=ticket_id,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(row)
    on_commit(wake_dispatcher)
    return row


def wake_dispatcher() -> None:
    """Due rows were committed: end this process's dispatcher's wait now."""
    _work.set()


def wait_for_work(timeout: float) -> None:
    """Until wake_dispatcher() is called, or timeout seconds have passed."""
    _work.wait(timeout)
    _work.clear()
