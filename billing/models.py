"""Persistence: billing accounts and the local mirror of their Stripe subscription.

Pages read these rows only; Stripe is asked on a button press and when a flow
brings the customer back, and on a webhook (see `billing.mirror`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Executable, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from billing.eligibility import LIVE_STATUSES, SubscriptionFacts
from billing.settings import LIVE_ORIGIN

if TYPE_CHECKING:
    from billing.snapshots import CustomerSnapshot, SubscriptionSnapshot


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def rows_changed(statement: Executable) -> int:
    """Run an UPDATE (or DELETE) in the session; how many rows it changed."""
    result: CursorResult[Any] = db.session.execute(statement)  # type: ignore[assignment]
    return result.rowcount


def utcnow() -> datetime:
    """Naive UTC, as every datetime column stores (SQLite keeps no time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


class BillingAccount(Base):
    """The owner of the billing records: one per signed-in person (`owner_id`, the id
    the site's sign-in gives them, see billing.signin), made the first time it is needed
    (current.account()). Billing never reads the sign-in's own tables."""

    __tablename__ = "billing_accounts"
    # AUTOINCREMENT: an id is never given again (SQLite would reuse the highest id after a
    # delete, and an email link or a report naming the old one would reach the new owner).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(255), unique=True)
    # The person's email as the sign-in last said it: Stripe's customer and the link pages use it.
    email: Mapped[str] = mapped_column(String(254), index=True)
    # One Stripe customer per account, created the first time a button needs it.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Where that customer was made (Settings.stripe_origin): a test-mode customer does not
    # exist under a live key, nor one made by a stand-in at Stripe. None: not recorded
    # (rows from before this column), trusted as before.
    stripe_origin: Mapped[str | None] = mapped_column(String(32))
    # The language chosen for Stripe's pages (one of flows.PORTAL_LOCALES), or
    # None to follow the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Read stamps (billing.mirror.refresh): each read of this customer from Stripe takes the
    # next `read_ticket` before it starts; what it read of the subscription (of the billing
    # details) is written only if no read that started later wrote it first
    # (`written_ticket`, `profile_ticket`). Two refreshes that race (a worker's and a flow's
    # return) then keep the later read of each, whichever finishes last.
    read_ticket: Mapped[int] = mapped_column(default=0, server_default="0")
    written_ticket: Mapped[int] = mapped_column(default=0, server_default="0")
    profile_ticket: Mapped[int] = mapped_column(default=0, server_default="0")

    # Every page shows both: load them with the account, in the same query.
    subscription: Mapped[Subscription | None] = relationship(
        back_populates="account", uselist=False, cascade="all, delete-orphan", lazy="joined"
    )
    profile: Mapped[BillingProfile | None] = relationship(
        back_populates="account", uselist=False, cascade="all, delete-orphan", lazy="joined"
    )

    def use_customer(self, customer_id: str, origin: str) -> None:
        """The account's Stripe customer from now on, made under `origin` (not committed)."""
        self.stripe_customer_id = customer_id
        self.stripe_origin = origin

    @property
    def customer_idempotency_key(self) -> str:
        """Creating this account's customer twice at once (two clicks, two instances) makes
        one customer: Stripe answers the second request with the first's result
        (https://docs.stripe.com/api/idempotent_requests). The creation time keeps it from
        matching a key of an account that had this id on another database."""
        return f"customer-for-account-{self.id}-{self.created_at:%Y%m%dT%H%M%S%f}"


def forget_customer_from_elsewhere(account: BillingAccount, origin: str) -> bool:
    """If the account's customer was made under another origin than `origin` (the
    one in use now), forget it and the mirror of it: Stripe would answer "No such
    customer", so the account is treated as having none, and a button makes a new one.
    Returns whether anything was forgotten (the caller commits).

    A live customer is never forgotten: under a test key (a mistake, such as a staging
    site pointed at the production database) its buttons fail with Stripe's message, and
    with the live key back everything is as it was. Forgetting it would lose the link to
    a paying customer, and a second subscription could follow."""
    if account.stripe_customer_id is None or account.stripe_origin in (None, origin, LIVE_ORIGIN):
        return False
    account.stripe_customer_id = account.stripe_origin = None
    account.subscription = None
    account.profile = None
    return True


def delete_account(owner_id: str) -> None:
    """Remove the billing account of a person the site deleted (not committed): its
    mirror goes; its cancellations stay, anonymous, for the reports. The Stripe customer
    is Stripe's record and stays there."""
    account = db.session.scalar(db.select(BillingAccount).where(BillingAccount.owner_id == owner_id))
    if account is not None:
        # Set here, not only by the foreign key's ON DELETE: SQLite enforces it only with a pragma.
        db.session.execute(db.update(Cancellation).where(Cancellation.account_id == account.id).values(account_id=None))
        db.session.delete(account)


class Subscription(Base):
    """What the pages show of the account's current Stripe subscription."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), unique=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    # The single subscription item the plan buttons change, and its price.
    item_id: Mapped[str] = mapped_column(String(255))
    item_count: Mapped[int] = mapped_column(default=1)
    price_id: Mapped[str] = mapped_column(String(255))
    lookup_key: Mapped[str | None] = mapped_column(String(255))
    interval: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[int | None]
    currency: Mapped[str | None] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(default=1)
    current_period_end: Mapped[datetime | None]
    # A scheduled cancellation shows up in either field: the portal in flexible
    # billing mode sets `cancel_at` and leaves `cancel_at_period_end` false.
    cancel_at: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    canceled_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # "flexible" or "classic": only flexible subscriptions can be paused.
    billing_mode: Mapped[str] = mapped_column(String(16), default="flexible")
    discount_coupon: Mapped[str | None] = mapped_column(String(255))
    # While the latest invoice is unpaid: what is due, and Stripe's hosted page to pay it.
    open_invoice_amount: Mapped[int | None]
    open_invoice_url: Mapped[str | None] = mapped_column(String(2048))
    # Stripe's `cancellation_details` (see snapshots.SubscriptionSnapshot); the history of
    # every cancellation, for reports, is kept in `cancellations`.
    cancellation_reason: Mapped[str | None] = mapped_column(String(64))
    cancellation_feedback: Mapped[str | None] = mapped_column(String(64))
    cancellation_comment: Mapped[str | None] = mapped_column(Text)
    discount_started_at: Mapped[datetime | None]
    # A plan change waiting for the period's end in a subscription schedule (the portal's
    # downgrades): the schedule, what the subscription moves to and when.
    schedule_id: Mapped[str | None] = mapped_column(String(255))
    scheduled_price_id: Mapped[str | None] = mapped_column(String(255))
    scheduled_lookup_key: Mapped[str | None] = mapped_column(String(255))
    scheduled_quantity: Mapped[int | None]
    scheduled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[BillingAccount] = relationship(back_populates="subscription")

    @property
    def is_live(self) -> bool:
        """Still billing or able to bill (so it can change plan or be canceled)."""
        return self.status in LIVE_STATUSES

    def facts(self) -> SubscriptionFacts:
        return SubscriptionFacts(
            id=self.stripe_subscription_id,
            item_id=self.item_id,
            lookup_key=self.lookup_key,
            status=self.status,
            item_count=self.item_count,
            quantity=self.quantity,
            billing_mode=self.billing_mode,
            cancel_at=self.scheduled_cancel_at,
            schedule_id=self.schedule_id,
            changes_at=self.scheduled_at if self.scheduled_price_id else None,
        )

    def forget_scheduled_change(self) -> None:
        """The schedule was released: the subscription stays as it is (not committed)."""
        self.schedule_id = self.scheduled_price_id = self.scheduled_lookup_key = None
        self.scheduled_quantity = self.scheduled_at = None

    @property
    def scheduled_cancel_at(self) -> datetime | None:
        """When a scheduled cancellation takes effect, whichever field Stripe used."""
        if self.cancel_at is not None:
            return self.cancel_at
        if self.cancel_at_period_end:
            return self.current_period_end
        return None


class BillingProfile(Base):
    """What the account page shows of the Stripe customer: billing details and
    the default card. Kept in sync by webhooks, so the page asks Stripe nothing."""

    __tablename__ = "billing_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id"), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254))
    # Stripe's address fields (line1, line2, city, state, postal_code, country).
    address: Mapped[dict[str, str | None] | None] = mapped_column(JSON)
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None]
    card_exp_year: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[BillingAccount] = relationship(back_populates="profile")


class StripePrice(Base):
    """Stripe's id of the active price for each of the catalog's lookup keys, so a
    click sends it without asking Stripe first. Written by `flask stripe setup` and
    on every `price.*` or `product.*` webhook (see mirror.refresh_prices); `price_id`
    is None once no active price has the key (archived): its buttons are refused
    with no Stripe call."""

    __tablename__ = "stripe_prices"

    lookup_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    price_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Cancellation(Base):
    """One cancellation of a subscription, kept after the mirror moves on (a new
    subscription, a renewal), so a report can cover any dates. Also one row each time a
    customer who started to cancel took the retention coupon instead (`offer_accepted`:
    nothing was canceled). Written by `billing.cancellations.record` from what Stripe says.

    A subscription, a moment and a kind name one row: the same state read again (a
    redelivered event, the way back and a webhook at once) finds the row it wrote."""

    __tablename__ = "cancellations"
    __table_args__ = (UniqueConstraint("stripe_subscription_id", "requested_at", "offer_accepted"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The history outlives the account (a deleted account keeps its answers, anonymous).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("billing_accounts.id", ondelete="SET NULL"))
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str] = mapped_column(String(255))
    # When the customer asked (Stripe's `canceled_at`, kept when a scheduled end comes),
    # or took the offer (the discount's `start`).
    requested_at: Mapped[datetime]
    offer_accepted: Mapped[bool] = mapped_column(default=False)
    # Scheduled (`cancel_at`, or `cancel_at_period_end`) rather than at once.
    at_period_end: Mapped[bool] = mapped_column(default=False)
    # When the subscription ends (or ended) because of it.
    effective_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(64))
    feedback: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    # A scheduled cancellation that no longer stands: renewed before its date, or replaced
    # by a later request (such as "cancel now" after "at period end").
    withdrawn_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeEvent(Base):
    """A webhook event, recorded as it arrives and applied later by the background work
    (billing.worker). Its id is the primary key, so a second delivery of the same event
    (a retry, or two instances at once) is not recorded, and so not applied, twice."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    # The customer the event is about, as Stripe says (None for a price or portal event).
    customer: Mapped[str | None] = mapped_column(String(255))
    # What the event wakes (billing.inbox.subject_of): a customer's id, "prices" or "portal".
    # Every pending event of one subject is answered by one read of Stripe.
    subject: Mapped[str | None] = mapped_column(String(255))
    # When Stripe made it (Unix time), and the event itself, as signed.
    created: Mapped[int | None]
    payload: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    # The refresh answering it: set as it starts (its random id), cleared if it fails.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    # None until a refresh that read Stripe after it arrived was written.
    applied_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_stripe_events_pending", "subject", "applied_at"),)


class Notice(Base):
    """An email an event called for (billing.notices), recorded with the refresh that
    applied the event, leased while it is handed to the mailer and marked sent once the
    mailer took it: a job that runs again (a retry, a second worker) sends only what is
    neither sent nor leased; a lease whose process died runs out, and the sweep sends it."""

    __tablename__ = "notices"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class LinkUse(Base):
    """A signed email link already used (see billing.links). Its random id is the primary
    key, so of two presses at once (a double click, two devices) only one can record it,
    and so only one opens Stripe's page. No foreign key: removing an account (a demo
    reset) must not wait on the record of its old links."""

    __tablename__ = "link_uses"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int]
    button: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


