"""Accounts: passwords, registration, one-time codes, profiles, and agent management.

The only code that changes users; each public verb commits through uow.commit().
"""

import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

import bcrypt
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import CodePurpose, OneTimeCode, Role, User, utcnow
from ccr.services import Forbidden, NotFound, ServiceError, live
from ccr.services.uow import commit
from ccr.urls import absolute_url

log = logging.getLogger("ccr.security")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit: longer passwords are refused, never truncated
BCRYPT_ROUNDS = 12


@cache
def _dummy_hash(rounds: int) -> str:
    """A real hash of a random password: checking against it costs what a real check costs."""
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds)).decode()


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
    stored = (user.password_hash if user is not None else None) or _dummy_hash(
        4 if _fast_hashing() else BCRYPT_ROUNDS
    )
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


# -- security log ---------------------------------------------------------------------------


_LOG_UNSAFE = re.compile(r"[\x00-\x1f\x7f\s]")


def security_event(event: str, user: User | None = None, **fields: object) -> None:
    """One line on "ccr.security": event, user, IP and UTC time. Never secrets."""
    from flask import has_request_context, request

    ip = request.remote_addr if has_request_context() else None
    # Values such as a request path are attacker-chosen: no line breaks in the log.
    extra = "".join(f" {k}={_LOG_UNSAFE.sub('?', str(v))[:200]}" for k, v in fields.items())
    log.info(
        "%s user=%s ip=%s at=%sZ%s",
        event,
        user.id if user is not None else "-",
        ip or "-",
        utcnow().isoformat(timespec="seconds"),
        extra,
    )


# -- names and emails -----------------------------------------------------------------------

NAME_MAX = 100
_NAME_BAD = re.compile(r"[\x00-\x1f\x7f<>]")


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


def _check_names(first_name: str, last_name: str) -> tuple[str, str]:
    for label, value in (("First name", first_name), ("Last name", last_name)):
        problem = name_problem(value)
        if problem:
            raise ServiceError(f"{label}: {problem}")
    return first_name.strip(), last_name.strip()


# -- one-time codes -------------------------------------------------------------------------

CODE_DIGITS = 6
RESET_CODE_TTL = timedelta(minutes=10)
VERIFY_CODE_TTL = timedelta(minutes=30)
INVITE_TTL = timedelta(days=3)
MAX_CODE_ATTEMPTS = 5
INVITE_INVALID = "This invitation link is not valid any more; ask an admin for a new one."
BAD_CODE = "That code is not right or has expired. Check the latest email or ask for a new code."


def _keyed_hash(purpose: CodePurpose, secret: str, user_id: int | None = None) -> str:
    from flask import current_app

    key = current_app.config["SECRET_KEY"].encode()
    message = f"{purpose.value}:{user_id if user_id is not None else ''}:{secret}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _cancel_codes(user: User, purpose: CodePurpose, now: datetime) -> None:
    for row in db.session.scalars(
        select(OneTimeCode).where(
            OneTimeCode.user_id == user.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.cancelled_at.is_(None),
        )
    ):
        row.cancelled_at = now


def _issue_code(user: User, purpose: CodePurpose, ttl: timedelta) -> str:
    """A fresh 6-digit code for this user and purpose; older ones are cancelled."""
    now = utcnow()
    _cancel_codes(user, purpose, now)
    code = _new_code()
    db.session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=purpose,
            code_hash=_keyed_hash(purpose, code, user.id),
            expires_at=now + ttl,
            created_at=now,
        )
    )
    return code


def _consume_code(user: User | None, purpose: CodePurpose, code: str) -> bool:
    """Check a code against the user's one live code; counts the attempt. The caller commits.

    True only for the right code, within its lifetime and attempt budget; it is then used up.
    """
    if user is None:
        return False
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
    expected = row.code_hash
    ok = hmac.compare_digest(_keyed_hash(purpose, given, user.id), expected)
    if ok:
        row.used_at = now
    elif row.attempts >= MAX_CODE_ATTEMPTS:
        row.cancelled_at = now
    return ok


