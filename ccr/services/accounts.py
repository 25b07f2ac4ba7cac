"""Accounts: password policy and hashing, creating users, authenticating."""

import logging
from functools import cache
from importlib import resources

import bcrypt
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Role, User, utcnow
from ccr.services import ServiceError

log = logging.getLogger("ccr.security")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: longer passwords are refused, never truncated
BCRYPT_ROUNDS = 12
# A real hash of a random password: verifying against it costs the same time as a real check.
_DUMMY_HASH = bcrypt.hashpw(b"ccr-timing-equaliser", bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


class PasswordPolicyError(ServiceError):
    pass


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("ccr.data").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problem(password: str) -> str | None:
    """Why a password is refused, in words a person can act on; None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return (
            f"Use at most {MAX_PASSWORD_BYTES} bytes (about {MAX_PASSWORD_BYTES} letters; "
            "accented letters and emoji count double or more)."
        )
    if password.lower() in _common_passwords() or len(set(password)) < 3:
        return "This password is too common or too easy to guess; a few unrelated words work well."
    return None


def hash_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise PasswordPolicyError(problem)
    rounds = 4 if _fast_hashing() else BCRYPT_ROUNDS
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode()


def _fast_hashing() -> bool:
    from flask import current_app

    return bool(current_app and current_app.config.get("CCR_FAST_PASSWORD_HASH"))


def check_password(user: User | None, password: str) -> bool:
    """Constant-ish time: an unknown user still costs one bcrypt verification."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        encoded = encoded[:0]  # cannot match; still spend the time below
    stored = (user.password_hash if user is not None else None) or _DUMMY_HASH
    try:
        ok = bcrypt.checkpw(encoded, stored.encode())
    except ValueError:
        ok = False
    return ok and user is not None and user.password_hash is not None


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
    """Add a user to the session (the caller commits). Refuses a taken email."""
    if find_user_by_email(email) is not None:
        raise ServiceError("An account with this email already exists.")
    user = User(
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        role=role,
        password_hash=hash_password(password) if password is not None else None,
        email_verified_at=utcnow() if verified else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials if they may log in now, else None (one answer for all)."""
    user = find_user_by_email(email)
    if not check_password(user, password):
        return None
    if user is None or not user.is_active or user.email_verified_at is None:
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Every cookie of this user stops working and every socket is closed after the commit."""
    from ccr.notify import push
    from ccr.services.uow import on_commit

    user.session_version = (user.session_version or 0) + 1
    on_commit(push.disconnect_user, user.id)
