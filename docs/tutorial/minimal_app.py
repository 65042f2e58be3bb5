"""The smallest deep link: one button that opens Stripe's customer portal on its
cancel step, and nothing else. Chapter 1 of docs/tutorial/ walks through it.

Run it against the project's Stripe stand-in with `make minimal-app`, or against
your Stripe test account with STRIPE_SECRET_KEY, CUSTOMER_ID and SUBSCRIPTION_ID set:
    .venv/bin/flask --app docs/tutorial/minimal_app.py run --port 5001
"""

import os

import stripe
from flask import Flask, redirect
from werkzeug.wrappers import Response

# Any Stripe client: Stripe itself by default, the stand-in when STRIPE_API_BASE names it.
client = stripe.StripeClient(
    os.environ["STRIPE_SECRET_KEY"],
    base_addresses={"api": os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")},
)
# Your app reads these from the signed-in user's records; here, from the environment.
CUSTOMER_ID = os.environ["CUSTOMER_ID"]
SUBSCRIPTION_ID = os.environ["SUBSCRIPTION_ID"]
HERE = os.environ.get("APP_BASE_URL", "http://127.0.0.1:5001")

app = Flask(__name__)


@app.get("/")
def home() -> str:
    return '<form method="post" action="/cancel"><button>Cancel my subscription</button></form>'


@app.post("/cancel")
def cancel() -> Response:
    """Open the portal on one step, cancelling this subscription, instead of its home page."""
    session = client.v1.billing_portal.sessions.create(
        {
            "customer": CUSTOMER_ID,
            "return_url": HERE,  # the portal's "back" link
            "flow_data": {
                "type": "subscription_cancel",
                "subscription_cancel": {"subscription": SUBSCRIPTION_ID},
                "after_completion": {"type": "redirect", "redirect": {"return_url": HERE}},
            },
        }
    )
    # 303, not 302: the browser follows a form's POST with a GET. A session is
    # short-lived, so make one per click and never keep its URL.
    return redirect(session.url, 303)
