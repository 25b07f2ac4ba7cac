from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ccr.extensions import Model
from ccr.inputs import parse_id
from ccr.models.base import str_enum, utcnow
from ccr.models.user import User


class TicketStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Assigned and not resolved yet: the work an agent holds.
WORKING_STATUSES = frozenset(
    {TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER}
)
# Not resolved yet: the unassigned pool and the work in hand.
OPEN_STATUSES = frozenset({TicketStatus.OPEN, *WORKING_STATUSES})


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return list(Priority).index(self)


class Category(Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Ticket(Model):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        # One index per list query: customer's list, agent queue, admin list and filters.
        Index("ix_tickets_customer_activity", "customer_id", "last_activity_at"),
        Index("ix_tickets_assignee_status_activity", "assignee_id", "status", "last_activity_at"),
        # The agent queue: assignee_id = ? ORDER BY last_activity_at, id (migrations 0004,
        # 0006). With the id in it, a page's ids come from the index alone (views.paginate_tickets).
        Index("ix_tickets_assignee_activity", "assignee_id", "last_activity_at", "id"),
        Index("ix_tickets_status_activity", "status", "last_activity_at"),
        Index("ix_tickets_activity", "last_activity_at", "id"),  # the admin list (0006)
        Index("ix_tickets_category_activity", "category_id", "last_activity_at"),
        Index("ix_tickets_priority_activity", "priority", "last_activity_at"),
        # "Most urgent first" over all tickets (admin list sorted by priority).
        Index("ix_tickets_priority_rank_activity", "priority_rank", "last_activity_at"),
        Index("ix_tickets_resolved_at", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    priority: Mapped[Priority] = mapped_column(
        str_enum(Priority, "ticket_priority"), default=Priority.NORMAL
    )
    # Kept in step with `priority` so "most urgent first" is an index-friendly sort.
    priority_rank: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    # active_history: a change always knows the value it replaced (ticket_counts needs it).
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus, "ticket_status"), default=TicketStatus.OPEN, active_history=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), active_history=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # The last seq handed out in each message stream (Message.seq). Incremented in the
    # transaction that inserts the message, which also locks this row: writers on one
    # ticket take turns, so the numbers commit in order.
    public_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    note_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    customer: Mapped[User] = relationship(foreign_keys=[customer_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    category: Mapped[Category | None] = relationship()

    @property
    def reference(self) -> str:
        return format_reference(self.id)

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.status}>"


class TicketCount(Model):
    """How many tickets each (agent, status) pair holds, kept in step with every flush by
    ccr.services.counts: the dashboards read these few rows instead of counting a million
    tickets on each page view (docs/performance.md#kept-ticket-counters)."""

    __tablename__ = "ticket_counts"

    assignee_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: unassigned
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus, "ticket_count_status"), primary_key=True
    )
    tickets: Mapped[int] = mapped_column(Integer, default=0)


class TicketLike(Protocol):
    """What the permission rules and the chat read of a ticket: a Ticket, or the chat's
    TicketSnapshot of one."""

    @property
    def id(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def status(self) -> TicketStatus: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def assignee_id(self) -> int | None: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def last_activity_at(self) -> datetime | None: ...
    @property
    def reference(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    """The columns a chat event needs of a ticket, read as a plain row with the socket
    user's check (ccr.realtime.identity), because building the ORM object costs every chat
    message (docs/performance.md#one-query-per-socket-event). Each field is the tickets
    column of its name.
    Read-only; what changes a ticket loads the model (ccr.services.messages does for the
    rare cases)."""

    id: int
    subject: str
    status: TicketStatus
    customer_id: int
    assignee_id: int | None
    first_response_at: datetime | None
    last_activity_at: datetime | None

    @property
    def reference(self) -> str:
        return format_reference(self.id)


def format_reference(ticket_id: int) -> str:
    return f"CCR-{ticket_id:06d}"


def parse_reference(text: str) -> int | None:
    """'CCR-000042', 'ccr-42' or '42' -> 42; anything else -> None."""
    return parse_id(text.strip().upper().removeprefix("CCR-"))


__all__ = [
    "OPEN_STATUSES",
    "WORKING_STATUSES",
    "Category",
    "Priority",
    "Ticket",
    "TicketCount",
    "TicketLike",
    "TicketSnapshot",
    "TicketStatus",
]
