"""The set-up many tests share: a customer's ticket, assigned to an agent by an admin."""

from dataclasses import dataclass
from typing import Any

import pytest

from ccr.models import Role, Ticket, User
from ccr.services import tickets
from ccr.services.uow import commit
from tests.support.users import new_user

# A user of the scene: one already made, or the make_user fields of a new one.
Cast = User | dict[str, Any] | None


@dataclass
class Scene:
    admin: User
    agent: User
    customer: User
    ticket: Ticket


def _user(role: Role, who: Cast) -> User:
    return who if isinstance(who, User) else new_user(role, **(who or {}))


def new_scene(
    *,
    admin: Cast = None,
    agent: Cast = None,
    customer: Cast = None,
    subject: str = "Help",
    description: str = "It broke.",
) -> Scene:
    """A scene in the current app context; new users are made admin, agent, customer."""
    staff, assignee, owner = (
        _user(Role.ADMIN, admin),
        _user(Role.AGENT, agent),
        _user(Role.CUSTOMER, customer),
    )
    ticket = tickets.open_ticket(actor=owner, subject=subject, description=description)
    commit()
    tickets.assign_ticket(ticket, assignee, actor=staff)
    commit()
    return Scene(admin=staff, agent=assignee, customer=owner, ticket=ticket)


@pytest.fixture
def scene(app):
    """scene(admin=, agent=, customer=, subject=, description=) -> Scene: a customer's ticket
    assigned to an agent by an admin, all committed. Each user is a User already made or a
    dict of make_user fields (`agent={"first_name": "Sam"}`)."""
    return new_scene
