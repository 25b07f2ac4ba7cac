import json
import logging

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from ccr.auth import bp
from ccr.auth.forms import (
    AcceptInviteForm,
    ChangePasswordForm,
    ChatEmailsForm,
    DeleteAccountForm,
    EmailOnlyForm,
    LoginForm,
    LogoutForm,
    ProfileNameForm,
    RegisterForm,
    ResetPasswordForm,
    VerifyEmailForm,
)
from ccr.extensions import limiter
from ccr.services import ServiceError, registration
from ccr.services.codes import invited_user
from ccr.services.passwords import PasswordPolicyError
from ccr.services.profile import (
    change_password,
    delete_account,
    export_data,
    set_chat_emails,
    update_name,
)
from ccr.services.security_log import security_event
from ccr.services.users import check_login, end_all_sessions, find_user_by_email
from ccr.urls import home_endpoint

log = logging.getLogger("ccr.security")

# Per-IP limits count every attempt; per-account limits count failures only. Failures are
# limited tightly per account and IP, and loosely per account from everywhere: one attacker
# guessing a password locks out only themselves, a botnet is still capped.
LOGIN_PER_IP = "20 per minute"
LOGIN_FAILURES_PER_ACCOUNT_AND_IP = "5 per 15 minutes"
LOGIN_FAILURES_PER_ACCOUNT = "50 per hour"
PASSWORD_CHECKS_PER_USER = "5 per 15 minutes"
CODE_REQUESTS_PER_EMAIL = "3 per 15 minutes"
CODE_REQUESTS_PER_IP = "10 per 15 minutes"
CODE_ENTRIES_PER_IP = "30 per 15 minutes"
# Accepted registrations per IP (a refused form does not count: the person fixes it and
# sends it again); every attempt is capped loosely, so a flood of bad forms stays bounded.
REGISTER_PER_IP = "10 per hour"
REGISTER_ATTEMPTS_PER_IP = "30 per minute"
SIGNUP_PROOF = "ccr_signup"  # session key: register_customer's proof, for verify_email
GENERIC_CODE_SENT = "If an account uses that address, we have emailed it a 6-digit code."


def _email_key(scope: str, field: str = "email"):
    def key() -> str:
        return f"{scope}:{(request.form.get(field) or '').strip().lower()[:254]}"

    return key


def _user_key(scope: str) -> str:
    return f"{scope}:{getattr(current_user, 'id', None)}"


def _failed(response) -> bool:
    return response.status_code == 401


def _accepted(response) -> bool:
    return response.status_code < 400


def _sign_in(user, *, remember: bool = False, how: str = "login_ok") -> None:
    """Start this user's session in a fresh one (no fixation): whatever the browser's
    session held, the signed-in one is new, as at every login."""
    if current_user.is_authenticated:
        logout_user()
    session.clear()
    login_user(user, remember=remember)
    session.permanent = True
    security_event(how, user)


