#!/usr/bin/env bash
# `make fork-check`: in a copy of this tree, do what the README's "Make it yours" tells a
# merchant who forks it (delete the demo kit: kit/, its tests, and the two lines of app.py
# that name it), then check that what is left is a complete site:
#   - the core names the kit, the stand-in and the personas in comments only;
#   - mypy --strict and the core, ops and stand-in tests pass;
#   - the site starts with a Stripe test key (the stand-in on its own port playing Stripe),
#     after `flask init-db` and `flask stripe setup`, and serves the pricing page.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/.venv/bin
FORK=$(mktemp -d /tmp/fork-check.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$FORK"; }
trap cleanup EXIT

# The tree as it would be pushed: tracked files and new ones, without ignored ones (.venv, instance/).
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$FORK" 2>/dev/null || true)
cd "$FORK"

echo "== fork-check in $FORK: deleting the demo kit as the README says"
rm -rf kit tests/kit tests/e2e
sed -i '/\bkit\b/d' app.py
test ! -e kit && ! grep -qw kit app.py

echo "== the core and app.py name the kit, the stand-in and personas in comments only"
"$BIN/python" - <<'PY'
import pathlib, re, sys
word = re.compile(r"kit|standin|persona", re.I)
found = []
for path in [pathlib.Path("app.py"), *sorted(pathlib.Path("billing").rglob("*.py"))]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if word.search(line.split("#", 1)[0]):
            found.append(f"{path}:{number}: {line.strip()}")
if found:
    sys.exit("outside comments:\n" + "\n".join(found))
PY

echo "== mypy and the core, ops and stand-in tests"
"$BIN/mypy"
env -u TEST_DATABASE_URL "$BIN/pytest" -q -p no:cacheprovider tests/core tests/ops tests/standin

echo "== the site with a test key, against the stand-in on its own port"
free_port() { "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# GET a URL, retrying until it answers (up to 20 s); prints the body.
get() { "$BIN/python" -c '
import sys, time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()); break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit(f"no answer from {sys.argv[1]}")' "$1"; }
STANDIN_PORT=$(free_port)
SITE_PORT=$(free_port)
"$BIN/python" -u -m standin --port "$STANDIN_PORT" >"$FORK/standin.log" 2>&1 &
pids+=($!)
export STRIPE_SECRET_KEY=sk_test_fork_check STRIPE_API_BASE=http://127.0.0.1:$STANDIN_PORT \
  SECRET_KEY=fork-check-secret-key-0123456789 APP_BASE_URL=http://127.0.0.1:$SITE_PORT \
  INSTANCE_PATH=$FORK/instance
for _ in $(seq 100); do grep -q "listening on" "$FORK/standin.log" && break; sleep 0.2; done
"$BIN/flask" --app app init-db
"$BIN/flask" --app app stripe setup >/dev/null
"$BIN/flask" --app app run --port "$SITE_PORT" >"$FORK/site.log" 2>&1 &
pids+=($!)
page=$(get "http://127.0.0.1:$SITE_PORT/")
grep -q "Simple pricing" <<<"$page" && grep -q "pro_monthly" <<<"$page" && ! grep -qi "persona\|offline mode" <<<"$page" \
  || { echo "the pricing page is not what it should be"; cat "$FORK/site.log"; exit 1; }
echo "fork-check passed: the site without the kit builds, passes its tests and serves its pricing page."
