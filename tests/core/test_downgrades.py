"""Downgrades at the end of the period: the catalog's `downgrades = "at_period_end"` makes the
portal keep a cheaper plan for the period's end in a subscription schedule. The mirror records
the coming change (on return and from webhooks), the account page says when it happens, the
pricing page marks the plan, and "Keep Pro" releases the schedule with one Stripe call."""

from __future__ import annotations

import html

import pytest

from billing.presenters import format_day, short_day
from tests.helpers import Auth, csrf_token, follow, local_path


def switch(client, auth, lookup_key):
    """Switch plan from the pricing page, confirm on the portal's page, come back:
    (the portal's confirm page, the account page landed on)."""
    response = auth.post("/account/switch-plan", lookup_key=lookup_key)
    assert response.status_code == 303, response.get_data(as_text=True)
    confirm = client.get(local_path(response.headers["Location"])).get_data(as_text=True)
    landed = follow(client, client.post(local_path(response.headers["Location"])))
    return confirm, html.unescape(landed.get_data(as_text=True))


def page(client, path="/account"):
    return html.unescape(client.get(path).get_data(as_text=True))


@pytest.fixture
def scheduled(client, auth, standin):
    """Ada on Pro monthly, switching to Starter monthly at the period's end."""
    auth.signup()
    auth.subscribe("pro_monthly")
    confirm, landed = switch(client, auth, "starter_monthly")
    assert "Your new plan starts on" in confirm  # the portal says it too
    sub = auth.user().subscription
    # The way back says the switch is scheduled, not done.
    day = format_day(sub.scheduled_at)
    assert f"Your switch to Starter (monthly) is scheduled for {day}; you keep Pro (monthly) until then." in landed
    assert "You are now on Starter" not in landed
    return sub


def test_a_downgrade_is_scheduled_not_made(client, auth, standin, scheduled):
    sub = scheduled
    assert sub.lookup_key == "pro_monthly"  # still Pro
    assert sub.scheduled_lookup_key == "starter_monthly" and sub.scheduled_quantity == 1
    assert sub.scheduled_at == sub.current_period_end and sub.schedule_id.startswith("sub_sched_")
    starter = next(p for p in standin.state.all("price") if p["lookup_key"] == "starter_monthly")
    assert sub.scheduled_price_id == starter["id"]

    day = format_day(sub.scheduled_at)
    account = page(client)
    assert f"Switching to Starter (monthly) on {day}. You keep Pro until then." in account
    assert 'action="/account/keep-plan"' in account and "Keep Pro" in account
    # Nothing else may change the plan while the switch waits (the portal would refuse it).
    assert 'action="/account/change-interval"' not in account and 'action="/account/plans"' not in account
    assert 'action="/account/cancel"' in account


def test_the_pricing_page_marks_the_plan_to_come(client, scheduled):
    pricing = page(client, "/pricing?interval=month")
    starter = pricing[pricing.index("<h2>Starter</h2>") - 300 : pricing.index("<h2>Pro</h2>")]
    assert f"Starting {short_day(scheduled.scheduled_at)}" in starter
    assert f"Your plan from {format_day(scheduled.scheduled_at)}" in starter
    assert 'value="starter_monthly"' not in pricing  # no Switch button for it
    assert "Switch to Business" not in pricing and "keep your current plan first" in pricing


def test_keep_releases_the_schedule_with_one_stripe_call(client, auth, standin, scheduled):
    standin.clear_requests()
    response = auth.post("/account/keep-plan")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    account = html.unescape(follow(client, response).get_data(as_text=True))
    assert [(r.method, r.path) for r in standin.requests] == [
        ("POST", f"/v1/subscription_schedules/{scheduled.schedule_id}/release")
    ]
    sub = auth.user().subscription
    assert (sub.schedule_id, sub.scheduled_lookup_key, sub.scheduled_at) == (None, None, None)
    assert sub.lookup_key == "pro_monthly"
    day = format_day(scheduled.scheduled_at)
    assert f"You keep Pro (monthly): the switch to Starter (monthly) on {day} is canceled." in account
    assert "Switching to" not in account and 'action="/account/keep-plan"' not in account
    assert standin.state.objects[scheduled.schedule_id]["status"] == "released"
    # The webhooks that follow (subscription updated, schedule released) agree.
    standin.deliver_webhooks()
    assert auth.user().subscription.schedule_id is None


