"""Every model, imported here so Alembic and the app see the whole schema."""

from ccr.models.base import utcnow
from ccr.models.codes import CodePurpose, OneTimeCode
from ccr.models.event import TicketEvent
from ccr.models.idempotency import IdempotencyKey
from ccr.models.message import Message, ReadMarker
from ccr.models.outbox import OutboxEmail, OutboxStatus
from ccr.models.ticket import (
    OPEN_STATUSES,
    WORKING_STATUSES,
    Category,
    Priority,
    Ticket,
    TicketCount,
    TicketLike,
    TicketSnapshot,
    TicketStatus,
    format_reference,
)
from ccr.models.user import Role, User

__all__ = [
    "OPEN_STATUSES",
    "WORKING_STATUSES",
    "Category",
    "CodePurpose",
    "IdempotencyKey",
    "Message",
    "OneTimeCode",
    "OutboxEmail",
    "OutboxStatus",
    "Priority",
    "ReadMarker",
    "Role",
    "Ticket",
    "TicketCount",
    "TicketEvent",
    "TicketLike",
    "TicketSnapshot",
    "TicketStatus",
    "User",
    "format_reference",
    "utcnow",
]
