"""The Socket.IO namespace: thin handlers that authorise from the database and call services.

Connect and disconnect go through Flask-SocketIO, in a request context built from the
handshake. The chat's events (@event) are bound to python-socketio's server itself by
register() and run in an app context only, on a database connection of their own
(uow.own_connection): the request context Flask-SocketIO builds and tears down around
every event (URL matching, the cookie session, request teardown) and an ORM session per
event were 29% of a chat message's Python calls (bench/README.md), and most events need
neither. Their identity is the socket's session cookie (security.socket_token) and their
sid is passed in.
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import fields

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import bindparam, select
from sqlalchemy.orm import load_only

from ccr import logs, rooms
from ccr.chat import presence, ratelimit
from ccr.extensions import db, socketio
from ccr.models import Role, Ticket, TicketSnapshot, User
from ccr.models.base import ID_MAX
from ccr.notify import push
from ccr.security import load_user, parse_token, socket_token
from ccr.services import ServiceError, uow
from ccr.services.messages import mark_read, message_payload, messages_after, post_message
from ccr.services.permissions import can_see_internal_notes, can_view_ticket

log = logging.getLogger(__name__)
# The first event of a socket builds its User from these columns only (anything else loads
# on first use); later events reuse it while its row stays the same (_socket_state).
SOCKET_USER = (
    select(User)
    .where(User.id == bindparam("user_id"))
    .options(load_only(
        User.first_name, User.last_name, User.role, User.active, User.session_version,
        User.notify_chat_email, User.deleted_at,
    ))
)  # fmt: skip

# What decides whether a socket's user may go on, and what its messages show of them.
_USER_STATE = ("session_version", "active", "deleted_at", "role", "first_name", "last_name",
               "notify_chat_email")  # fmt: skip
_USERS, _TICKETS = User.__table__, Ticket.__table__
# Every event's one query: the user's row and, when the event names a ticket, the ticket's
# (an outer join, so a missing ticket still returns the user). Built once, so SQLAlchemy
# reuses its compiled form.
SOCKET_STATE = (
    select(
        *(_USERS.c[c] for c in _USER_STATE),
        *(_TICKETS.c[f.name] for f in fields(TicketSnapshot)),
    )
    .select_from(_USERS.outerjoin(_TICKETS, _TICKETS.c.id == bindparam("ticket_id")))
    .where(_USERS.c.id == bindparam("user_id"))
)
_CACHE = "ccr.socket_user"


def _socket_state(
    environ: dict, ticket_id: int | None = None
) -> tuple[User | None, TicketSnapshot | None]:
    """The user of the socket whose handshake `environ` is, checked against the database (a
    deactivated or logged-out user gets None), and the ticket `ticket_id` as it is now (None
    if there is none).

    The identity comes from the socket's session cookie. Every event reads the user's row
    again; the User object built from it is kept with the socket (detached from any
    session) while that row stays the same, because building it cost more than the query
    (bench/README.md)."""
    token = socket_token(current_app, environ)
    if token is None:
        return None, None
    parsed = parse_token(token)
    if parsed is None:
        return None, None
    row = (
        uow.connection()
        .execute(SOCKET_STATE, {"user_id": parsed[0], "ticket_id": ticket_id})
        .first()
    )
    if row is None:
        return None, None
    state = tuple(row[: len(_USER_STATE)])
    cached = environ.get(_CACHE)
    if cached is None or cached[0] != token or cached[2] != state:
        environ.pop(_CACHE, None)
        user = load_user(token, SOCKET_USER)
        if user is None:
            return None, None
        db.session.expunge(user)  # a commit must not expire what the socket keeps
        cached = (token, user, tuple(getattr(user, c) for c in _USER_STATE))
        environ[_CACHE] = cached
    ticket_row = row[len(_USER_STATE) :]
    ticket = TicketSnapshot(*ticket_row) if ticket_row[0] is not None else None
    return cached[1], ticket


_EVENTS: dict[str, Callable[..., dict]] = {}


def event(name: str):
    """Declare the handler of socket event `name`: handler(sid, user, ticket, data) gets the
    socket's checked user and the ticket the event's `ticket_id` names (an event naming no
    ticket the user may view is answered "No such ticket."); what it returns is the ack.
    The per-user rate limit applies and errors become failure acks."""

    def decorator(handler):
        _EVENTS[name] = handler
        return handler

    return decorator


def register(app: Flask) -> None:
    """Bind the declared events to `app`'s Socket.IO server (one per app, e.g. in tests)."""
    server = socketio.server
    for name, handler in _EVENTS.items():
        server.on(name, functools.partial(_dispatch, app, server, name, handler), namespace="/")


