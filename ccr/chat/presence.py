"""Which sockets of this process belong to which user, and which tickets they joined.

Process-local by design: each process disconnects and revokes its own sockets; the
database check on every event covers the rest.
"""

import threading
from collections import defaultdict

from ccr import rooms
from ccr.extensions import socketio

_lock = threading.Lock()
_sids_by_user: dict[int, set[str]] = defaultdict(set)
_tickets_by_sid: dict[str, set[int]] = defaultdict(set)
_user_by_sid: dict[str, int] = {}


def add(sid: str, user_id: int) -> None:
    with _lock:
        _sids_by_user[user_id].add(sid)
        _user_by_sid[sid] = user_id


def remove(sid: str) -> None:
    with _lock:
        user_id = _user_by_sid.pop(sid, None)
        if user_id is not None:
            _sids_by_user[user_id].discard(sid)
            if not _sids_by_user[user_id]:
                del _sids_by_user[user_id]
        _tickets_by_sid.pop(sid, None)


def joined(sid: str, ticket_id: int) -> None:
    with _lock:
        _tickets_by_sid[sid].add(ticket_id)


def sids_of_user(user_id: int) -> list[str]:
    with _lock:
        return list(_sids_by_user.get(user_id, ()))


def watching_sids(user_id: int, ticket_id: int) -> list[str]:
    """The user's sockets in this process that joined the ticket."""
    with _lock:
        return [
            s for s in _sids_by_user.get(user_id, ()) if ticket_id in _tickets_by_sid.get(s, ())
        ]


def is_watching(user_id: int, ticket_id: int) -> bool:
    return bool(watching_sids(user_id, ticket_id))


def revoke(user_id: int, ticket_id: int) -> None:
    """Take a user's local sockets out of a ticket's rooms (after reassignment)."""
    for sid in sids_of_user(user_id):
        for room in (rooms.ticket(ticket_id), rooms.ticket_staff(ticket_id)):
            socketio.server.leave_room(sid, room, namespace="/")
        with _lock:
            _tickets_by_sid.get(sid, set()).discard(ticket_id)
