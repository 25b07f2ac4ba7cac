"""Ticket categories: admins create, rename and retire them; customers pick active ones."""

from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import Category, Role, User
from ccr.services import Forbidden, ServiceError

NAME_MAX = 80


def active_categories() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category).where(Category.retired.is_(False)).order_by(Category.name)
        )
    )


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.retired, Category.name)))


def _check_admin(actor: User) -> None:
    if actor.role != Role.ADMIN or not actor.is_active:
        raise Forbidden("Only admins manage categories.")


def _clean_name(name: str, *, exclude_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"A category name must be 1 to {NAME_MAX} characters.")
    query = select(Category.id).where(func.lower(Category.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise ServiceError(f"A category called “{name}” already exists.")
    return name


def create_category(name: str, *, actor: User) -> Category:
    """A new, active category. The caller commits."""
    _check_admin(actor)
    category = Category(name=_clean_name(name), retired=False)
    db.session.add(category)
    db.session.flush()
    return category


def rename_category(category: Category, name: str, *, actor: User) -> None:
    """Rename; existing tickets keep the category and show the new name."""
    _check_admin(actor)
    category.name = _clean_name(name, exclude_id=category.id)


def retire_category(category: Category, *, actor: User, retired: bool = True) -> None:
    """A retired category is no longer offered for new tickets; old tickets keep it."""
    _check_admin(actor)
    category.retired = retired
