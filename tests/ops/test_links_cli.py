"""`flask links make`: prints a signed link on APP_BASE_URL that opens its step; refuses,
with a message, what the link could not do."""

from __future__ import annotations

import pytest

from billing import links
from tests.helpers import local_path


def make(app, *args):
    return app.test_cli_runner().invoke(args=["links", "make", *args])


@pytest.fixture
def subscriber(auth):
    auth.signup()
    auth.subscribe("starter_monthly")
    return auth


def test_prints_a_link_on_the_site_that_opens_its_step(app, client, subscriber):
    result = make(app, "--email", "ADA@example.com", "--flow", "payment_method_update")
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith("http://localhost/links/") and "\n" not in url
    assert "Opens payment_method_update for ada@example.com, once, until" in result.stderr
    page = client.get(local_path(url))
    assert page.status_code == 200 and "Update the card" in page.get_data(as_text=True)


def test_a_plan_switch_names_its_plan_and_an_expiry(app, client, subscriber):
    result = make(app, "--email", "ada@example.com", "--flow", "subscription_update_confirm", "--price", "pro_yearly")
    assert result.exit_code == 0, result.output
    assert "Switch plan to Pro, billed yearly" in client.get(local_path(result.stdout.strip())).get_data(as_text=True)
    with app.app_context():
        short = make(app, "--email", "ada@example.com", "--flow", "customer_update", "--expires", "30m")
        claims = links.read(local_path(short.stdout.strip()).removeprefix("/links/"))
    assert claims.button == "update_details" and 29 * 60 < claims.expires_at - links.now() <= 30 * 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expires", "7 days"], "write a number and d, h or m, such as 7d, 12h or 30m"),
        (["--expires", "90d"], "a link must expire within 30 days"),
        (["--flow", "subscription_resume"], "'subscription_resume' is not one of"),
        (["--flow", "subscription_update_confirm"], "needs --price, one of: starter_monthly"),
        (["--flow", "subscription_update_confirm", "--price", "gold"], "--price 'gold' is not in the catalog"),
        (["--price", "pro_monthly"], "--price is for subscription_update_confirm only"),
        (["--email", "nobody@example.com"], "No account has the email 'nobody@example.com'."),
        (["--flow", "subscription_update_confirm", "--price", "starter_monthly"], "You are already on this plan."),
    ],
)
def test_refuses_what_a_link_could_not_do(app, subscriber, args, message):
    defaults = {"--email": "ada@example.com", "--flow": "payment_method_update"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    result = make(app, *[part for name, value in (defaults | given).items() for part in (name, value)])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert "/links/" not in result.output


def test_refuses_a_step_the_customer_cannot_take(app, auth):
    auth.signup("new@example.com")  # no subscription, no Stripe customer yet
    auth.client.get("/account")  # where sign-up leads: the billing account is made on this first need
    result = make(app, "--email", "new@example.com", "--flow", "subscription_cancel")
    assert result.exit_code == 1
    assert "new@example.com cannot do this now: You have no subscription yet: choose a plan." in result.output
