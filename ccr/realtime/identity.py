"""Who a socket is: the login its session cookie carries, and that user as the database has
it now.

Socket events run without a request context (ccr.realtime.dispatch), so what Flask-Login
gives an HTTP request is rebuilt here from the socket's handshake environ, and kept in that
environ between events: a SessionLogin (the cookie decoded, again after SESSION_RECHECK
seconds, so a session whose lifetime ends still ends the socket's) and a SocketUser (the
User object, reused while the user's row reads the same).
"""

import time
from dataclasses import dataclass, fields
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, select
from sqlalchemy.orm import load_only

from ccr.extensions import db
from ccr.models import Ticket, TicketSnapshot, User
from ccr.security import load_user, parse_token
from ccr.services import uow

SESSION_RECHECK = 60.0  # seconds
_LOGIN, _USER = "ccr.session", "ccr.socket_user"  # their keys in the socket's environ


@dataclass(frozen=True, slots=True)
class SessionLogin:
    """The login in a socket's session cookie when it was decoded at `read_at`
    (time.time()): its token ("<id>:<session version>") and the user id in it, both None
    when the cookie carries no login."""

    token: str | None
    user_id: int | None
    read_at: float


@dataclass(frozen=True, slots=True)
class SocketUser:
    """The User built for a socket's login `token`, while the user's row reads `state`
    (the USER_STATE columns)."""

    token: str
    user: User
    state: tuple[Any, ...]


# What decides whether a socket's user may go on, and what its events show of them.
USER_STATE = ("session_version", "active", "deleted_at", "role", "first_name", "last_name",
              "notify_chat_email")  # fmt: skip
# The socket's User is built from these columns only and kept detached from any session
# (a commit must not expire it): it has these and its id, nothing else. Reading another
# column or a relationship raises DetachedInstanceError; add it here first.
SOCKET_USER = (
    select(User)
    .where(User.id == bindparam("user_id"))
    .options(load_only(*(getattr(User, c) for c in USER_STATE)))
)
_USERS, _TICKETS = User.__table__, Ticket.__table__
# Every event's one query: the user's row and, when the event names a ticket, the ticket's
# (an outer join, so a missing ticket still returns the user). Built once, so SQLAlchemy
# reuses its compiled form.
SOCKET_STATE = (
    select(
        *(_USERS.c[c] for c in USER_STATE),
        *(_TICKETS.c[f.name] for f in fields(TicketSnapshot)),
    )
    .select_from(_USERS.outerjoin(_TICKETS, _TICKETS.c.id == bindparam("ticket_id")))
    .where(_USERS.c.id == bindparam("user_id"))
)
_STATE_END = len(USER_STATE)


def session_login(app: Flask, environ: dict) -> SessionLogin:
    """The login in the session cookie of the socket whose handshake `environ` is."""
    now = time.time()
    login = environ.get(_LOGIN)
    if login is None or now - login.read_at >= SESSION_RECHECK:
        opened = app.session_interface.open_session(app, app.request_class(environ))
        token = opened.get("_user_id") if opened is not None else None
        parsed = parse_token(token) if isinstance(token, str) else None
        if parsed is None:
            login = SessionLogin(None, None, now)
        else:
            login = SessionLogin(token, parsed[0], now)
        environ[_LOGIN] = login
    return login


def socket_state(
    app: Flask, environ: dict, ticket_id: int | None = None
) -> tuple[User | None, TicketSnapshot | None]:
    """The socket's user, checked against the database (a deactivated or logged-out user
    gets None), and the ticket `ticket_id` as it is now (None if there is none).

    Every event reads the user's row again; the User object built from it is kept with
    the socket while that row stays the same, because building it cost more than the
    query (docs/performance.md#socket-user-cache)."""
    login = session_login(app, environ)
    if login.token is None:
        return None, None
    row = (
        uow.connection()
        .execute(SOCKET_STATE, {"user_id": login.user_id, "ticket_id": ticket_id})
        .first()
    )
    if row is None:
        return None, None
    state = tuple(row[:_STATE_END])
    known = environ.get(_USER)
    if known is None or known.token != login.token or known.state != state:
        environ.pop(_USER, None)
        user = load_user(login.token, SOCKET_USER)
        if user is None:
            return None, None
        db.session.expunge(user)
        known = SocketUser(login.token, user, tuple(getattr(user, c) for c in USER_STATE))
        environ[_USER] = known
    ticket_row = row[_STATE_END:]
    ticket = TicketSnapshot(*ticket_row) if ticket_row[0] is not None else None
    return known.user, ticket