# -- registration and email verification -----------------------------------------------------


def register_customer(*, email: str, first_name: str, last_name: str, password: str) -> None:
    """Start a customer registration; the same outcome whether or not the email is known.

    A new address gets an unverified account and a verification code (a never-verified
    account is replaced by the latest registration); an address that already has a
    verified account gets a warning email instead. Commits.
    """
    from ccr.notify.outbox import queue_email

    first_name, last_name = _check_names(first_name, last_name)
    email = (email or "").strip().lower()
    problem = password_problem(password)
    if problem:
        raise PasswordPolicyError(problem)
    existing = find_user_by_email(email)
    if existing is not None and existing.email_verified_at is None and existing.is_active:
        # Never verified, so never usable: the latest registration replaces it. Whoever
        # pre-registered someone else's address cannot keep a password on that account.
        existing.first_name, existing.last_name = first_name, last_name
        existing.password_hash = hash_password(password)
        _send_verify_code(existing)
        security_event("register_replaced_unverified", existing)
        commit()
        return
    if existing is not None:
        hash_password(password)  # spend the same time as a real registration
        if existing.deleted_at is None:
            queue_email(
                existing.email,
                "Someone tried to register with your address",
                "register_existing",
                kind="register_existing",
                user=existing,
                login_link=_link("auth.login"),
                reset_link=_link("auth.forgot_password"),
            )
        security_event("register_existing_email", existing)
        commit()
        return
    user = create_user(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=password,
        role=Role.CUSTOMER,
        verified=False,
    )
    _send_verify_code(user)
    security_event("register", user)
    commit()


