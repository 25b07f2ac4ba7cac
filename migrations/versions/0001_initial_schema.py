"""initial schema: users, tickets, events, messages, read markers, outbox, one-time codes, categories

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-22 04:15:04.499746

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('retired', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('name', name=op.f('uq_categories_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=100), nullable=True),
    sa.Column('role', sa.Enum('customer', 'agent', 'admin', name='user_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('email_verified_at', sa.DateTime(), nullable=True),
    sa.Column('session_version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('notify_chat_email', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_role'), ['role'], unique=False)

    op.create_table('one_time_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('password_reset', 'email_verify', 'agent_invite', name='code_purpose', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_one_time_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes'))
    )
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_one_time_codes_code_hash'), ['code_hash'], unique=False)
        batch_op.create_index('ix_one_time_codes_user_purpose', ['user_id', 'purpose'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Enum('low', 'normal', 'high', 'urgent', name='ticket_priority', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('priority_rank', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('status', sa.Enum('open', 'assigned', 'in_progress', 'waiting_on_customer', 'resolved', 'closed', name='ticket_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(), nullable=False),
    sa.Column('first_response_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)', name=op.f('ck_tickets_rating_range')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_tickets_assignee_id_users')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_tickets_category_id_categories')),
    sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_tickets_customer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_activity', ['last_activity_at'], unique=False)
        batch_op.create_index('ix_tickets_assignee_status_activity', ['assignee_id', 'status', 'last_activity_at'], unique=False)
        batch_op.create_index('ix_tickets_category_activity', ['category_id', 'last_activity_at'], unique=False)
        batch_op.create_index('ix_tickets_customer_activity', ['customer_id', 'last_activity_at'], unique=False)
        batch_op.create_index('ix_tickets_priority_activity', ['priority', 'last_activity_at'], unique=False)
        batch_op.create_index('ix_tickets_resolved_at', ['resolved_at'], unique=False)
        batch_op.create_index('ix_tickets_status_activity', ['status', 'last_activity_at'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('is_internal', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_messages_author_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_messages_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('ticket_id', 'author_id', 'client_id', name=op.f('uq_messages_ticket_id_author_id_client_id'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_ticket_id_id', ['ticket_id', 'id'], unique=False)

    op.create_table('outbox_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=250), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('sensitive', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'sent', 'dead', name='outbox_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_outbox_emails_ticket_id_tickets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_emails'))
    )
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_emails_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_outbox_emails_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('read_markers',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('last_read_message_id', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('last_chat_email_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_read_markers_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_read_markers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'ticket_id', name=op.f('pk_read_markers'))
    )
    with op.batch_alter_table('read_markers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_read_markers_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('verb', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.String(length=200), nullable=True),
    sa.Column('new_value', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ticket_events_actor_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_ticket_events_ticket_id_id', ['ticket_id', 'id'], unique=False)




def downgrade():
    
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_events_ticket_id_id')
        batch_op.drop_index(batch_op.f('ix_ticket_events_created_at'))

    op.drop_table('ticket_events')
    with op.batch_alter_table('read_markers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_read_markers_ticket_id'))

    op.drop_table('read_markers')
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_emails_status_next')
        batch_op.drop_index(batch_op.f('ix_outbox_emails_created_at'))

    op.drop_table('outbox_emails')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_ticket_id_id')

    op.drop_table('messages')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_status_activity')
        batch_op.drop_index('ix_tickets_resolved_at')
        batch_op.drop_index('ix_tickets_priority_activity')
        batch_op.drop_index('ix_tickets_customer_activity')
        batch_op.drop_index('ix_tickets_category_activity')
        batch_op.drop_index('ix_tickets_assignee_status_activity')
        batch_op.drop_index('ix_tickets_activity')

    op.drop_table('tickets')
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_codes_user_purpose')
        batch_op.drop_index(batch_op.f('ix_one_time_codes_code_hash'))

    op.drop_table('one_time_codes')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_role'))

    op.drop_table('users')
    op.drop_table('categories')

