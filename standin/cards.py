"""Stripe's test cards and test PaymentMethod ids, and what charging each one does.

One table read by Checkout, payment_method_update and the API (PaymentMethod
attach with `pm_card_*` ids), from https://docs.stripe.com/testing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    last4: str
    funding: str = "credit"
    # Stripe's `decline_code` and the message its pages show; None when charges succeed.
    decline_code: str | None = None
    decline_message: str | None = None
    # Charges need 3D Secure authentication first (https://docs.stripe.com/testing#regulatory-cards).
    requires_authentication: bool = False


CARDS: dict[str, TestCard] = {
    card.number: card
    for card in (
        TestCard("4242424242424242", "visa", "4242"),
        TestCard("5555555555554444", "mastercard", "4444"),
        # "Always authenticate": every charge needs 3DS.
        TestCard("4000002760003184", "visa", "3184", requires_authentication=True),
        # Attaches fine, declines on the next charge: Stripe's "decline after attaching" card.
        TestCard(
            "4000000000000341",
            "visa",
            "0341",
            decline_code="generic_decline",
            decline_message="Your card was declined.",
        ),
        TestCard(
            "4000000000009995",
            "visa",
            "9995",
            decline_code="insufficient_funds",
            decline_message="Your card has insufficient funds.",
        ),
        TestCard(
            "4000000000000002",
            "visa",
            "0002",
            decline_code="generic_decline",
            decline_message="Your card was declined.",
        ),
    )
}

# Stripe's test PaymentMethod ids: attaching one makes a new card from its test number.
PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclined": "4000000000000002",
}

_BY_LAST4 = {card.last4: card for card in CARDS.values()}


def for_last4(last4: str) -> TestCard | None:
    """The test card a stored payment method came from (test last4s are unique)."""
    return _BY_LAST4.get(last4)
