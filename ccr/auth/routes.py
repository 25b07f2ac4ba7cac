import logging

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ccr.auth import bp
from ccr.auth.forms import LoginForm, LogoutForm
from ccr.auth.guards import home_endpoint
from ccr.extensions import limiter
from ccr.services import accounts
from ccr.services.uow import commit

log = logging.getLogger("ccr.security")


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            log.warning("login failed ip=%s", request.remote_addr)
            flash("Those details did not work. Check them and try again.", "danger")
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a fresh session at login: no fixation
        login_user(user, remember=bool(form.remember.data))
        session.permanent = True
        log.info("login ok user=%s ip=%s", user.id, request.remote_addr)
        return redirect(url_for(home_endpoint(user.role)))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.index"))
    user = current_user._get_current_object()
    accounts.end_all_sessions(user)
    commit()
    logout_user()
    session.clear()
    log.info("logout user=%s ip=%s", user.id, request.remote_addr)
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
