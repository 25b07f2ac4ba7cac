"""The admin's logs: outgoing email (with a retry for dead rows) and the audit trail."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ccr.admin import bp
from ccr.admin.audit import AdminAction, audit
from ccr.auth.guards import role_required
from ccr.forms import ConfirmForm
from ccr.models import OutboxStatus, Role, format_reference
from ccr.services import ServiceError, outbox, queries
from ccr.views import paginate


@bp.get("/mail")
@role_required(Role.ADMIN)
def mail_log():
    status = queries.mail_status(request.args.get("status"))
    return render_template(
        "admin/mail.html",
        page=paginate(queries.outbox_emails(status)),
        status=status.value if status else None,
        statuses=list(OutboxStatus),
        confirm_form=ConfirmForm(),
    )


@bp.post("/mail/<id:email_id>/retry")
@role_required(Role.ADMIN)
def mail_retry(email_id: int):
    row = queries.get_outbox_email(email_id)
    if row is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
    else:
        try:
            outbox.retry_email(row, actor=current_user)
        except ServiceError as exc:
            flash(str(exc), "danger")
        else:
            audit(AdminAction.MAIL_RETRY, email=row.id)
            flash("The email is queued again.", "success")
    return redirect(url_for("admin.mail_log", status="dead"))


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log():
    return render_template(
        "admin/audit.html", page=paginate(queries.audit_events()), format_reference=format_reference
    )
