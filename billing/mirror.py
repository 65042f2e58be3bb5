"""Keeping the local mirror right: the pages read it, Stripe changes it.

Customers change their subscription on Stripe's pages, not ours, so the site
learns of it in three ways, all ending here:
  - a flow brings the customer back: `refresh(account)` once, so the page is
    right before any webhook arrives;
  - a webhook event: `apply_event(event)`;
  - `flask stripe resync`: `refresh` for every customer (or one).
Each refresh also adds to the history of cancellations (`billing.cancellations`).

The catalog's price ids are mirrored the same way (`price_id`, `refresh_prices`),
so a click sends its price without asking Stripe first, and an archived price
is refused as soon as its webhook arrives; so are the portal configuration's
features (`billing.portal_facts`).

An event is only a hint of *which* customer (or price) changed. Its payload may be old
(Stripe does not deliver in order, and retries for days), so the handler
re-reads the customer from Stripe and writes what Stripe says now: a late
event can never bring back an older state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from billing import cancellations, current, portal_facts
from billing.models import (
    BillingAccount,
    StripeEvent,
    StripePrice,
    db,
    forget_customer_from_elsewhere,
    save_profile,
    save_subscription,
)
from billing.snapshots import EventFacts
from billing.stripe_api import PLAN_UNAVAILABLE, BillingError, StripeAPI

log = logging.getLogger(__name__)

# The events this site acts on; any other type is acknowledged and ignored.
HANDLED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.updated",
        "payment_method.attached",
        "payment_method.detached",
        "invoice.paid",
        "invoice.payment_failed",
        # A plan change kept for the period's end: made, moved on a phase, or dropped
        # (https://docs.stripe.com/api/events/types, subscription_schedule.*).
        "subscription_schedule.created",
        "subscription_schedule.updated",
        "subscription_schedule.released",
        "subscription_schedule.completed",
        "subscription_schedule.canceled",
        "subscription_schedule.aborted",
        "customer.subscription.trial_will_end",
    }
)
# Events that may change what the portal configuration in use allows: "Occurs whenever a
# portal configuration is created / updated" (https://docs.stripe.com/api/events/types,
# billing_portal.configuration.*). The pages word their buttons by it (billing.portal_facts).
PORTAL_EVENTS = frozenset({"billing_portal.configuration.created", "billing_portal.configuration.updated"})
# Events that may change which price a lookup key names (https://docs.stripe.com/api/events/types).
PRICE_EVENTS = frozenset({"price.created", "price.updated", "price.deleted", "product.updated", "product.deleted"})

Outcome = Literal["applied", "duplicate", "ignored"]
# What a refresh reads: the customer's subscription, or the customer (card, billing details).
Part = Literal["subscription", "customer"]


def refresh(api: StripeAPI, account: BillingAccount, only: Part | None = None) -> bool:
    """Read the account's subscription and billing details (or `only` one of them: one
    Stripe read) into the mirror (not committed). Returns whether the subscription changed."""
    if account.stripe_customer_id is None:
        return False
    changed = False
    if only != "customer":
        subscription = api.current_subscription(account.stripe_customer_id)
        changed = save_subscription(account, subscription)
        cancellations.record(account, subscription, current.catalog().portal.retention_coupon)
    if only != "subscription":
        refresh_profile(api, account)
    return changed


def refresh_profile(api: StripeAPI, account: BillingAccount) -> None:
    """Read the account's billing details and default card into the mirror (not committed)."""
    if account.stripe_customer_id is not None:
        profile = api.customer(account.stripe_customer_id)
        if profile is not None:
            save_profile(account, profile)


def price_id(api: StripeAPI, lookup_key: str) -> str:
    """Stripe's id of the active price with this lookup key, with no Stripe call once
    known: from the mirror (which webhooks keep current), else as read at start, else
    asked once. Raises BillingError when the price is archived."""
    row = db.session.get(StripePrice, lookup_key)
    if row is not None:
        if row.price_id is None:
            raise BillingError(PLAN_UNAVAILABLE)
        return row.price_id
    return api.known_price_id(lookup_key) or api.find_price_id(lookup_key)


