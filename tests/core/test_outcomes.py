"""Back from Stripe, the account page says what the step changed, compared with what
it showed when the customer left: also when a webhook brought the change first."""

from __future__ import annotations

import pytest

from tests.helpers import follow, local_path

FLOWS = [
    # (route, form, what the customer does on Stripe's page, the message)
    ("/account/switch-plan", {"lookup_key": "pro_monthly"}, {}, "You are now on Pro, billed monthly."),
    ("/account/change-interval", {}, {}, "You are now on Starter, billed yearly."),
    ("/account/cancel", {}, {"choice": "decline"}, "Your subscription will end on "),
    (
        "/account/cancel",
        {},
        {"choice": "accept"},
        "Stay with us: 30% off for 2 months is applied to your subscription.",
    ),
    ("/account/pause", {}, {}, "Your subscription is paused: no charges until you resume it."),
    (
        "/account/payment-method",
        {},
        {"card": "5555555555554444"},
        "Your Mastercard ending in 4444 is now your default card.",
    ),
]


def finish(client, auth, route, form, completion):
    """Press the button and complete the step on the stand-in's page (not yet back)."""
    session_url = auth.post(route, **form).headers["Location"]
    client.post(local_path(session_url), data=completion)


@pytest.mark.parametrize("webhook_first", [False, True], ids=["return-first", "webhook-first"])
@pytest.mark.parametrize("route, form, completion, message", FLOWS, ids=[f"{f[0]}{f[2]}" for f in FLOWS])
def test_the_message_says_what_changed(client, auth, standin, route, form, completion, message, webhook_first):
    auth.signup()
    auth.subscribe("starter_monthly")
    finish(client, auth, route, form, completion)
    if webhook_first:
        standin.deliver_webhooks()  # the mirror is already up to date when the customer is back
    page = follow(client, client.get("/account/return")).get_data(as_text=True)
    assert message in page


def test_coming_back_without_changing_anything_says_nothing(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    auth.post("/account/cancel")  # and then the customer clicks "back to the site"
    page = follow(client, client.get("/account/return")).get_data(as_text=True)
    assert 'class="flash success"' not in page


def test_checkout_says_thank_you_even_when_the_webhook_came_first(client, auth, standin):
    auth.signup()
    paid = client.post(local_path(auth.post("/checkout", lookup_key="pro_monthly").headers["Location"]))
    standin.deliver_webhooks()
    page = follow(client, client.get(local_path(paid.headers["Location"]))).get_data(as_text=True)
    assert "Thank you! Your subscription is active." in page


def test_an_accepted_retention_offer_does_not_read_as_a_cancellation(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    finish(client, auth, "/account/cancel", {}, {"choice": "accept"})
    page = follow(client, client.get("/account/return")).get_data(as_text=True)
    assert "will end on" not in page and "has ended" not in page
