"""tickets: index for the admin list sorted by priority (most urgent first)

Revision ID: 0003_tickets
Revises: 0001_initial
Create Date: 2026-11-22 04:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003_tickets'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(
            'ix_tickets_priority_rank_activity', ['priority_rank', 'last_activity_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_priority_rank_activity')
