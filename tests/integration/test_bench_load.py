"""The benchmark loader makes varied, skewed data (no timing: benchmarks live in bench/)."""

from collections import Counter

from sqlalchemy import func, select

from bench.load import bench_load
from ccr.extensions import db
from ccr.models import Message, Role, Ticket, TicketStatus, User
from ccr.services import queries


def test_bench_load_makes_realistic_varied_data(app):
    result = app.test_cli_runner().invoke(
        bench_load, args=["--tickets", "500", "--agents", "20", "--customers", "200"]
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(Ticket.id))) == 500
    roles = Counter(db.session.scalars(select(User.role)))
    assert roles[Role.AGENT] == 20 and roles[Role.CUSTOMER] == 200 and roles[Role.ADMIN] == 1

    tickets = db.session.scalars(select(Ticket)).all()
    assert len({t.status for t in tickets}) >= 4
    assert len({t.priority for t in tickets}) >= 3
    assert len({t.category_id for t in tickets}) >= 4
    assert len({t.subject for t in tickets}) > 50
    assert len({t.created_at.date() for t in tickets}) > 100
    assert all(t.last_activity_at >= t.created_at for t in tickets)

    # Skewed workloads: the busiest agent has several times the median agent's tickets.
    per_agent = sorted(Counter(t.assignee_id for t in tickets if t.assignee_id).values())
    assert per_agent[-1] >= 3 * per_agent[len(per_agent) // 2]
    per_customer = Counter(t.customer_id for t in tickets)
    assert max(per_customer.values()) >= 5 and len(per_customer) > 50

    # Conversations for a fraction of tickets, of varying lengths.
    per_ticket = Counter(db.session.scalars(select(Message.ticket_id)))
    assert 0.1 * 500 < len(per_ticket) < 0.5 * 500
    assert len(set(per_ticket.values())) >= 3

    # The dashboards' counters were rebuilt after the bulk insert.
    assert queries.admin_counts().open == sum(
        1 for t in tickets if t.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    )
    busiest = Counter(t.assignee_id for t in tickets if t.assignee_id).most_common(1)[0][0]
    mine = Counter(t.status for t in tickets if t.assignee_id == busiest)
    assert queries.agent_status_counts(db.session.get(User, busiest)) == dict(mine)
