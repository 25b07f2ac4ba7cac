"""message sequence numbers: a gap-free place for every message in its ticket's stream

Catch-up asked for "every message after the newest id I hold". Ids are not committed in id
order when two writers race, and the newest id a page holds is often its own acknowledged
message, above the other side's messages whose pushes were lost: those were never fetched.
Each message now has a number in its ticket's stream (the public conversation, or the
internal notes: two streams, so a customer's numbers never reveal a note), allocated under
the ticket's row lock from the counters on tickets; a client that holds a gap asks for it.

Existing messages are numbered in id order, and the counters set to the numbers handed out.

Revision ID: 0007_message_seq
Revises: 0006_list_indexes_with_id
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_message_seq"
down_revision = "0006_list_indexes_with_id"
branch_labels = None
depends_on = None

_messages = sa.table(
    "messages",
    sa.column("id", sa.Integer),
    sa.column("ticket_id", sa.Integer),
    sa.column("is_internal", sa.Boolean),
    sa.column("seq", sa.Integer),
)
_tickets = sa.table(
    "tickets",
    sa.column("id", sa.Integer),
    sa.column("public_seq", sa.Integer),
    sa.column("note_seq", sa.Integer),
)


def _number_messages():
    m = _messages
    if op.get_context().dialect.name in ("sqlite", "postgresql"):
        # One pass: UPDATE ... FROM a row_number() over each stream (SQLite >= 3.33).
        numbered = sa.select(
            m.c.id,
            sa.func.row_number()
            .over(partition_by=(m.c.ticket_id, m.c.is_internal), order_by=m.c.id)
            .label("n"),
        ).subquery("numbered")
        return sa.update(m).values(seq=numbered.c.n).where(m.c.id == numbered.c.id)
    earlier = sa.alias(m, "earlier")  # elsewhere: count the stream's messages up to this one
    return sa.update(m).values(
        seq=sa.select(sa.func.count())
        .where(
            earlier.c.ticket_id == m.c.ticket_id,
            earlier.c.is_internal == m.c.is_internal,
            earlier.c.id <= m.c.id,
        )
        .scalar_subquery()
    )


def _count(internal: bool):
    m, t = _messages, _tickets
    return (
        sa.select(sa.func.coalesce(sa.func.max(m.c.seq), 0))
        .where(m.c.ticket_id == t.c.id, m.c.is_internal.is_(internal))
        .scalar_subquery()
    )


def upgrade():
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public_seq", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("note_seq", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    op.execute(_number_messages())
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            op.f("uq_messages_ticket_id_is_internal_seq"), ["ticket_id", "is_internal", "seq"]
        )
    op.execute(sa.update(_tickets).values(public_seq=_count(False), note_seq=_count(True)))


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_messages_ticket_id_is_internal_seq"), type_="unique")
        batch_op.drop_column("seq")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("note_seq")
        batch_op.drop_column("public_seq")