def _email_arg() -> dict:
    email = (request.args.get("email") or "").strip()[:254]
    return {"email": email} if email else {}


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_PER_IP, methods=["POST"])
@limiter.limit(
    LOGIN_FAILURES_PER_ACCOUNT_AND_IP,
    key_func=lambda: f"{_email_key('login')()}:{request.remote_addr}",
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    LOGIN_FAILURES_PER_ACCOUNT,
    key_func=_email_key("login"),
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    form = LoginForm()
    if form.validate_on_submit():
        user, why = check_login(form.email.data, form.password.data)
        if why == "unverified":
            flash(
                "Your email address is not verified yet. Enter the code we emailed you, "
                "or ask for a new one below.",
                "warning",
            )
            return redirect(url_for("auth.verify_email", email=form.email.data.strip().lower()))
        if user is None:
            security_event("login_failed", find_user_by_email(form.email.data))
            flash("Those details did not work. Check them and try again.", "danger")
            return render_template("auth/login.html", form=form), 401
        _sign_in(user, remember=bool(form.remember.data))
        return redirect(url_for(home_endpoint(user.role)))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.index"))
    user = current_user._get_current_object()
    end_all_sessions(user)
    logout_user()
    session.clear()
    security_event("logout", user)
    flash("You have been logged out.", "info")
    response = redirect(url_for("auth.login"))
    # What this account left in the browser (the chat's unsent messages) goes with it.
    response.headers["Clear-Site-Data"] = '"storage"'
    return response


# -- registration --------------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_ATTEMPTS_PER_IP, methods=["POST"])
@limiter.limit(REGISTER_PER_IP, methods=["POST"], deduct_when=_accepted)
def register():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            proof = registration.register_customer(
                email=form.email.data,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                password=form.password.data,
            )
        except ServiceError as exc:
            flash(str(exc), "danger")
            return render_template("auth/register.html", form=form), 400
        session[SIGNUP_PROOF] = proof
        flash(
            "Check your inbox: we have emailed a 6-digit code to finish setting up your account.",
            "info",
        )
        return redirect(url_for("auth.verify_email", email=form.email.data.strip().lower()))
    return render_template("auth/register.html", form=form), 400 if form.errors else 200


@bp.route("/verify-email", methods=["GET", "POST"])
@limiter.limit(CODE_ENTRIES_PER_IP, methods=["POST"])
def verify_email():
    form = VerifyEmailForm(data=_email_arg() if request.method == "GET" else None)
    resend = EmailOnlyForm(prefix="resend", data=_email_arg())
    if form.validate_on_submit():
        try:
            user = registration.verify_email(form.email.data, form.code.data)
        except ServiceError as exc:
            form.code.errors.append(str(exc))
            return render_template("auth/verify_email.html", form=form, resend=resend), 400
        # The browser that registered goes straight in; any other (the code alone does
        # not prove who chose the password) logs in with it.
        if not registration.proves_signup(user, session.get(SIGNUP_PROOF)):
            flash("Your email address is verified. You can log in now.", "success")
            return redirect(url_for("auth.login"))
        _sign_in(user, how="login_after_verify")
        flash("Your email address is verified. Welcome!", "success")
        return redirect(url_for(home_endpoint(user.role)))
    status = 400 if form.errors else 200
    return render_template("auth/verify_email.html", form=form, resend=resend), status


@bp.post("/verify-email/resend")
@limiter.limit(CODE_REQUESTS_PER_IP)
@limiter.limit(CODE_REQUESTS_PER_EMAIL, key_func=_email_key("verify", "resend-email"))
def resend_verification():
    form = EmailOnlyForm(prefix="resend")
    if form.validate_on_submit():
        registration.resend_verification(form.email.data)
        flash(GENERIC_CODE_SENT, "info")
        return redirect(url_for("auth.verify_email", email=form.email.data.strip().lower()))
    flash("Enter a valid email address.", "danger")
    return redirect(url_for("auth.verify_email"))


# -- password reset --------------------------------------------------------------------------


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(CODE_REQUESTS_PER_IP, methods=["POST"])
@limiter.limit(CODE_REQUESTS_PER_EMAIL, key_func=_email_key("reset"), methods=["POST"])
def forgot_password():
    form = EmailOnlyForm(data=_email_arg() if request.method == "GET" else None)
    if form.validate_on_submit():
        registration.request_password_reset(form.email.data)
        flash(GENERIC_CODE_SENT, "info")
        return redirect(url_for("auth.reset_password", email=form.email.data.strip().lower()))
    status = 400 if form.errors else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit(CODE_ENTRIES_PER_IP, methods=["POST"])
def reset_password():
    form = ResetPasswordForm(data=_email_arg() if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            user = registration.reset_password(form.email.data, form.code.data, form.password.data)
        except PasswordPolicyError as exc:
            form.password.errors.append(str(exc))
            return render_template("auth/reset_password.html", form=form), 400
        except ServiceError as exc:
            form.code.errors.append(str(exc))
            return render_template("auth/reset_password.html", form=form), 400
        # Every other session has ended (the reset bumped the session version); this one
        # starts afresh as the account's only one.
        _sign_in(user, how="login_after_reset")
        flash("Your password has been changed. Other sessions were signed out.", "success")
        return redirect(url_for(home_endpoint(user.role)))
    status = 400 if form.errors else 200
    return render_template("auth/reset_password.html", form=form), status


# -- agent invitations -----------------------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(CODE_ENTRIES_PER_IP)
def accept_invite(token: str):
    user = invited_user(token)
    if user is None:
        return render_template("auth/invite_invalid.html"), 404
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            user = registration.accept_invite(token, form.password.data)
        except ServiceError as exc:
            form.password.errors.append(str(exc))
            return render_template("auth/accept_invite.html", form=form, user=user), 400
        _sign_in(user, how="login_after_invite")
        flash("Your password is set. Welcome aboard!", "success")
        return redirect(url_for(home_endpoint(user.role)))
    status = 400 if form.errors else 200
    return render_template("auth/accept_invite.html", form=form, user=user), status


# -- profile ---------------------------------------------------------------------------------


def _profile(status: int = 200, **forms):
    user = current_user._get_current_object()
    forms.setdefault("name_form", ProfileNameForm(prefix="name", obj=user))
    forms.setdefault("password_form", ChangePasswordForm(prefix="pw"))
    forms.setdefault(
        "chat_form", ChatEmailsForm(prefix="chat", data={"chat_emails": user.notify_chat_email})
    )
    forms.setdefault("delete_form", DeleteAccountForm(prefix="del"))
    return render_template("auth/profile.html", user=user, **forms), status


@bp.get("/profile")
@login_required
def profile():
    return _profile()


@bp.post("/profile/name")
@login_required
def profile_name():
    form = ProfileNameForm(prefix="name")
    if not form.validate_on_submit():
        return _profile(400, name_form=form)
    user = current_user._get_current_object()
    try:
        update_name(user, form.first_name.data, form.last_name.data, actor=user)
    except ServiceError as exc:
        form.first_name.errors.append(str(exc))
        return _profile(400, name_form=form)
    flash("Your name has been saved.", "success")
    return redirect(url_for("auth.profile"))


@bp.post("/profile/password")
@login_required
@limiter.limit(PASSWORD_CHECKS_PER_USER, key_func=lambda: _user_key("pw"))
def profile_password():
    form = ChangePasswordForm(prefix="pw")
    if not form.validate_on_submit():
        return _profile(400, password_form=form)
    user = current_user._get_current_object()
    try:
        change_password(user, form.current.data, form.password.data, actor=user)
    except PasswordPolicyError as exc:
        form.password.errors.append(str(exc))
        return _profile(400, password_form=form)
    except ServiceError as exc:
        form.current.errors.append(str(exc))
        return _profile(400, password_form=form)
    # Every other session ended; this one continues with the new session version.
    _sign_in(
        user,
        remember=bool(request.cookies.get("remember_token")),
        how="login_after_password_change",
    )
    flash("Your password has been changed. Other sessions were signed out.", "success")
    return redirect(url_for("auth.profile"))


@bp.post("/profile/notifications")
@login_required
def profile_notifications():
    form = ChatEmailsForm(prefix="chat")
    if not form.validate_on_submit():
        return _profile(400, chat_form=form)
    user = current_user._get_current_object()
    set_chat_emails(user, form.chat_emails.data, actor=user)
    flash("Your email settings have been saved.", "success")
    return redirect(url_for("auth.profile"))


@bp.get("/profile/data.json")
@login_required
def profile_export():
    user = current_user._get_current_object()
    body = json.dumps(export_data(user), indent=2, ensure_ascii=False)
    security_event("data_exported", user)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="ccr-my-data.json"'},
    )


@bp.post("/profile/delete")
@login_required
@limiter.limit(PASSWORD_CHECKS_PER_USER, key_func=lambda: _user_key("del"))
def profile_delete():
    form = DeleteAccountForm(prefix="del")
    if not form.validate_on_submit():
        return _profile(400, delete_form=form)
    user = current_user._get_current_object()
    try:
        delete_account(user, form.password.data, actor=user)
    except ServiceError as exc:
        form.password.errors.append(str(exc))
        return _profile(400, delete_form=form)
    logout_user()
    session.clear()
    flash("Your account has been deleted and your personal data erased.", "info")
    return redirect(url_for("auth.login"))
