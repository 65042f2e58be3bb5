"""The site: a pricing page and an account page whose buttons open Stripe's
customer portal on exactly one step, then bring the customer back.

This file is the map. The site itself is the `billing` package:
  signin.py   what billing asks of the sign-in; accounts.py is this site's (email, password)
  pages.py    pricing and account pages, and where Stripe sends customers back
  buttons.py  every button, declared once: route, rule, builder, Stripe call
  choosing.py, quantities.py  what the customer chose, and the quantity a plan change states
  flows.py    the pure builders of each button's Stripe params
  stripe_api.py  the one module that calls Stripe (and how its calls fail)
  webhook.py, inbox.py  Stripe's events, recorded as they come
  queue.py, worker.py  the background work they wake: one Stripe read per customer
  mirror.py   the local copy of Stripe that pages read
  portal_facts.py  the portal configuration's features, stored for every instance's pages
  links.py, link_pages.py  a button's step from a signed link in an email (email.py sends,
              smtp.py through MAIL_URL's server)
`ops/` holds the merchant's commands (`flask stripe setup`, `doctor`, `resync`, `report`,
`flask links make`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

import kit  # the demo kit, plugged in at the end of create_app
import ops
from billing import (
    accounts,
    buttons,
    errors,
    limits,
    link_pages,
    mirror,
    pages,
    portal_facts,
    presenters,
    queue,
    smtp,
    web,
    webhook,
)
from billing.catalog import CatalogError, load_catalog
from billing.models import db
from billing.schema import init_db_command, init_engine
from billing.settings import ConfigError, load_settings
from billing.stripe_api import StripeAPI

# The schema's history (Alembic): `flask --app app db upgrade` brings any database up to date.
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    test_config: Mapping[str, Any] | None = None, sign_in: Callable[[Flask], None] = accounts.init_app
) -> Flask:
    """Build the app. Settings come from the environment and `.env`; tests pass
    `test_config` instead (the same names), and the environment is not read.
    Objects in `test_config` go to app.config: STRIPE_HTTP_CLIENT hands the
    Stripe SDK another transport (the tests' in-process Stripe stand-in).
    `sign_in` plugs in who is signed in (billing/signin.py says what billing asks of it):
    this site's email-and-password accounts unless a site with its own users passes its own."""
    if test_config is None:
        load_dotenv()
    source: Mapping[str, Any] = os.environ if test_config is None else test_config
    # instance/ keeps the SQLite file and a local SECRET_KEY; INSTANCE_PATH moves it.
    instance = str(source.get("INSTANCE_PATH") or Path(__file__).parent / "instance")
    app = Flask(__name__, instance_path=instance)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)  # SQLite can't make its folder
    environment = {k: v for k, v in source.items() if isinstance(v, str)}
    settings = load_settings(environment, instance_path=Path(app.instance_path))
    app.config.update({k: v for k, v in source.items() if not isinstance(v, str)})
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # A pooled connection the database dropped (a PostgreSQL restart, a failover, an idle
        # timeout) is noticed and replaced at checkout, not handed to a request that then fails;
        # none is kept longer than 30 minutes, under most proxies' and servers' idle limits.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_recycle": 1800},
        # A form post is a few hundred bytes; refuse anything large before reading it.
        MAX_CONTENT_LENGTH=64 * 1024,
        # Cookies: not readable by scripts, not sent on cross-site posts, https-only once
        # the site is served over https.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.app_base_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.app_base_url.startswith("https://"),
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if settings.trusted_proxies:
        # The client's address and scheme from the proxies' headers (the sign-in limit counts per address).
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.extensions["environment"] = environment
    app.extensions["settings"] = settings
    try:
        catalog = app.extensions["catalog"] = load_catalog(buttons.PORTAL_BUTTONS, settings.catalog_path)
    except CatalogError as e:
        raise ConfigError(f"CATALOG_PATH: {e}") from e

    # Extensions: the database and its migrations, CSRF on every form, sign-in, rate limits.
    db.init_app(app)
    with app.app_context():
        init_engine(db.engine)  # SQLite: WAL and a busy timeout (billing/schema.py)
    Migrate(app, db, directory=str(MIGRATIONS))
    CSRFProtect(app).exempt(webhook.bp)  # Stripe signs its events instead
    sign_in(app)  # who is signed in: billing/accounts.py unless create_app was given another
    limits.init_app(app)
    smtp.init_app(app, settings.mail)  # emails through MAIL_URL's server, when it is set
    web.init_app(app, settings)  # security headers, secrets out of logs, time bound on Stripe
    queue.init_app(app, settings)  # the background work webhooks wake (billing/queue.py)
    presenters.register(app)

    app.register_blueprint(pages.bp)
    app.register_blueprint(buttons.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(link_pages.bp)  # signed links from emails (billing/links.py)
    errors.register(app)
    app.cli.add_command(init_db_command)
    app.cli.add_command(ops.stripe_cli)
    app.cli.add_command(ops.links_cli)

    # The Stripe client, with what pages need read once at start (pages make no Stripe calls).
    api = app.extensions["stripe"] = StripeAPI.connect(settings, catalog, app.config.get("STRIPE_HTTP_CLIENT"))
    with app.app_context():
        mirror.save_known_prices(api, [price.lookup_key for price in catalog.prices])
        portal_facts.at_start(api)

    kit.init_app(app)  # the demo kit (offline mode, personas, API-call panels): see README, "Make it yours"
    return app
