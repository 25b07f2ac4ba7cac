"""The admin's category page: create, rename, retire and bring back."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ccr.admin import bp
from ccr.admin.audit import AdminAction, audit
from ccr.admin.forms import CategoryForm
from ccr.auth.guards import role_required
from ccr.forms import ConfirmForm
from ccr.inputs import CONTROL_PROBLEM
from ccr.models import Category, Role
from ccr.services import ServiceError, queries
from ccr.services.categories import (
    all_categories,
    create_category,
    rename_category,
    retire_category,
)

BAD_NAME = "Give the category a name of at most 80 characters."


@bp.get("/categories")
@role_required(Role.ADMIN)
def categories():
    return render_template(
        "admin/categories.html",
        categories=all_categories(),
        form=CategoryForm(),
        confirm_form=ConfirmForm(),
    )


def _name_refused(form: CategoryForm) -> str:
    return CONTROL_PROBLEM if CONTROL_PROBLEM in form.name.errors else BAD_NAME


def _category(category_id: int) -> Category:
    category = queries.get_category(category_id)
    if category is None:
        abort(404)
    return category


@bp.post("/categories")
@role_required(Role.ADMIN)
def category_create():
    form = CategoryForm()
    if not form.validate_on_submit():
        flash(_name_refused(form), "danger")
    else:
        try:
            create_category(form.name.data or "", actor=current_user, idempotency_key=form.sent_key)
        except ServiceError as exc:
            flash(str(exc), "danger")
        else:
            audit(AdminAction.CREATE_CATEGORY, category="new")
            flash("Categories updated.", "success")
    return redirect(url_for("admin.categories"))


@bp.post("/categories/<id:category_id>/rename")
@role_required(Role.ADMIN)
def category_rename(category_id: int):
    category = _category(category_id)
    form = CategoryForm()
    if not form.validate_on_submit():
        flash(_name_refused(form), "danger")
    else:
        try:
            rename_category(category, form.name.data or "", actor=current_user)
        except ServiceError as exc:
            flash(str(exc), "danger")
        else:
            audit(AdminAction.RENAME_CATEGORY, category=category.id)
            flash("Categories updated.", "success")
    return redirect(url_for("admin.categories"))


@bp.post("/categories/<id:category_id>/retire")
@role_required(Role.ADMIN)
def category_retire(category_id: int):
    """Retire an active category, or bring a retired one back."""
    category = _category(category_id)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
    else:
        try:
            retire_category(category, actor=current_user, retired=not category.retired)
        except ServiceError as exc:
            flash(str(exc), "danger")
        else:
            audit(AdminAction.TOGGLE_RETIRED, category=category.id)
            flash("Categories updated.", "success")
    return redirect(url_for("admin.categories"))
