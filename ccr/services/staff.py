"""Agents and admins, managed by admins: creating (with a password or by invitation),
editing, deactivating and reactivating, promoting and demoting. There is always at least one
active admin."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ccr.extensions import db
from ccr.models import Role, User
from ccr.services import NotFound, ServiceError, idempotency, uow
from ccr.services.codes import send_invite
from ccr.services.passwords import check_policy
from ccr.services.permissions import can_manage_users, require
from ccr.services.security_log import security_event
from ccr.services.users import check_names, create_user, end_all_sessions, find_user_by_email


def create_agent(
    *,
    actor: User,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None,
    idempotency_key: str | None = None,
) -> User:
    """An admin adds an agent: with an initial password, or (password None) by invitation,
    an emailed single-use link that expires after codes.INVITE_TTL. A repeat of a form
    already sent (the same idempotency_key) returns the agent the first one created."""
    require(can_manage_users, actor)
    first_name, last_name = check_names(first_name, last_name)
    if password is not None:
        check_policy(password, (email, first_name, last_name))
    first = idempotency.first_result(actor, idempotency_key, "agent")
    if first is not None:
        made = db.session.get(User, first)
        if made is None:
            raise NotFound("No such agent.")
        return made
    user = create_user(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=password,
        role=Role.AGENT,
        verified=password is not None,
    )
    idempotency.created(actor, idempotency_key, user.id)
    if password is None:
        send_invite(user, actor)
    security_event("agent_created", actor, target=user.id, invited=password is None)
    return user


def resend_invite(user: User, *, actor: User) -> None:
    """A new invitation link for an agent who has not set a password yet."""
    require(can_manage_users, actor)
    if user.role == Role.CUSTOMER or user.password_hash is not None:
        raise ServiceError("This person has already set a password.")
    send_invite(user, actor)
    security_event("invite_resent", actor, target=user.id)


def update_staff(user: User, *, actor: User, first_name: str, last_name: str, email: str) -> None:
    """An admin edits an agent's or admin's name and email."""
    require(can_manage_users, actor)
    if user.role == Role.CUSTOMER:
        raise NotFound("No such agent.")
    first_name, last_name = check_names(first_name, last_name)
    email = (email or "").strip().lower()
    other = find_user_by_email(email)
    if other is not None and other.id != user.id:
        raise ServiceError(EMAIL_IN_USE)
    user.first_name, user.last_name, user.email = first_name, last_name, email
    try:  # a concurrent change or registration may take the address first
        with uow.savepoint():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(EMAIL_IN_USE) from None
    security_event("staff_updated", actor, target=user.id)


EMAIL_IN_USE = "Another account already uses this email."


def _active_admin_count() -> int:
    return (
        db.session.scalar(
            select(func.count(User.id)).where(
                User.role == Role.ADMIN, User.active.is_(True), User.deleted_at.is_(None)
            )
        )
        or 0
    )


def _guard_last_admin(user: User) -> None:
    if user.role == Role.ADMIN and user.is_active and _active_admin_count() <= 1:
        raise ServiceError("This is the last active administrator; promote someone else first.")


def deactivate_user(user: User, *, actor: User) -> None:
    """Block a staff account: every session and socket ends at once.

    Their open tickets stay assigned and show as needing reassignment.
    """
    require(can_manage_users, actor)
    if user.role == Role.CUSTOMER:
        raise NotFound("No such agent.")
    if not user.active:
        return
    _guard_last_admin(user)
    user.active = False
    end_all_sessions(user)
    security_event("user_deactivated", actor, target=user.id)


def reactivate_user(user: User, *, actor: User) -> None:
    """Let a deactivated agent or admin log in again."""
    require(can_manage_users, actor)
    if user.role == Role.CUSTOMER or user.deleted_at is not None:
        raise NotFound("No such agent.")
    user.active = True
    security_event("user_reactivated", actor, target=user.id)


def set_role(user: User, role: Role, *, actor: User) -> None:
    """Promote an agent to admin or demote an admin to agent (never the last admin)."""
    require(can_manage_users, actor)
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


def promote_to_admin(user: User, *, actor: User) -> None:
    set_role(user, Role.ADMIN, actor=actor)


def demote_to_agent(user: User, *, actor: User) -> None:
    set_role(user, Role.AGENT, actor=actor)
