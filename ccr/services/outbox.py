"""Changes to the outbox that people make (the dispatcher's own are in ccr.notify)."""

from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus, User, utcnow
from ccr.notify.outbox import wake_dispatcher
from ccr.services import ServiceError
from ccr.services.permissions import can_manage_users, require
from ccr.services.security_log import security_event
from ccr.services.uow import on_commit


def retry_email(row: OutboxEmail, *, actor: User) -> None:
    """An admin puts a dead email back in the queue: pending, its attempts counted from
    zero, due now. Only dead rows can be retried (checked against the locked row, so of
    two admins retrying at once one is told it is queued already). Security-logged.
    The boundary commits; the dispatcher is woken after the commit."""
    require(can_manage_users, actor, message="Only administrators can retry emails.")
    db.session.refresh(row, with_for_update=True)
    if row.status == OutboxStatus.PENDING:
        raise ServiceError("The email is queued already.")
    if row.status != OutboxStatus.DEAD:
        raise ServiceError("Only failed (dead) emails can be retried.")
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    security_event("email_retried", actor, email=row.id)
    on_commit(wake_dispatcher)
