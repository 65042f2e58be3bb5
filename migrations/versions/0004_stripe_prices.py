"""stripe prices: the mirror of which price each catalog lookup key names

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stripe_prices',
    sa.Column('lookup_key', sa.String(length=255), nullable=False),
    sa.Column('price_id', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('lookup_key')
    )


def downgrade():
    op.drop_table('stripe_prices')
