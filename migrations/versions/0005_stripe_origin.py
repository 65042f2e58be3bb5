"""where each user's Stripe customer was made

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 19:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows keep NULL: where their customers were made is not known, so they are kept.
    op.add_column('users', sa.Column('stripe_origin', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('stripe_origin')
