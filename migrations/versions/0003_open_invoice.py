"""open invoice: what a past-due subscription owes, and Stripe's page to pay it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_invoice_amount', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('open_invoice_url', sa.String(length=2048), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('open_invoice_url')
        batch_op.drop_column('open_invoice_amount')
