"""Live sockets as the domain sees them: tell the people in a room about a fact once the
change is committed, ask whether someone has a ticket open, take a user's sockets out of a
ticket or off the site.

The services call the functions below; create_app binds them to ccr.realtime (bind()), so
no service imports a socket module. Rooms come from ccr.rooms; a socket is an opaque id.
"""

from typing import Any, Protocol

from ccr.services.uow import on_commit


class Live(Protocol):
    """What the services need of live sockets. Each method acts at once, never raises for
    a socket that is gone or a push that fails (pushes are hints: clients catch up), and
    sees this process's sockets only, except emit, which the message queue carries."""

    def emit(
        self, event: str, data: dict[str, Any], room: str, skip_sid: str | list[str] | None = None
    ) -> None:
        """Send fact `event` with `data` to the sockets in `room`, but `skip_sid`."""

    def watching_sids(self, user_id: int, ticket_id: int) -> list[str]:
        """The user's sockets that have the ticket open."""

    def is_watching(self, user_id: int, ticket_id: int) -> bool:
        """Whether the user has the ticket open on any socket."""

    def revoke(self, user_id: int, ticket_id: int) -> None:
        """Take the user's sockets out of the ticket's rooms."""

    def disconnect_user(self, user_id: int) -> None:
        """Tell every socket of the user its session ended, and close it."""


class _Unbound:
    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("ccr.services.live is not bound: create_app binds ccr.realtime")

    emit = watching_sids = is_watching = revoke = disconnect_user = _fail


_live: Live = _Unbound()


def bind(live: Live) -> None:
    """Make `live` the sockets the services reach (create_app)."""
    global _live
    _live = live


def publish(
    event: str, data: dict[str, Any], room: str, *, skip_sid: str | list[str] | None = None
) -> None:
    """Push fact `event` with `data` (plain values, never ORM objects) to the sockets in
    `room`, but `skip_sid`, once the current unit of work commits; nothing if it rolls
    back."""
    on_commit(_live.emit, event, data, room, skip_sid)


def watching_sids(user_id: int, ticket_id: int) -> list[str]:
    """The user's sockets in this process that have the ticket open (now)."""
    return _live.watching_sids(user_id, ticket_id)


def is_watching(user_id: int, ticket_id: int) -> bool:
    """Whether the user has the ticket open on a socket of this process (now)."""
    return _live.is_watching(user_id, ticket_id)


def revoke(user_id: int, ticket_id: int) -> None:
    """Once the unit of work commits, take the user's sockets out of the ticket's rooms
    (they lost access: reassignment)."""
    on_commit(_live.revoke, user_id, ticket_id)


def disconnect_user(user_id: int) -> None:
    """Once the unit of work commits, close every socket of the user (logout, password
    reset, deactivation)."""
    on_commit(_live.disconnect_user, user_id)
