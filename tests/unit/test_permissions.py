"""Permissions: pure predicates, enforced by require() in every service, which logs each
denial on the security logger."""

import logging

import pytest

from ccr.models import Role
from ccr.services import Forbidden, NotFound
from ccr.services.categories import create_category
from ccr.services.permissions import _DENIALS, can_view_ticket, require
from ccr.services.profile import update_name
from ccr.services.tickets import open_ticket
from ccr.services.uow import commit


def test_require_raises_and_logs_the_denial(app, make_user, caplog):
    customer, other = make_user(Role.CUSTOMER), make_user(Role.CUSTOMER)
    ticket = open_ticket(actor=customer, subject="S", description="D")
    commit()
    caplog.set_level(logging.INFO, logger="ccr.security")
    with pytest.raises(NotFound, match="No such ticket"):
        require(can_view_ticket, other, ticket)
    [line] = [r.getMessage() for r in caplog.records if r.name == "ccr.security"]
    assert line.startswith(f"ticket_access_denied user={other.id} ")
    assert f"target={ticket.id}" in line
    require(can_view_ticket, customer, ticket)  # allowed: nothing raised


def test_a_deactivated_admin_changes_nobody(app, make_user):
    admin, customer = make_user(Role.ADMIN), make_user(Role.CUSTOMER, first_name="Kept")
    make_user(Role.ADMIN)
    admin.active = False
    commit()
    with pytest.raises(Forbidden):
        update_name(customer, "New", "Name", actor=admin)
    with pytest.raises(Forbidden):
        create_category("Billing", actor=admin)
    assert customer.first_name == "Kept"


def test_every_denial_has_an_explicit_log_event():
    events = {event for event, _refusal, _message in _DENIALS.values()}
    assert all(e.endswith("_denied") for e in events)
