"""Stripe's test cards (https://docs.stripe.com/testing) as the stand-in knows them."""

from standin import cards, effects, objects


def test_every_test_payment_method_names_a_known_card() -> None:
    assert set(cards.PAYMENT_METHODS.values()) <= set(cards.CARDS)
    assert len({card.last4 for card in cards.CARDS.values()}) == len(cards.CARDS)  # last4 finds the card


def test_declining_cards_carry_stripes_messages() -> None:
    insufficient = objects.card_payment_method(
        cards.PAYMENT_METHODS["pm_card_visa_chargeDeclinedInsufficientFunds"], "cus_1"
    )
    assert effects.decline_message(insufficient) == "Your card has insufficient funds."
    visa = objects.card_payment_method("4242424242424242", "cus_1")
    assert not effects.declines(visa)
    assert cards.CARDS["4000002760003184"].requires_authentication
