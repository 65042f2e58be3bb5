"""portal configuration: the features of the one in use, which the pages word their buttons by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # One row (id 1). None until setup, a start with Stripe answering, or a webhook writes it:
    # until then the pages know the features are unknown.
    op.create_table('portal_configurations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('configuration_id', sa.String(length=255), nullable=False),
    sa.Column('found_by', sa.String(length=255), nullable=False),
    sa.Column('subscription_update', sa.Boolean(), nullable=False),
    sa.Column('subscription_cancel', sa.Boolean(), nullable=False),
    sa.Column('cancel_mode', sa.String(length=32), nullable=False),
    sa.Column('proration_behavior', sa.String(length=32), nullable=False),
    sa.Column('subscription_pause', sa.Boolean(), nullable=False),
    sa.Column('payment_method_update', sa.Boolean(), nullable=False),
    sa.Column('customer_update', sa.Boolean(), nullable=False),
    sa.Column('update_products', sa.JSON(), nullable=False),
    sa.Column('adjustable_quantity', sa.JSON(), nullable=False),
    sa.Column('schedule_conditions', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('portal_configurations')
