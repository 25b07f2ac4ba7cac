"""Posting to a ticket's conversation: one path for the web form and the chat socket."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select, update

from ccr import rooms
from ccr.extensions import db
from ccr.models import (
    Message,
    ReadMarker,
    Role,
    Ticket,
    TicketLike,
    TicketStatus,
    User,
    utcnow,
)
from ccr.notify.outbox import queue_email
from ccr.services import ServiceError, live
from ccr.services.permissions import can_see_internal_notes, can_view_ticket, require
from ccr.services.tickets import change_status, get_ticket_for
from ccr.services.unique import InsertNew
from ccr.services.uow import connection as uow_connection
from ccr.urls import ticket_url

log = logging.getLogger(__name__)
BODY_MAX = 5000
CLIENT_ID_MAX = 64
CHAT_EMAIL_EVERY = timedelta(minutes=10)
# A ticket's last activity (what the lists sort by) moves at most this often for messages:
# the UPDATE rewrites the ticket's activity indexes (docs/performance.md#activity_every).
# Lists show the time to the minute.
ACTIVITY_EVERY = timedelta(seconds=30)


# The most messages one catch-up returns; the client asks again while it gets this many.
CATCH_UP_LIMIT = 500


@dataclass(frozen=True)
class Posted:
    message_id: int
    created: bool  # False when a resend found the row the first send made
    seq: int  # the message's place in its stream (Message.seq)


def message_payload(message: Message) -> dict:
    columns = ("ticket_id", "author_id", "body", "is_internal", "client_id", "created_at", "seq")
    return _payload(message.id, {c: getattr(message, c) for c in columns}, message.author)


def _payload(message_id: int, values: dict, author: User | None) -> dict:
    """What every audience is sent of a message. `seq` numbers the message in its own
    stream (public, or the notes only staff receive), so it tells a customer nothing of
    notes."""
    return {
        "id": message_id,
        "seq": values["seq"],
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
    ticket: TicketLike,
    author: User,
    body: str,
    client_id: str,
    *,
    internal: bool = False,
    sender_sid: str | None = None,
) -> Posted:
    """Save a message; pushes go out after the caller's commit.

    The message takes the next number of its ticket's stream (Message.seq) from the
    ticket's row, in the statement that also locks that row until the commit
    (_allocate): writers on one ticket take turns, so the numbers commit in order, and
    whether the ticket is closed is read from the locked row, not from the snapshot: no
    public message is saved once a close has committed.
    A customer's reply moves a ticket waiting on them back to work, and reopens a resolved
    one to its agent (an event and the agent's email, as any reopen: _REPLY_VERBS).
    A resend with the same client id returns the first row's id and creates nothing, and
    leaves the rest of the caller's transaction as it was (_insert_new).
    `ticket`: the model, or the chat's snapshot of it (the model is loaded when needed).
    `sender_sid`: the socket that sent it, which learns the id from its ack and so is not
    sent message_created (the author's other tabs are).
    """
    require(can_view_ticket, author, ticket)
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX:
        raise ServiceError("The message has no valid client id.")
    body = (body or "").replace("\r\n", "\n").strip()
    refusal = _refusal(ticket, author, body, internal)
    if refusal is not None:
        return _resent_or_refuse(ticket.id, author.id, client_id, refusal)

    now = utcnow()
    touch = None
    if not internal:
        first_response = author.role != Role.CUSTOMER and ticket.first_response_at is None
        last = ticket.last_activity_at
        if first_response or last is None or now - last >= ACTIVITY_EVERY:
            touch = "first_response" if first_response else "activity"
    # Core statements: a chat message is the hottest write
    # (docs/performance.md#own-core-connection-per-socket-event).
    connection = uow_connection()
    model = isinstance(ticket, Ticket)
    if model:  # what this unit changed of the ticket is written before the row is read
        db.session.flush()
    allocated = _allocate(connection, ticket.id, internal, touch, now)
    if model:  # the model reads what the statement wrote
        db.session.expire(ticket, _TOUCHED)
    if allocated is None:  # closed since the snapshot was read: the locked row says so
        return _resent_or_refuse(ticket.id, author.id, client_id, _CLOSED)
    seq, status = allocated
    values = {
        "ticket_id": ticket.id,
        "author_id": author.id,
        "body": body,
        "is_internal": internal,
        "client_id": client_id,
        "created_at": now,
        "seq": seq,
    }
    message_id = _insert_new(connection, values)
    if message_id is None:  # a resend: the unique (ticket, author, client id) key was taken
        # Hand the number back (the row is still locked: nobody took the next one), so the
        # stream has no gap that clients would wait on.
        connection.execute(_GIVE_BACK[internal], {"ticket": ticket.id})
        found = _find(ticket.id, author.id, client_id)
        if found is None:
            raise RuntimeError("a resend's message is not there")
        return Posted(found[0], created=False, seq=found[1])
    internal_or_announced = internal
    reply_verb = _REPLY_VERBS.get(status) if author.role == Role.CUSTOMER else None
    if reply_verb is not None and not internal:
        # The agent's "the customer replied" or "reopened" email already covers this message.
        change_status(_model(ticket, author), reply_verb, actor=author)
        internal_or_announced = True
    if not internal_or_announced:
        _queue_chat_email(ticket, author, now)
    payload = _payload(message_id, values, author)
    room = rooms.ticket_staff(ticket.id) if internal else rooms.ticket(ticket.id)
    live.publish("message_created", payload, room, skip_sid=sender_sid)
    _queue_activity(ticket, author, internal)
    return Posted(message_id, created=True, seq=seq)


# What a customer's reply does to a ticket in these states (the status is the locked row's,
# from the allocation: no extra read for the usual chat message).
_REPLY_VERBS = {
    TicketStatus.WAITING_ON_CUSTOMER: "customer_replied",  # back to the agent's work
    TicketStatus.RESOLVED: "reopen",  # not solved after all: back to the agent, as any reopen
}


def _resent_or_refuse(ticket_id: int, author_id: int, client_id: str, refusal: str) -> Posted:
    """A resend of a message saved before (say, before the ticket closed) still gets its
    id; anything else is refused."""
    found = _find(ticket_id, author_id, client_id)
    if found is not None:
        return Posted(found[0], created=False, seq=found[1])
    raise ServiceError(refusal)


def _model(ticket: TicketLike, author: User) -> Ticket:
    """The ticket as a model, for the rare paths that change or render it."""
    return ticket if isinstance(ticket, Ticket) else get_ticket_for(ticket.id, author)


_MESSAGES = Message.__table__
# The new message's id, or None when the unique (ticket, author, client id) key was taken
# (a resend); the caller's other work in the unit stays (ccr.services.unique).
_insert_new = InsertNew(_MESSAGES, ["ticket_id", "author_id", "client_id"], _MESSAGES.c.id)


_TICKETS = Ticket.__table__.c
_CLOSED = "This ticket is closed; reopen it to continue the conversation."
_STREAM = {False: _TICKETS.public_seq, True: _TICKETS.note_seq}  # by is_internal
# updated_at = updated_at: the column's ORM onupdate would move it on every message; it
# moves with the activity touch only, as it always did.
_KEEP: dict[str, Any] = {"updated_at": _TICKETS.updated_at}
_TOUCH: dict[str | None, dict[str, Any]] = {
    None: _KEEP,
    "activity": {"last_activity_at": bindparam("now"), "updated_at": bindparam("now")},
    "first_response": {
        "last_activity_at": bindparam("now"),
        "updated_at": bindparam("now"),
        "first_response_at": bindparam("now"),
    },
}


def _allocation(internal: bool, touch: str | None):
    """UPDATE tickets SET <stream> = <stream> + 1 [, the activity touch] WHERE id = :ticket
    [AND status != 'closed' for a public message] RETURNING <stream>, status."""
    column = _STREAM[internal]
    statement = update(Ticket.__table__).where(_TICKETS.id == bindparam("ticket"))
    if not internal:
        statement = statement.where(_TICKETS.status != TicketStatus.CLOSED)
    return statement.values({column.key: column + 1, **_TOUCH[touch]})


# Built once, so their compiled forms are reused; the activity touch rides in the same
# statement (docs/performance.md#sequence-number-in-the-tickets-update).
_ALLOCATE = {
    (internal, touch): _allocation(internal, touch)
    for internal in (False, True)
    for touch in _TOUCH
    if not (internal and touch)
}
_ALLOCATE_RETURNING = {
    key: statement.returning(_STREAM[key[0]], _TICKETS.status)
    for key, statement in _ALLOCATE.items()
}
_GIVE_BACK = {
    internal: update(Ticket.__table__)
    .where(_TICKETS.id == bindparam("ticket"))
    .values({column.key: column - 1, **_KEEP})
    for internal, column in _STREAM.items()
}
_READ_STREAM = {
    internal: select(column, _TICKETS.status).where(_TICKETS.id == bindparam("ticket"))
    for internal, column in _STREAM.items()
}
# What the model must read again after the allocation wrote its row.
_TOUCHED = ["public_seq", "note_seq", "status", "last_activity_at", "updated_at",
            "first_response_at"]  # fmt: skip


def _allocate(
    connection: Connection, ticket_id: int, internal: bool, touch: str | None, now: datetime
) -> tuple[int, TicketStatus] | None:
    """The next number of the ticket's stream and the ticket's status, read from its row
    under the row lock the UPDATE takes (PostgreSQL; SQLite serialises every writer);
    None when a public message meets a closed ticket (nothing was changed)."""
    params = {"ticket": ticket_id, "now": now}
    key = (internal, touch)
    if connection.dialect.update_returning:
        row = connection.execute(_ALLOCATE_RETURNING[key], params).first()
    elif connection.execute(_ALLOCATE[key], params).rowcount:  # e.g. Db2: no RETURNING
        row = connection.execute(_READ_STREAM[internal], params).first()
    else:
        row = None
    return None if row is None else (row[0], TicketStatus(row[1]))


def _refusal(ticket: TicketLike, author: User, body: str, internal: bool) -> str | None:
    """Why this message cannot be posted, or None."""
    if not body:
        return "Write a message first."
    if len(body) > BODY_MAX:
        return f"A message can be at most {BODY_MAX:,} characters."
    if internal and not can_see_internal_notes(author, ticket):
        return "Only staff can write internal notes."
    if ticket.status == TicketStatus.CLOSED and not internal:
        return _CLOSED
    return None


def messages_after(
    ticket: TicketLike, viewer: User, after_id: int = 0, limit: int = CATCH_UP_LIMIT
) -> list[Message]:
    """The messages the viewer may see with an id above after_id, in id order (the page,
    and clients from before sequence numbers: by id, a late commit can be skipped)."""
    query = select(Message).where(Message.ticket_id == ticket.id, Message.id > after_id)
    if not can_see_internal_notes(viewer, ticket):
        query = query.where(Message.is_internal.is_(False))
    return list(db.session.scalars(query.order_by(Message.id).limit(limit)))


def messages_after_seq(
    ticket: TicketLike,
    viewer: User,
    after_seq: int = 0,
    after_note_seq: int = 0,
    limit: int = CATCH_UP_LIMIT,
) -> list[Message]:
    """Catch-up: the public messages numbered above after_seq and, for a viewer who may see
    internal notes, the notes numbered above after_note_seq, in the order they were saved.
    A client passes the highest number up to which it holds every message."""
    public = Message.is_internal.is_(False) & (Message.seq > after_seq)
    if can_see_internal_notes(viewer, ticket):
        public = public | (Message.is_internal.is_(True) & (Message.seq > after_note_seq))
    query = select(Message).where(Message.ticket_id == ticket.id, public)
    return list(db.session.scalars(query.order_by(Message.id).limit(limit)))


_FIND = select(_MESSAGES.c.id, _MESSAGES.c.seq).where(
    _MESSAGES.c.ticket_id == bindparam("ticket_id"),
    _MESSAGES.c.author_id == bindparam("author_id"),
    _MESSAGES.c.client_id == bindparam("client_id"),
)


def _find(ticket_id: int, author_id: int, client_id: str) -> tuple[int, int] | None:
    """The id and seq of the message a resend repeats (on the unit's connection: no ORM
    session)."""
    row = (
        uow_connection()
        .execute(_FIND, {"ticket_id": ticket_id, "author_id": author_id, "client_id": client_id})
        .first()
    )
    return None if row is None else (row[0], row[1])


_PUBLIC_ID = case((Message.is_internal.is_(False), Message.id))


def mark_read(ticket: TicketLike, reader: User, message_id: int | None = None) -> int:
    """Move the reader's marker forward (never back) to message_id, or to the newest message
    they may see; the other side is told after the commit. Returns the marker."""
    require(can_view_ticket, reader, ticket)
    staff = can_see_internal_notes(reader, ticket)
    query = select(func.max(Message.id), func.max(_PUBLIC_ID)).where(Message.ticket_id == ticket.id)
    if not staff:
        query = query.where(Message.is_internal.is_(False))
    if message_id is not None:
        query = query.where(Message.id <= max(int(message_id), 0))
    newest, newest_public = db.session.execute(query).one()
    marker = _marker(reader.id, ticket.id)
    before = marker.last_read_message_id
    if newest is None or newest <= before:
        return before
    marker.last_read_message_id = newest
    read = {"ticket_id": ticket.id, "user_id": reader.id}
    # The customer's room learns only the newest public message a reader has reached, and
    # only when that moved: a marker on an internal note would tell them the note's id. A
    # marker on a note goes to the staff room; staff sockets are in both rooms, and a marker
    # only moves forward, so the lower public one they also hear changes nothing.
    if newest_public is not None and newest_public > before:
        public = {**read, "message_id": newest_public}
        live.publish("messages_read", public, rooms.ticket(ticket.id))
    if newest != newest_public:
        live.publish("messages_read", {**read, "message_id": newest}, rooms.ticket_staff(ticket.id))
    return newest


def _marker(user_id: int, ticket_id: int) -> ReadMarker:
    marker = db.session.get(ReadMarker, (user_id, ticket_id))
    if marker is None:
        marker = ReadMarker(user_id=user_id, ticket_id=ticket_id, last_read_message_id=0)
        db.session.add(marker)
    return marker


def _queue_activity(ticket: TicketLike, author: User, internal: bool) -> None:
    """Tell the other participants' dashboards (unread counts, badges) about a new message.
    Their sockets on this ticket's page are skipped: message_created already told them."""
    data = {"ticket_id": ticket.id, "reference": ticket.reference}
    people = [ticket.assignee_id] if internal else [ticket.customer_id, ticket.assignee_id]
    for user_id in people:
        if user_id and user_id != author.id:
            watching = live.watching_sids(user_id, ticket.id) or None
            live.publish("ticket_activity", data, rooms.user(user_id), skip_sid=watching)


def _queue_chat_email(ticket: TicketLike, author: User, now: datetime) -> None:
    """Email the other side about new messages when they are not watching the ticket,
    at most once per ticket per CHAT_EMAIL_EVERY, unless they turned chat emails off."""
    recipient_id = ticket.assignee_id if author.role == Role.CUSTOMER else ticket.customer_id
    if recipient_id is None or recipient_id == author.id:
        return
    if live.is_watching(recipient_id, ticket.id):  # no query for the usual live chat
        return
    model = _model(ticket, author)
    recipient = model.assignee if author.role == Role.CUSTOMER else model.customer
    if recipient is None or not recipient.is_active or not recipient.notify_chat_email:
        return
    marker = _marker(recipient.id, model.id)
    if marker.last_chat_email_at is not None and now - marker.last_chat_email_at < CHAT_EMAIL_EVERY:
        return
    marker.last_chat_email_at = now
    queue_email(
        recipient.email,
        f"[{model.reference}] New message from {author.full_name}: {model.subject}",
        "chat_message",
        kind="chat_message",
        ticket_id=model.id,
        user=recipient,
        author=author,
        ticket=model,
        link=ticket_url(model, recipient),
    )
