"""The emails Stripe's events call for, each with a signed link to the one step that
helps (see billing.links): a failed payment asks for a new card, a trial that is
about to end for a payment method. Prepared here, sent through `billing.email`.

Called by the webhook once per event (the event id is recorded in the same
transaction, so a redelivery sends nothing: see mirror.apply_event), after the
mirror was refreshed from Stripe, so the wording reads what Stripe says now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from billing import links
from billing.buttons import BUTTON, ready
from billing.catalog import format_amount
from billing.choosing import Chosen
from billing.eligibility import NotEligible
from billing.email import Message, send_email
from billing.models import User
from billing.presenters import format_day

log = logging.getLogger(__name__)

# How the emails sign off (the templates' brand: change both together).
SITE_NAME = "Acme Cloud"
CARD_BUTTON = "update_payment_method"


def payment_failed(user: User, link: str, expires: str) -> Message:
    sub = user.subscription
    due = ""
    if sub is not None and sub.open_invoice_amount and sub.currency:
        due = f" {format_amount(sub.open_invoice_amount, sub.currency)} is still due."
    text = (
        f"Hello,\n\nWe could not charge your card for your {SITE_NAME} subscription.{due}\n\n"
        f"Update the card here (the link works once, until {expires}):\n{link}\n\n"
        "Then pay the open invoice from your account page, and your subscription is active again.\n\n"
        f"{SITE_NAME}\n"
    )
    return Message(to=user.email, subject=f"Your {SITE_NAME} payment failed: please update your card", text=text)


def trial_ending(user: User, link: str, expires: str) -> Message | None:
    sub, profile = user.subscription, user.profile
    if sub is None or sub.status != "trialing":
        # A late event (the trial already ended: paid, or past due, which has its own email).
        return None
    ends = format_day(sub.current_period_end) if sub.current_period_end else "soon"
    then = ""
    if sub.amount is not None and sub.currency and sub.interval:
        then = f", then {format_amount(sub.amount, sub.currency)} per {sub.interval}"
    if profile is not None and profile.card_last4:
        card = f"{(profile.card_brand or 'card').title()} ending in {profile.card_last4}"
        ask = f"We will charge your {card}. To use another one"
    else:
        ask = "Add a payment method so that your subscription continues"
    text = (
        f"Hello,\n\nYour {SITE_NAME} trial ends on {ends}{then}.\n\n"
        f"{ask} (the link works once, until {expires}):\n{link}\n\n{SITE_NAME}\n"
    )
    return Message(to=user.email, subject=f"Your {SITE_NAME} trial ends on {ends}", text=text)


# The events that send an email, and what it says (every one links to a new card).
EMAILS: dict[str, Callable[[User, str, str], Message | None]] = {
    "invoice.payment_failed": payment_failed,
    "customer.subscription.trial_will_end": trial_ending,
}


def on_event(event_type: str, user: User) -> None:
    """Prepare and send the email `event_type` calls for, if any. Raises EmailNotSent."""
    prepare = EMAILS.get(event_type)
    if prepare is None:
        return
    button = BUTTON[CARD_BUTTON]
    try:
        ready(user, button, Chosen())
    except NotEligible as e:
        # Same rule as the account page's button: a link that could only be refused helps no one.
        log.info("No %s email for user %s: %s", event_type, user.id, e)
        return
    token = links.make(user, button.key, expires=links.DEFAULT_EXPIRY)
    expires = datetime.now(UTC).replace(tzinfo=None) + links.DEFAULT_EXPIRY
    message = prepare(user, links.url(token), format_day(expires))
    if message is not None:
        send_email(message)
