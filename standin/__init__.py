"""A Stripe stand-in: a small stateful server speaking Stripe's HTTP API.

It serves exactly the endpoints this project uses, validates every request
against the Stripe SDK's own param types, and hosts offline versions of the
Checkout and customer-portal pages. It imports nothing from the app: it is a
separate "Stripe", and any Stripe client could talk to it. The hosted pages
follow the session's `locale` (French, German, Japanese, else English; `auto`
or none: the browser's), see `standin.i18n`.

    from standin import StandIn
    stand_in = StandIn(public_url="http://127.0.0.1:5000/_standin")
    client = stripe.StripeClient("sk_test_x", http_client=stand_in.http_client(),
                                 base_addresses={"api": "http://standin.test"})
"""

from standin.server import RecordedRequest, StandIn

__all__ = ["RecordedRequest", "StandIn"]
