"""A database connection killed in the middle of a request (a PostgreSQL restart, a failover,
pg_terminate_backend) ends as the site's own 503 page with Retry-After, never a bare 500:
also when what fails is ending the request's transaction, after the view has answered."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from billing.models import db
from tests.helpers import Auth, core_app, database_url


@pytest.fixture
def site(tmp_path, postgres_url):
    app = core_app(tmp_path, DATABASE_URL=database_url(tmp_path))
    admin = sa.create_engine(postgres_url)
    yield app, Auth(app.test_client(), app), admin
    admin.dispose()
    with app.app_context():
        db.engine.dispose()


def kill_during_stripe_call(app, admin, monkeypatch, path):
    """While Stripe handles the request's next call to `path`, PostgreSQL drops the
    connection the request's session holds (what a restart does to it)."""
    http = app.config["STRIPE_HTTP_CLIENT"]
    sent = http.request

    def killed_meanwhile(method, url, *args, **kwargs):
        if path in url and db.session().in_transaction():
            pid = db.session.connection().connection.dbapi_connection.info.backend_pid
            with admin.connect() as connection:
                # With a timeout it waits until the backend is gone (without, it only signals it).
                gone = connection.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
                assert gone.scalar_one()
            monkeypatch.setattr(http, "request", sent)  # once
        return sent(method, url, *args, **kwargs)

    monkeypatch.setattr(http, "request", killed_meanwhile)


def assert_unavailable_page(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "30"
    assert "Temporarily unavailable" in response.get_data(as_text=True)


def test_killed_while_stripe_answers_a_button(site, monkeypatch):
    # The view read the account, then waits on Stripe; the connection dies meanwhile, so what
    # fails is ending the request's transaction (Flask-SQLAlchemy's teardown, before the fix).
    app, auth, admin = site
    auth.signup()
    auth.subscribe("starter_monthly")
    kill_during_stripe_call(app, admin, monkeypatch, "/v1/billing_portal/sessions")
    assert_unavailable_page(auth.post("/account/billing"))
    again = auth.post("/account/billing")  # the pool hands out a live connection next time
    assert again.status_code == 303 and "/_standin/p/session/" in again.headers["Location"]


def test_killed_before_the_view_saves(site, monkeypatch):
    # Checkout creates the customer at Stripe, then saves its id: that commit fails.
    app, auth, admin = site
    auth.signup()
    kill_during_stripe_call(app, admin, monkeypatch, "/v1/customers")
    assert_unavailable_page(auth.post("/checkout", lookup_key="pro_monthly"))
    assert auth.client.get("/account").status_code == 200
