"""Access control built from app.url_map, so a new route cannot slip through (SECURITY 1-3).

Every route with a ticket id × every role × owner/other: the owner (the ticket's customer, its
assigned agent, any admin) gets 200/302 on their own blueprint's routes and the shared chat
routes; everyone else gets 404, never 403 (existence is not leaked).
"""

import pytest
from sqlalchemy import select

from ccr import create_app
from ccr.extensions import db
from ccr.models import Role, Ticket, TicketEvent
from tests.support.database import config_for
from tests.support.routes import PUBLIC_ENDPOINTS
from tests.support.users import login

PUBLIC = PUBLIC_ENDPOINTS
SHARED_BLUEPRINTS = {"chat"}  # every role, authorised per ticket


def _rules():
    app = create_app(config_for("sqlite://"))
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, rule.rule, method, tuple(sorted(rule.arguments))))
    return out


RULES = _rules()
TICKET_RULES = [r for r in RULES if "ticket_id" in r[3]]
PRIVATE_RULES = [r for r in RULES if r[0] not in PUBLIC]
ADMIN_RULES = [r for r in RULES if r[1].startswith("/admin")]


def _url(rule: str, **values) -> str:
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), 1)), rule)


def _call(client, method, url):
    return client.open(url, method=method, data={})


def test_the_matrix_is_not_empty():
    endpoints = {r[0] for r in TICKET_RULES}
    assert {"customer.ticket", "agent.ticket", "admin.ticket", "admin.assign"} <= endpoints
    assert {"chat.post", "customer.ticket_status", "agent.ticket_status"} <= endpoints


@pytest.fixture
def world(scene):
    mine = scene(subject="Mine", description="d")
    # the others have tickets of their own, so "other" is not just "has nothing"
    theirs = scene(admin=mine.admin, subject="Theirs", description="d")
    people = {
        "customer": mine.customer,
        "other_customer": theirs.customer,
        "agent": mine.agent,
        "other_agent": theirs.agent,
        "admin": mine.admin,
    }
    return people, mine.ticket


CASES = [
    ("customer", Role.CUSTOMER, True),
    ("other_customer", Role.CUSTOMER, False),
    ("agent", Role.AGENT, True),
    ("other_agent", Role.AGENT, False),
    ("admin", Role.ADMIN, True),
]


def _snapshot(ticket_id):
    db.session.expire_all()
    t = db.session.get(Ticket, ticket_id)
    events = db.session.scalar(
        select(db.func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == t.id)
    )
    return (t.status, t.assignee_id, t.rating, events)


FORM_PAGES = {"agent.transfer"}


@pytest.mark.parametrize(
    "endpoint,rule,method",
    [r[:3] for r in TICKET_RULES],
    ids=[f"{r[2]} {r[0]}" for r in TICKET_RULES],
)
def test_ticket_routes_by_role_and_ownership(app, make_user, world, endpoint, rule, method):
    people, ticket = world
    blueprint = endpoint.split(".")[0]
    url = _url(rule, ticket_id=ticket.id)
    before = _snapshot(ticket.id)
    for who, role, owner in CASES:
        client = app.test_client()
        login(client, people[who])
        response = _call(client, method, url)
        allowed = owner and (blueprint in SHARED_BLUEPRINTS or blueprint == role.value)
        if allowed:
            # A refused form that shows its page again (what was written kept) is a 400.
            ok = (200, 302, 400) if endpoint in FORM_PAGES else (200, 302)
            assert response.status_code in ok, (who, response.status_code)
            if response.status_code == 302:
                assert "/login" not in response.headers["Location"]
        else:
            assert response.status_code == 404, (who, response.status_code)
        # a missing ticket is the same 404 for everyone
        assert _call(client, method, _url(rule, ticket_id=ticket.id + 1000)).status_code == 404
    # empty posts changed nothing
    assert _snapshot(ticket.id) == before


@pytest.mark.parametrize(
    "endpoint,rule,method",
    [r[:3] for r in PRIVATE_RULES],
    ids=[f"{r[2]} {r[0]}" for r in PRIVATE_RULES],
)
def test_every_non_public_route_requires_login(client, endpoint, rule, method):
    response = _call(client, method, _url(rule))
    assert response.status_code == 302, endpoint
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "endpoint,rule,method",
    [r[:3] for r in ADMIN_RULES],
    ids=[f"{r[2]} {r[0]}" for r in ADMIN_RULES],
)
def test_every_admin_route_refuses_non_admins(app, make_user, world, endpoint, rule, method):
    people, ticket = world
    for who in ("customer", "agent"):
        client = app.test_client()
        login(client, people[who])
        response = _call(client, method, _url(rule, ticket_id=ticket.id))
        assert response.status_code == 404, (who, endpoint)


def test_reassignment_takes_effect_at_once_for_the_old_agent(app, world):
    people, ticket = world
    old = app.test_client()
    login(old, people["agent"])
    assert old.get(f"/agent/tickets/{ticket.id}").status_code == 200
    admin = app.test_client()
    login(admin, people["admin"])
    response = admin.post(
        f"/admin/tickets/{ticket.id}/assign", data={"agent_id": str(people["other_agent"].id)}
    )
    assert response.status_code == 302
    assert old.get(f"/agent/tickets/{ticket.id}").status_code == 404
    assert old.get(f"/chat/tickets/{ticket.id}/messages").status_code == 404
    assert old.post(f"/agent/tickets/{ticket.id}/status", data={"verb": "start"}).status_code == 404
    new = app.test_client()
    login(new, people["other_agent"])
    assert new.get(f"/agent/tickets/{ticket.id}").status_code == 200


def test_the_public_allowlist_is_only_what_it_claims(client):
    endpoints = {r[0] for r in RULES}
    assert endpoints >= PUBLIC
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
