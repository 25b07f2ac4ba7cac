"""Socket events: the one way to declare one, and the dispatcher that runs it.

Declaring the next event
------------------------
::

    from ccr.realtime.dispatch import Ack, event

    SendMessage = Payload(body=Text(5000), client_id=Text(64, required=True), internal=Bool())

    @event("send_message", payload=SendMessage)  # namespace="/" unless given
    def on_send_message(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
        posted = post_message(ticket, user, data["body"], ...)   # plumbing: call a service
        return {"ok": True, "id": posted.message_id}

- **Name and namespace.** `event(name, namespace="/widget")` puts it on another
  namespace; the namespace exists once something is declared on it. The module that
  declares events is imported by create_app before `register(app)` binds them.
- **Arguments.** `handler(sid, user, ticket, data)`: the socket's id, its `User` (checked
  against the database on every event: a logged-out, deactivated or deleted user never
  reaches a handler; the socket is disconnected and told "log in again"), the ticket the
  payload's `ticket_id` names as a `TicketSnapshot`, and the payload's declared fields.
  An event naming no ticket the user may view is answered "No such ticket." before the
  handler runs. `event(name, ticket=False)` declares an event about no ticket:
  `handler(sid, user, data)`. The user is detached and has only the columns of
  `identity.SOCKET_USER`.
- **The payload** is declared: `payload=` a `ccr.realtime.payloads.Payload` of typed
  fields (`register` refuses an event without one). The handler gets a dict of exactly
  those fields, checked; `ticket_id` is the dispatcher's own (a ticket event's payload
  does not declare it). A payload that does not fit is answered `{"ok": False, "error":
  <what is wrong>}` before the handler runs, logged at debug level only.
- **The ack** is what the handler returns: `{"ok": True, ...}`. The client's callback gets
  it after the commit.
- **Errors become failure acks**, and roll the event's work back: a `ServiceError` is
  answered `{"ok": False, "error": str(exc)}` (its text is for the user); anything else is
  logged with its traceback and answered with a generic "not saved, retry".
- **The per-user rate limit**: every event has one, `CCR_SOCKET_LIMITS[limit]` in the
  config, `limit` defaulting to the event's name. `register` refuses an event without one.
  An event over it is answered "You are sending too fast. Try again in 4 seconds." (and
  `retry_after`, in seconds) before the handler runs.
- **The unit of work.** Each event runs in an app context (no request context: `request`,
  `session` and `current_user` are not there) inside `uow.own_connection()`: Core
  statements through `uow.connection()`, the ORM session only if the handler needs
  models, side effects through `uow.on_commit` / `ccr.services.live`. The dispatcher
  commits when the handler returns, then sends the ack; an error rolls back.
- **Connect and disconnect** are declared the same way, and have no rate limit.
  `@event("connect") handler(sid, user, auth)` runs once the socket's session is
  checked (a socket without a logged-in user is refused with ConnectionRefusedError
  before it); it joins rooms and may raise ConnectionRefusedError itself. `@event(
  "disconnect") handler(sid, user_id)`, `user_id` the socket's user. Both are optional:
  presence (`ccr.realtime.presence`) records every accepted socket and forgets it on
  disconnect either way. The Origin is checked before any of this, by python-socketio's
  `cors_allowed_origins` (create_app).
- **Malformed frames** (undecodable packets, events that are not a named list, a client
  naming "connect" or "disconnect") are refused by `ccr.realtime.packets` before any of
  this, with one info line and no traceback.

Events are bound to python-socketio's server itself, not through Flask-SocketIO's
decorators, because Flask-SocketIO builds and tears down a request context per event
(URL matching, the cookie session, request teardown) that a chat message paid for and
never used (docs/performance.md#no-request-context-per-socket-event).
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from limits import RateLimitItem
from socketio.exceptions import ConnectionRefusedError

from ccr import logs, outages
from ccr.errors import seconds_words
from ccr.extensions import socketio
from ccr.inputs import parse_id
from ccr.models import TicketSnapshot, User
from ccr.realtime import identity, packets, presence
from ccr.realtime.payloads import Invalid, Payload
from ccr.realtime.ratelimit import EXTENSION, SocketLimits
from ccr.services import ServiceError, uow
from ccr.services.permissions import can_view_ticket

log = logging.getLogger(__name__)
Ack = dict[str, Any]
FAILED = "Something went wrong; the message was not saved. Please retry."
_SESSION_ENDED: Ack = {"ok": False, "error": "Your session has ended. Please log in again."}
_NO_TICKET = "No such ticket."
_LIFECYCLE = ("connect", "disconnect")


@dataclass(frozen=True, slots=True)
class _Declared:
    name: str
    namespace: str
    handler: Callable[..., Any]
    limit: str
    ticket: bool
    payload: Payload | None


_DECLARED: dict[tuple[str, str], _Declared] = {}


def event(
    name: str,
    *,
    namespace: str = "/",
    limit: str | None = None,
    ticket: bool = True,
    payload: Payload | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the handler of socket event `name` on `namespace` (see the module's
    docstring): its payload's fields `payload`; its rate limit is
    CCR_SOCKET_LIMITS[`limit` or `name`]; `ticket=False` for an event about no ticket."""

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        key = (namespace, name)
        if key in _DECLARED and _DECLARED[key].handler is not handler:
            raise ValueError(f"socket event {name!r} on {namespace!r} is declared twice")
        _DECLARED[key] = _Declared(name, namespace, handler, limit or name, ticket, payload)
        return handler

    return decorator


