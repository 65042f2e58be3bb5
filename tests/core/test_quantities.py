"""The quantity every plan change states (billing.quantities), over every pair of plans:
flat and per-seat, switches between plans and between intervals of one plan. Products are
made here, not read from a catalog file: the rule is about shapes of plans, not names."""

from __future__ import annotations

import pytest

from billing.catalog import Price, Product, Seats
from billing.eligibility import NotEligible
from billing.quantities import clamp, quantity_to_send


def product(product_id: str, seats: Seats | None = None) -> Product:
    prices = {
        interval: Price(f"{product_id}_{interval}ly", product_id, interval, amount, "usd")
        for interval, amount in (("month", 1000), ("year", 10000))
    }
    return Product(product_id, product_id.title(), "", (), False, prices, seats)


FLAT = product("flat")
OTHER_FLAT = product("other_flat")
TEAM = product("team", Seats(1, 50))  # per seat, 1 to 50
ENTERPRISE = product("enterprise", Seats(10, 200))  # per seat, at least 10
SMALL_TEAM = product("small_team", Seats(2, 5))  # per seat, at most 5

# (new plan, seats chosen on the form, current plan, seats held now) -> quantity sent.
CASES = {
    # A flat plan is one, whatever was held or typed.
    "flat -> flat": (OTHER_FLAT, None, FLAT, 1, 1),
    "flat -> flat, a quantity typed in is ignored": (OTHER_FLAT, 9, FLAT, 1, 1),
    "per-seat -> flat (Sasha: 5 seats to Pro)": (FLAT, None, TEAM, 5, 1),
    "per-seat -> flat, a quantity typed in is ignored": (FLAT, 7, TEAM, 5, 1),
    # Onto a per-seat plan from a flat one: the seats chosen, else the plan's fewest.
    "flat -> per-seat, chosen": (TEAM, 7, FLAT, 1, 7),
    "flat -> per-seat, default: the fewest": (ENTERPRISE, None, FLAT, 1, 10),
    "flat -> per-seat, chosen at the bounds": (ENTERPRISE, 200, FLAT, 1, 200),
    # Between per-seat plans: the seats held, brought within the new plan's bounds.
    "per-seat -> per-seat, seats kept": (ENTERPRISE, None, TEAM, 12, 12),
    "per-seat -> per-seat, raised to the new minimum": (ENTERPRISE, None, TEAM, 5, 10),
    "per-seat -> per-seat, lowered to the new maximum": (SMALL_TEAM, None, TEAM, 30, 5),
    "per-seat -> per-seat, chosen": (SMALL_TEAM, 3, TEAM, 30, 3),
    # An interval switch moves to the same product: a per-seat plan keeps its seats.
    "interval switch, per-seat": (TEAM, None, TEAM, 5, 5),
    "interval switch, flat": (FLAT, None, FLAT, 1, 1),
    "interval switch, per-seat held outside today's bounds": (SMALL_TEAM, None, SMALL_TEAM, 8, 5),
    # A seats change: the chosen number, on the plan held.
    "seats change": (TEAM, 9, TEAM, 5, 9),
    # A first subscription has no current plan.
    "subscribe, flat": (FLAT, None, None, 1, 1),
    "subscribe, per-seat, chosen": (TEAM, 4, None, 1, 4),
    "subscribe, per-seat, default": (ENTERPRISE, None, None, 1, 10),
}


@pytest.mark.parametrize("case", CASES)
def test_the_quantity_a_change_states(case):
    new, chosen, current, held, sent = CASES[case]
    assert quantity_to_send(new, chosen, current, held) == sent


# Seats outside the new plan's bounds are refused with the bounds, whichever way they came.
REFUSED = {
    "flat -> per-seat, too few": (ENTERPRISE, 9, FLAT, 1, "Choose between 10 and 200 seats."),
    "flat -> per-seat, too many": (TEAM, 51, FLAT, 1, "Choose between 1 and 50 seats."),
    "flat -> per-seat, zero": (TEAM, 0, FLAT, 1, "Choose between 1 and 50 seats."),
    "per-seat -> per-seat, more than the new plan allows": (SMALL_TEAM, 6, TEAM, 3, "Choose between 2 and 5 seats."),
    "seats change, too many": (TEAM, 51, TEAM, 5, "Choose between 1 and 50 seats."),
    "subscribe, too few": (ENTERPRISE, 1, None, 1, "Choose between 10 and 200 seats."),
}


@pytest.mark.parametrize("case", REFUSED)
def test_seats_outside_the_bounds_are_refused_with_them(case):
    new, chosen, current, held, message = REFUSED[case]
    with pytest.raises(NotEligible) as refused:
        quantity_to_send(new, chosen, current, held)
    assert str(refused.value) == message


@pytest.mark.parametrize(("held", "kept"), [(0, 2), (2, 2), (4, 4), (5, 5), (99, 5)])
def test_clamp_keeps_what_fits(held, kept):
    assert clamp(held, Seats(2, 5)) == kept
