"""The chat's socket events (namespace "/"): thin handlers that call services.

Declared with ccr.realtime.dispatch, whose docstring says how to add one.
"""

from ccr import rooms
from ccr.chat.catchup import catch_up
from ccr.models import Role, TicketSnapshot, User
from ccr.realtime import presence, push
from ccr.realtime.dispatch import Ack, event
from ccr.realtime.payloads import Bool, Int, Payload, Text
from ccr.services.messages import BODY_MAX, CLIENT_ID_MAX, mark_read, post_message
from ccr.services.permissions import can_see_internal_notes

# after_seq / after_note_seq: the highest numbers up to which the client holds every public
# message / note (ccr.chat.catchup); after_id: a page from before message numbers.
JoinTicket = Payload(after_id=Int(), after_seq=Int(), after_note_seq=Int())
SendMessage = Payload(
    body=Text(BODY_MAX, too_long=f"A message can be at most {BODY_MAX:,} characters."),
    client_id=Text(CLIENT_ID_MAX, required=True),
    internal=Bool(),
)
Typing = Payload(internal=Bool())  # true while the writer's internal-note box is ticked
MarkRead = Payload(message_id=Int())


@event("connect")
def on_connect(sid: str, user: User, auth: object) -> None:
    push.enter_room(sid, rooms.user(user.id))
    if user.role == Role.ADMIN:
        push.enter_room(sid, rooms.admins())
    if user.role in (Role.AGENT, Role.ADMIN):
        push.enter_room(sid, rooms.agents())


@event("join_ticket", payload=JoinTicket)
def on_join_ticket(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    push.enter_room(sid, rooms.ticket(ticket.id))
    if can_see_internal_notes(user, ticket):
        push.enter_room(sid, rooms.ticket_staff(ticket.id))
    presence.joined(sid, ticket.id)
    return {"ok": True, **catch_up(ticket, user, data)}


@event("send_message", payload=SendMessage)
def on_send_message(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    posted = post_message(
        ticket, user, data["body"], data["client_id"], internal=data["internal"], sender_sid=sid
    )
    return {
        "ok": True,
        "id": posted.message_id,
        "seq": posted.seq,
        "client_id": data["client_id"],
    }


@event("typing", payload=Typing)
def on_typing(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    note = data["internal"] and can_see_internal_notes(user, ticket)
    push.emit(
        "typing",
        {
            "ticket_id": ticket.id,
            "user_id": user.id,
            "name": user.full_name,
            "role": user.role.value,
        },
        rooms.ticket_staff(ticket.id) if note else rooms.ticket(ticket.id),  # a note: staff only
        skip_sid=sid,
    )
    return {"ok": True}


@event("mark_read", payload=MarkRead)
def on_mark_read(sid: str, user: User, ticket: TicketSnapshot, data: dict) -> Ack:
    return {"ok": True, "message_id": mark_read(ticket, user, data["message_id"])}
