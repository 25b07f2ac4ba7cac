"""flask ccr create-admin | seed-demo | worker"""

import random
import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from ccr.extensions import db
from ccr.models import Category, Priority, Role, User
from ccr.notify.dispatcher import run_dispatcher
from ccr.services import ServiceError, accounts
from ccr.services.uow import commit

ccr_cli = AppGroup("ccr", help="Customer Care Registry commands.")


@ccr_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--first-name", prompt=True)
@click.option("--last-name", prompt=True)
@click.password_option(envvar="CCR_ADMIN_PASSWORD")
def create_admin(email: str, first_name: str, last_name: str, password: str) -> None:
    """Create an administrator (the only way to make the first one)."""
    problem = accounts.password_problem(password)
    if problem:
        click.echo(f"Refused: {problem}", err=True)
        sys.exit(1)
    try:
        accounts.create_user(
            email=email,
            first_name=first_name,
            last_name=last_name,
            password=password,
            role=Role.ADMIN,
        )
        commit()
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
def seed_demo() -> None:
    """Demo data: 1 admin, 3 agents, 5 customers, 40 tickets in every state. Idempotent."""
    from ccr.services import tickets as svc
    from ccr.services.messages import post_message

    if accounts.find_user_by_email(DEMO_PEOPLE[0][1]) is None:
        current_app.config["CCR_FAST_PASSWORD_HASH"] = False
        people: dict[str, User] = {}
        for role, email, first, last in DEMO_PEOPLE:
            people[email] = accounts.create_user(
                email=email, first_name=first, last_name=last, password=DEMO_PASSWORD, role=role
            )
        categories = [Category(name=n) for n in DEMO_CATEGORIES]
        db.session.add_all(categories)
        commit()
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
            ticket = svc.open_ticket(
                actor=customer,
                subject=rng.choice(DEMO_SUBJECTS),
                description="Hello,\n\n" + rng.choice(DEMO_SUBJECTS) + ".\nThank you.",
                priority=rng.choice(list(Priority)),
                category_id=rng.choice(categories).id,
            )
            commit()
            agent = agents[n % len(agents)]
            steps = paths[n % len(paths)]
            for i, step in enumerate(steps):
                if step == "assign":
                    svc.assign_ticket(ticket, agent, actor=admin)
                elif step == "close":
                    svc.change_status(ticket, "close", actor=customer)
                else:
                    svc.change_status(ticket, step, actor=agent)
                commit()
                if step == "start":
                    for j, (who, line) in enumerate(DEMO_LINES[: rng.randint(2, len(DEMO_LINES))]):
                        author = customer if who == "customer" else agent
                        post_message(ticket, author, line, f"seed-{n}-{i}-{j}")
            if steps and steps[-1] == "close" and n % 2 == 0:
                svc.rate_ticket(ticket, rng.randint(3, 5), "Quick and friendly.", actor=customer)
                commit()
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
        run_dispatcher(current_app._get_current_object(), threading.Event())
    except KeyboardInterrupt:
        pass


__all__ = ["ccr_cli"]
