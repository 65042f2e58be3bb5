"""A button's own Stripe call (Keep plan, Resume) that times out or gets a 500 may still have
been applied: the customer never reads "Nothing was changed", the subscription is read back
from Stripe, and the account page shows what Stripe did."""

from __future__ import annotations

import html

import pytest

from tests.core.test_downgrades import switch
from tests.helpers import follow, local_path

TIMEOUT = 0.2  # STRIPE_TIMEOUT here, so a timeout is quick to reach
UNKNOWN = "Stripe did not confirm this in time, so we don't know yet whether it went through."
REREAD = "Your account below shows your subscription as Stripe has it now."


@pytest.fixture
def app_settings():
    return {"STRIPE_TIMEOUT": str(TIMEOUT)}


def landed(client, response):
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    return html.unescape(follow(client, response).get_data(as_text=True))


@pytest.fixture
def scheduled(client, auth, standin):
    """On Pro monthly, switching to Starter monthly at the period's end (a schedule)."""
    auth.signup()
    auth.subscribe("pro_monthly")
    switch(client, auth, "starter_monthly")
    sub = auth.user().subscription
    assert sub.schedule_id is not None
    standin.clear_requests()
    return sub


@pytest.fixture
def paused(client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    follow(client, client.post(local_path(auth.post("/account/pause").headers["Location"])))
    assert auth.user().subscription.status == "paused"
    standin.clear_requests()
    return auth.user().subscription


# Every attempt is handled by Stripe but answered too late (or answered with a 500).
FAILURES = {"timeout": {"fault": "timeout"}, "500": {"status": 500, "error_type": "api_error"}}


@pytest.mark.parametrize("failure", FAILURES)
def test_keep_plan_that_may_have_gone_through_reads_the_subscription_back(client, auth, standin, scheduled, failure):
    release = f"/v1/subscription_schedules/{scheduled.schedule_id}/release"
    standin.fail_next("POST", release, count=3, **FAILURES[failure])
    page = landed(client, auth.post("/account/keep-plan"))
    assert UNKNOWN in page and REREAD in page and "Nothing was changed" not in page
    if failure == "timeout":  # Stripe released it: the page says so, as the mirror now does
        assert standin.state.objects[scheduled.schedule_id]["status"] == "released"
        assert auth.user().subscription.schedule_id is None and "Switching to" not in page
    else:  # a 500 applied nothing: still scheduled, and the page says so
        assert auth.user().subscription.schedule_id == scheduled.schedule_id and "Switching to" in page
    gets = [r.path for r in standin.requests if r.method == "GET"]
    assert gets == ["/v1/subscriptions"]  # the one read back


def test_resume_that_timed_out_reads_the_subscription_back(client, auth, standin, paused):
    standin.fail_next("POST", f"/v1/subscriptions/{paused.stripe_subscription_id}/resume", fault="timeout", count=3)
    page = landed(client, auth.post("/account/resume"))
    assert UNKNOWN in page and REREAD in page and "Nothing was changed" not in page
    assert auth.user().subscription.status == "active" and "Resume subscription" not in page


def test_when_stripe_stays_too_slow_to_read_back_the_page_says_to_look_again(client, auth, standin, scheduled):
    standin.latency = TIMEOUT * 2  # the release and the read back both time out
    page = landed(client, auth.post("/account/keep-plan"))
    assert UNKNOWN in page and "look again in a few minutes" in page and "Nothing was changed" not in page
    standin.latency = 0
    standin.deliver_webhooks()  # Stripe's events bring the outcome
    assert auth.user().subscription.schedule_id is None


def test_a_refusal_still_says_nothing_was_changed(client, auth, standin, scheduled):
    release = f"/v1/subscription_schedules/{scheduled.schedule_id}/release"
    standin.fail_next("POST", release, status=429, error_type="invalid_request_error", code="rate_limit")
    page = landed(client, auth.post("/account/keep-plan"))
    assert "Stripe is busy right now. Nothing was changed" in page and UNKNOWN not in page
    assert [r.method for r in standin.requests] == ["POST"]  # nothing to read back