@dataclass(frozen=True, slots=True)
class _Bound:
    """A declared event bound to one app and its Socket.IO server."""

    app: Flask
    server: Any
    namespace: str
    name: str
    handler: Callable[..., Ack]
    ticket: bool
    limits: SocketLimits
    limit: RateLimitItem
    limit_key: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class _Lifecycle:
    """Connect or disconnect on one namespace, bound to one app and its server."""

    app: Flask
    server: Any
    namespace: str
    handler: Callable[..., None] | None


def register(app: Flask) -> None:
    """Bind the declared events to `app`'s Socket.IO server (one per app, e.g. in tests)."""
    server = socketio.server
    packets.guard(server)  # malformed frames never reach the handlers below
    limits = SocketLimits(app)
    app.extensions[EXTENSION] = limits  # e.g. the HTTP chat post counts against them too
    for namespace in {ns for ns, _name in _DECLARED}:
        for name, run in (("connect", _connect), ("disconnect", _disconnect)):
            declared = _DECLARED.get((namespace, name))
            handler = declared.handler if declared is not None else None
            lifecycle = _Lifecycle(app, server, namespace, handler)
            server.on(name, functools.partial(run, lifecycle), namespace=namespace)
    for (namespace, name), declared in _DECLARED.items():
        if name in _LIFECYCLE:
            continue
        if declared.payload is None:
            raise ValueError(f"socket event {name!r} on {namespace!r} declares no payload")
        bound = _Bound(
            app,
            server,
            namespace,
            name,
            declared.handler,
            declared.ticket,
            limits,
            limits.limit(declared.limit),
            declared.limit,
            declared.payload,
        )
        server.on(name, functools.partial(_event, bound), namespace=namespace)


def _connect(bound: _Lifecycle, sid: str, environ: dict, auth: Any = None) -> None:
    with bound.app.app_context(), logs.bound_socket(environ, sid), uow.own_connection():
        try:
            user, _ticket = identity.socket_state(bound.app, environ)
        except Exception as exc:  # e.g. the database is unreachable: the client retries
            uow.rollback()
            outages.report("database", exc, log, "socket user check for connect failed")
            raise ConnectionRefusedError("unavailable, retry") from None
        if user is None:
            raise ConnectionRefusedError("authentication required")
        if bound.handler is not None:
            try:
                bound.handler(sid, user, auth)
                uow.commit()
            except ConnectionRefusedError:
                uow.rollback()
                raise
            except Exception as exc:
                uow.rollback()
                outages.report(
                    "database", exc, log, "socket connect handler on %s failed", bound.namespace
                )
                raise ConnectionRefusedError("unavailable, retry") from None
        presence.add(sid, user.id, bound.namespace)


def _disconnect(bound: _Lifecycle, sid: str, _reason: Any = None) -> None:
    user_id = presence.remove(sid)
    if bound.handler is None:
        return
    environ = bound.server.get_environ(sid, namespace=bound.namespace) or {}
    with bound.app.app_context(), logs.bound_socket(environ, sid), uow.own_connection():
        try:
            bound.handler(sid, user_id)
            uow.commit()
        except Exception as exc:
            uow.rollback()
            outages.report(
                "database", exc, log, "socket disconnect handler on %s failed", bound.namespace
            )


def _event(bound: _Bound, sid: str, data: Any = None, *_rest: Any) -> Ack | None:
    environ = bound.server.get_environ(sid, namespace=bound.namespace)
    if environ is None:  # the socket is gone already
        return None
    with bound.app.app_context(), logs.bound_socket(environ, sid), uow.own_connection():
        return _run(bound, sid, environ, data)


def _run(bound: _Bound, sid: str, environ: dict, data: Any) -> Ack:
    ticket_id = parse_id(data.get("ticket_id")) if bound.ticket and isinstance(data, dict) else None
    try:
        user, ticket = identity.socket_state(bound.app, environ, ticket_id)
    except Exception as exc:  # e.g. the database is unreachable: the client is told, retries
        uow.rollback()
        outages.report("database", exc, log, "socket user check for %s failed", bound.name)
        return {"ok": False, "error": FAILED}
    if user is None:
        bound.server.disconnect(sid, namespace=bound.namespace)
        return _SESSION_ENDED
    wait = bound.limits.wait_for(bound.limit, bound.limit_key, user.id)
    if wait:
        return _too_fast(wait)
    try:
        fields = bound.payload.clean(data)
    except Invalid as exc:
        log.debug("socket event %s refused: %s", bound.name, exc)
        return {"ok": False, "error": str(exc)}
    try:
        if bound.ticket:
            ack = bound.handler(sid, user, _viewable(user, ticket), fields)
        else:
            ack = bound.handler(sid, user, fields)
        uow.commit()
    except ServiceError as exc:
        uow.rollback()
        return {"ok": False, "error": str(exc)}
    except Exception as exc:
        uow.rollback()
        outages.report("database", exc, log, "socket handler %s failed", bound.name)
        return {"ok": False, "error": FAILED}
    return ack


def _too_fast(seconds: int) -> Ack:
    error = f"You are sending too fast. Try again in {seconds_words(seconds)}."
    return {"ok": False, "error": error, "retry_after": seconds}


def _viewable(user: User, ticket: TicketSnapshot | None) -> TicketSnapshot:
    if ticket is None or not can_view_ticket(user, ticket):
        raise ServiceError(_NO_TICKET)
    return ticket
