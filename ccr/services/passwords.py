"""Passwords: the policy, bcrypt hashing and checking."""

import secrets
from functools import cache
from importlib import resources

import bcrypt
from flask import current_app

from ccr.models import User
from ccr.services import ServiceError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: longer passwords are refused, never truncated
BCRYPT_ROUNDS = 12
FAST_ROUNDS = 4  # CCR_FAST_PASSWORD_HASH (tests): bcrypt's minimum


class PasswordPolicyError(ServiceError):
    pass


@cache
def _dummy_hash(rounds: int) -> str:
    """A real hash of a random password: checking against it costs what a real check costs."""
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds)).decode()


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


def check_policy(password: str) -> None:
    """Raise PasswordPolicyError when the password is refused."""
    problem = password_problem(password)
    if problem:
        raise PasswordPolicyError(problem)


def hash_password(password: str) -> str:
    check_policy(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(_rounds())).decode()


def _rounds() -> int:
    fast = bool(current_app) and current_app.config["CCR_FAST_PASSWORD_HASH"]
    return FAST_ROUNDS if fast else BCRYPT_ROUNDS


def check_password(user: User | None, password: str) -> bool:
    """Constant-ish time: an unknown user still costs one bcrypt verification."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        encoded = encoded[:0]  # cannot match; still spend the time below
    stored = (user.password_hash if user is not None else None) or _dummy_hash(_rounds())
    try:
        ok = bcrypt.checkpw(encoded, stored.encode())
    except ValueError:
        ok = False
    return ok and user is not None and user.password_hash is not None
