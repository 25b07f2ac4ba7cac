"""Users and logins: make_user, login_as and the login() helper, all with one PASSWORD."""

import uuid

import pytest

from ccr.models import Role, User
from ccr.services.uow import commit
from ccr.services.users import create_user

PASSWORD = "correct horse battery"


def new_user(
    role: Role = Role.CUSTOMER, email: str | None = None, password: str = PASSWORD, **fields
) -> User:
    """A committed user in the current app context (what the make_user fixture returns)."""
    user = create_user(
        email=email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com",
        first_name=fields.pop("first_name", role.value.capitalize()),
        last_name=fields.pop("last_name", "Tester"),
        password=password,
        role=role,
    )
    for key, value in fields.items():
        setattr(user, key, value)
    commit()
    return user


@pytest.fixture
def make_user(app):
    """make_user(role=Role.CUSTOMER, email=None, password=PASSWORD, **fields) -> User"""
    return new_user


def login(client, user: User, password: str = PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"login of {user.email} failed: {response.status_code}"
    return response


@pytest.fixture
def login_as(client, make_user):
    """login_as(Role.AGENT) -> a new user of that role, logged in on `client`."""

    def do(role: Role = Role.CUSTOMER, **fields) -> User:
        user = make_user(role, **fields)
        login(client, user)
        return user

    return do
