"""Run the stand-in as its own server: `python -m standin --port 12111`.

Point the app at it with STRIPE_API_BASE=http://127.0.0.1:<port> and any
sk_test_... key; the hosted pages are served from the same address.
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
    args = parser.parse_args(argv)

    url = f"http://{args.host}:{args.port}"
    stand_in = StandIn(public_url=args.public_url or url, state_file=args.state_file)
    print(f"Stripe stand-in listening on {url}", flush=True)
    run_simple(args.host, args.port, stand_in.wsgi_app, threaded=True)


if __name__ == "__main__":
    main()
