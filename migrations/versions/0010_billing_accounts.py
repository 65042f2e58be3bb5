"""billing accounts: the billing records move off the sign-in's users; session tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00.000000

Each user gets a billing account with the same id (so email links already sent, which
name it, keep working) and owner_id = str(users.id); the customer columns move there,
and every billing table points at it. Users get a random session token (every session
made before names a row id, which no token matches: everyone signs in once again), and
on SQLite AUTOINCREMENT, so no id is given twice.
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The tables that pointed at users.id: (table, one row per account, ON DELETE).
OWNED = (('subscriptions', True, None), ('billing_profiles', True, None), ('cancellations', False, 'SET NULL'))


def _sqlite():
    return op.get_bind().dialect.name == 'sqlite'


def upgrade():
    bind = op.get_bind()
    op.create_table('billing_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_origin', sa.String(length=32), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_id'),
    sa.UniqueConstraint('stripe_customer_id'),
    sqlite_autoincrement=True
    )
    op.create_index('ix_billing_accounts_email', 'billing_accounts', ['email'])
    bind.execute(sa.text(
        'INSERT INTO billing_accounts (id, owner_id, email, stripe_customer_id, stripe_origin, locale, created_at) '
        'SELECT id, CAST(id AS VARCHAR(255)), email, stripe_customer_id, stripe_origin, locale, created_at FROM users'
    ))
    if bind.dialect.name == 'postgresql':
        # The ids were given explicitly: the next one made must come after them.
        bind.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('billing_accounts', 'id'), "
            "COALESCE((SELECT MAX(id) FROM billing_accounts), 0) + 1, false)"
        ))
    # Rows left by users deleted while SQLite did not enforce the foreign keys: no one could
    # reach them, and a new account given that id must not inherit them.
    for table, _, _ in OWNED[:2]:
        bind.execute(sa.text(f'DELETE FROM {table} WHERE user_id NOT IN (SELECT id FROM users)'))
    bind.execute(sa.text('UPDATE cancellations SET user_id = NULL WHERE user_id NOT IN (SELECT id FROM users)'))

    for table, one_each, ondelete in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f'fk_{table}_account_id', 'billing_accounts', ['account_id'], ['id'], ondelete=ondelete
            )
        bind.execute(sa.text(f'UPDATE {table} SET account_id = user_id'))
        # Dropping the column drops its foreign key and unique constraint with it (both databases).
        with op.batch_alter_table(table) as batch:
            batch.drop_column('user_id')
            if one_each:
                batch.alter_column('account_id', existing_type=sa.Integer(), nullable=False)
                batch.create_unique_constraint(f'uq_{table}_account_id', ['account_id'])
    with op.batch_alter_table('link_uses') as batch:
        batch.alter_column('user_id', new_column_name='account_id', existing_type=sa.Integer(), existing_nullable=False)

    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    for (user_id,) in bind.execute(sa.text('SELECT id FROM users')).all():
        bind.execute(
            sa.text('UPDATE users SET session_token = :token WHERE id = :id'),
            {'token': secrets.token_urlsafe(32), 'id': user_id},
        )
    # On SQLite, AUTOINCREMENT needs the table made again (PostgreSQL's sequences never reuse an id).
    with op.batch_alter_table(
        'users', recreate='always' if _sqlite() else 'auto', table_kwargs={'sqlite_autoincrement': True}
    ) as batch:
        batch.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint('uq_users_session_token', ['session_token'])
        batch.drop_column('stripe_customer_id')
        batch.drop_column('stripe_origin')
        batch.drop_column('locale')


def downgrade():
    # Back to the customer columns on users, for the accounts whose owner is a user of the
    # site's own sign-in (owner_id = str(users.id)); other accounts' records go.
    bind = op.get_bind()
    with op.batch_alter_table('users', recreate='always' if _sqlite() else 'auto') as batch:
        batch.drop_constraint('uq_users_session_token', type_='unique')
        batch.drop_column('session_token')
        batch.add_column(sa.Column('stripe_customer_id', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('stripe_origin', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('locale', sa.String(length=16), nullable=True))
        batch.create_unique_constraint('uq_users_stripe_customer_id', ['stripe_customer_id'])
    for column in ('stripe_customer_id', 'stripe_origin', 'locale'):
        bind.execute(sa.text(
            f'UPDATE users SET {column} = (SELECT a.{column} FROM billing_accounts a '
            'WHERE a.owner_id = CAST(users.id AS VARCHAR(255)))'
        ))
    with op.batch_alter_table('link_uses') as batch:
        batch.alter_column('account_id', new_column_name='user_id', existing_type=sa.Integer(), existing_nullable=False)
    for table, one_each, ondelete in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(f'fk_{table}_user_id', 'users', ['user_id'], ['id'], ondelete=ondelete)
        bind.execute(sa.text(
            f'UPDATE {table} SET user_id = (SELECT u.id FROM users u JOIN billing_accounts a '
            f'ON a.owner_id = CAST(u.id AS VARCHAR(255)) WHERE a.id = {table}.account_id)'
        ))
        if one_each:
            bind.execute(sa.text(f'DELETE FROM {table} WHERE user_id IS NULL'))
        with op.batch_alter_table(table) as batch:
            batch.drop_column('account_id')
            if one_each:
                batch.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
                batch.create_unique_constraint(f'uq_{table}_user_id', ['user_id'])
    op.drop_index('ix_billing_accounts_email', table_name='billing_accounts')
    op.drop_table('billing_accounts')
