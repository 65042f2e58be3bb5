"""Keeping the local mirror right: the pages read it, Stripe changes it.

Customers change their subscription on Stripe's pages, not ours, so the site
learns of it in three ways, all ending in `refresh`:
  - a flow brings the customer back: `refresh(account)` at once, so the page is
    right before any webhook arrives;
  - a webhook event, which the background work answers (billing.worker);
  - `flask stripe resync`, for every customer (or one).
Each refresh also adds to the history of cancellations (`billing.cancellations`).

The catalog's price ids are mirrored the same way (`price_id`, `refresh_prices`),
so a click sends its price without asking Stripe first, and an archived price
is refused as soon as its webhook arrives; so are the portal configuration's
features (`billing.portal_facts`).

A refresh writes what Stripe says now, never what an event said: a late event can
never bring back an older state. Two refreshes of one customer that race (a worker's
and a flow's return) keep the later read, by a read stamp (`take_ticket`, `write`).
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute

from billing import cancellations, current
from billing.models import BillingAccount, StripePrice, db, rows_changed, save_profile, save_subscription
from billing.snapshots import CustomerSnapshot, SubscriptionSnapshot
from billing.stripe_api import PLAN_UNAVAILABLE, BillingError, StripeAPI

log = logging.getLogger(__name__)

# What a refresh reads: the customer's subscription, or the customer (card, billing details).
Part = Literal["subscription", "customer"]


def refresh(api: StripeAPI, account: BillingAccount, only: Part | None = None) -> bool:
    """Read the account's subscription and billing details from Stripe (one read where it
    can; `only="customer"`: the details alone) into the mirror. Its read stamp is
    committed first, so no transaction is open while Stripe answers; the writes are not
    committed. Returns whether the subscription changed."""
    if account.stripe_customer_id is None:
        return False
    ticket = take_ticket(account)
    if only == "customer":
        return write(account, ticket, None, api.customer(account.stripe_customer_id), with_subscription=False)
    subscription, profile = api.customer_state(account.stripe_customer_id)
    return write(account, ticket, subscription, profile)


def take_ticket(account: BillingAccount) -> int:
    """The stamp of a read about to start: the account's next read ticket (committed)."""
    ticket: int = db.session.execute(
        update(BillingAccount)
        .where(BillingAccount.id == account.id)
        .values(read_ticket=BillingAccount.read_ticket + 1)
        .returning(BillingAccount.read_ticket)
    ).scalar_one()
    db.session.commit()
    return ticket


def write(
    account: BillingAccount,
    ticket: int,
    subscription: SubscriptionSnapshot | None,
    profile: CustomerSnapshot | None,
    with_subscription: bool = True,
) -> bool:
    """Write what the read stamped `ticket` found (not committed): the subscription (if
    `with_subscription`) and the billing details (if any), each unless a read that
    started later wrote it first: then this older one is dropped. Each stamp's update
    holds the account's row until the commit (PostgreSQL re-checks it after a concurrent
    writer commits; SQLite has one writer at a time), so of two writers the later read
    wins. Returns whether the subscription changed."""
    changed = False
    if with_subscription and _newest(account, BillingAccount.written_ticket, ticket):
        changed = save_subscription(account, subscription)
        cancellations.record(account, subscription, current.catalog().portal.retention_coupon)
    if profile is not None and _newest(account, BillingAccount.profile_ticket, ticket):
        save_profile(account, profile)
    return changed


def _newest(account: BillingAccount, stamp: InstrumentedAttribute[int], ticket: int) -> bool:
    newest = rows_changed(
        update(BillingAccount).where(BillingAccount.id == account.id, stamp < ticket).values({stamp: ticket})
    )
    if not newest:
        log.info("Dropped a read of account %s (%s): a later one was written first", account.id, stamp.key)
    return bool(newest)


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
