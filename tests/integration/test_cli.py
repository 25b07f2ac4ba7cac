"""The operator commands: create-admin and seed-demo."""

from sqlalchemy import func, select

from ccr.cli import DEMO_PASSWORD, DEMO_PEOPLE
from ccr.extensions import db
from ccr.models import Message, Role, Ticket, TicketStatus, User
from ccr.services.users import authenticate


def test_create_admin_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(
        args=[
            "ccr",
            "create-admin",
            "--email",
            "boss@example.com",
            "--first-name",
            "Bo",
            "--last-name",
            "Ss",
            "--password",
            "password",
        ]
    )
    assert result.exit_code == 1 and "Refused" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_create_admin_creates_a_verified_admin_who_can_log_in(app):
    result = app.test_cli_runner().invoke(
        args=[
            "ccr",
            "create-admin",
            "--email",
            "Boss@Example.com",
            "--first-name",
            "Bo",
            "--last-name",
            "Ss",
            "--password",
            "plum orchard lantern",
        ]
    )
    assert result.exit_code == 0, result.output
    user = authenticate("boss@example.com", "plum orchard lantern")
    assert user is not None and user.role == Role.ADMIN


def test_create_admin_refuses_a_taken_email(app, make_user):
    make_user(Role.CUSTOMER, email="taken@example.com")
    result = app.test_cli_runner().invoke(
        args=[
            "ccr",
            "create-admin",
            "--email",
            "TAKEN@example.com",
            "--first-name",
            "A",
            "--last-name",
            "B",
            "--password",
            "plum orchard lantern",
        ]
    )
    assert result.exit_code == 1 and "already exists" in result.output


def test_seed_demo_is_idempotent_and_prints_the_logins(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["ccr", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    for _role, email, *_ in DEMO_PEOPLE:
        assert email in first.output
    counts = {
        role: db.session.scalar(select(func.count(User.id)).where(User.role == role))
        for role in Role
    }
    assert counts == {Role.ADMIN: 1, Role.AGENT: 3, Role.CUSTOMER: 5}
    tickets = db.session.scalar(select(func.count(Ticket.id)))
    assert 35 <= tickets <= 45
    statuses = set(db.session.scalars(select(Ticket.status).distinct()))
    assert statuses >= {
        TicketStatus.OPEN,
        TicketStatus.ASSIGNED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING_ON_CUSTOMER,
        TicketStatus.RESOLVED,
        TicketStatus.CLOSED,
    }
    assert db.session.scalar(select(func.count(Message.id))) > 20

    second = runner.invoke(args=["ccr", "seed-demo"])
    assert second.exit_code == 0 and "already present" in second.output
    assert db.session.scalar(select(func.count(Ticket.id))) == tickets
    assert authenticate("admin@example.com", DEMO_PASSWORD) is not None
