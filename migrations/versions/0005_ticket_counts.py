"""ticket counts: per (agent, status) counters for the dashboards

The admin list and the agent queue counted their tickets by status on every page view; at a
million tickets those counts were most of the page's time (bench: dashboard_p95_ms). The
counters move with every ticket change (ccr/services/counts.py); this revision fills them
from the tickets already there.

Revision ID: 0005_ticket_counts
Revises: 0004_bench_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_ticket_counts"
down_revision = "0004_bench_indexes"
branch_labels = None
depends_on = None

STATUSES = ("open", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed")


def upgrade():
    op.create_table(
        "ticket_counts",
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="ticket_count_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("assignee_id", "status", name=op.f("pk_ticket_counts")),
    )
    op.execute(
        "INSERT INTO ticket_counts (assignee_id, status, tickets) "
        "SELECT COALESCE(assignee_id, 0), status, COUNT(*) FROM tickets "
        "GROUP BY COALESCE(assignee_id, 0), status"
    )


def downgrade():
    op.drop_table("ticket_counts")