def _email_code(
    user: User, purpose: CodePurpose, ttl, subject: str, template: str, endpoint: str
) -> None:
    """Issue a one-time code (older ones cancelled) and queue it in a sensitive email."""
    from ccr.notify.outbox import queue_email

    code = _issue_code(user, purpose, ttl)
    queue_email(
        user.email,
        subject,
        template,
        kind=template,
        sensitive=True,
        user=user,
        code=code,
        minutes=int(ttl.total_seconds() // 60),
        link=_link(endpoint, email=user.email),
    )


def _send_verify_code(user: User) -> None:
    _email_code(
        user,
        CodePurpose.EMAIL_VERIFY,
        VERIFY_CODE_TTL,
        "Your verification code",
        "verify_code",
        "auth.verify_email",
    )


def resend_verification(email: str) -> None:
    """Send a new verification code if this address has an unverified account. Commits."""
    user = find_user_by_email(email or "")
    if user is not None and user.email_verified_at is None and user.is_active:
        _send_verify_code(user)
        security_event("verify_code_resent", user)
    commit()


def verify_email(email: str, code: str) -> User:
    """Mark the address verified with the emailed code. Commits; ServiceError when wrong."""
    user = find_user_by_email(email or "")
    pending = user is not None and user.email_verified_at is None and user.is_active
    ok = _consume_code(user if pending else None, CodePurpose.EMAIL_VERIFY, code)
    if not ok:
        security_event("verify_failed", user if pending else None)
        commit()
        raise ServiceError(BAD_CODE)
    user.email_verified_at = utcnow()
    security_event("email_verified", user)
    commit()
    return user


# -- password reset ---------------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Email a reset code to the account, if any; older codes are cancelled. Commits.

    The caller answers the same way whatever happened here.
    """
    user = find_user_by_email(email or "")
    if user is None or not user.is_active:
        security_event("reset_requested_unknown")
        return
    _email_code(
        user,
        CodePurpose.PASSWORD_RESET,
        RESET_CODE_TTL,
        "Your password reset code",
        "reset_code",
        "auth.reset_password",
    )
    security_event("reset_requested", user)
    commit()


def reset_password(email: str, code: str, new_password: str) -> User:
    """Set a new password with an emailed code; ends every session and socket. Commits."""
    problem = password_problem(new_password)
    if problem:
        raise PasswordPolicyError(problem)
    user = find_user_by_email(email or "")
    if user is not None and not user.is_active:
        user = None
    if not _consume_code(user, CodePurpose.PASSWORD_RESET, code):
        security_event("reset_failed", user)
        commit()
        raise ServiceError(BAD_CODE)
    user.password_hash = hash_password(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the code proved the address
    end_all_sessions(user)
    _password_changed_email(user)
    security_event("password_reset", user)
    commit()
    return user


def _password_changed_email(user: User) -> None:
    from ccr.notify.outbox import queue_email

    queue_email(
        user.email,
        "Your password was changed",
        "password_changed",
        kind="password_changed",
        user=user,
        reset_link=_link("auth.forgot_password"),
    )


def _link(endpoint: str, **values: object) -> str:
    return absolute_url(endpoint, **values)


# -- profile -------------------------------------------------------------------------------


def update_name(user: User, first_name: str, last_name: str, *, actor: User) -> None:
    """Change a user's name (the user themselves, or an admin). Commits."""
    if actor.id != user.id and actor.role != Role.ADMIN:
        raise Forbidden("You cannot change this account.")
    user.first_name, user.last_name = _check_names(first_name, last_name)
    commit()


def change_password(user: User, current: str, new: str, *, actor: User) -> None:
    """The user changes their own password; the current one is required. Other sessions end."""
    if actor.id != user.id:
        raise Forbidden("You can only change your own password.")
    if not check_password(user, current or ""):
        security_event("password_change_denied", user)
        raise ServiceError("Your current password is not right.")
    user.password_hash = hash_password(new)
    end_all_sessions(user)
    _password_changed_email(user)
    security_event("password_changed", user)
    commit()


def set_chat_emails(user: User, enabled: bool, *, actor: User) -> None:
    if actor.id != user.id:
        raise Forbidden("You can only change your own settings.")
    user.notify_chat_email = bool(enabled)
    commit()


def export_data(user: User) -> dict:
    """Everything the account holds, for download: profile, tickets, messages, events.

    Internal notes are staff-only and never included.
    """
    from ccr.models import Message, Ticket, TicketEvent

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() + "Z" if value is not None else None

    tickets = list(
        db.session.scalars(select(Ticket).where(Ticket.customer_id == user.id).order_by(Ticket.id))
    )
    ticket_ids = [t.id for t in tickets]
    messages = list(
        db.session.scalars(
            select(Message)
            .where(Message.is_internal.is_(False))
            .where((Message.author_id == user.id) | Message.ticket_id.in_(ticket_ids or [-1]))
            .order_by(Message.id)
        )
    )
    events = list(
        db.session.scalars(
            select(TicketEvent)
            .where(
                (TicketEvent.actor_id == user.id) | TicketEvent.ticket_id.in_(ticket_ids or [-1])
            )
            .order_by(TicketEvent.id)
        )
    )
    return {
        "exported_at": iso(utcnow()),
        "profile": {
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role.value,
            "created_at": iso(user.created_at),
            "email_verified_at": iso(user.email_verified_at),
            "last_seen_at": iso(user.last_seen_at),
            "chat_emails": user.notify_chat_email,
        },
        "tickets": [
            {
                "id": t.id,
                "reference": t.reference,
                "subject": t.subject,
                "description": t.description,
                "status": t.status.value,
                "priority": t.priority.value,
                "category": t.category.name if t.category else None,
                "created_at": iso(t.created_at),
                "resolved_at": iso(t.resolved_at),
                "closed_at": iso(t.closed_at),
                "rating": t.rating,
                "rating_comment": t.rating_comment,
            }
            for t in tickets
        ],
        "messages": [
            {
                "id": m.id,
                "ticket_id": m.ticket_id,
                "author": "you" if m.author_id == user.id else m.author.full_name,
                "body": m.body,
                "created_at": iso(m.created_at),
            }
            for m in messages
        ],
        "events": [
            {
                "ticket_id": e.ticket_id,
                "verb": e.verb,
                "old": e.old_value,
                "new": e.new_value,
                "by_you": e.actor_id == user.id,
                "created_at": iso(e.created_at),
            }
            for e in events
        ],
    }


def delete_account(user: User, password: str, *, actor: User) -> None:
    """Erase a customer's personal data; tickets and messages stay as "Deleted customer"."""
    if actor.id != user.id:
        raise Forbidden("You can only delete your own account.")
    if user.role != Role.CUSTOMER:
        raise ServiceError("Staff accounts are removed by an administrator.")
    if not check_password(user, password or ""):
        security_event("delete_denied", user)
        raise ServiceError("Your password is not right.")
    now = utcnow()
    for purpose in CodePurpose:
        _cancel_codes(user, purpose, now)
    user.first_name = "Deleted"
    user.last_name = "customer"
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.password_hash = None
    user.notify_chat_email = False
    user.deleted_at = now
    end_all_sessions(user)
    security_event("account_deleted", user)
    commit()


# -- admin: agents ------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if actor is None or actor.role != Role.ADMIN or not actor.is_active:
        security_event("admin_action_denied", actor)
        raise Forbidden("Only administrators can manage agents.")


def create_agent(
    *, actor: User, email: str, first_name: str, last_name: str, password: str | None
) -> User:
    """An admin adds an agent: with an initial password, or (password None) by invitation.

    The invitation is an emailed single-use link that expires after INVITE_TTL. Commits.
    """
    _require_admin(actor)
    first_name, last_name = _check_names(first_name, last_name)
    if password is not None:
        problem = password_problem(password)
        if problem:
            raise PasswordPolicyError(problem)
    user = create_user(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=password,
        role=Role.AGENT,
        verified=password is not None,
    )
    if password is None:
        _send_invite(user, actor)
    security_event("agent_created", actor, target=user.id, invited=password is None)
    commit()
    return user


def _send_invite(user: User, actor: User) -> None:
    from ccr.notify.outbox import queue_email

    now = utcnow()
    _cancel_codes(user, CodePurpose.AGENT_INVITE, now)
    token = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=CodePurpose.AGENT_INVITE,
            code_hash=_keyed_hash(CodePurpose.AGENT_INVITE, token),
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
        inviter=actor,
        link=_link("auth.accept_invite", token=token),
        days=INVITE_TTL.days,
    )