def save_subscription(account: BillingAccount, snap: SubscriptionSnapshot | None) -> bool:
    """Copy what Stripe said into the local mirror the pages read (the caller
    commits). Returns whether anything the pages show changed."""
    if snap is None:
        return False
    sub = account.subscription or Subscription(account=account)
    fields = dataclasses.asdict(snap)
    del fields["customer"]
    fields["stripe_subscription_id"] = fields.pop("id")
    # Stripe names the coming price by id only (an expansion that deep is refused): the
    # mirrored prices (which price webhooks keep current) name it, else those read at start.
    fields["scheduled_lookup_key"] = _lookup_key_of(snap.scheduled_price_id) or snap.scheduled_lookup_key
    changed = any(getattr(sub, name) != value for name, value in fields.items())
    for name, value in fields.items():
        setattr(sub, name, value)
    db.session.add(sub)
    return changed


def _lookup_key_of(price_id: str | None) -> str | None:
    if price_id is None:
        return None
    found: str | None = db.session.scalar(db.select(StripePrice.lookup_key).where(StripePrice.price_id == price_id))
    return found


def save_profile(account: BillingAccount, snap: CustomerSnapshot) -> bool:
    """Copy the customer's billing details and default card into the mirror (not committed)."""
    profile = account.profile or BillingProfile(account=account)
    fields = dataclasses.asdict(snap)
    changed = any(getattr(profile, name) != value for name, value in fields.items())
    for name, value in fields.items():
        setattr(profile, name, value)
    db.session.add(profile)
    return changed


class PortalConfiguration(Base):
    """The customer-portal configuration sessions use and what it allows, as the pages
    need it (see `billing.portal_facts`): one row, found by its primary key. Written by
    `flask stripe setup`, at start when Stripe answers, and on every
    `billing_portal.configuration.*` webhook, so every instance reads the same facts; no
    row means they are unknown, and the pages say only what is true either way."""

    __tablename__ = "portal_configurations"

    # Always portal_facts.IN_USE: a primary key, so a page finds the row with one indexed read.
    id: Mapped[int] = mapped_column(primary_key=True)
    configuration_id: Mapped[str] = mapped_column(String(255))
    found_by: Mapped[str] = mapped_column(String(255))
    subscription_update: Mapped[bool]
    subscription_cancel: Mapped[bool]
    cancel_mode: Mapped[str] = mapped_column(String(32))
    proration_behavior: Mapped[str] = mapped_column(String(32))
    subscription_pause: Mapped[bool]
    payment_method_update: Mapped[bool]
    customer_update: Mapped[bool]
    # product id -> the price ids `subscription_update` may switch to.
    update_products: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    adjustable_quantity: Mapped[list[str]] = mapped_column(JSON)
    schedule_conditions: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
