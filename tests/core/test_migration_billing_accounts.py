"""Migration 0010: a database from before billing accounts (revision 0008), with rows,
upgraded: every record still reachable from its user, and the users can sign in."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.security import generate_password_hash

from app import create_app
from billing.accounts import User, find_user
from billing.models import BillingAccount, Cancellation, LinkUse, db
from tests.helpers import SECRET_KEY, STANDIN_PATH, TEST_CATALOG, TEST_KEY, Auth, database_url, prepared_standin

NOW = datetime(2026, 11, 30, 12, 0)
BEFORE_ACCOUNTS = "0008"

ROWS = {
    "users": [
        dict(id=1, email="ada@example.com", stripe_customer_id="cus_ada", stripe_origin="test", locale="de"),
        dict(id=2, email="bob@example.com", stripe_customer_id="cus_bob", stripe_origin=None, locale=None),
        dict(id=4, email="cy@example.com", stripe_customer_id=None, stripe_origin=None, locale=None),
    ],
    "subscriptions": [
        dict(id=10, user_id=1, stripe_subscription_id="sub_ada", lookup_key="pro_monthly"),
        dict(id=11, user_id=2, stripe_subscription_id="sub_bob", lookup_key="starter_monthly"),
    ],
    "billing_profiles": [
        dict(
            id=20,
            user_id=1,
            name="Ada Lovelace",
            card_brand="visa",
            card_last4="4242",
            card_exp_month=12,
            card_exp_year=2030,
        )
    ],
    "cancellations": [
        dict(id=30, user_id=2, stripe_customer_id="cus_bob", stripe_subscription_id="sub_bob_old", reason="x"),
        dict(id=31, user_id=None, stripe_customer_id="cus_old", stripe_subscription_id="sub_old", reason="y"),
    ],
    "link_uses": [dict(jti="jti-bob", user_id=2, button="payment_method")],
}
# Left by a user deleted while SQLite did not enforce the foreign keys (PostgreSQL refuses them).
ORPHANS = {
    "subscriptions": [dict(id=12, user_id=9, stripe_subscription_id="sub_gone", lookup_key="starter_monthly")],
    "cancellations": [
        dict(id=32, user_id=9, stripe_customer_id="cus_gone", stripe_subscription_id="sub_gone", reason="z")
    ],
}
DEFAULTS = {
    "users": dict(password_hash=generate_password_hash("correct horse"), created_at=NOW),
    "subscriptions": dict(
        status="active",
        item_id="si_1",
        item_count=1,
        price_id="price_1",
        quantity=1,
        cancel_at_period_end=False,
        billing_mode="flexible",
        updated_at=NOW,
    ),
    "billing_profiles": dict(updated_at=NOW),
    "cancellations": dict(requested_at=NOW, offer_accepted=False, at_period_end=True, recorded_at=NOW),
    "link_uses": dict(used_at=NOW),
}


def old_database(tmp_path):
    standin = prepared_standin(catalog=TEST_CATALOG)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            "STRIPE_SECRET_KEY": TEST_KEY,
            "DATABASE_URL": database_url(tmp_path, "before"),
            "STRIPE_HTTP_CLIENT": standin.http_client(),
            "SHOW_API_CALLS": "off",
            "DEMO_PERSONAS": "off",
            "CATALOG_PATH": TEST_CATALOG,
        }
    )
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {STANDIN_PATH: standin.wsgi_app})
    with app.app_context():
        upgrade(revision=BEFORE_ACCOUNTS)
        sqlite = db.engine.dialect.name == "sqlite"
        with db.engine.begin() as connection:
            for table, rows in ROWS.items():
                for row in rows + (ORPHANS.get(table, []) if sqlite else []):
                    values = DEFAULTS[table] | row
                    columns = ", ".join(values)
                    connection.execute(
                        sa.text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in values)})"),
                        values,
                    )
    return app


def test_upgrade_moves_every_record_to_its_users_billing_account(tmp_path):
    app = old_database(tmp_path)
    with app.app_context():
        upgrade()
        accounts = {a.owner_id: a for a in db.session.scalars(sa.select(BillingAccount))}
        assert sorted(accounts) == ["1", "2", "4"]
        ada, bob, cy = accounts["1"], accounts["2"], accounts["4"]
        # The same ids as the users', so email links already sent (which name it) still work.
        assert (ada.id, bob.id, cy.id) == (1, 2, 4)
        assert (ada.email, ada.stripe_customer_id, ada.stripe_origin, ada.locale) == (
            "ada@example.com",
            "cus_ada",
            "test",
            "de",
        )
        assert (bob.stripe_customer_id, bob.stripe_origin, cy.stripe_customer_id) == ("cus_bob", None, None)
        assert ada.created_at == NOW
        assert ada.subscription.stripe_subscription_id == "sub_ada" and ada.profile.card_last4 == "4242"
        assert bob.subscription.lookup_key == "starter_monthly" and bob.profile is None
        assert cy.subscription is None
        cancellations = {c.id: c.account_id for c in db.session.scalars(sa.select(Cancellation))}
        orphans = {32: None} if db.engine.dialect.name == "sqlite" else {}
        assert cancellations == {30: bob.id, 31: None} | orphans  # the orphan's history stays, anonymous
        assert db.session.scalar(sa.select(LinkUse.account_id)) == bob.id
        subscriptions = db.session.execute(sa.text("SELECT stripe_subscription_id FROM subscriptions")).scalars()
        assert sorted(subscriptions) == ["sub_ada", "sub_bob"]  # the one no one could reach is gone
        users = db.session.scalars(sa.select(User).order_by(User.id)).all()
        tokens = [u.session_token for u in users]
        assert [u.id for u in users] == [1, 2, 4] and len(set(tokens)) == 3 and all(len(t) >= 40 for t in tokens)
        assert not {"stripe_customer_id", "stripe_origin", "locale"} & {
            c["name"] for c in sa.inspect(db.engine).get_columns("users")
        }
        assert find_user("ada@example.com").check_password("correct horse")
    # Each user signs in and sees their own account, as before.
    for email, plan in (("ada@example.com", "Pro"), ("bob@example.com", "Starter")):
        auth = Auth(app.test_client(), app)
        assert auth.signin(email).status_code == 303
        page = auth.client.get("/account").get_data(as_text=True)
        assert f"Signed in as {email}" in page and plan in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BillingAccount)) == 3  # none made twice


def test_downgrade_puts_the_customer_columns_back_on_users(tmp_path):
    app = old_database(tmp_path)
    with app.app_context():
        upgrade()
        downgrade(revision=BEFORE_ACCOUNTS)
        rows = db.session.execute(sa.text("SELECT id, stripe_customer_id, locale FROM users ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "cus_ada", "de"), (2, "cus_bob", None), (4, None, None)]
        subscriptions = db.session.execute(sa.text("SELECT user_id, stripe_subscription_id FROM subscriptions"))
        assert sorted(tuple(r) for r in subscriptions) == [(1, "sub_ada"), (2, "sub_bob")]
        assert db.session.execute(sa.text("SELECT user_id FROM link_uses")).scalar() == 2
        assert not sa.inspect(db.engine).has_table("billing_accounts")
