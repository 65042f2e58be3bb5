"""A renewal day on loopback: `python -m ops.storm` (`make storm`).

Stripe renews many subscriptions at once and sends their events together, while its rate
limit (25 requests/s in a sandbox, 100 live: https://docs.stripe.com/rate-limits) is shared
by everything the merchant does, customers' clicks included. This plays that day:

  - seed.py: N customers at the stand-in, each subscribed, and the site's users and billing
    accounts for them, the mirror in sync; then each subscription and customer changed at
    the stand-in, so that the mirror is stale;
  - deliveries.py: 2 handled events per customer (customer.subscription.updated, then
    invoice.paid, or invoice.payment_failed for about 5%), signed as Stripe signs them,
    shuffled, sent by 16 concurrent senders to the instances in turn, a non-2xx re-sent;
  - clicks.py: 4 signed-in customers pressing Manage billing once a second, before the
    storm (healthy) and during it;
  - stack.py: the stand-in (`python -m standin --latency --rate-limit`), the site under
    gunicorn (1 instance on SQLite; 2 instances and 2 queue workers on PostgreSQL + Redis);
  - stats.py, report.py: the stand-in's request counts, and the figures beside the issue's
    targets (issue 21, "Done when"), met or missed.

It prints figures and asserts nothing: a benchmark, not a test (tests/scale/test_storm.py
is the small version that checks correctness). Never points anywhere but 127.0.0.1.

    .venv/bin/python -m ops.storm                        # 2,000 customers, both databases
    .venv/bin/python -m ops.storm --customers 200 --database sqlite
"""
