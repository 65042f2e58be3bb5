# Two commands for a fresh machine (see README):
#   make run    install into .venv and start the site (offline mode without a Stripe key)
#   make test   install the test tools too, then lint, type-check and run the test suite
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test check fork-check standin standin-catalogs load screenshots tutorial minimal-app needs-kit

# Stripe's pages (the offline stand-in's too) send customers back to APP_BASE_URL: on another
# PORT, it follows, unless it is set (in the environment or .env).
run: $(VENV)/.installed
	@if [ -z "$$APP_BASE_URL" ] && ! grep -qs '^APP_BASE_URL=' .env; then export APP_BASE_URL=http://127.0.0.1:$(PORT); fi; \
	$(BIN)/flask --app app init-db && \
	echo "Open http://127.0.0.1:$(PORT) (stop with Ctrl-C)" && \
	$(BIN)/flask --app app run --host 127.0.0.1 --port $(PORT)

test: $(VENV)/.installed-dev check

# The checks themselves, with nothing installed: what .ci/run runs with networking off.
# With TEST_DATABASE_URL=postgresql+psycopg://... set (CI sets it), the suite runs on
# SQLite and then again on that PostgreSQL server (with TEST_REDIS_URL too, tests/scale runs
# two instances on them). Last, the fork check.
check:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	env -u TEST_DATABASE_URL $(BIN)/pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then echo "== again on PostgreSQL: $$TEST_DATABASE_URL"; $(BIN)/pytest; fi
	bash .ci/fork-check

# What README's "Make it yours" tells a forker to do (delete the demo kit), done in a
# copy of this tree; then mypy, the core and ops tests, and the site started with a test
# key against the stand-in, serving its pricing page.
fork-check: $(VENV)/.installed-dev
	bash .ci/fork-check

# The demo kit's targets (screenshots, tutorial, minimal-app) need kit/, and so does the
# benchmark (offline mode is how it has a Stripe without a key): once kit/ is deleted
# ("Make it yours"), they stop in one line, before installing anything.
needs-kit:
	$(if $(wildcard kit/__init__.py),,$(error make $(MAKECMDGOALS): needs the demo kit (kit/)))

# The screenshots of the README, the guides and the tutorial, from the demo in a real
# browser (Debian's chromium), into docs/screenshots/ and docs/tutorial/screenshots/.
screenshots: needs-kit $(VENV)/.installed-dev
	SCREENSHOTS_DIR=docs/screenshots TUTORIAL_SCREENSHOTS_DIR=docs/tutorial/screenshots \
	  $(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_screenshots.py

# The tutorial's code blocks (docs/tutorial/) rewritten from the source regions they quote
# (`# [tutorial: name]` ... `# [end]`); the test suite fails while any of them differs.
tutorial: needs-kit $(VENV)/.installed
	@# Not `python -m kit.excerpts`: the kit's package imports that module first.
	$(BIN)/python -c 'import sys, kit.excerpts; sys.exit(kit.excerpts.main(sys.argv[1:]))'

# The tutorial's first app (docs/tutorial/minimal_app.py) on http://127.0.0.1:5001, with the
# stand-in beside it playing Stripe and a customer to cancel.
minimal-app: needs-kit $(VENV)/.installed
	$(BIN)/python -m kit.minimal_demo --port 5001

# The stand-in on its own port, for pointing the app (or curl) at it.
standin: $(VENV)/.installed
	$(BIN)/python -m standin --port 12111

# A bounded load test on loopback (about 90 s): do pages stay fast while Stripe is slow? 40
# connections on pages and 10 on a button, Stripe answering at once then in 2 s (25 s each);
# prints both phases' figures and the page p95 ratio (goal <= 1.2). Options: python -m ops.load -h
load: $(VENV)/.installed
	$(BIN)/python -m ops.load

# Benchmarks that print figures (no pass or fail). First each page's cost per view beside a
# bare view in the same app, every signed-in view a different visitor's of 2,000, in process
# and under gunicorn (ops/bench/; wrk rotates over the visitors' cookies; needs wrk and the
# demo kit's offline mode). Then how a mutation's cost grows with the stand-in's state: 2,000 portal sessions through the SDK in-process; prints the first and
# last 100 creates' times and their ratio (goal <= 1.2).
.PHONY: bench
bench: needs-kit $(VENV)/.installed
	$(BIN)/python -m ops.bench
	$(BIN)/python -m standin.bench

# A renewal day on loopback (issue 21): 2,000 customers' events (2 each) from 16 senders
# while 4 customers click, Stripe (the stand-in) at 150 ms and 25 requests/s; on SQLite (1
# instance) then PostgreSQL + Redis (2 instances, 2 workers; .ci/postgres and .ci/redis
# started for it unless --postgres-url/--redis-url). Prints the figures beside the issue's
# targets (no pass or fail; docs/performance.md). Options: python -m ops.storm -h
.PHONY: storm
storm: $(VENV)/.installed-dev
	$(BIN)/python -m ops.storm $(STORM_OPTIONS)

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# tests/e2e (the demo's browser tests) leaves with the kit: then there is nothing for npm.
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(wildcard tests/e2e/package-lock.json) | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# axe-core for the browser tests; without npm (or chromium) those tests are skipped.
	if [ -f tests/e2e/package-lock.json ] && command -v npm >/dev/null; then npm ci --silent --no-audit --no-fund --prefix tests/e2e; fi
	touch $(VENV)/.installed $@

# The stand-in's page translations: extract every marked string, merge it into each catalog
# (new ones come out empty, for a translator; tests/standin/test_locale.py fails until they are
# filled), and compile the .mo files, which are committed so a fresh clone shows them.
standin-catalogs: $(VENV)/.installed
	$(BIN)/pybabel extract -F standin/babel.cfg -k lazy -o standin/translations/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i standin/translations/messages.pot -d standin/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d standin/translations --statistics
