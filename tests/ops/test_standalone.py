"""The stand-in as its own server over real sockets on loopback, with the app
pointed at it as at Stripe (a test key and STRIPE_API_BASE), prepared by
`flask stripe setup`."""

from __future__ import annotations

import urllib.request
from urllib.error import HTTPError

import pytest

from app import create_app
from tests.helpers import TEST_CATALOG, Auth, database_url


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser_post(url: str) -> str:
    """Press the hosted page's main button, as a browser would; return where it redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(HTTPError) as redirect:
        opener.open(urllib.request.Request(url, data=b"", method="POST"), timeout=10)
    assert redirect.value.code == 303
    return redirect.value.headers["Location"]


def test_app_against_the_standalone_standin(standin_url, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "STRIPE_SECRET_KEY": "sk_test_standalone",
            "STRIPE_API_BASE": standin_url,
            "APP_BASE_URL": "http://localhost",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url(tmp_path, "app"),
            "CATALOG_PATH": TEST_CATALOG,
        }
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    setup = runner.invoke(args=["stripe", "setup"])
    assert setup.exit_code == 0, setup.output
    configuration = setup.output.strip().splitlines()[-1].removeprefix("STRIPE_PORTAL_CONFIGURATION=")
    assert configuration.startswith("bpc_")
    assert "changed: Created portal configuration" in setup.output
    # A second run finds what the first one made, changes nothing and says so.
    again = runner.invoke(args=["stripe", "setup"])
    assert "changed:" not in again.output
    assert "nothing changed" in again.output
    assert again.output.strip().splitlines()[-1] == f"STRIPE_PORTAL_CONFIGURATION={configuration}"
    # A freshly set-up stand-in passes the doctor (no webhook secret needed against it).
    doctor = runner.invoke(args=["stripe", "doctor"])
    assert doctor.exit_code == 0 and "fine against the stand-in" in doctor.output, doctor.output
    app.extensions["stripe"].configuration = configuration

    client = app.test_client()
    auth = Auth(client, app)
    auth.signup()
    checkout = auth.post("/checkout", lookup_key="pro_monthly")
    assert checkout.headers["Location"].startswith(f"{standin_url}/c/pay/cs_test_")
    success = browser_post(checkout.headers["Location"])
    assert success.startswith("http://localhost/checkout/return?checkout_session=cs_test_")
    client.get(success.removeprefix("http://localhost"))
    assert auth.user().subscription.lookup_key == "pro_monthly"

    switch = auth.post("/account/switch-plan", lookup_key="business_monthly")
    assert switch.headers["Location"].startswith(f"{standin_url}/p/session/bps_")
    assert browser_post(switch.headers["Location"]) == "http://localhost/account/return"
    client.get("/account/return")
    assert auth.user().subscription.lookup_key == "business_monthly"
