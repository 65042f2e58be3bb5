"""event inbox: webhooks record events (payload and subject), a background refresh applies them; read stamps; notices

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Rows from before were applied as they arrived: they keep their applied_at, and no subject.
    with op.batch_alter_table('stripe_events') as batch:
        batch.add_column(sa.Column('customer', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('subject', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('created', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('payload', sa.Text(), nullable=True))
        batch.add_column(sa.Column('received_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('claimed_by', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch.alter_column('applied_at', existing_type=sa.DateTime(), nullable=True)
        batch.create_index('ix_stripe_events_pending', ['subject', 'applied_at'])
    with op.batch_alter_table('billing_accounts') as batch:
        batch.add_column(sa.Column('read_ticket', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('written_ticket', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('profile_ticket', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('notices',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sending_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_notices_account_id', 'notices', ['account_id'])


def downgrade():
    op.drop_index('ix_notices_account_id', table_name='notices')
    op.drop_table('notices')
    with op.batch_alter_table('billing_accounts') as batch:
        batch.drop_column('profile_ticket')
        batch.drop_column('written_ticket')
        batch.drop_column('read_ticket')
    # Events not applied yet would read as applied: apply them first (run the workers dry).
    op.execute("UPDATE stripe_events SET applied_at = COALESCE(applied_at, received_at, CURRENT_TIMESTAMP)")
    with op.batch_alter_table('stripe_events') as batch:
        batch.drop_index('ix_stripe_events_pending')
        batch.alter_column('applied_at', existing_type=sa.DateTime(), nullable=False)
        for column in ('claimed_at', 'claimed_by', 'received_at', 'payload', 'created', 'subject', 'customer'):
            batch.drop_column(column)
