"""The Socket.IO namespace: thin handlers that authorise from the database and call services."""

import functools
import logging

from flask import g, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room

from ccr import rooms
from ccr.chat import presence, ratelimit
from ccr.extensions import db, socketio
from ccr.models import Role, Ticket, User
from ccr.services import ServiceError
from ccr.services.messages import mark_read, message_payload, messages_after, post_message
from ccr.services.permissions import can_see_internal_notes, can_view_ticket
from ccr.services.uow import commit

log = logging.getLogger(__name__)


def _fresh_user() -> User | None:
    """Reload the user from the database: a deactivated or logged-out user is refused."""
    g.pop("_login_user", None)  # load from this socket's session, never from a cache
    if not current_user.is_authenticated:
        return None
    user = db.session.get(User, current_user.id)
    if user is None or not user.is_active or user.get_id() != current_user.get_id():
        return None
    return user


def authorised(action: str):
    """Reload and check the user, apply the per-user rate limit, turn errors into acks."""

    def decorator(handler):
        @functools.wraps(handler)
        def wrapper(data=None):
            return _run(action, handler, data)

        return wrapper

    return decorator


def _run(action: str, handler, data):
    # Each event runs in its own app context, whose teardown removes the database session.
    user = _fresh_user()
    if user is None:
        socketio.server.disconnect(request.sid, namespace="/")
        return {"ok": False, "error": "Your session has ended. Please log in again."}
    if not ratelimit.allow(action, user.id):
        return {"ok": False, "error": "You are sending too fast. Wait a few seconds and retry."}
    try:
        return handler(user, data if isinstance(data, dict) else {})
    except ServiceError as exc:
        db.session.rollback()
        return {"ok": False, "error": str(exc)}
    except Exception:
        db.session.rollback()
        log.exception("socket handler %s failed", handler.__name__)
        return {
            "ok": False,
            "error": "Something went wrong; the message was not saved. Please retry.",
        }


def _ticket(user: User, data: dict) -> Ticket:
    try:
        ticket_id = int(data.get("ticket_id"))
    except (TypeError, ValueError):
        raise ServiceError("No such ticket.") from None
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or not can_view_ticket(user, ticket):
        raise ServiceError("No such ticket.")
    return ticket


@socketio.on("connect")
def on_connect(auth=None):
    user = _fresh_user()
    if user is None:
        raise ConnectionRefusedError("authentication required")
    presence.add(request.sid, user.id)
    join_room(rooms.user(user.id))
    if user.role == Role.ADMIN:
        join_room(rooms.admins())
    if user.role in (Role.AGENT, Role.ADMIN):
        join_room(rooms.agents())


@socketio.on("disconnect")
def on_disconnect(*_args):
    presence.remove(request.sid)


@socketio.on("join_ticket")
@authorised("join_ticket")
def on_join_ticket(user: User, data: dict):
    ticket = _ticket(user, data)
    join_room(rooms.ticket(ticket.id))
    if can_see_internal_notes(user, ticket):
        join_room(rooms.ticket_staff(ticket.id))
    presence.joined(request.sid, ticket.id)
    after = _int(data.get("after_id"))
    return {
        "ok": True,
        "messages": [message_payload(m) for m in messages_after(ticket, user, after)],
    }


@socketio.on("send_message")
@authorised("send_message")
def on_send_message(user: User, data: dict):
    ticket = _ticket(user, data)
    posted = post_message(
        ticket,
        user,
        str(data.get("body") or ""),
        str(data.get("client_id") or ""),
        internal=bool(data.get("internal")),
    )
    return {"ok": True, "id": posted.message_id, "client_id": data.get("client_id")}


@socketio.on("typing")
@authorised("typing")
def on_typing(user: User, data: dict):
    ticket = _ticket(user, data)
    emit(
        "typing",
        {
            "ticket_id": ticket.id,
            "user_id": user.id,
            "name": user.full_name,
            "role": user.role.value,
        },
        to=rooms.ticket(ticket.id),
        include_self=False,
    )
    return {"ok": True}


@socketio.on("mark_read")
@authorised("mark_read")
def on_mark_read(user: User, data: dict):
    ticket = _ticket(user, data)
    marker = mark_read(ticket, user, _int(data.get("message_id")))
    commit()
    return {"ok": True, "message_id": marker}


def _int(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
