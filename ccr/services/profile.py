"""A user's own account: name, password change, chat email setting, data export and
deletion."""

from datetime import datetime

from sqlalchemy import select

from ccr.extensions import db
from ccr.models import CodePurpose, Message, Role, Ticket, TicketEvent, User, utcnow
from ccr.services import ServiceError
from ccr.services.codes import cancel_codes
from ccr.services.passwords import check_password, hash_password, personal_words
from ccr.services.permissions import can_change_profile, is_account_holder, require
from ccr.services.security_log import security_event
from ccr.services.users import check_names, email_password_changed, end_all_sessions


def update_name(user: User, first_name: str, last_name: str, *, actor: User) -> None:
    """Change a user's name (the user themselves, or an admin)."""
    require(can_change_profile, actor, user)
    user.first_name, user.last_name = check_names(first_name, last_name)


def change_password(user: User, current: str, new: str, *, actor: User) -> None:
    """The user changes their own password; the current one is required. Other sessions end."""
    require(is_account_holder, actor, user, message="You can only change your own password.")
    if not check_password(user, current or ""):
        security_event("password_change_denied", user)
        raise ServiceError("Your current password is not right.")
    user.password_hash = hash_password(new, personal_words(user))
    end_all_sessions(user)
    email_password_changed(user)
    security_event("password_changed", user)


def set_chat_emails(user: User, enabled: bool, *, actor: User) -> None:
    """Turn the emails about chat messages that arrive while the user is away on or off."""
    require(is_account_holder, actor, user, message="You can only change your own settings.")
    user.notify_chat_email = bool(enabled)


def export_data(user: User) -> dict:
    """Everything the account holds, for download: profile, tickets, messages, events.

    Internal notes are staff-only and never included.
    """
    tickets = list(
        db.session.scalars(select(Ticket).where(Ticket.customer_id == user.id).order_by(Ticket.id))
    )
    ticket_ids = [t.id for t in tickets]
    messages = list(
        db.session.scalars(
            select(Message)
            .where(Message.is_internal.is_(False))
            .where((Message.author_id == user.id) | Message.ticket_id.in_(ticket_ids or [-1]))
            .order_by(Message.id)
        )
    )
    events = list(
        db.session.scalars(
            select(TicketEvent)
            .where(
                (TicketEvent.actor_id == user.id) | TicketEvent.ticket_id.in_(ticket_ids or [-1])
            )
            .order_by(TicketEvent.id)
        )
    )
    return {
        "exported_at": _iso(utcnow()),
        "profile": {
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role.value,
            "created_at": _iso(user.created_at),
            "email_verified_at": _iso(user.email_verified_at),
            "last_seen_at": _iso(user.last_seen_at),
            "chat_emails": user.notify_chat_email,
        },
        "tickets": [
            {
                "id": t.id,
                "reference": t.reference,
                "subject": t.subject,
                "description": t.description,
                "status": t.status.value,
                "priority": t.priority.value,
                "category": t.category.name if t.category else None,
                "created_at": _iso(t.created_at),
                "resolved_at": _iso(t.resolved_at),
                "closed_at": _iso(t.closed_at),
                "rating": t.rating,
                "rating_comment": t.rating_comment,
            }
            for t in tickets
        ],
        "messages": [
            {
                "id": m.id,
                "ticket_id": m.ticket_id,
                "author": "you" if m.author_id == user.id else m.author.full_name,
                "body": m.body,
                "created_at": _iso(m.created_at),
            }
            for m in messages
        ],
        "events": [
            {
                "ticket_id": e.ticket_id,
                "verb": e.verb,
                "old": e.old_value,
                "new": e.new_value,
                "by_you": e.actor_id == user.id,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def delete_account(user: User, password: str, *, actor: User) -> None:
    """Erase a customer's personal data; tickets and messages stay as "Deleted customer"."""
    require(is_account_holder, actor, user, message="You can only delete your own account.")
    if user.role != Role.CUSTOMER:
        raise ServiceError("Staff accounts are removed by an administrator.")
    if not check_password(user, password or ""):
        security_event("delete_denied", user)
        raise ServiceError("Your password is not right.")
    now = utcnow()
    for purpose in CodePurpose:
        cancel_codes(user, purpose, now)
    user.first_name = "Deleted"
    user.last_name = "customer"
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.password_hash = None
    user.notify_chat_email = False
    user.deleted_at = now
    end_all_sessions(user)
    security_event("account_deleted", user)
