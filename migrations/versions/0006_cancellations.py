"""cancellations: Stripe's cancellation_details on the mirror, and the history of cancellations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_reason', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cancellation_feedback', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cancellation_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('discount_started_at', sa.DateTime(), nullable=True))
    # Rows start empty: cancellations before this version are not known (resync fills in
    # the ones whose subscription is still each customer's current one).
    op.create_table('cancellations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('offer_accepted', sa.Boolean(), nullable=False),
    sa.Column('at_period_end', sa.Boolean(), nullable=False),
    sa.Column('effective_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('feedback', sa.String(length=64), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stripe_subscription_id', 'requested_at', 'offer_accepted')
    )


def downgrade():
    op.drop_table('cancellations')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('discount_started_at')
        batch_op.drop_column('cancellation_comment')
        batch_op.drop_column('cancellation_feedback')
        batch_op.drop_column('cancellation_reason')
