"""An agent hands a ticket on to a colleague, with a note for them."""

import secrets

from ccr.models import Role, Ticket, TicketStatus, User
from ccr.services import ServiceError
from ccr.services.messages import BODY_MAX, post_message
from ccr.services.permissions import can_transfer_ticket, can_view_ticket, require
from ccr.services.tickets import give_to, lock_ticket

# The client id prefix of a transfer's note: the receiver's page shows the newest one first.
TRANSFER_NOTE = "transfer-"


def transfer_ticket(ticket: Ticket, agent: User, note: str, *, actor: User) -> None:
    """The ticket's agent hands it on to another active agent with a note for them. The note
    is an internal note on the conversation (the receiver's page shows it first); the move
    is on the timeline, the receiver is emailed as for any assignment, and the giver loses
    access at once. Bad input changes nothing."""
    ticket = lock_ticket(ticket)
    require(can_view_ticket, actor, ticket)
    require(can_transfer_ticket, actor, ticket)
    note = (note or "").replace("\r\n", "\n").strip()
    if agent.role != Role.AGENT or not agent.is_active:
        raise ServiceError("Choose an active agent.")
    if agent.id == actor.id:
        raise ServiceError("Choose a colleague: the ticket is already yours.")
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError("A closed ticket cannot be handed on.")
    if not note or len(note) > BODY_MAX:
        raise ServiceError(f"Write a note for {agent.full_name} (up to {BODY_MAX:,} characters).")
    post_message(ticket, actor, note, TRANSFER_NOTE + secrets.token_hex(8), internal=True)
    give_to(ticket, agent, actor=actor, verb="transferred")
