"""Passwords: the policy, bcrypt hashing and checking."""

import re
import secrets
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources

import bcrypt
from flask import current_app

from ccr.inputs import CONTROL_PROBLEM, text_problem
from ccr.models import User
from ccr.services import ServiceError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: longer passwords are refused, never truncated
BCRYPT_ROUNDS = 12
FAST_ROUNDS = 4  # CCR_FAST_PASSWORD_HASH (tests): bcrypt's minimum
PERSONAL_PROBLEM = (
    "Do not use your email address or your name (or a variant of them) as your password; "
    "a few unrelated words work well."
)
_EDGE_DIGITS = re.compile(r"^\d+|\d+$")


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


def personal_words(user: User) -> tuple[str, ...]:
    """What a password of this user must not be: their email address and names."""
    return (user.email or "", user.first_name or "", user.last_name or "")


def _core(text: str) -> str:
    """Text without its trivial variations: case, accents' compatibility forms, spaces,
    punctuation and leading or trailing digits."""
    folded = "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())
    return _EDGE_DIGITS.sub("", folded)


def _personal_cores(personal: Iterable[str | None]) -> set[str]:
    """The cores a password may not have, from the email address (whole, its local part and
    that part's pieces) and the names (each, both together in either order), also reversed."""
    words = [w.strip() for w in personal if w and w.strip()]
    terms = list(words)
    for word in words:
        if "@" in word:
            local = word.rpartition("@")[0]
            terms += [local, *(p for p in re.split(r"[._+-]+", local) if len(p) >= 3)]
    names = [w for w in words if "@" not in w]
    if len(names) >= 2:
        terms += [names[0] + names[1], names[1] + names[0]]
    cores = {_core(t) for t in terms}
    cores |= {c[::-1] for c in cores}
    return {c for c in cores if c}


def password_problem(password: str, personal: Iterable[str | None] = ()) -> str | None:
    """Why a password is refused, in words a person can act on; None when it is fine.
    `personal`: the account's email address and names, which the password may not be."""
    if text_problem(password):
        return CONTROL_PROBLEM
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return (
            f"Use at most {MAX_PASSWORD_BYTES} bytes (about {MAX_PASSWORD_BYTES} letters; "
            "accented letters and emoji count double or more)."
        )
    if password.lower() in _common_passwords() or len(set(password)) < 3:
        return "This password is too common or too easy to guess; a few unrelated words work well."
    if _core(password) in _personal_cores(personal):
        return PERSONAL_PROBLEM
    return None


def check_policy(password: str, personal: Iterable[str | None] = ()) -> None:
    """Raise PasswordPolicyError when the password is refused."""
    problem = password_problem(password, personal)
    if problem:
        raise PasswordPolicyError(problem)


def hash_password(password: str, personal: Iterable[str | None] = ()) -> str:
    check_policy(password, personal)
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
