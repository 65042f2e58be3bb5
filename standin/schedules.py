"""Subscription schedules: a plan change the portal keeps for the end of the period.

A portal configuration whose `features.subscription_update.schedule_at_period_end.conditions`
name `decreasing_item_amount` or `shortening_interval` does not change a subscription at
once when a customer moves to a cheaper item or a shorter interval: it makes a
subscription schedule from the subscription, whose first phase is what the customer has
until the period ends and whose second is the new plan from then on, and sets
`subscription.schedule`
(https://docs.stripe.com/customer-management/configure-portal#downgrades,
https://docs.stripe.com/changelog/acacia/2024-10-28/customer-portal-schedule-downgrades).

When time reaches a phase's start the subscription takes that phase's items; after the
last phase a schedule with `end_behavior` release lets the subscription go on by itself
(https://docs.stripe.com/billing/subscriptions/subscription-schedules). Releasing it
before then keeps the subscription as it is
(https://docs.stripe.com/api/subscription_schedules/release).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint
from stripe.params import SubscriptionScheduleReleaseParams, SubscriptionScheduleRetrieveParams

from standin import objects
from standin.api import endpoint, find, refuse_unsupported, state
from standin.errors import invalid
from standin.state import State, StripeObject

bp = Blueprint("schedules", __name__, url_prefix="/v1")

KIND = "subscription_schedule"
# Rough lengths, only to tell a shorter interval from a longer one.
_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


def _interval_days(price: StripeObject) -> int:
    recurring = price["recurring"] or {"interval": "month", "interval_count": 1}
    return _DAYS[recurring["interval"]] * int(recurring.get("interval_count") or 1)


def waits_for_period_end(conditions: list[StripeObject], old: StripeObject, new: StripeObject, quantity: int) -> bool:
    """Whether the configuration's conditions keep this change of `old` (an item) to `new`
    (a price) at `quantity` for the end of the period: "When any condition is true, the
    update will be scheduled at the end of the current period" (the API reference of
    `schedule_at_period_end.conditions`)."""
    kinds = {condition["type"] for condition in conditions or []}
    old_amount = (old["price"]["unit_amount"] or 0) * old["quantity"]
    new_amount = (new["unit_amount"] or 0) * quantity
    return ("decreasing_item_amount" in kinds and new_amount < old_amount) or (
        "shortening_interval" in kinds and _interval_days(new) < _interval_days(old["price"])
    )


def schedule_change(state: State, subscription: StripeObject, new: StripeObject, quantity: int) -> StripeObject:
    """Keep the change for the period's end: phase 1 is the subscription as it is until
    then, phase 2 the new price for one of its periods; the schedule is stored and named
    by `subscription.schedule`."""
    item = subscription["items"]["data"][0]
    start, end = int(item["current_period_start"]), int(item["current_period_end"])
    recurring = new["recurring"] or {"interval": "month", "interval_count": 1}
    then = objects.add_interval(end, recurring["interval"], recurring["interval_count"])
    currency = subscription["currency"]
    now_items = [(i["price"], i["quantity"]) for i in subscription["items"]["data"]]
    phases = [
        objects.schedule_phase(now_items, start, end, currency),
        objects.schedule_phase([(new, quantity)], end, then, currency),
    ]
    schedule = state.add(objects.subscription_schedule(subscription, phases))
    subscription["schedule"] = schedule["id"]
    return schedule


def pending_phase(state: State, subscription: StripeObject) -> StripeObject | None:
    """The phase of the subscription's schedule that has not started yet, if any."""
    schedule = state.get(subscription.get("schedule") or "", KIND)
    if schedule is None or schedule["status"] != "active":
        return None
    return next((p for p in schedule["phases"] if p["start_date"] > schedule["current_phase"]["start_date"]), None)


def update_refusal(state: State, subscription: StripeObject) -> str | None:
    """The portal lets a customer change a subscription again only once its schedule has no
    phase to come (https://github.com/invertase/stripe-firebase-extensions/issues/158, where
    Stripe made it so): the coming change must be released first."""
    if pending_phase(state, subscription) is None:
        return None
    return (
        f"The subscription {subscription['id']} has a change scheduled by the subscription schedule "
        f"{subscription['schedule']}: release the schedule before updating the subscription."
    )


def release(state: State, schedule: StripeObject) -> StripeObject:
    """Stop the schedule; its subscription stays as it is now."""
    subscription = state.get(schedule["subscription"] or "", "subscription")
    if subscription is not None and subscription["schedule"] == schedule["id"]:
        subscription["schedule"] = None
    schedule.update(
        status="released",
        released_at=objects.now(),
        released_subscription=schedule["subscription"],
        subscription=None,
        current_phase=None,
    )
    return schedule


def cancel(state: State, schedule: StripeObject) -> StripeObject:
    """End the schedule with its subscription (its customer was deleted)."""
    subscription = state.get(schedule["subscription"] or "", "subscription")
    if subscription is not None:
        subscription["schedule"] = None
    schedule.update(status="canceled", canceled_at=objects.now(), current_phase=None)
    return schedule


def next_phase(state: State, subscription: StripeObject, at: int) -> None:
    """At a period's end (`at`): a schedule past its last phase is released (`end_behavior`
    release); a phase that starts now gives the subscription its items, before the new
    period is billed at their price."""
    schedule = state.get(subscription.get("schedule") or "", KIND)
    if schedule is None or schedule["status"] != "active":
        return
    if at >= schedule["phases"][-1]["end_date"]:
        release(state, schedule)
        return
    phase = next((p for p in schedule["phases"] if p["start_date"] <= at < p["end_date"]), None)
    if phase is None or phase["start_date"] == schedule["current_phase"]["start_date"]:
        return
    schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
    item = subscription["items"]["data"][0]
    (entry,) = phase["items"]
    price = state.objects[entry["price"]]
    item.update(price=copy.deepcopy(price), plan=objects.plan_for(price), quantity=entry["quantity"])


@bp.get("/subscription_schedules/<schedule_id>")
@endpoint(SubscriptionScheduleRetrieveParams)
def retrieve_schedule(params: dict[str, Any], schedule_id: str) -> StripeObject:
    return find(KIND, schedule_id)


@bp.post("/subscription_schedules/<schedule_id>/release")
@endpoint(SubscriptionScheduleReleaseParams)
def release_schedule(params: dict[str, Any], schedule_id: str) -> StripeObject:
    """Release a schedule that is `not_started` or `active` (the only ones that can be)."""
    schedule = find(KIND, schedule_id)
    refuse_unsupported(params, {"expand"})
    if schedule["status"] not in ("not_started", "active"):
        raise invalid(
            f"You cannot release a subscription schedule that is currently in the `{schedule['status']}` status. "
            "It must be in `not_started` or `active`."
        )
    with objects.frozen_at(_clock_time(schedule)):
        return release(state(), schedule)


def _clock_time(schedule: StripeObject) -> int | None:
    clock = state().get(schedule["test_clock"] or "", "test_helpers.test_clock")
    return int(clock["frozen_time"]) if clock is not None else None
