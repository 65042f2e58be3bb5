"""Test clocks (`/v1/test_helpers/test_clocks`): time travel for test-mode customers.

A customer made with `test_clock` lives in the clock's time: its objects are
made, billed and canceled at the clock's frozen time (`effects.customer_time`).
Advancing the clock plays out what happens to its customers' subscriptions
meanwhile (trials ending, renewals charged or declined, scheduled
cancellations; see `effects.advance_clock`). Stripe advances in the
background: the advance call answers `advancing`, and the clock reads `ready`
once done. The stand-in does the work at once, answers `advancing` to the
advance call, and `ready` from then on, so clients that poll (as they must
with Stripe) are exercised.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint
from stripe.params.test_helpers import (
    TestClockAdvanceParams,
    TestClockCreateParams,
    TestClockDeleteParams,
    TestClockListParams,
    TestClockRetrieveParams,
)

from standin import effects, objects
from standin.api import endpoint, find, paginate, refuse_unsupported, state
from standin.errors import invalid
from standin.state import StripeObject

bp = Blueprint("clocks", __name__, url_prefix="/v1")

KIND = "test_helpers.test_clock"


@bp.post("/test_helpers/test_clocks")
@endpoint(TestClockCreateParams)
def create_test_clock(params: dict[str, Any]) -> StripeObject:
    # `customer` moves an existing customer (and its objects) into the clock's time: not modelled.
    refuse_unsupported(params, {"expand", "frozen_time", "name"})
    return state().add(objects.test_clock(params["frozen_time"], params.get("name")))


@bp.get("/test_helpers/test_clocks/<clock_id>")
@endpoint(TestClockRetrieveParams)
def retrieve_test_clock(params: dict[str, Any], clock_id: str) -> StripeObject:
    return find(KIND, clock_id)


@bp.get("/test_helpers/test_clocks")
@endpoint(TestClockListParams)
def list_test_clocks(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"expand", "limit", "starting_after", "ending_before"})
    return paginate(state().all(KIND), params, "/v1/test_helpers/test_clocks")


@bp.delete("/test_helpers/test_clocks/<clock_id>")
@endpoint(TestClockDeleteParams)
def delete_test_clock(params: dict[str, Any], clock_id: str) -> StripeObject:
    """Delete the clock and, as on Stripe, every customer on it (see `effects.delete_customer`)."""
    clock = find(KIND, clock_id)
    with objects.frozen_at(clock["frozen_time"]):
        for customer in state().all("customer"):
            if customer.get("test_clock") == clock_id:
                effects.delete_customer(state(), customer)
    del state().objects[clock_id]
    return objects.deleted(clock)


@bp.post("/test_helpers/test_clocks/<clock_id>/advance")
@endpoint(TestClockAdvanceParams)
def advance_test_clock(params: dict[str, Any], clock_id: str) -> StripeObject:
    """Advance the clock to `frozen_time`: later than now, and at most two intervals of its
    shortest subscription ahead (two years without one), as Stripe allows."""
    clock = find(KIND, clock_id)
    refuse_unsupported(params, {"expand", "frozen_time"})
    frozen_time = params["frozen_time"]
    if frozen_time <= clock["frozen_time"]:
        raise invalid(
            f"The frozen_time must be after the test clock's current frozen_time ({clock['frozen_time']}).",
            "frozen_time",
        )
    limit = _advance_limit(clock)
    if frozen_time > limit:
        raise invalid(
            "A test clock can advance at most two intervals of its shortest subscription at a time "
            f"(two years if it has none): frozen_time can be at most {limit}.",
            "frozen_time",
        )
    answer = copy.deepcopy(clock)
    effects.advance_clock(state(), clock, frozen_time)
    # What Stripe answers while it works; the stored clock is already `ready`.
    answer.update(status="advancing", status_details={"advancing": {"target_frozen_time": frozen_time}})
    return answer


def _advance_limit(clock: StripeObject) -> int:
    customers = {customer["id"] for customer in state().all("customer") if customer.get("test_clock") == clock["id"]}
    limits = [
        objects.add_interval(clock["frozen_time"], recurring["interval"], 2 * recurring["interval_count"])
        for subscription in state().all("subscription")
        if subscription["customer"] in customers and subscription["status"] not in effects.ENDED_STATUSES
        for item in subscription["items"]["data"]
        if (recurring := item["price"]["recurring"]) is not None
    ]
    return min(limits, default=objects.add_interval(clock["frozen_time"], "year", 2))
