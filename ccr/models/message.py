from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ccr.extensions import Model
from ccr.models.base import utcnow
from ccr.models.user import User


class Message(Model):
    __tablename__ = "messages"
    __table_args__ = (
        # Makes a resend with the same client id idempotent.
        UniqueConstraint("ticket_id", "author_id", "client_id"),
        # One number per place in a stream (migration 0007); catch-up reads by it.
        UniqueConstraint("ticket_id", "is_internal", "seq"),
        Index("ix_messages_ticket_id_id", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The message's place in its ticket's stream: the public conversation (what the customer
    # sees) or the internal notes, each numbered 1, 2, 3 ... in commit order, with no gaps
    # (ccr.services.messages allocates it from the ticket's counter). Two streams, so the
    # customer's numbers never reveal that a note exists.
    seq: Mapped[int] = mapped_column(Integer)

    author: Mapped[User] = relationship()


class ReadMarker(Model):
    """How far a user has read a ticket's conversation; also throttles chat emails."""

    __tablename__ = "read_markers"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_read_message_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    last_chat_email_at: Mapped[datetime | None] = mapped_column(DateTime)
