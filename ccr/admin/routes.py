import logging

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ccr.admin import bp
from ccr.admin.forms import AssignForm, CategoryForm
from ccr.auth.forms import ActionForm, AgentCreateForm, AgentEditForm
from ccr.auth.guards import role_required
from ccr.errors import _wants_json
from ccr.extensions import db
from ccr.forms import ConfirmForm
from ccr.models import (
    Category,
    OutboxEmail,
    OutboxStatus,
    Priority,
    Role,
    TicketEvent,
    TicketStatus,
    User,
    format_reference,
)
from ccr.services import ServiceError, accounts, outbox, queries
from ccr.services.categories import (
    all_categories,
    create_category,
    rename_category,
    retire_category,
)
from ccr.services.tickets import assign_ticket, ticket_summary
from ccr.services.uow import commit, rollback
from ccr.views import (
    AgentChoices,
    apply_verb,
    load_ticket,
    paginate,
    paginate_tickets,
    render_ticket,
)

log = logging.getLogger("ccr.security")


def _audit(action: str, **details) -> None:
    """Admin actions go to the security log with who, from where and what (never secrets)."""
    fields = " ".join(f"{k}={v}" for k, v in details.items())
    log.info(
        "admin action=%s user=%s ip=%s %s", action, current_user.id, request.remote_addr, fields
    )


@bp.get("/")
@role_required(Role.ADMIN)
def dashboard():
    args = queries.parse_args(request.args)
    agents = queries.active_agents()
    return render_template(
        "admin/dashboard.html",
        page=paginate_tickets(queries.admin_tickets(args)),
        args=args,
        sorts=queries.SORTS,
        statuses=list(TicketStatus),
        priorities=list(Priority),
        categories=all_categories(),
        agent_choices=AgentChoices(agents),
        counts=queries.admin_counts(agents),
        live_script="live-list.js",
    )


@bp.get("/tickets/<int:ticket_id>")
@role_required(Role.ADMIN)
def ticket(ticket_id: int):
    ticket = load_ticket(ticket_id)
    return render_ticket(
        ticket,
        "admin/ticket.html",
        agents=AgentChoices(queries.active_agents()),
        other_tickets=queries.customer_other_tickets(ticket, current_user),
    )


@bp.post("/tickets/<int:ticket_id>/status")
@role_required(Role.ADMIN)
def ticket_status(ticket_id: int):
    return apply_verb(ticket_id)


@bp.post("/tickets/<int:ticket_id>/assign")
@role_required(Role.ADMIN)
def assign(ticket_id: int):
    """Assign or reassign: JSON for the page's fetch, a redirect for a plain form post."""
    ticket = load_ticket(ticket_id)
    form = AssignForm()
    wants_json = _wants_json()
    back = request.form.get("next") == "list"
    target = url_for("admin.dashboard") if back else url_for("admin.ticket", ticket_id=ticket.id)
    error = None
    if not form.validate_on_submit() or not form.agent_id.data.isdigit():
        error = "Choose an agent from the list."
    else:
        agent = db.session.get(User, int(form.agent_id.data))
        try:
            if agent is None:
                raise ServiceError("Choose an active agent.")
            assign_ticket(ticket, agent, actor=current_user)
            commit()
            _audit("assign", ticket=ticket.id, agent=agent.id)
        except ServiceError as exc:
            rollback()
            error = str(exc)
    if wants_json:
        if error:
            return jsonify(ok=False, error=error), 400
        return jsonify(ok=True, ticket=ticket_summary(ticket))
    if error:
        flash(error, "danger")
    else:
        flash(f"{ticket.reference} is now assigned to {ticket.assignee.full_name}.", "success")
    return redirect(target)


# -- categories -------------------------------------------------------------------------------


@bp.get("/categories")
@role_required(Role.ADMIN)
def categories():
    return render_template(
        "admin/categories.html",
        categories=all_categories(),
        form=CategoryForm(),
        confirm_form=ConfirmForm(),
    )


def _category(category_id: int) -> Category:
    category = db.session.get(Category, category_id)
    if category is None:
        abort(404)
    return category


def _category_change(fn, *args) -> None:
    try:
        fn(*args, actor=current_user)
        commit()
        target = args[0] if isinstance(args[0], Category) else None
        _audit(fn.__name__, category=target.id if target else "new")
    except ServiceError as exc:
        rollback()
        flash(str(exc), "danger")
    except IntegrityError:  # a concurrent admin took the name first
        rollback()
        flash("A category with that name already exists.", "danger")
    else:
        flash("Categories updated.", "success")


