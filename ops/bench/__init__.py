"""What each page costs per view, beside a bare view that does only what every request
of its kind must: `python -m ops.bench` (`make bench`).

Real visitors see their account page once or twice, so every signed-in view here is a
different visitor's: 2,000 subscribed customers are written to the bench's database
(site.py), each with the cookie of a browser signed in as them. Nothing is served from
memory: the site keeps no rendered page.

  - In process (in_process.py): the app's WSGI call, timed per view: the pricing page
    signed out beside a view that does nothing, and the account page beside a view that
    opens the session and loads the signed-in user, both in the same app (the site's
    hooks and extensions), and the ratio. --profile shows where the pages' time goes.
  - Served (served.py): the same site under gunicorn (gunicorn.conf.py), loaded by wrk,
    each signed-in request with the next visitor's cookie (visitors.lua): requests per
    second for each page and its bare view.

It prints figures and asserts nothing about them: it is a benchmark, not a test.

    .venv/bin/python -m ops.bench                  # 2,000 visitors, 3 rounds of 8 s per view
    .venv/bin/python -m ops.bench --in-process --profile

Never points anywhere but 127.0.0.1. Needs wrk (apt-get install wrk) unless --in-process.
"""
