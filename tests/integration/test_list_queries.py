"""The dashboard list queries read through indexes (SQLite's query plan), and unfiltered
admin sorts never sort the whole table in a temporary B-tree."""

import pytest
from sqlalchemy import text

from ccr.extensions import db
from ccr.models import Role
from ccr.services import queries

CASES = [
    ("customer", "customer", {}),
    ("customer", "customer", {"tab": "waiting"}),
    ("agent", "agent", {}),
    ("agent", "agent", {"status": "in_progress", "sort": "priority"}),
    ("admin", None, {}),
    ("admin", None, {"status": "open"}),
    ("admin", None, {"priority": "urgent"}),
    ("admin", None, {"category": "3"}),
    ("admin", None, {"agent": "2"}),
    ("admin", None, {"unassigned": "1"}),
    ("admin", None, {"sort": "priority"}),
    ("admin", None, {"sort": "age"}),
    ("admin", None, {"sort": "newest"}),
]


def _plan(query) -> list[str]:
    sql = query.limit(26).compile(db.engine, compile_kwargs={"literal_binds": True})
    return [row[3] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]


@pytest.mark.parametrize("kind,role,params", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_list_query_uses_an_index(app, make_user, backend, kind, role, params):
    if backend != "sqlite":
        pytest.skip("the plan check reads SQLite's EXPLAIN QUERY PLAN")
    user = make_user(Role(role) if role else Role.ADMIN)
    args = queries.parse_args(params)
    query = {
        "customer": lambda: queries.customer_tickets(user, args),
        "agent": lambda: queries.agent_queue(user, args),
        "admin": lambda: queries.admin_tickets(args),
    }[kind]()
    plan = _plan(query)
    ticket_steps = [p for p in plan if " tickets" in p]
    assert ticket_steps, plan
    rowid_walk = ticket_steps == ["SCAN tickets"] and not any("TEMP B-TREE" in p for p in plan)
    for step in ticket_steps:
        # an index, or a walk in primary-key order that the LIMIT stops early
        assert "USING INDEX" in step or "USING COVERING INDEX" in step or rowid_walk, plan
    if kind == "admin" and len(params) <= 1 and set(params) <= {"sort"}:
        assert not any("TEMP B-TREE" in p for p in plan), plan


@pytest.mark.parametrize("kind", ["agent", "admin"])
def test_a_pages_ids_come_from_the_index_alone_in_list_order(app, make_user, backend, kind):
    """views.paginate_tickets reads a page's ids first: for the default sorts that is a walk
    of one index in order (no table rows, no sort), so a deep page stays cheap."""
    if backend != "sqlite":
        pytest.skip("the plan check reads SQLite's EXPLAIN QUERY PLAN")
    from ccr.models import Ticket

    user = make_user(Role.AGENT if kind == "agent" else Role.ADMIN)
    args = queries.parse_args({})
    query = queries.agent_queue(user, args) if kind == "agent" else queries.admin_tickets(args)
    plan = _plan(query.with_only_columns(Ticket.id).offset(5000))
    index = "ix_tickets_assignee_activity" if kind == "agent" else "ix_tickets_activity"
    assert any(f"USING COVERING INDEX {index}" in p for p in plan), plan
    assert not any("TEMP B-TREE" in p for p in plan), plan
