"""Socket.IO pushes. Called after the commit (through uow.on_commit), with plain data.

The database row is the truth; a push is a hint. A lost push is recovered by catch-up.
"""

import logging
from typing import Any

from socketio import PubSubManager

from ccr.extensions import socketio

log = logging.getLogger(__name__)
NAMESPACE = "/"


def emit(
    event: str, data: dict[str, Any], room: str, skip_sid: str | list[str] | None = None
) -> None:
    if not _may_reach_anyone(room, skip_sid):
        return
    try:
        socketio.emit(event, data, to=room, namespace=NAMESPACE, skip_sid=skip_sid)
    except Exception:  # e.g. the Redis message queue is down: catch-up fills the gap
        log.warning("push %s to %s failed", event, room, exc_info=True)


def _may_reach_anyone(room: str, skip_sid: str | list[str] | None) -> bool:
    """False when no socket would get the push: none of this process's is in the room
    (or all are skipped) and no message queue carries it to other processes. Encoding it
    anyway was a visible share of a chat message's cost (bench/README.md)."""
    server = socketio.server
    if server is None or isinstance(server.manager, PubSubManager):
        return True
    skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
    return any(sid not in skip for sid, _eio in server.manager.get_participants(NAMESPACE, room))


def disconnect_user(user_id: int) -> None:
    """Close every live socket of a user (logout, password reset, deactivation)."""
    from ccr import rooms

    emit("session_ended", {"reason": "signed_out"}, rooms.user(user_id))
    try:
        socketio.server.close_room(rooms.user(user_id), namespace=NAMESPACE)
    except Exception:
        log.warning("close_room for user %s failed", user_id, exc_info=True)
    _disconnect_local(user_id)


def _disconnect_local(user_id: int) -> None:
    from ccr.chat import presence

    for sid in presence.sids_of_user(user_id):
        try:
            socketio.server.disconnect(sid, namespace=NAMESPACE)
        except Exception:
            log.warning("disconnect of %s failed", sid, exc_info=True)
