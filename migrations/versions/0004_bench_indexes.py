"""bench indexes: the agent queue sorted by activity without a temporary sort

The agent queue (/agent/) filters on assignee_id and sorts by last_activity_at; the only
assignee index put status in between, so SQLite sorted every one of the agent's tickets
in a temporary B-tree on each page view (EXPLAIN QUERY PLAN: USE TEMP B-TREE FOR ORDER BY),
which grew with the agent's workload (bench: dashboard_p95_ms, list_growth_ratio).

Revision ID: 0004_bench_indexes
Revises: 0003_tickets
"""

from alembic import op

revision = "0004_bench_indexes"
down_revision = "0003_tickets"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_assignee_activity", ["assignee_id", "last_activity_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_assignee_activity")
