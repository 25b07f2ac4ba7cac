from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, validates

from ccr.extensions import Model
from ccr.models.base import str_enum, utcnow


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Always stored lower-cased (see the validator), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Bumped to end every session of the user on the server (logout, reset, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    notify_chat_email: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active) and self.deleted_at is None

    def get_id(self) -> str:
        # The session version travels with the id, so bumping it invalidates old cookies.
        return f"{self.id}:{self.session_version}"

    @property
    def full_name(self) -> str:
        if self.deleted_at is not None:
            return "Deleted customer" if self.role == Role.CUSTOMER else "Deleted user"
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.AGENT, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
