"""`make minimal-app`: the tutorial's first app (docs/tutorial/minimal_app.py) with the
project's Stripe stand-in beside it on one port, and a customer paying for a plan, so
its one button works at once with no Stripe account.

The minimal app is run as a reader runs it: it reads its settings from the environment
and reaches the stand-in through the Stripe SDK over HTTP, as it would reach Stripe.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import run_simple

from billing.buttons import PORTAL_BUTTONS
from billing.catalog import load_catalog
from billing.settings import load_settings
from billing.stripe_api import StripeAPI
from kit import demo_stripe
from ops.setup import ensure_catalog
from standin import StandIn

MINIMAL_APP = Path(__file__).resolve().parent.parent / "docs" / "tutorial" / "minimal_app.py"
# Under the minimal app's own address, as offline mode serves it beside the site.
STANDIN_PATH = "/_standin"
# Any test key opens the stand-in; this one opens nothing real.
KEY = "sk_test_tutorial"


def prepare(standin: StandIn, base_url: str) -> dict[str, str]:
    """Set the stand-in up as `flask stripe setup` leaves an account, make a customer
    paying for Pro monthly, and return the environment the minimal app reads."""
    settings = load_settings({"STRIPE_SECRET_KEY": KEY, "SECRET_KEY": secrets.token_hex(16)})
    api = StripeAPI(settings, http_client=standin.http_client())
    ensure_catalog(api, load_catalog(PORTAL_BUTTONS), return_url=base_url)
    customer = demo_stripe.create_persona_customer(
        api, "reader@example.com", "Tutorial reader", "tutorial", "pm_card_visa"
    )
    subscription = demo_stripe.create_persona_subscription(api, customer, "pro_monthly")
    return {
        "STRIPE_SECRET_KEY": KEY,
        "STRIPE_API_BASE": base_url + STANDIN_PATH,
        "CUSTOMER_ID": customer,
        "SUBSCRIPTION_ID": subscription.id,
        "APP_BASE_URL": base_url,
    }


def load_minimal_app(environment: dict[str, str]) -> Flask:
    """The minimal app, loaded from its file with `environment` set while it reads it (on import)."""
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        spec = importlib.util.spec_from_file_location("minimal_app", MINIMAL_APP)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    app: Flask = module.app
    return app


def site(base_url: str) -> tuple[Any, StandIn]:
    """The minimal app at `base_url`, the stand-in (API and hosted pages) under /_standin."""
    standin = StandIn(public_url=base_url + STANDIN_PATH)
    app = load_minimal_app(prepare(standin, base_url))
    return DispatcherMiddleware(app.wsgi_app, {STANDIN_PATH: standin.wsgi_app}), standin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kit.minimal_demo", description=__doc__)
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    url = f"http://127.0.0.1:{args.port}"
    wsgi, _ = site(url)
    print(f"The tutorial's minimal app on {url} (Stripe: the stand-in under {url}{STANDIN_PATH})", flush=True)
    run_simple("127.0.0.1", args.port, wsgi, threaded=True)


if __name__ == "__main__":
    main()
