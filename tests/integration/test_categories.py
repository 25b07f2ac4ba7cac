"""Category services: only admins change them; names are unique regardless of case."""

import pytest

from ccr.models import Role
from ccr.services import Forbidden, ServiceError
from ccr.services.categories import (
    active_categories,
    create_category,
    rename_category,
    retire_category,
)
from ccr.services.uow import commit


def test_only_admins_manage_categories(app, make_user):
    admin = make_user(Role.ADMIN)
    cat = create_category("Billing", actor=admin)
    commit()
    for role in (Role.AGENT, Role.CUSTOMER):
        someone = make_user(role)
        with pytest.raises(Forbidden):
            create_category("Other", actor=someone)
        with pytest.raises(Forbidden):
            rename_category(cat, "Changed", actor=someone)
        with pytest.raises(Forbidden):
            retire_category(cat, actor=someone)
    assert cat.name == "Billing" and not cat.retired


def test_names_are_unique_ignoring_case_and_renaming_to_itself_is_fine(app, make_user):
    admin = make_user(Role.ADMIN)
    billing = create_category("Billing", actor=admin)
    create_category("Hardware", actor=admin)
    commit()
    with pytest.raises(ServiceError):
        create_category("BILLING", actor=admin)
    with pytest.raises(ServiceError):
        rename_category(billing, "hardware", actor=admin)
    rename_category(billing, "billing", actor=admin)
    commit()
    assert billing.name == "billing"


def test_retired_categories_leave_the_active_list_and_can_come_back(app, make_user):
    admin = make_user(Role.ADMIN)
    old = create_category("Old", actor=admin)
    create_category("New", actor=admin)
    commit()
    retire_category(old, actor=admin)
    commit()
    assert [c.name for c in active_categories()] == ["New"]
    retire_category(old, actor=admin, retired=False)
    commit()
    assert [c.name for c in active_categories()] == ["New", "Old"]
