"""Ticket categories: admins create, rename and retire them; customers pick active ones."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ccr.extensions import db
from ccr.models import Category, User
from ccr.services import ServiceError, idempotency, uow
from ccr.services.permissions import can_manage_categories, require

NAME_MAX = 80


def active_categories() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category).where(Category.retired.is_(False)).order_by(Category.name)
        )
    )


def all_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.retired, Category.name)))


def _clean_name(name: str, *, exclude_id: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise ServiceError(f"A category name must be 1 to {NAME_MAX} characters.")
    query = select(Category.id).where(func.lower(Category.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise _taken(name)
    return name


def _taken(name: str) -> ServiceError:
    return ServiceError(f"A category called “{name}” already exists.")


def _flush_unique(name: str) -> None:
    """Flush in a savepoint: a concurrent admin who took the name first is a refusal, and the
    caller's other work stays."""
    try:
        with uow.savepoint():
            db.session.flush()
    except IntegrityError:
        raise _taken(name) from None


def create_category(name: str, *, actor: User, idempotency_key: str | None = None) -> Category:
    """A new, active category (flushed: it has its id). A repeat of a form already sent
    (the same idempotency_key) returns the category the first one created."""
    require(can_manage_categories, actor)
    first = idempotency.first_result(actor, idempotency_key, "category")
    if first is not None:
        made = db.session.get(Category, first)
        if made is None:
            raise ServiceError("That category is gone; reload the page.")
        return made
    category = Category(name=_clean_name(name), retired=False)
    db.session.add(category)
    _flush_unique(category.name)
    idempotency.created(actor, idempotency_key, category.id)
    return category


def rename_category(category: Category, name: str, *, actor: User) -> None:
    """Rename; existing tickets keep the category and show the new name."""
    require(can_manage_categories, actor)
    category.name = _clean_name(name, exclude_id=category.id)
    _flush_unique(category.name)


def retire_category(category: Category, *, actor: User, retired: bool = True) -> None:
    """A retired category is no longer offered for new tickets; old tickets keep it."""
    require(can_manage_categories, actor)
    category.retired = retired
