"""Test clocks (`/v1/test_helpers/test_clocks`): time travel for test-mode customers.

A customer made with `test_clock` lives in the clock's time. Advancing the
clock plays out what would happen to its customers' subscriptions meanwhile
(trials ending, renewals charged or declined, scheduled cancellations), as
Stripe does. Stripe advances in the background: the advance call answers
`advancing`, and the clock reads `ready` once done. The stand-in does the work
at once but keeps that sequence, so clients that poll (as they must) are tested.
"""

from __future__ import annotations

from typing import Any

from stripe.params.test_helpers import (
    TestClockAdvanceParams,
    TestClockCreateParams,
    TestClockDeleteParams,
    TestClockListParams,
    TestClockRetrieveParams,
)

from standin import effects, objects
from standin.api import bp, endpoint, paginate, refuse_unsupported
from standin.errors import invalid
from standin.resources import ENDED_STATUSES, find, remove_customer, state
from standin.state import StripeObject

KIND = "test_helpers.test_clock"
PATH = "/test_helpers/test_clocks"


@bp.post(PATH)
@endpoint(TestClockCreateParams)
def create_test_clock(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"expand", "frozen_time", "name"})
    if "frozen_time" not in params:
        raise invalid("Missing required param: frozen_time.", "frozen_time")
    created = objects.now()
    clock = {
        "id": objects.new_id("clock_"),
        "object": KIND,
        "created": created,
        "deletes_after": created + 30 * 86400,
        "frozen_time": params["frozen_time"],
        "livemode": False,
        "name": params.get("name"),
        "status": "ready",
        "status_details": {},
    }
    return state().add(clock)


@bp.get(f"{PATH}/<clock_id>")
@endpoint(TestClockRetrieveParams)
def retrieve_test_clock(params: dict[str, Any], clock_id: str) -> StripeObject:
    return find(KIND, clock_id)


@bp.get(PATH)
@endpoint(TestClockListParams)
def list_test_clocks(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"expand", "limit", "starting_after", "ending_before"})
    return paginate(state().all(KIND), params, f"/v1{PATH}")


@bp.delete(f"{PATH}/<clock_id>")
@endpoint(TestClockDeleteParams)
def delete_test_clock(params: dict[str, Any], clock_id: str) -> StripeObject:
    """Delete the clock and, as on Stripe, every customer that lives on it."""
    clock = find(KIND, clock_id)
    for customer in state().all("customer"):
        if customer.get("test_clock") == clock["id"] and not customer.get("deleted"):
            remove_customer(customer)
    del state().objects[clock["id"]]
    return {"id": clock["id"], "object": KIND, "deleted": True}


@bp.post(f"{PATH}/<clock_id>/advance")
@endpoint(TestClockAdvanceParams)
def advance_test_clock(params: dict[str, Any], clock_id: str) -> StripeObject:
    clock = find(KIND, clock_id)
    refuse_unsupported(params, {"expand", "frozen_time"})
    frozen_time = params.get("frozen_time")
    if frozen_time is None:
        raise invalid("Missing required param: frozen_time.", "frozen_time")
    if frozen_time <= clock["frozen_time"]:
        raise invalid("The test clock can only be advanced to a time after its current frozen_time.", "frozen_time")
    customers = {c["id"] for c in state().all("customer") if c.get("test_clock") == clock["id"] and not c.get("deleted")}
    for subscription in state().all("subscription"):
        if subscription["customer"] in customers and subscription["status"] not in ENDED_STATUSES:
            effects.let_time_pass(state(), subscription, frozen_time)
    clock["frozen_time"] = frozen_time
    # Done already, but answered as Stripe answers: still advancing (retrieve says ready).
    return {**clock, "status": "advancing"}