def test_keep_is_refused_without_a_scheduled_change(client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.clear_requests()
    response = auth.post("/account/keep-plan")
    assert response.status_code == 400 and "You have no plan change scheduled." in response.get_data(as_text=True)
    assert standin.requests == []


def test_keep_needs_the_csrf_token(client, auth, standin, scheduled):
    standin.clear_requests()
    response = client.post("/account/keep-plan", data={"csrf_token": "forged"})
    assert response.status_code == 400 and standin.requests == []
    assert auth.user().subscription.schedule_id is not None


def test_keep_acts_only_on_the_signed_in_users_subscription(app, client, auth, standin, scheduled):
    """The form names no schedule or subscription: Bob pressing Keep cannot touch Ada's schedule."""
    bob = Auth(app.test_client(), app)
    bob.signup(email="bob@example.com")
    bob.subscribe("pro_monthly")
    standin.clear_requests()
    response = bob.client.post(
        "/account/keep-plan",
        data={"csrf_token": csrf_token(bob.client, "/"), "schedule": scheduled.schedule_id, "subscription": "x"},
    )
    assert response.status_code == 400 and standin.requests == []
    assert standin.state.objects[scheduled.schedule_id]["status"] == "active"
    assert auth.user("ada@example.com").subscription.schedule_id == scheduled.schedule_id


def test_webhooks_record_and_forget_the_coming_change(app, client, auth, standin):
    """Without the way back (the customer closed the tab), the events bring the change in,
    and a release made elsewhere (the Dashboard, the API) takes it out again."""
    auth.signup()
    auth.subscribe("pro_monthly")
    standin.deliver_webhooks()
    response = auth.post("/account/switch-plan", lookup_key="starter_monthly")
    client.post(local_path(response.headers["Location"]))  # confirmed; never comes back
    results = standin.deliver_webhooks()
    assert results and all(status == 200 for _, status in results)
    sub = auth.user().subscription
    assert sub.scheduled_lookup_key == "starter_monthly" and sub.lookup_key == "pro_monthly"

    with app.app_context():
        app.extensions["stripe"].client.v1.subscription_schedules.release(sub.schedule_id)
    standin.deliver_webhooks()
    assert auth.user().subscription.scheduled_lookup_key is None
    attempts = [kind for _, kind, _ in standin.webhooks.attempts]
    assert "subscription_schedule.created" in attempts and "subscription_schedule.released" in attempts


def test_an_upgrade_still_applies_at_once(client, auth):
    auth.signup()
    auth.subscribe("starter_monthly")
    _, landed = switch(client, auth, "pro_monthly")
    sub = auth.user().subscription
    assert sub.lookup_key == "pro_monthly" and sub.schedule_id is None and sub.scheduled_at is None
    assert "You are now on Pro, billed monthly." in landed


def test_a_shorter_interval_waits_too(client, auth):
    """Pro yearly to Pro monthly shortens the interval (and costs less per invoice)."""
    auth.signup()
    auth.subscribe("pro_yearly")
    response = auth.post("/account/change-interval")
    follow(client, client.post(local_path(response.headers["Location"])))
    follow(client, client.get("/account/return"))
    sub = auth.user().subscription
    assert sub.lookup_key == "pro_yearly" and sub.scheduled_lookup_key == "pro_monthly"
    assert f"Switching to Pro (monthly) on {format_day(sub.scheduled_at)}." in page(client)


def test_fewer_seats_wait_too_and_the_page_names_them(client, auth):
    """A seats decrease lowers the item's amount: the portal keeps it for the period's end."""
    auth.signup()
    response = auth.post("/checkout", lookup_key="business_monthly", quantity="5")
    follow(client, client.post(local_path(response.headers["Location"])))
    response = auth.post("/account/seats", quantity="3")
    assert response.status_code == 303, response.get_data(as_text=True)
    landed = html.unescape(follow(client, client.post(local_path(response.headers["Location"]))).get_data(as_text=True))
    sub = auth.user().subscription
    assert (sub.quantity, sub.scheduled_quantity, sub.scheduled_lookup_key) == (5, 3, "business_monthly")
    day = format_day(sub.scheduled_at)
    assert (
        f"Your switch to Business (monthly, 3 seats) is scheduled for {day}; you keep Business (monthly, 5 seats)"
        in landed
    )
    assert f"Switching to Business (monthly, 3 seats) on {day}." in landed
