"""Which sockets of this process belong to which user, and which tickets they joined.

Process-local by design: each process disconnects and revokes its own sockets; the
database check on every event covers the rest. The dispatcher (ccr.realtime.dispatch)
adds a socket once its connect is accepted and removes it on disconnect.
"""

import threading
from collections import defaultdict

from ccr import rooms
from ccr.extensions import socketio

_lock = threading.Lock()
_sids_by_user: dict[int, set[str]] = defaultdict(set)
_tickets_by_sid: dict[str, set[int]] = defaultdict(set)
_user_by_sid: dict[str, int] = {}
_namespace_by_sid: dict[str, str] = {}


def add(sid: str, user_id: int, namespace: str) -> None:
    with _lock:
        _sids_by_user[user_id].add(sid)
        _user_by_sid[sid] = user_id
        _namespace_by_sid[sid] = namespace


def remove(sid: str) -> int | None:
    """Forget the socket; the id of the user it belonged to, if it was known."""
    with _lock:
        user_id = _user_by_sid.pop(sid, None)
        if user_id is not None:
            _sids_by_user[user_id].discard(sid)
            if not _sids_by_user[user_id]:
                del _sids_by_user[user_id]
        _tickets_by_sid.pop(sid, None)
        _namespace_by_sid.pop(sid, None)
        return user_id


def joined(sid: str, ticket_id: int) -> None:
    with _lock:
        _tickets_by_sid[sid].add(ticket_id)


def count() -> int:
    """The sockets open on this process."""
    with _lock:
        return len(_user_by_sid)


def sockets_of_user(user_id: int) -> list[tuple[str, str]]:
    """(sid, namespace) of each of the user's sockets in this process."""
    with _lock:
        return [(s, _namespace_by_sid[s]) for s in _sids_by_user.get(user_id, ())]


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
    for sid, namespace in sockets_of_user(user_id):
        for room in (rooms.ticket(ticket_id), rooms.ticket_staff(ticket_id)):
            socketio.server.leave_room(sid, room, namespace=namespace)
        with _lock:
            _tickets_by_sid.get(sid, set()).discard(ticket_id)