def _invite_row(token: str) -> OneTimeCode | None:
    if not token or len(token) > 200:
        return None
    row = db.session.scalars(
        select(OneTimeCode).where(
            OneTimeCode.purpose == CodePurpose.AGENT_INVITE,
            OneTimeCode.code_hash == _keyed_hash(CodePurpose.AGENT_INVITE, token),
        )
    ).first()
    if row is None or not row.usable(utcnow()) or not row.user.is_active:
        return None
    return row


def invited_user(token: str) -> User | None:
    """The agent this invitation link is for, while it is valid."""
    row = _invite_row(token)
    return row.user if row is not None else None


def accept_invite(token: str, password: str) -> User:
    """The invited agent sets a password; the link is then used up. Commits."""
    problem = password_problem(password)
    if problem:
        raise PasswordPolicyError(problem)
    row = _invite_row(token)
    if row is None:
        security_event("invite_refused")
        raise ServiceError(INVITE_INVALID)
    user = row.user
    now = utcnow()
    row.used_at = now
    user.password_hash = hash_password(password)
    user.email_verified_at = user.email_verified_at or now
    end_all_sessions(user)
    security_event("invite_accepted", user)
    commit()
    return user


def resend_invite(user: User, *, actor: User) -> None:
    _require_admin(actor)
    if user.role == Role.CUSTOMER or user.password_hash is not None:
        raise ServiceError("This person has already set a password.")
    _send_invite(user, actor)
    security_event("invite_resent", actor, target=user.id)
    commit()