def _dispatch(app: Flask, server, action: str, handler, sid: str, *args):
    environ = server.get_environ(sid, namespace="/")
    if environ is None:  # the socket is gone already
        return None
    data = args[0] if args and isinstance(args[0], dict) else {}
    with app.app_context(), logs.bound_socket(environ, sid):
        try:
            # The event's unit of work commits before its ack leaves: an id only once saved.
            with uow.unit(own_connection=True):
                return _run(action, handler, server, sid, environ, data)
        except Exception:
            log.exception("socket event %s: the commit failed", action)
            return {"ok": False, "error": _FAILED}


_FAILED = "Something went wrong; the message was not saved. Please retry."


def _run(action: str, handler, server, sid: str, environ: dict, data: dict):
    try:
        user, ticket = _socket_state(environ, _ticket_id(data))
    except Exception:  # e.g. the database is unreachable: the client is told, and retries
        uow.rollback()
        log.exception("socket user check for %s failed", action)
        return {"ok": False, "error": _FAILED}
    if user is None:
        server.disconnect(sid, namespace="/")
        return {"ok": False, "error": "Your session has ended. Please log in again."}
    if not ratelimit.allow(action, user.id):
        return {"ok": False, "error": "You are sending too fast. Wait a few seconds and retry."}
    try:
        return handler(sid, user, _viewable(user, ticket), data)
    except ServiceError as exc:
        uow.rollback()
        return {"ok": False, "error": str(exc)}
    except Exception:
        uow.rollback()
        log.exception("socket handler %s failed", handler.__name__)
        return {"ok": False, "error": _FAILED}


def _ticket_id(data: dict) -> int | None:
    try:
        ticket_id = int(data.get("ticket_id"))
    except (TypeError, ValueError):
        return None
    return ticket_id if 0 < ticket_id <= ID_MAX else None


def _viewable(user: User, ticket: TicketSnapshot | None) -> TicketSnapshot:
    if ticket is None or not can_view_ticket(user, ticket):
        raise ServiceError("No such ticket.")
    return ticket


@socketio.on("connect")
def on_connect(auth=None):
    user, _ticket = _socket_state(request.environ)
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


@event("join_ticket")
def on_join_ticket(sid: str, user: User, ticket: TicketSnapshot, data: dict):
    join_room(rooms.ticket(ticket.id), sid=sid, namespace="/")
    if can_see_internal_notes(user, ticket):
        join_room(rooms.ticket_staff(ticket.id), sid=sid, namespace="/")
    presence.joined(sid, ticket.id)
    after = _int(data.get("after_id"))
    return {
        "ok": True,
        "messages": [message_payload(m) for m in messages_after(ticket, user, after)],
    }


@event("send_message")
def on_send_message(sid: str, user: User, ticket: TicketSnapshot, data: dict):
    posted = post_message(
        ticket,
        user,
        str(data.get("body") or ""),
        str(data.get("client_id") or ""),
        internal=bool(data.get("internal")),
        sender_sid=sid,
    )
    return {"ok": True, "id": posted.message_id, "client_id": data.get("client_id")}


@event("typing")
def on_typing(sid: str, user: User, ticket: TicketSnapshot, data: dict):
    push.emit(
        "typing",
        {
            "ticket_id": ticket.id,
            "user_id": user.id,
            "name": user.full_name,
            "role": user.role.value,
        },
        rooms.ticket(ticket.id),
        skip_sid=sid,
    )
    return {"ok": True}


@event("mark_read")
def on_mark_read(sid: str, user: User, ticket: TicketSnapshot, data: dict):
    marker = mark_read(ticket, user, _int(data.get("message_id")))
    return {"ok": True, "message_id": marker}


def _int(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
