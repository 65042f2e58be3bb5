"""scheduled change: a plan change the portal keeps for the period's end (a subscription schedule)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows keep NULL: no change known to be scheduled until the next refresh says so.
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('scheduled_price_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('scheduled_lookup_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('scheduled_quantity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('scheduled_at')
        batch_op.drop_column('scheduled_quantity')
        batch_op.drop_column('scheduled_lookup_key')
        batch_op.drop_column('scheduled_price_id')
        batch_op.drop_column('schedule_id')