@bp.post("/categories")
@role_required(Role.ADMIN)
def category_create():
    form = CategoryForm()
    if form.validate_on_submit():
        _category_change(create_category, form.name.data)
    else:
        flash("Give the category a name of at most 80 characters.", "danger")
    return redirect(url_for("admin.categories"))


@bp.post("/categories/<int:category_id>/rename")
@role_required(Role.ADMIN)
def category_rename(category_id: int):
    category = _category(category_id)
    form = CategoryForm()
    if form.validate_on_submit():
        _category_change(rename_category, category, form.name.data)
    else:
        flash("Give the category a name of at most 80 characters.", "danger")
    return redirect(url_for("admin.categories"))


def toggle_retired(category: Category, *, actor: User) -> None:
    retire_category(category, actor=actor, retired=not category.retired)


@bp.post("/categories/<int:category_id>/retire")
@role_required(Role.ADMIN)
def category_retire(category_id: int):
    category = _category(category_id)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
    else:
        _category_change(toggle_retired, category)
    return redirect(url_for("admin.categories"))


# -- mail log and audit log -------------------------------------------------------------------


@bp.get("/mail")
@role_required(Role.ADMIN)
def mail_log():
    status = request.args.get("status")
    query = select(OutboxEmail)
    if status in {s.value for s in OutboxStatus}:
        query = query.where(OutboxEmail.status == OutboxStatus(status))
    else:
        status = None
    query = query.order_by(OutboxEmail.id.desc())
    return render_template(
        "admin/mail.html",
        page=paginate(query),
        status=status,
        statuses=list(OutboxStatus),
        confirm_form=ConfirmForm(),
    )


@bp.post("/mail/<int:email_id>/retry")
@role_required(Role.ADMIN)
def mail_retry(email_id: int):
    row = db.session.get(OutboxEmail, email_id)
    if row is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
    else:
        try:
            outbox.retry_email(row, actor=current_user)
        except ServiceError as exc:
            rollback()
            flash(str(exc), "danger")
        else:
            commit()
            flash("The email is queued again.", "success")
    return redirect(url_for("admin.mail_log", status="dead"))


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log():
    query = select(TicketEvent).order_by(TicketEvent.id.desc())
    return render_template(
        "admin/audit.html", page=paginate(query), format_reference=format_reference
    )


# -- agent management ------------------------------------------------------------------------


def _staff_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.CUSTOMER or user.deleted_at is not None:
        abort(404)
    return user


def _agents_page(status: int = 200, **forms):
    forms.setdefault("create_form", AgentCreateForm())
    return render_template(
        "admin/agents.html",
        staff=accounts.staff_overview(),
        stranded=accounts.tickets_needing_reassignment(),
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
        user = accounts.create_agent(
            actor=current_user,
            email=form.email.data,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            password=None if invite else form.password.data,
        )
    except ServiceError as exc:
        form.email.errors.append(str(exc))
        return _agents_page(400, create_form=form)
    if invite:
        flash(f"Invitation emailed to {user.email}.", "success")
    else:
        flash(f"Agent {user.full_name} created.", "success")
    return redirect(url_for("admin.agents"))


@bp.route("/agents/<int:user_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def agent_edit(user_id: int):
    user = _staff_or_404(user_id)
    form = AgentEditForm(obj=user)
    if form.validate_on_submit():
        try:
            accounts.update_staff(
                user,
                actor=current_user,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                email=form.email.data,
            )
        except ServiceError as exc:
            form.email.errors.append(str(exc))
        else:
            flash("Saved.", "success")
            return redirect(url_for("admin.agents"))
    status = 400 if form.errors else 200
    return render_template(
        "admin/agent_edit.html", form=form, user=user, action_form=ActionForm()
    ), status


_ACTIONS = {
    "deactivate": (accounts.deactivate_user, "{name} is deactivated and signed out everywhere."),
    "reactivate": (accounts.reactivate_user, "{name} can log in again."),
    "promote": (accounts.promote_to_admin, "{name} is now an admin."),
    "demote": (accounts.demote_to_agent, "{name} is now an agent."),
    "resend-invite": (accounts.resend_invite, "A new invitation was emailed to {name}."),
}


@bp.post("/agents/<int:user_id>/<action>")
@role_required(Role.ADMIN)
def agent_action(user_id: int, action: str):
    if action not in _ACTIONS:
        abort(404)
    user = _staff_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    verb, done = _ACTIONS[action]
    try:
        verb(user, actor=current_user)
    except ServiceError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("admin.agents"))
    flash(done.format(name=user.full_name), "success")
    return redirect(url_for("admin.agents"))