def update_staff(user: User, *, actor: User, first_name: str, last_name: str, email: str) -> None:
    """An admin edits an agent's or admin's name and email. Commits."""
    _require_admin(actor)
    if user.role == Role.CUSTOMER:
        raise NotFound("No such agent.")
    first_name, last_name = _check_names(first_name, last_name)
    email = (email or "").strip().lower()
    other = find_user_by_email(email)
    if other is not None and other.id != user.id:
        raise ServiceError("Another account already uses this email.")
    user.first_name, user.last_name, user.email = first_name, last_name, email
    security_event("staff_updated", actor, target=user.id)
    commit()


def _active_admin_count() -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN, User.active.is_(True), User.deleted_at.is_(None)
        )
    )


def _guard_last_admin(user: User) -> None:
    if user.role == Role.ADMIN and user.is_active and _active_admin_count() <= 1:
        raise ServiceError("This is the last active administrator; promote someone else first.")


def deactivate_user(user: User, *, actor: User) -> None:
    """Block a staff account: every session and socket ends at once. Commits.

    Their open tickets stay assigned and show as needing reassignment.
    """
    _require_admin(actor)
    if user.role == Role.CUSTOMER:
        raise NotFound("No such agent.")
    if not user.active:
        return
    _guard_last_admin(user)
    user.active = False
    end_all_sessions(user)
    security_event("user_deactivated", actor, target=user.id)
    commit()


def reactivate_user(user: User, *, actor: User) -> None:
    _require_admin(actor)
    if user.role == Role.CUSTOMER or user.deleted_at is not None:
        raise NotFound("No such agent.")
    user.active = True
    security_event("user_reactivated", actor, target=user.id)
    commit()


def set_role(user: User, role: Role, *, actor: User) -> None:
    """Promote an agent to admin or demote an admin to agent (never the last admin)."""
    _require_admin(actor)
    if user.role == Role.CUSTOMER or role not in (Role.AGENT, Role.ADMIN):
        raise NotFound("No such agent.")
    if user.role == role:
        return
    if role == Role.AGENT:
        _guard_last_admin(user)
    if not user.is_active:
        raise ServiceError("Reactivate this account first.")
    old = user.role
    user.role = role
    end_all_sessions(user)  # sockets rejoin the rooms of the new role
    security_event("role_changed", actor, target=user.id, old=old.value, new=role.value)
    commit()


def promote_to_admin(user: User, *, actor: User) -> None:
    set_role(user, Role.ADMIN, actor=actor)


def demote_to_agent(user: User, *, actor: User) -> None:
    set_role(user, Role.AGENT, actor=actor)


OPEN_STATUSES = ("assigned", "in_progress", "waiting_on_customer")


def staff_overview() -> list[dict]:
    """Agents and admins with their open-ticket load and last activity (for the admin list)."""
    from ccr.models import Ticket, TicketStatus

    open_states = [TicketStatus(s) for s in OPEN_STATUSES]
    load = dict(
        db.session.execute(
            select(Ticket.assignee_id, func.count(Ticket.id))
            .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(open_states))
            .group_by(Ticket.assignee_id)
        ).all()
    )
    staff = db.session.scalars(
        select(User)
        .where(User.role.in_([Role.AGENT, Role.ADMIN]), User.deleted_at.is_(None))
        .order_by(User.active.desc(), User.last_name, User.first_name, User.id)
    )
    return [
        {
            "user": u,
            "open_tickets": load.get(u.id, 0),
            "needs_reassignment": load.get(u.id, 0) if not u.is_active else 0,
            "invited": u.password_hash is None,
        }
        for u in staff
    ]


def tickets_needing_reassignment() -> list:
    """Open tickets whose assignee can no longer work on them (deactivated or deleted)."""
    from ccr.models import Ticket, TicketStatus

    inactive = select(User.id).where((User.active.is_(False)) | (User.deleted_at.is_not(None)))
    return list(
        db.session.scalars(
            select(Ticket)
            .where(
                Ticket.assignee_id.in_(inactive),
                Ticket.status.in_([TicketStatus(s) for s in OPEN_STATUSES]),
            )
            .order_by(Ticket.last_activity_at)
        )
    )
