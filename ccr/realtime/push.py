"""Socket.IO pushes and room membership, on this process's Socket.IO server.

Services push through ccr.services.live, which queues the push until after the commit and
passes plain data. The database row is the truth; a push is a hint. A lost push is
recovered by catch-up.
"""

import logging
from typing import Any

from socketio import PubSubManager

from ccr import outages, rooms
from ccr.extensions import socketio
from ccr.realtime import presence

log = logging.getLogger(__name__)
NAMESPACE = "/"  # where the facts the services publish go


def emit(
    event: str, data: dict[str, Any], room: str, skip_sid: str | list[str] | None = None
) -> None:
    """Send `event` to the sockets in `room` (but `skip_sid`) now; a failure is logged."""
    server = socketio.server
    if not _may_reach_anyone(server, room, skip_sid):
        return
    try:
        server.emit(event, data, to=room, namespace=NAMESPACE, skip_sid=skip_sid)
    except Exception as exc:  # e.g. the Redis message queue is down: catch-up fills the gap
        outages.report("push", exc, log, "push %s to %s failed", event, room)


def _may_reach_anyone(server: Any, room: str, skip_sid: str | list[str] | None) -> bool:
    """False when no socket would get the push: none of this process's is in the room
    (or all are skipped) and no message queue carries it to other processes: encoding it
    anyway costs every chat message (docs/performance.md#pushes-skipped-when-nobody-can-receive)."""
    if server is None or isinstance(server.manager, PubSubManager):
        return True
    skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
    return any(sid not in skip for sid, _eio in server.manager.get_participants(NAMESPACE, room))


def enter_room(sid: str, room: str, namespace: str = NAMESPACE) -> None:
    socketio.server.enter_room(sid, room, namespace=namespace)


def disconnect_user(user_id: int) -> None:
    """Close every live socket of a user (logout, password reset, deactivation)."""
    emit("session_ended", {"reason": "signed_out"}, rooms.user(user_id))
    server = socketio.server
    try:
        server.close_room(rooms.user(user_id), namespace=NAMESPACE)
    except Exception as exc:
        outages.report("push", exc, log, "close_room for user %s failed", user_id)
    for sid, namespace in presence.sockets_of_user(user_id):
        try:
            server.disconnect(sid, namespace=namespace)
        except Exception as exc:
            outages.report("push", exc, log, "disconnect of %s failed", sid)
