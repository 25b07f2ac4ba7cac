"""The admin's staff pages: the list of agents and admins, creating and editing one, and the
account actions (deactivate, reactivate, promote, demote, resend an invitation)."""

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ccr.admin import bp
from ccr.admin.forms import ActionForm, AgentCreateForm, AgentEditForm
from ccr.auth.guards import role_required
from ccr.models import Role, User
from ccr.services import ServiceError, queries, staff


def _staff_or_404(user_id: int) -> User:
    user = queries.get_staff_member(user_id)
    if user is None:
        abort(404)
    return user


def _agents_page(status: int = 200, **forms):
    forms.setdefault("create_form", AgentCreateForm())
    return render_template(
        "admin/agents.html",
        staff=queries.staff_overview(),
        stranded=queries.tickets_needing_reassignment(),
        action_form=ActionForm(),
        **forms,
    ), status


@bp.get("/agents")
@role_required(Role.ADMIN)
def agents():
    return _agents_page()


@bp.post("/agents")
@role_required(Role.ADMIN)
def agent_create():
    form = AgentCreateForm()
    if not form.validate_on_submit():
        return _agents_page(400, create_form=form)
    invite = form.method.data != "password"
    try:
        user = staff.create_agent(
            actor=current_user,
            email=form.email.data or "",
            first_name=form.first_name.data or "",
            last_name=form.last_name.data or "",
            password=None if invite else form.password.data,
            idempotency_key=form.sent_key,
        )
    except ServiceError as exc:
        form.email.errors.append(str(exc))
        return _agents_page(400, create_form=form)
    if invite:
        flash(f"Invitation emailed to {user.email}.", "success")
    else:
        flash(f"Agent {user.full_name} created.", "success")
    return redirect(url_for("admin.agents"))


@bp.route("/agents/<id:user_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def agent_edit(user_id: int):
    user = _staff_or_404(user_id)
    form = AgentEditForm(obj=user)
    if form.validate_on_submit():
        try:
            staff.update_staff(
                user,
                actor=current_user,
                first_name=form.first_name.data or "",
                last_name=form.last_name.data or "",
                email=form.email.data or "",
            )
        except ServiceError as exc:
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            flash("Saved.", "success")
            return redirect(url_for("admin.agents"))
    status = 400 if form.errors else 200
    return render_template(
        "admin/agent_edit.html", form=form, user=user, action_form=ActionForm()
    ), status


_ACTIONS: dict[str, tuple[Callable[..., None], str]] = {
    "deactivate": (staff.deactivate_user, "{name} is deactivated and signed out everywhere."),
    "reactivate": (staff.reactivate_user, "{name} can log in again."),
    "promote": (staff.promote_to_admin, "{name} is now an admin."),
    "demote": (staff.demote_to_agent, "{name} is now an agent."),
    "resend-invite": (staff.resend_invite, "A new invitation was emailed to {name}."),
}


# The actions that change what someone may do ask first, on a page of their own (no JS needed).
_ASK: dict[str, tuple[str, str, str]] = {
    "promote": (
        "Make {name} an admin?",
        "Admins see every ticket, assign work and manage agents and admins.",
        "Yes, make them an admin",
    ),
    "demote": (
        "Remove {name}'s admin role?",
        "They become an agent again: they keep their assigned tickets and lose the admin pages.",
        "Yes, remove the admin role",
    ),
    "deactivate": (
        "Deactivate {name}?",
        "They are signed out everywhere at once and cannot log in until reactivated; "
        "their open tickets stay assigned to them until you reassign them.",
        "Yes, deactivate",
    ),
}


@bp.post("/agents/<id:user_id>/<action>")
@role_required(Role.ADMIN)
def agent_action(user_id: int, action: str):
    if action not in _ACTIONS:
        abort(404)
    user = _staff_or_404(user_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    if action in _ASK and form.confirmed.data != "1":
        question, detail, yes = _ASK[action]
        return render_template(
            "admin/agent_confirm.html",
            user=user,
            action=action,
            question=question.format(name=user.full_name),
            detail=detail,
            yes=yes,
            action_form=form,
        )
    verb, done = _ACTIONS[action]
    try:
        verb(user, actor=current_user)
    except ServiceError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("admin.agents"))
    flash(done.format(name=user.full_name), "success")
    return redirect(url_for("admin.agents"))
