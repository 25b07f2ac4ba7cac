"""Catch-up, the same for the socket's join_ticket and the JSON route."""

from collections.abc import Mapping
from typing import Any

from ccr.inputs import parse_int
from ccr.models import TicketLike, User
from ccr.services.messages import (
    CATCH_UP_LIMIT,
    message_payload,
    messages_after,
    messages_after_seq,
)


def catch_up(ticket: TicketLike, user: User, data: Mapping[str, Any]) -> dict:
    """What the viewer missed: the messages numbered above `after_seq` (public) and
    `after_note_seq` (internal notes, staff), the highest numbers up to which the client
    holds every message. A payload with only `after_id` (a page from before sequence
    numbers) is answered by id."""
    if data.get("after_seq") is None and data.get("after_id") is not None:
        messages = messages_after(ticket, user, parse_int(data.get("after_id")) or 0)
    else:
        after_seq = parse_int(data.get("after_seq")) or 0
        after_note_seq = parse_int(data.get("after_note_seq")) or 0
        messages = messages_after_seq(ticket, user, after_seq, after_note_seq)
    return {
        "messages": [message_payload(m) for m in messages],
        "more": len(messages) >= CATCH_UP_LIMIT,  # ask again after the last one
    }
