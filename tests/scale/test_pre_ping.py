"""After PostgreSQL drops the site's connections (a restart, a failover), the next
requests are answered as usual: each pooled connection is checked at checkout
(`pool_pre_ping`) and replaced if dead, instead of failing the request it was handed to."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from billing.models import db
from tests.helpers import Auth, core_app, database_url

CLIENTS = 4


def app_backends(admin, name):
    with admin.connect() as connection:
        return connection.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"), {"name": name}
        ).scalar_one()


def terminate_app_backends(admin, name):
    """What a PostgreSQL restart does to the site's pooled connections (only this test's app's,
    by its application_name, so nothing else using the server is touched)."""
    with admin.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = :name"
            ),
            {"name": name},
        ).scalar_one()


def at_once(clients, path="/account"):
    """One GET per client, all at the same moment (so the pool holds several connections)."""
    statuses = [0] * len(clients)
    barrier = threading.Barrier(len(clients))

    def get(n):
        barrier.wait()
        statuses[n] = clients[n].get(path).status_code

    threads = [threading.Thread(target=get, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def test_requests_after_the_database_dropped_every_connection_are_answered(tmp_path, postgres_url):
    name = "preping_" + uuid.uuid4().hex[:12]
    app = core_app(tmp_path, DATABASE_URL=f"{database_url(tmp_path)}&application_name={name}")
    clients = [app.test_client() for _ in range(CLIENTS)]
    Auth(clients[0], app).signup()
    for client in clients[1:]:
        assert Auth(client, app).signin().status_code == 303
    for _ in range(3):
        assert at_once(clients) == [200] * CLIENTS
    admin = sa.create_engine(postgres_url)
    try:
        assert app_backends(admin, name) >= 2  # the pool holds several connections
        assert terminate_app_backends(admin, name) >= 2
        # One at a time, then all at once: each request gets a live connection.
        assert [client.get("/account").status_code for client in clients] == [200] * CLIENTS
        assert terminate_app_backends(admin, name) >= 1
        assert at_once(clients) == [200] * CLIENTS
        assert [client.get("/account").status_code for client in clients] == [200] * CLIENTS
    finally:
        admin.dispose()
        with app.app_context():
            db.engine.dispose()
