"""Posting to a ticket's conversation: one path for the web form and the chat socket."""

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ccr import rooms
from ccr.extensions import db
from ccr.models import Message, ReadMarker, Role, Ticket, TicketStatus, User, utcnow
from ccr.notify import push
from ccr.services import NotFound, ServiceError
from ccr.services.permissions import can_see_internal_notes, can_view_ticket
from ccr.services.uow import commit, on_commit

log = logging.getLogger(__name__)
BODY_MAX = 5000
CLIENT_ID_MAX = 64


@dataclass(frozen=True)
class Posted:
    message_id: int
    created: bool  # False when a resend found the row the first send made


def message_payload(message: Message) -> dict:
    author = message.author
    return {
        "id": message.id,
        "ticket_id": message.ticket_id,
        "author_id": message.author_id,
        "author_name": author.full_name if author else "Deleted user",
        "author_role": author.role.value if author else None,
        "body": message.body,
        "internal": message.is_internal,
        "client_id": message.client_id,
        "created_at": message.created_at.isoformat() + "Z",
    }


def post_message(
    ticket: Ticket, author: User, body: str, client_id: str, *, internal: bool = False
) -> Posted:
    """Save a message and commit; pushes go out after the commit.

    A resend with the same client id returns the first row's id and creates nothing.
    """
    if not can_view_ticket(author, ticket):
        raise NotFound("No such ticket.")
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX:
        raise ServiceError("The message has no valid client id.")
    existing = _find(ticket.id, author.id, client_id)
    if existing is not None:
        return Posted(existing, created=False)
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ServiceError("Write a message first.")
    if len(body) > BODY_MAX:
        raise ServiceError(f"A message can be at most {BODY_MAX:,} characters.")
    if internal and not can_see_internal_notes(author, ticket):
        raise ServiceError("Only staff can write internal notes.")
    if ticket.status == TicketStatus.CLOSED and not internal:
        raise ServiceError("This ticket is closed; reopen it to continue the conversation.")

    now = utcnow()
    message = Message(
        ticket_id=ticket.id,
        author_id=author.id,
        body=body,
        is_internal=internal,
        client_id=client_id,
        created_at=now,
    )
    db.session.add(message)
    if not internal:
        ticket.last_activity_at = now
        if author.role != Role.CUSTOMER and ticket.first_response_at is None:
            ticket.first_response_at = now
        if author.role == Role.CUSTOMER and ticket.status == TicketStatus.WAITING_ON_CUSTOMER:
            from ccr.services.tickets import change_status

            change_status(ticket, "customer_replied", actor=author)
    try:
        db.session.flush()
        payload = message_payload(message)
        room = rooms.ticket_staff(ticket.id) if internal else rooms.ticket(ticket.id)
        on_commit(push.emit, "message_created", payload, room)
        commit()
    except IntegrityError:
        # A concurrent resend won the race: answer with the row it created.
        db.session.rollback()
        existing = _find(ticket.id, author.id, client_id)
        if existing is None:
            raise
        return Posted(existing, created=False)
    return Posted(message.id, created=True)


def messages_after(
    ticket: Ticket, viewer: User, after_id: int = 0, limit: int = 500
) -> list[Message]:
    """Catch-up: the messages the viewer may see with an id above after_id, in id order."""
    query = select(Message).where(Message.ticket_id == ticket.id, Message.id > after_id)
    if not can_see_internal_notes(viewer, ticket):
        query = query.where(Message.is_internal.is_(False))
    return list(db.session.scalars(query.order_by(Message.id).limit(limit)))


def _find(ticket_id: int, author_id: int, client_id: str) -> int | None:
    return db.session.scalar(
        select(Message.id).where(
            Message.ticket_id == ticket_id,
            Message.author_id == author_id,
            Message.client_id == client_id,
        )
    )


def mark_ticket_read(ticket: Ticket, user: User) -> None:
    """Move the user's read marker to the newest message they can see. The caller commits."""
    if not can_view_ticket(user, ticket):
        raise NotFound("No such ticket.")
    query = select(func.max(Message.id)).where(Message.ticket_id == ticket.id)
    if not can_see_internal_notes(user, ticket):
        query = query.where(Message.is_internal.is_(False))
    newest = db.session.scalar(query) or 0
    marker = db.session.get(ReadMarker, (user.id, ticket.id))
    if marker is None:
        db.session.add(
            ReadMarker(user_id=user.id, ticket_id=ticket.id, last_read_message_id=newest)
        )
    elif marker.last_read_message_id < newest:
        marker.last_read_message_id = newest
