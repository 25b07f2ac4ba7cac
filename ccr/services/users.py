"""What every account flow shares: creating and finding a user, the name rule, checking a
login, and ending a user's sessions."""

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ccr.extensions import db
from ccr.models import Role, User, utcnow
from ccr.notify.outbox import queue_email
from ccr.services import ServiceError, live, uow
from ccr.services.passwords import check_password, hash_password
from ccr.urls import absolute_url

NAME_MAX = 100
_NAME_BAD = re.compile(r"[\x00-\x1f\x7f<>]")


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    *,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None,
    role: Role,
    verified: bool = True,
) -> User:
    """Add a user and flush (it has its id). Refuses a taken email, also when a concurrent
    request took it a moment ago: the same answer as had that request come first."""
    user = insert_user(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=password,
        role=role,
        verified=verified,
    )
    if user is None:
        raise ServiceError(EMAIL_TAKEN)
    return user


EMAIL_TAKEN = "An account with this email already exists."


def insert_user(
    *,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None,
    role: Role,
    verified: bool = True,
) -> User | None:
    """create_user without the refusal: the new user (flushed), or None when the email is
    taken. Two requests for one new address both find it free; the unique key lets one
    insert win, and the other's insert is undone by its savepoint alone, so that request
    can go on as the second one (never a 503 for a race; the rest of its unit stays)."""
    if find_user_by_email(email) is not None:
        return None
    user = User(
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        role=role,
        password_hash=(
            hash_password(password, (email, first_name, last_name))
            if password is not None
            else None
        ),
        email_verified_at=utcnow() if verified else None,
    )
    try:
        with uow.savepoint():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        if find_user_by_email(email) is None:
            raise  # another constraint than the email's
        return None
    return user


def name_problem(name: str | None) -> str | None:
    """Why a first or last name is refused (None when fine): no control characters or < >."""
    name = (name or "").strip()
    if not name:
        return "This field is required."
    if len(name) > NAME_MAX:
        return f"Use at most {NAME_MAX} characters."
    if _NAME_BAD.search(name):
        return "Use letters, spaces and ordinary punctuation only (no line breaks or < >)."
    return None


def check_names(first_name: str, last_name: str) -> tuple[str, str]:
    """The names stripped; ServiceError naming the field that is refused."""
    for label, value in (("First name", first_name), ("Last name", last_name)):
        problem = name_problem(value)
        if problem:
            raise ServiceError(f"{label}: {problem}")
    return first_name.strip(), last_name.strip()


def check_login(email: str, password: str) -> tuple[User | None, str]:
    """(user, "ok") when these credentials may log in now; else (None, why).

    Why is "bad" for every wrong, unknown or deactivated case, and "unverified" only when
    the password was right but the address was never verified (nothing leaks to anyone
    who does not already know the password).
    """
    user = find_user_by_email(email)
    if not check_password(user, password) or user is None or not user.is_active:
        return None, "bad"
    if user.email_verified_at is None:
        return None, "unverified"
    return user, "ok"


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials if they may log in now, else None (one answer for all)."""
    return check_login(email, password)[0]


def end_all_sessions(user: User) -> None:
    """Every cookie of this user stops working and every socket is closed after the commit."""
    user.session_version = (user.session_version or 0) + 1
    live.disconnect_user(user.id)


def email_password_changed(user: User) -> None:
    """Tell the user their password changed, with a way back in if it was not them."""
    queue_email(
        user.email,
        "Your password was changed",
        "password_changed",
        kind="password_changed",
        user=user,
        reset_link=absolute_url("auth.forgot_password"),
    )
