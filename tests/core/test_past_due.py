"""A past-due customer recovers by paying the open invoice, not just by changing the card
(Stripe: https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses)."""

from __future__ import annotations

from standin import effects, objects
from tests.helpers import follow, local_path


def make_past_due(standin, email="ada@example.com"):
    """The card declines at renewal: the subscription is past_due with its invoice open (and
    the site hears of it by webhook, as from Stripe)."""
    state = standin.state
    with state.lock, state.track() as journal:
        customer = next(c for c in state.all("customer") if c.get("email") == email)
        subscription = next(s for s in state.all("subscription") if s["customer"] == customer["id"])
        effects.add_card(state, customer, "4000000000000341")
        end = effects.period_end(subscription)
        with objects.frozen_at(end):
            effects._change(state, subscription, end)
        standin.settle(journal)
    standin.deliver_webhooks()
    assert subscription["status"] == "past_due"
    return subscription


def test_past_due_updates_the_card_pays_the_invoice_from_the_portal_and_is_active(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    subscription = make_past_due(standin)
    page = client.get("/account").get_data(as_text=True)
    assert "Past due" in page and "$9 is still due" in page

    # A new card alone leaves the invoice open.
    card_session = auth.post("/account/payment-method").headers["Location"]
    follow(client, client.post(local_path(card_session), data={"card": "4242424242424242"}))
    assert subscription["status"] == "past_due"

    # "Manage billing" opens the portal home, whose invoice list pays the open invoice.
    home = local_path(auth.post("/account/billing").headers["Location"])
    invoice = subscription["latest_invoice"]
    assert f"/pay/{invoice}" in client.get(home).get_data(as_text=True)
    client.post(f"{home}/pay/{invoice}")
    assert subscription["status"] == "active" and standin.state.objects[invoice]["status"] == "paid"

    page = follow(client, client.get("/account/return")).get_data(as_text=True)
    assert "Your payment went through: your subscription is active again." in page
    assert "is still due" not in page and "status-active" in page


def test_the_account_page_links_to_the_open_invoice_and_paying_it_there_recovers(client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    subscription = make_past_due(standin)
    invoice = standin.state.objects[subscription["latest_invoice"]]
    page = client.get("/account").get_data(as_text=True)
    # The mirror kept the amount and the invoice's hosted_invoice_url from the webhook's refresh.
    assert f'href="{invoice["hosted_invoice_url"]}"' in page and "Pay $9" in page

    # The hosted invoice page charges the default card: still the declining one.
    hosted = local_path(invoice["hosted_invoice_url"])
    assert "Your card was declined." in client.post(hosted).get_data(as_text=True)
    assert subscription["status"] == "past_due"

    card_session = auth.post("/account/payment-method").headers["Location"]
    follow(client, client.post(local_path(card_session), data={"card": "4242424242424242"}))
    follow(client, client.post(hosted))
    assert (invoice["status"], subscription["status"]) == ("paid", "active")
    standin.deliver_webhooks()
    page = client.get("/account").get_data(as_text=True)
    assert "status-active" in page and "Pay $9" not in page and "is still due" not in page
