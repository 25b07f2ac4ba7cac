"""The chat's socket events (namespace "/"): thin handlers that call services.

Declared with ccr.realtime.dispatch, whose docstring says how to add one.
"""

from typing import Any

from ccr import rooms
from ccr.chat.catchup import catch_up
from ccr.models import Role, TicketSnapshot, User
from ccr.realtime import presence, push
from ccr.realtime.dispatch import Ack, event
from ccr.services.messages import mark_read, post_message
from ccr.services.permissions import can_see_internal_notes


@event("connect")
def on_connect(sid: str, user: User, auth: object) -> None:
    push.enter_room(sid, rooms.user(user.id))
    if user.role == Role.ADMIN:
        push.enter_room(sid, rooms.admins())
    if user.role in (Role.AGENT, Role.ADMIN):
        push.enter_room(sid, rooms.agents())


@event("join_ticket")
def on_join_ticket(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    push.enter_room(sid, rooms.ticket(ticket.id))
    if can_see_internal_notes(user, ticket):
        push.enter_room(sid, rooms.ticket_staff(ticket.id))
    presence.joined(sid, ticket.id)
    return {"ok": True, **catch_up(ticket, user, data)}


@event("send_message")
def on_send_message(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    posted = post_message(
        ticket,
        user,
        str(data.get("body") or ""),
        str(data.get("client_id") or ""),
        internal=bool(data.get("internal")),
        sender_sid=sid,
    )
    return {
        "ok": True,
        "id": posted.message_id,
        "seq": posted.seq,
        "client_id": data.get("client_id"),
    }


@event("typing")
def on_typing(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
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
def on_mark_read(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    return {"ok": True, "message_id": mark_read(ticket, user, _int(data.get("message_id")))}


def _int(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0
