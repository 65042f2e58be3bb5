"""The buttons that make one Stripe API call themselves instead of opening a page of
Stripe's: what they do with their builder's params (after `press` in billing.buttons has
checked the button's rule), then back to the account page with a message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from billing import current, flows, mirror, presenters
from billing.models import BillingAccount, db
from billing.stripe_api import BillingError, OutcomeUnknown

if TYPE_CHECKING:
    from stripe.params import SubscriptionResumeParams

    from billing.buttons import Button


def resume(u: BillingAccount, button: Button, params: SubscriptionResumeParams) -> ResponseReturnValue:
    """Resume a paused subscription. The portal has no resume step, so this is
    a direct API call, then back to the account page."""
    assert u.subscription is not None, "the rule lets Resume through only with a subscription"
    try:
        subscription_id = u.subscription.stripe_subscription_id
        ticket = mirror.take_ticket(u)  # what Stripe answers is a read too: a later one wins
        mirror.write(u, ticket, current.stripe_api().resume_subscription(subscription_id, params), None)
        db.session.commit()
        flash("Your subscription is active again.", "success")
    except OutcomeUnknown as e:
        reread(u, e)
    except BillingError as e:
        flash(str(e), "error")
    return redirect(url_for("pages.account"), 303)


def keep_plan(u: BillingAccount, button: Button, release: flows.Release) -> ResponseReturnValue:
    """Keep the current plan: release the schedule that holds a switch for the end of the
    period (one Stripe call), then back to the account page. Releasing changes nothing else
    on the subscription, so the mirror forgets the switch without reading Stripe again; the
    webhooks that follow confirm it."""
    sub, c = u.subscription, current.catalog()
    assert sub is not None, "the rule lets Keep through only with a scheduled change"
    coming = presenters.plan_name(c, sub.scheduled_lookup_key, sub.scheduled_quantity)
    keeping = presenters.plan_name(c, sub.lookup_key, sub.quantity)
    when = presenters.format_day(sub.scheduled_at)
    try:
        assert button.send is not None, "Keep names its Stripe call"
        button.send(current.stripe_api(), release)
        sub.forget_scheduled_change()
        db.session.commit()
        flash(f"You keep {keeping}: the switch to {coming} on {when} is canceled.", "success")
    except OutcomeUnknown as e:
        reread(u, e)
    except BillingError as e:
        flash(str(e), "error")
    return redirect(url_for("pages.account"), 303)


def reread(u: BillingAccount, unknown: OutcomeUnknown) -> None:
    """The call may have gone through (Stripe did not answer): read the subscription back, so
    the account page shows what Stripe did rather than what we guess. The read gets a request's
    Stripe time of its own: the call it follows used up the first (two calls' worth is what
    stripe_api.slowest_request_seconds allows, and a direct button makes no other call)."""
    api = current.stripe_api()
    budget = api.start_request()
    try:
        mirror.refresh(api, u, only="subscription")  # what these calls change: one read
        db.session.commit()
        flash(f"{unknown} Your account below shows your subscription as Stripe has it now.", "error")
    except BillingError:
        flash(f"{unknown} Your account will show it once Stripe tells us: look again in a few minutes.", "error")
    finally:
        api.end_request(budget)
