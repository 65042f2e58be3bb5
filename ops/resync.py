"""`flask stripe resync`: the whole mirror read again from Stripe, a page at a time.

Reading each customer would take two calls per customer: 200,000 for 100,000 customers,
hours at a sandbox's 25 calls a second. Listing instead takes one call per 100
subscriptions and one per 100 customers (https://docs.stripe.com/api/pagination), under
the background share of the rate limit (billing.budget), so clicks keep working meanwhile.
Every account's read stamp is taken before the first page, so a refresh that read Stripe
later (a webhook's, a flow's return) is never overwritten by this older read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe
from sqlalchemy import select, update

from billing import mirror
from billing.eligibility import ENDED_STATUSES
from billing.models import BillingAccount, db, forget_customer_from_elsewhere
from billing.snapshots import CustomerSnapshot, SubscriptionSnapshot, customer_snapshot, expanded, snapshot
from billing.stripe_api import StripeAPI

T = TypeVar("T")

# Accounts written per transaction: short transactions, few round trips.
BATCH = 200


@dataclass
class Resync:
    customers: int = 0
    calls: int = 0
    updated: int = 0
    forgotten: int = 0
    # Accounts whose customer Stripe no longer lists (deleted at Stripe): left as they are.
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


def resync_all(api: StripeAPI, progress: Callable[[int], None] = lambda n: None) -> Resync:
    """Read every account's subscription and billing details from Stripe into the mirror
    (committed). `progress(n)` is told of each n customers read, twice over: their
    subscriptions, then their details."""
    started = time.monotonic()
    result = Resync()
    result.forgotten = _forget_customers_from_elsewhere(api.origin)
    tickets = _take_tickets()
    result.customers = len(tickets)
    best: dict[str, tuple[tuple[bool, int], SubscriptionSnapshot]] = {}
    for page in _counted(every_subscription(api), result):
        mine = [s for s in page if _customer_id(s.customer) in tickets]
        for sub in mine:
            # Of one customer's subscriptions, the pages show the newest live one, else the newest.
            rank = (sub.status not in ENDED_STATUSES, sub.created)
            customer = _customer_id(sub.customer)
            if customer not in best or rank > best[customer][0]:
                best[customer] = (rank, snapshot(sub, api.lookup_keys()))
        progress(len({_customer_id(s.customer) for s in mine}))
    profiles: dict[str, CustomerSnapshot] = {}
    for people in _counted(every_customer(api), result):
        for person in people:
            if person.id in tickets:
                profiles[person.id] = customer_snapshot(person)
        progress(sum(p.id in tickets for p in people))
    result.updated = _write(tickets, {c: snap for c, (_, snap) in best.items()}, profiles)
    result.missing = sorted(set(tickets) - set(profiles))
    result.seconds = time.monotonic() - started
    return result


def _pages(api: StripeAPI, list_call: Any, params: dict[str, Any], doing: str) -> Iterator[list[Any]]:
    """Every object of a Stripe list, a page of 100 at a time: by hand rather than
    auto_paging_iter, so that each page is one call and takes its turn in the budget."""
    while True:
        with api.calling(doing):
            page = list_call(params)
        yield list(page.data)
        if not page.has_more or not page.data:
            return
        params = {**params, "starting_after": page.data[-1].id}


def every_subscription(api: StripeAPI) -> Iterator[list[stripe.Subscription]]:
    """Every subscription of the account, expanded as `StripeAPI.customer_state` reads them."""
    params: dict[str, Any] = {"status": "all", "limit": 100, "expand": expanded("data.")}
    return _pages(api, api.client.v1.subscriptions.list, params, "read the subscriptions")


def every_customer(api: StripeAPI) -> Iterator[list[stripe.Customer]]:
    """Every customer of the account, with its default card."""
    params: dict[str, Any] = {"limit": 100, "expand": ["data.invoice_settings.default_payment_method"]}
    return _pages(api, api.client.v1.customers.list, params, "read the customers")


def _counted(pages: Iterator[list[T]], result: Resync) -> Iterator[list[T]]:
    for page in pages:
        result.calls += 1
        yield page


def _customer_id(customer: str | stripe.Customer) -> str:
    return customer if isinstance(customer, str) else customer.id


def _forget_customers_from_elsewhere(origin: str) -> int:
    accounts = db.session.scalars(select(BillingAccount).where(BillingAccount.stripe_customer_id.is_not(None))).all()
    forgotten = sum(forget_customer_from_elsewhere(account, origin) for account in accounts)
    db.session.commit()
    return forgotten


def _take_tickets() -> dict[str, tuple[int, int]]:
    """Every account's next read stamp (committed): customer id -> (account id, ticket)."""
    rows = db.session.execute(
        update(BillingAccount)
        .where(BillingAccount.stripe_customer_id.is_not(None))
        .values(read_ticket=BillingAccount.read_ticket + 1)
        .returning(BillingAccount.stripe_customer_id, BillingAccount.id, BillingAccount.read_ticket)
    ).all()
    db.session.commit()
    return {customer: (account_id, ticket) for customer, account_id, ticket in rows if customer}


def _write(
    tickets: dict[str, tuple[int, int]],
    subscriptions: dict[str, SubscriptionSnapshot],
    profiles: dict[str, CustomerSnapshot],
) -> int:
    updated = 0
    customers = sorted(tickets)
    for start in range(0, len(customers), BATCH):
        for customer in customers[start : start + BATCH]:
            account_id, ticket = tickets[customer]
            account = db.session.get(BillingAccount, account_id)
            if account is None:  # deleted meanwhile
                continue
            updated += mirror.write(account, ticket, subscriptions.get(customer), profiles.get(customer))
        db.session.commit()
    return updated
