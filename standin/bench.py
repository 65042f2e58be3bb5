"""How a mutation's cost grows with the stand-in's state: `python -m standin.bench` (`make bench`).

Creates 2,000 billing portal sessions through the Stripe SDK against an
in-process stand-in (after a customer, a product, a price and a portal
configuration) and prints the time of the first 100 and of the last 100
creates and their ratio. A request should cost what it changes, not what the
stand-in holds: the ratio stays near 1 (the goal is at most 1.2).
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

import stripe

from standin.server import StandIn


def client_for(stand_in: StandIn) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_bench",
        http_client=stand_in.http_client(),
        base_addresses={"api": "http://standin.test"},
        stripe_version="2026-10-28.endive",
    )


def set_up(client: stripe.StripeClient) -> dict[str, Any]:
    """A customer and a portal configuration offering one product's price."""
    customer = client.v1.customers.create({"email": "bench@example.com", "name": "Bench"})
    product = client.v1.products.create({"name": "Bench plan"})
    price = client.v1.prices.create(
        {"product": product.id, "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month"}}
    )
    configuration = client.v1.billing_portal.configurations.create(
        {
            "features": {
                "payment_method_update": {"enabled": True},
                "subscription_update": {
                    "enabled": True,
                    "default_allowed_updates": ["price"],
                    "products": [{"product": product.id, "prices": [price.id]}],
                },
            }
        }
    )
    return {"customer": customer.id, "configuration": configuration.id, "return_url": "http://site.test/account"}


def run(sessions: int = 2000, window: int = 100) -> tuple[float, float]:
    """Seconds taken by the first and by the last `window` of `sessions` creates.

    A few creates on a throwaway stand-in first warm the interpreter's caches, so
    that the first window measures the stand-in, not a cold start."""
    warm = client_for(StandIn())
    warm_params = set_up(warm)
    for _ in range(window):
        warm.v1.billing_portal.sessions.create(warm_params)  # type: ignore[arg-type]
    client = client_for(StandIn(public_url="http://site.test/_standin"))
    params = set_up(client)
    times: list[float] = []
    # Python's cyclic garbage collector would run at moments of its own choosing, inside
    # one window or the other; it runs between creates instead, outside the timing.
    gc.disable()
    try:
        for index in range(sessions):
            if index % window == 0:
                gc.collect()
            start = time.perf_counter()
            client.v1.billing_portal.sessions.create(params)  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return sum(times[:window]), sum(times[-window:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args(argv)
    first, last = run(args.sessions, args.window)
    print(f"{args.sessions} billing portal sessions created through the SDK (in-process stand-in)")
    print(f"first {args.window}: {first * 1000:8.1f} ms")
    print(f"last {args.window}:  {last * 1000:8.1f} ms")
    print(f"ratio last/first: {last / first:.2f} (goal: at most 1.2)")


if __name__ == "__main__":
    main()
