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
