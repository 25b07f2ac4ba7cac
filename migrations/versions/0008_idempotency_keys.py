"""idempotency keys: a repeated form submission returns what the first one created

Double-clicking "Raise ticket", or a browser retrying the POST, created two identical
tickets (two emails, two notices to the admins). Forms that create something now carry a
random key made when the form is rendered; this table records what each (user, key) made,
so a repeat finds the first result (ccr/services/idempotency.py).

Revision ID: 0008_idempotency_keys
Revises: 0006_list_indexes_with_id
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_idempotency_keys"
down_revision = "0007_message_seq"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
    op.drop_table("idempotency_keys")
