"""Posting to a ticket's conversation: one path for the web form and the chat socket."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ccr import rooms
from ccr.extensions import db
from ccr.models import (
    Message,
    ReadMarker,
    Role,
    Ticket,
    TicketSnapshot,
    TicketStatus,
    User,
    utcnow,
)
from ccr.services import NotFound, ServiceError, live
from ccr.services.permissions import can_see_internal_notes, can_view_ticket
from ccr.services.uow import commit, rollback
from ccr.services.uow import connection as uow_connection

log = logging.getLogger(__name__)
BODY_MAX = 5000
CLIENT_ID_MAX = 64
CHAT_EMAIL_EVERY = timedelta(minutes=10)
# A ticket's last activity (what the lists sort by) moves at most this often for messages:
# the UPDATE rewrites the ticket's eight activity indexes, which was a quarter of a chat
# message's database work (bench/README.md). Lists show the time to the minute.
ACTIVITY_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Posted:
    message_id: int
    created: bool  # False when a resend found the row the first send made


def message_payload(message: Message) -> dict:
    columns = ("ticket_id", "author_id", "body", "is_internal", "client_id", "created_at")
    return _payload(message.id, {c: getattr(message, c) for c in columns}, message.author)


def _payload(message_id: int, values: dict, author: User | None) -> dict:
    return {
        "id": message_id,
        "ticket_id": values["ticket_id"],
        "author_id": values["author_id"],
        "author_name": author.full_name if author else "Deleted user",
        "author_role": author.role.value if author else None,
        "body": values["body"],
        "internal": values["is_internal"],
        "client_id": values["client_id"],
        "created_at": values["created_at"].isoformat() + "Z",
    }


def post_message(
    ticket: Ticket | TicketSnapshot,
    author: User,
    body: str,
    client_id: str,
    *,
    internal: bool = False,
    sender_sid: str | None = None,
) -> Posted:
    """Save a message and commit; pushes go out after the commit.

    A resend with the same client id returns the first row's id and creates nothing.
    `ticket`: the model, or the chat's snapshot of it (the model is loaded when needed).
    `sender_sid`: the socket that sent it, which learns the id from its ack and so is not
    sent message_created (the author's other tabs are).
    """
    if not can_view_ticket(author, ticket):
        raise NotFound("No such ticket.")
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX:
        raise ServiceError("The message has no valid client id.")
    body = (body or "").replace("\r\n", "\n").strip()
    refusal = _refusal(ticket, author, body, internal)
    if refusal is not None:
        # A resend of a message saved before (say, before the ticket closed) still gets its id.
        existing = _find(ticket.id, author.id, client_id)
        if existing is not None:
            return Posted(existing, created=False)
        raise ServiceError(refusal)

    now = utcnow()
    values = {
        "ticket_id": ticket.id,
        "author_id": author.id,
        "body": body,
        "is_internal": internal,
        "client_id": client_id,
        "created_at": now,
    }
    try:
        # Core statements: a chat message is the hottest write, and the ORM's unit of work
        # cost more than the database did (bench/README.md). The unique (ticket, author,
        # client id) index makes a resend fail here, with no lookup before the insert.
        connection = uow_connection()
        message_id = connection.execute(_INSERT_MESSAGE, values).inserted_primary_key[0]
    except IntegrityError:
        rollback()
        existing = _find(ticket.id, author.id, client_id)
        if existing is None:
            raise
        return Posted(existing, created=False)
    internal_or_announced = internal
    if not internal:
        first_response = author.role != Role.CUSTOMER and ticket.first_response_at is None
        last = ticket.last_activity_at
        if first_response or last is None or now - last >= ACTIVITY_EVERY:
            connection.execute(
                _TOUCH_FIRST_RESPONSE if first_response else _TOUCH,
                {"ticket": ticket.id, "now": now},
            )
        if author.role == Role.CUSTOMER and ticket.status == TicketStatus.WAITING_ON_CUSTOMER:
            from ccr.services.tickets import change_status

            # The agent's "the customer replied" email already covers this message.
            change_status(_model(ticket, author), "customer_replied", actor=author)
            internal_or_announced = True
    if not internal_or_announced:
        _queue_chat_email(ticket, author, now)
    payload = _payload(message_id, values, author)
    room = rooms.ticket_staff(ticket.id) if internal else rooms.ticket(ticket.id)
    live.publish("message_created", payload, room, skip_sid=sender_sid)
    _queue_activity(ticket, author, internal)
    commit()
    return Posted(message_id, created=True)


def _model(ticket: Ticket | TicketSnapshot, author: User) -> Ticket:
    """The ticket as a model, for the rare paths that change or render it."""
    from ccr.services.tickets import get_ticket_for

    return ticket if isinstance(ticket, Ticket) else get_ticket_for(ticket.id, author)


_INSERT_MESSAGE = insert(Message.__table__)
_TICKETS = Ticket.__table__.c
_TOUCH = (
    update(Ticket.__table__)
    .where(_TICKETS.id == bindparam("ticket"))
    .values(last_activity_at=bindparam("now"), updated_at=bindparam("now"))
)
_TOUCH_FIRST_RESPONSE = _TOUCH.values(first_response_at=bindparam("now"))


def _refusal(
    ticket: Ticket | TicketSnapshot, author: User, body: str, internal: bool
) -> str | None:
    """Why this message cannot be posted, or None."""
    if not body:
        return "Write a message first."
    if len(body) > BODY_MAX:
        return f"A message can be at most {BODY_MAX:,} characters."
    if internal and not can_see_internal_notes(author, ticket):
        return "Only staff can write internal notes."
    if ticket.status == TicketStatus.CLOSED and not internal:
        return "This ticket is closed; reopen it to continue the conversation."
    return None


def messages_after(
    ticket: Ticket | TicketSnapshot, viewer: User, after_id: int = 0, limit: int = 500
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


def mark_read(ticket: Ticket | TicketSnapshot, reader: User, message_id: int | None = None) -> int:
    """Move the reader's marker forward (never back) to message_id, or to the newest message
    they may see; the other side is told after the commit. Returns the marker. The caller
    commits."""
    if not can_view_ticket(reader, ticket):
        raise NotFound("No such ticket.")
    query = select(func.max(Message.id)).where(Message.ticket_id == ticket.id)
    if not can_see_internal_notes(reader, ticket):
        query = query.where(Message.is_internal.is_(False))
    if message_id is not None:
        query = query.where(Message.id <= max(int(message_id), 0))
    newest = db.session.scalar(query)
    marker = _marker(reader.id, ticket.id)
    if newest is None or newest <= marker.last_read_message_id:
        return marker.last_read_message_id
    marker.last_read_message_id = newest
    live.publish(
        "messages_read",
        {"ticket_id": ticket.id, "user_id": reader.id, "message_id": newest},
        rooms.ticket(ticket.id),
    )
    return newest


def _marker(user_id: int, ticket_id: int) -> ReadMarker:
    marker = db.session.get(ReadMarker, (user_id, ticket_id))
    if marker is None:
        marker = ReadMarker(user_id=user_id, ticket_id=ticket_id, last_read_message_id=0)
        db.session.add(marker)
    return marker


def _queue_activity(ticket: Ticket | TicketSnapshot, author: User, internal: bool) -> None:
    """Tell the other participants' dashboards (unread counts, badges) about a new message.
    Their sockets on this ticket's page are skipped: message_created already told them."""
    data = {"ticket_id": ticket.id, "reference": ticket.reference}
    people = [ticket.assignee_id] if internal else [ticket.customer_id, ticket.assignee_id]
    for user_id in people:
        if user_id and user_id != author.id:
            watching = live.watching_sids(user_id, ticket.id) or None
            live.publish("ticket_activity", data, rooms.user(user_id), skip_sid=watching)


def _queue_chat_email(ticket: Ticket | TicketSnapshot, author: User, now) -> None:
    """Email the other side about new messages when they are not watching the ticket,
    at most once per ticket per CHAT_EMAIL_EVERY, unless they turned chat emails off."""
    from ccr.notify.outbox import queue_email
    from ccr.services.tickets import ticket_url

    recipient_id = ticket.assignee_id if author.role == Role.CUSTOMER else ticket.customer_id
    if recipient_id is None or recipient_id == author.id:
        return
    if live.is_watching(recipient_id, ticket.id):  # no query for the usual live chat
        return
    ticket = _model(ticket, author)
    recipient = ticket.assignee if author.role == Role.CUSTOMER else ticket.customer
    if not recipient.is_active or not recipient.notify_chat_email:
        return
    marker = _marker(recipient.id, ticket.id)
    if marker.last_chat_email_at is not None and now - marker.last_chat_email_at < CHAT_EMAIL_EVERY:
        return
    marker.last_chat_email_at = now
    queue_email(
        recipient.email,
        f"[{ticket.reference}] New message from {author.full_name}: {ticket.subject}",
        "chat_message",
        kind="chat_message",
        ticket_id=ticket.id,
        user=recipient,
        author=author,
        ticket=ticket,
        link=ticket_url(ticket, recipient),
    )
