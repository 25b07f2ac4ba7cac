"""flask ccr create-admin | seed-demo | worker

Each command's work is one unit of work (services.uow): committed when the command ends
normally, rolled back when it is refused or fails. The worker is the exception: a loop of
dispatcher rounds, each committing its own batches.
"""

import functools
import random
import sys
import threading
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from ccr.extensions import db
from ccr.models import Category, Priority, Role, User
from ccr.notify.dispatcher import run_dispatcher
from ccr.services import ServiceError, uow
from ccr.services.messages import post_message
from ccr.services.passwords import password_problem
from ccr.services.tickets import assign_ticket, change_status, open_ticket, rate_ticket
from ccr.services.users import create_user, find_user_by_email

ccr_cli = AppGroup("ccr", help="Customer Care Registry commands.")


def in_one_unit(command: Callable[..., None]) -> Callable[..., None]:
    """Run the command's body as one unit of work."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        with uow.unit():
            command(*args, **kwargs)

    return run


@ccr_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--first-name", prompt=True)
@click.option("--last-name", prompt=True)
@click.password_option(envvar="CCR_ADMIN_PASSWORD")
@in_one_unit
def create_admin(email: str, first_name: str, last_name: str, password: str) -> None:
    """Create an administrator (the only way to make the first one)."""
    problem = password_problem(password, (email, first_name, last_name))
    if problem:
        click.echo(f"Refused: {problem}", err=True)
        sys.exit(1)
    try:
        create_user(
            email=email,
            first_name=first_name,
            last_name=last_name,
            password=password,
            role=Role.ADMIN,
        )
    except ServiceError as exc:
        click.echo(f"Refused: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Admin {email.strip().lower()} created.")


DEMO_PASSWORD = "care-registry-demo"
DEMO_PEOPLE = [
    (Role.ADMIN, "admin@example.com", "Ada", "Admin"),
    (Role.AGENT, "sam@example.com", "Sam", "Rivera"),
    (Role.AGENT, "priya@example.com", "Priya", "Natarajan"),
    (Role.AGENT, "tom@example.com", "Tom", "Becker"),
    (Role.CUSTOMER, "alice@example.com", "Alice", "Martin"),
    (Role.CUSTOMER, "bob@example.com", "Bob", "Okafor"),
    (Role.CUSTOMER, "chen@example.com", "Chen", "Wei"),
    (Role.CUSTOMER, "dana@example.com", "Dana", "Kowalski"),
    (Role.CUSTOMER, "eli@example.com", "Eli", "Haddad"),
]
DEMO_CATEGORIES = ["Billing", "Technical problem", "Account", "Delivery", "Other"]
DEMO_SUBJECTS = [
    "Invoice shows the wrong amount",
    "Cannot log in after changing my email",
    "Parcel marked delivered but never arrived",
    "App crashes when I upload a photo",
    "Please cancel my subscription",
    "Refund not received after two weeks",
    "Password reset email never arrives",
    "Charged twice for the same order",
    "How do I change my delivery address?",
    "Export of my data is incomplete",
]
DEMO_LINES = [
    ("customer", "Hi, I still have this problem. Can you help?"),
    ("agent", "Thanks for reaching out, I am looking into it now."),
    ("agent", "Could you send me the order number, please?"),
    ("customer", "Sure, it is 48213-B."),
    ("agent", "Thank you. I can see it; I have asked our team to fix it."),
    ("customer", "Great, thanks for the quick answer!"),
]


@ccr_cli.command("seed-demo")
@in_one_unit
def seed_demo() -> None:
    """Demo data: 1 admin, 3 agents, 5 customers, 40 tickets in every state. Idempotent."""
    if find_user_by_email(DEMO_PEOPLE[0][1]) is None:
        people: dict[str, User] = {}
        for role, email, first, last in DEMO_PEOPLE:
            people[email] = create_user(
                email=email, first_name=first, last_name=last, password=DEMO_PASSWORD, role=role
            )
        categories = [Category(name=n) for n in DEMO_CATEGORIES]
        db.session.add_all(categories)
        db.session.flush()
        rng = random.Random(42)
        admin = people[DEMO_PEOPLE[0][1]]
        agents = [u for u in people.values() if u.role == Role.AGENT]
        customers = [u for u in people.values() if u.role == Role.CUSTOMER]
        paths = [
            [],
            ["assign"],
            ["assign", "start"],
            ["assign", "start", "wait"],
            ["assign", "start", "resolve"],
            ["assign", "start", "resolve", "close"],
        ]
        for n in range(40):
            customer = customers[n % len(customers)]
            ticket = open_ticket(
                actor=customer,
                subject=rng.choice(DEMO_SUBJECTS),
                description="Hello,\n\n" + rng.choice(DEMO_SUBJECTS) + ".\nThank you.",
                priority=rng.choice(list(Priority)),
                category_id=rng.choice(categories).id,
            )
            agent = agents[n % len(agents)]
            steps = paths[n % len(paths)]
            for i, step in enumerate(steps):
                if step == "assign":
                    assign_ticket(ticket, agent, actor=admin)
                elif step == "close":
                    change_status(ticket, "close", actor=customer)
                else:
                    change_status(ticket, step, actor=agent)
                if step == "start":
                    for j, (who, line) in enumerate(DEMO_LINES[: rng.randint(2, len(DEMO_LINES))]):
                        author = customer if who == "customer" else agent
                        post_message(ticket, author, line, f"seed-{n}-{i}-{j}")
            if steps and steps[-1] == "close" and n % 2 == 0:
                rate_ticket(ticket, rng.randint(3, 5), "Quick and friendly.", actor=customer)
        click.echo("Demo data created.")
    else:
        click.echo("Demo data already present.")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for role, email, first, last in DEMO_PEOPLE:
        click.echo(f"  {role.value:<8} {email}  ({first} {last})")


@ccr_cli.command("worker")
def worker() -> None:
    """Run the outbox dispatcher as its own process (production)."""
    click.echo("Outbox dispatcher running; Ctrl-C to stop.")
    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's app
        run_dispatcher(app, threading.Event())
    except KeyboardInterrupt:
        pass


__all__ = ["ccr_cli"]
