"""Getting in: customer registration, email verification, password reset by emailed code,
and accepting an agent invitation.

Login, registration and reset answer the same way for known and unknown emails. A wrong
code is refused but its attempt is kept (uow.keep()).
"""

import hmac
import secrets

from ccr.models import CodePurpose, Role, User, utcnow
from ccr.notify.outbox import queue_email
from ccr.services import ServiceError, uow
from ccr.services.codes import (
    RESET_CODE_TTL,
    VERIFY_CODE_TTL,
    consume_code,
    email_code,
    invite_row,
    keyed_hash,
)
from ccr.services.passwords import check_policy, hash_password, personal_words
from ccr.services.security_log import security_event
from ccr.services.users import (
    check_names,
    email_password_changed,
    end_all_sessions,
    find_user_by_email,
    insert_user,
)
from ccr.urls import absolute_url

INVITE_INVALID = "This invitation link is not valid any more; ask an admin for a new one."
BAD_CODE = "That code is not right or has expired. Check the latest email or ask for a new code."


def register_customer(*, email: str, first_name: str, last_name: str, password: str) -> str:
    """Start a customer registration; the same outcome whether or not the email is known.

    A new address gets an unverified account and a verification code (a never-verified
    account is replaced by the latest registration); an address that already has a
    verified account gets a warning email instead.

    Returns the registration's proof for the registering browser to keep: verifying the
    address with it signs in (`proves_signup`). It looks the same in every case (a decoy
    for a known address), so the browser learns nothing about the address.
    """
    first_name, last_name = check_names(first_name, last_name)
    email = (email or "").strip().lower()
    check_policy(password, (email, first_name, last_name))
    existing = find_user_by_email(email)
    if existing is None:
        user = insert_user(
            email=email,
            first_name=first_name,
            last_name=last_name,
            password=password,
            role=Role.CUSTOMER,
            verified=False,
        )
        if user is not None:
            _send_verify_code(user)
            security_event("register", user)
            return _signup_proof(user)
        # A concurrent registration of this address committed first: go on as the second.
        existing = find_user_by_email(email)
    if existing is not None and existing.email_verified_at is None and existing.is_active:
        # Never verified, so never usable: the latest registration replaces it. Whoever
        # pre-registered someone else's address cannot keep a password on that account.
        existing.first_name, existing.last_name = first_name, last_name
        existing.password_hash = hash_password(password)
        _send_verify_code(existing)
        security_event("register_replaced_unverified", existing)
        return _signup_proof(existing)
    if existing is not None:
        hash_password(password)  # spend the same time as a real registration
        if existing.deleted_at is None:
            queue_email(
                existing.email,
                "Someone tried to register with your address",
                "register_existing",
                kind="register_existing",
                user=existing,
                login_link=absolute_url("auth.login"),
                reset_link=absolute_url("auth.forgot_password"),
            )
        security_event("register_existing_email", existing)
    return keyed_hash(CodePurpose.EMAIL_VERIFY, "signup:" + secrets.token_hex(16))


def _signup_proof(user: User) -> str:
    # Tied to the password this registration set: a later registration of the same address
    # (which replaces the password) makes the earlier browser's proof worthless.
    return keyed_hash(CodePurpose.EMAIL_VERIFY, "signup:" + (user.password_hash or ""), user.id)


def proves_signup(user: User, proof: str | None) -> bool:
    """Whether `proof` (register_customer's) is of the registration whose password this
    account has now: then verifying the address may continue into a signed-in session."""
    if not proof or not user.password_hash:
        return False
    return hmac.compare_digest(_signup_proof(user), proof)


def _send_verify_code(user: User) -> None:
    email_code(
        user,
        CodePurpose.EMAIL_VERIFY,
        VERIFY_CODE_TTL,
        "Your verification code",
        "verify_code",
        "auth.verify_email",
    )


def resend_verification(email: str) -> None:
    """Send a new verification code if this address has an unverified account."""
    user = find_user_by_email(email or "")
    if user is not None and user.email_verified_at is None and user.is_active:
        _send_verify_code(user)
        security_event("verify_code_resent", user)


def verify_email(email: str, code: str) -> User:
    """Mark the address verified with the emailed code; ServiceError when the code is
    wrong (the attempt is kept)."""
    pending = find_user_by_email(email or "")
    if pending is not None and (pending.email_verified_at is not None or not pending.is_active):
        pending = None
    if pending is None or not consume_code(pending, CodePurpose.EMAIL_VERIFY, code):
        security_event("verify_failed", pending)
        uow.keep()
        raise ServiceError(BAD_CODE)
    pending.email_verified_at = utcnow()
    security_event("email_verified", pending)
    return pending


def request_password_reset(email: str) -> None:
    """Email a reset code to the account, if any; older codes are cancelled.

    The caller answers the same way whatever happened here.
    """
    user = find_user_by_email(email or "")
    if user is None or not user.is_active:
        security_event("reset_requested_unknown")
        return
    email_code(
        user,
        CodePurpose.PASSWORD_RESET,
        RESET_CODE_TTL,
        "Your password reset code",
        "reset_code",
        "auth.reset_password",
    )
    security_event("reset_requested", user)


def reset_password(email: str, code: str, new_password: str) -> User:
    """Set a new password with an emailed code; ends every session and socket. A wrong code
    is refused and its attempt kept."""
    check_policy(new_password, (email,))
    user = find_user_by_email(email or "")
    if user is not None and not user.is_active:
        user = None
    if user is None or not consume_code(user, CodePurpose.PASSWORD_RESET, code):
        security_event("reset_failed", user)
        uow.keep()
        raise ServiceError(BAD_CODE)
    # Only the holder of a right code learns that the password is their name; the refusal
    # rolls the code's use back, so they can choose another password with the same code.
    user.password_hash = hash_password(new_password, personal_words(user))
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the code proved the address
    end_all_sessions(user)
    email_password_changed(user)
    security_event("password_reset", user)
    return user


def accept_invite(token: str, password: str) -> User:
    """The invited agent sets a password; the link is then used up."""
    check_policy(password)
    row = invite_row(token)
    if row is None:
        security_event("invite_refused")
        raise ServiceError(INVITE_INVALID)
    user = row.user
    check_policy(password, personal_words(user))
    now = utcnow()
    row.used_at = now
    user.password_hash = hash_password(password, personal_words(user))
    user.email_verified_at = user.email_verified_at or now
    end_all_sessions(user)
    security_event("invite_accepted", user)
    return user
