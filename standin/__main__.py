"""Run the stand-in as its own server: `python -m standin --port 12111`.

Point the app at it with STRIPE_API_BASE=http://127.0.0.1:<port> and any
sk_test_... key; the hosted pages are served from the same address.
`--latency 2.0` makes every API answer (under /v1/) wait 2 s: a slow Stripe.
`--rate-limit 25` answers Stripe's 429 past 25 API requests a second, as a sandbox
account does; GET /_standin/stats counts the API calls (and the 429s).
"""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from standin import StandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--public-url", help="where browsers reach it (default http://HOST:PORT)")
    parser.add_argument("--state-file", help="JSON file keeping objects across restarts")
    parser.add_argument("--webhook-url", help="send signed events here, e.g. http://127.0.0.1:5000/stripe/webhook")
    parser.add_argument(
        "--webhook-secret", help="the whsec_... secret to sign them with (the app's STRIPE_WEBHOOK_SECRET)"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before answering each API request: a slow Stripe (default 0)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="PER_SECOND",
        help="answer 429 (code rate_limit) past this many API requests a second, as Stripe does "
        "(25 in a sandbox, 100 live; default: no limit)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.latency < float("inf"):
        parser.error("--latency is a number of seconds, 0 or more")
    if args.rate_limit is not None and not 0 < args.rate_limit < float("inf"):
        parser.error("--rate-limit is a number of requests a second, above 0")
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")

    url = f"http://{args.host}:{args.port}"
    stand_in = StandIn(public_url=args.public_url or url, state_file=args.state_file, rate_limit=args.rate_limit)
    stand_in.latency = args.latency
    if args.webhook_url:
        stand_in.configure_webhooks(args.webhook_secret, url=args.webhook_url)
    print(f"Stripe stand-in listening on {url}", flush=True)
    run_simple(args.host, args.port, stand_in.wsgi_app, threaded=True)


if __name__ == "__main__":
    main()
