"""signed email links already used

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # The primary key is what makes a link usable once, even with two presses at the same moment.
    op.create_table('link_uses',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('button', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )


def downgrade():
    op.drop_table('link_uses')