def known_price_id(api: StripeAPI, lookup_key: str) -> str | None:
    """The price id a click would send, with no Stripe call (None: unknown or archived)."""
    row = db.session.get(StripePrice, lookup_key)
    return row.price_id if row is not None else api.known_price_id(lookup_key)


def refresh_prices(api: StripeAPI, lookup_keys: list[str]) -> None:
    """Read which active price each lookup key names into the mirror (not committed)."""
    _save_prices(api.active_prices(lookup_keys), lookup_keys)


def save_known_prices(api: StripeAPI, lookup_keys: list[str]) -> None:
    """Write the price ids this process knows (read at start, or made by `flask stripe
    setup`): newer than the mirror, which may even come from another Stripe account or
    mode. Skipped when Stripe could not be read, before `init-db` made the tables, and
    when another instance writes at the same moment."""
    found = {key: price_id for key in lookup_keys if (price_id := api.known_price_id(key))}
    if not found:
        return
    try:
        _save_prices(found, lookup_keys)
        db.session.commit()
    except SQLAlchemyError as e:
        db.session.rollback()
        log.info("Known prices not saved (%s)", type(e).__name__)


def _save_prices(found: dict[str, str], lookup_keys: list[str]) -> None:
    for lookup_key in lookup_keys:
        row = db.session.get(StripePrice, lookup_key) or StripePrice(lookup_key=lookup_key)
        row.price_id = found.get(lookup_key)
        db.session.add(row)


# [tutorial: apply-event]
def apply_event(
    api: StripeAPI, event: EventFacts, lookup_keys: list[str], then: Callable[[str, BillingAccount], None] | None = None
) -> Outcome:
    """Apply one verified event, exactly once, in one transaction.

    The event id is recorded in the same transaction as the changes it
    causes: if anything fails, neither is kept and Stripe's retry applies it
    again; if the id is already there (a redelivery, or another instance
    that got the same event at the same moment and committed first), the
    insert fails and nothing else is written.
    Raises BillingError (Stripe could not be read): the caller answers 5xx
    so that Stripe retries. `then(event type, account)` runs after the refresh, in the
    same transaction (the webhook sends emails there: once per event; again only
    if it raises, which undoes the event for Stripe's retry).
    """
    if event.type not in HANDLED_EVENTS | PRICE_EVENTS | PORTAL_EVENTS:
        return "ignored"
    try:
        db.session.add(StripeEvent(id=event.id, type=event.type))
        db.session.flush()  # on PostgreSQL, waits here for another instance holding this id
    except IntegrityError:
        db.session.rollback()
        log.info("Skipped event %s (%s): already applied", event.id, event.type)
        return "duplicate"
    try:
        if event.type in PRICE_EVENTS:
            refresh_prices(api, lookup_keys)
        if event.type in PORTAL_EVENTS:
            portal_facts.refresh(api)
        account = _customer_owner(event.customer, api.origin)
        if account is not None:
            refresh(api, account)
            if then is not None:
                then(event.type, account)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("Applied event %s (%s) for customer %s", event.id, event.type, event.customer)
    return "applied"


# [end]


def _customer_owner(customer: str | None, origin: str) -> BillingAccount | None:
    """The account whose Stripe customer this is, locked for the rest of the
    transaction (on PostgreSQL): two events for one customer handled at once
    by two instances then refresh one after the other, and the later refresh,
    which read Stripe later, is the one that stays. None if the account's customer
    with this id was made elsewhere (another key or mode): the event is not theirs."""
    if customer is None:
        return None
    # Only the account's row is locked (its subscription and profile are loaded in the same query).
    account = db.session.scalar(
        select(BillingAccount).where(BillingAccount.stripe_customer_id == customer).with_for_update(of=BillingAccount)
    )
    if account is None or forget_customer_from_elsewhere(account, origin):
        return None
    return account
