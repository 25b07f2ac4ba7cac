from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ccr.extensions import Model
from ccr.models.base import utcnow


class IdempotencyKey(Model):
    """What a form that creates something made, under the random key the form carried: a
    repeated submission of the same form (a double click, a retried POST) finds it here and
    gets the first result instead of a second thing (ccr/services/idempotency.py)."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # what the form creates: "ticket" …
    result_id: Mapped[int | None] = mapped_column(Integer)  # the id of what it created
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
