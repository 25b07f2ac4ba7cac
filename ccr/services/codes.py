"""One-time codes (email verification, password reset) and agent invitations.

A code is 6 digits from `secrets`, stored only as a hash keyed with SECRET_KEY and tied to
one user; it expires, is used once, allows MAX_CODE_ATTEMPTS guesses, and a new one cancels
the older ones. An invitation is a random token in an emailed link, stored the same way.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import CodePurpose, OneTimeCode, User, utcnow
from ccr.notify.outbox import queue_email
from ccr.services.locks import begin_write, lock_key
from ccr.urls import absolute_url

CODE_DIGITS = 6
RESET_CODE_TTL = timedelta(minutes=10)
VERIFY_CODE_TTL = timedelta(minutes=30)
INVITE_TTL = timedelta(days=3)
MAX_CODE_ATTEMPTS = 5


def keyed_hash(purpose: CodePurpose, secret: str, user_id: int | None = None) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{purpose.value}:{user_id if user_id is not None else ''}:{secret}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def cancel_codes(user: User, purpose: CodePurpose, now: datetime) -> None:
    """Cancel the user's live codes (or invitations) of this purpose. The user's row is
    locked first, so that issuing the next code after this is atomic: of two requests at
    once, the second waits and cancels the first one's code (one live code, the latest)."""
    lock_key(User, user.id)
    for row in db.session.scalars(
        select(OneTimeCode).where(
            OneTimeCode.user_id == user.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.cancelled_at.is_(None),
        )
    ):
        row.cancelled_at = now


def issue_code(user: User, purpose: CodePurpose, ttl: timedelta) -> str:
    """A fresh 6-digit code for this user and purpose; older ones are cancelled."""
    now = utcnow()
    cancel_codes(user, purpose, now)
    code = new_code()
    db.session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=purpose,
            code_hash=keyed_hash(purpose, code, user.id),
            expires_at=now + ttl,
            created_at=now,
        )
    )
    return code


def email_code(
    user: User, purpose: CodePurpose, ttl: timedelta, subject: str, template: str, endpoint: str
) -> None:
    """Issue a one-time code (older ones cancelled) and queue it in a sensitive email that
    links to `endpoint`."""
    code = issue_code(user, purpose, ttl)
    queue_email(
        user.email,
        subject,
        template,
        kind=template,
        sensitive=True,
        user=user,
        code=code,
        minutes=int(ttl.total_seconds() // 60),
        link=absolute_url(endpoint, email=user.email),
    )


def consume_code(user: User | None, purpose: CodePurpose, code: str) -> bool:
    """Check a code against the user's one live code, counting the attempt.

    True only for the right code, within its lifetime and attempt budget; it is then used
    up. A wrong guess is counted (the caller keeps that record: uow.keep()), and the code is
    cancelled at the last allowed attempt.
    """
    if user is None:
        return False
    begin_write()  # SQLite: parallel guesses queue up too (PostgreSQL: the row lock below)
    now = utcnow()
    row = db.session.scalars(
        select(OneTimeCode)
        .where(
            OneTimeCode.user_id == user.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.cancelled_at.is_(None),
        )
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        .with_for_update()  # PostgreSQL: parallel guesses queue up, each one is counted
    ).first()
    if row is None or not row.usable(now) or row.attempts >= MAX_CODE_ATTEMPTS:
        return False
    row.attempts += 1
    given = (code or "").strip()
    ok = hmac.compare_digest(keyed_hash(purpose, given, user.id), row.code_hash)
    if ok:
        row.used_at = now
    elif row.attempts >= MAX_CODE_ATTEMPTS:
        row.cancelled_at = now
    return ok


# -- invitations ---------------------------------------------------------------------------


def send_invite(user: User, inviter: User) -> None:
    """Email the user a single-use link to set a password (older links are cancelled)."""
    now = utcnow()
    cancel_codes(user, CodePurpose.AGENT_INVITE, now)
    token = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=CodePurpose.AGENT_INVITE,
            code_hash=keyed_hash(CodePurpose.AGENT_INVITE, token),
            expires_at=now + INVITE_TTL,
            created_at=now,
        )
    )
    queue_email(
        user.email,
        "You are invited to Customer Care Registry",
        "agent_invite",
        kind="agent_invite",
        sensitive=True,
        user=user,
        inviter=inviter,
        link=absolute_url("auth.accept_invite", token=token),
        days=INVITE_TTL.days,
    )


def invite_row(token: str) -> OneTimeCode | None:
    """The live invitation for this link's token, or None."""
    if not token or len(token) > 200:
        return None
    row = db.session.scalars(
        select(OneTimeCode).where(
            OneTimeCode.purpose == CodePurpose.AGENT_INVITE,
            OneTimeCode.code_hash == keyed_hash(CodePurpose.AGENT_INVITE, token),
        )
    ).first()
    if row is None or not row.usable(utcnow()) or not row.user.is_active:
        return None
    return row


def invited_user(token: str) -> User | None:
    """The agent this invitation link is for, while it is valid."""
    row = invite_row(token)
    return row.user if row is not None else None
