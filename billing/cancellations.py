"""The history of cancellations, for reports: one row per cancellation, and one each
time a customer took the retention coupon instead (see models.Cancellation).

The mirror keeps only a subscription's latest state; a report over dates needs what
happened before it. `record` runs wherever the mirror is refreshed (a webhook, the way
back from the portal, `flask stripe resync`) and reads the subscription as Stripe has
it now, never the event: a redelivered or late event finds the row already written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from billing.eligibility import ENDED_STATUSES
from billing.models import Cancellation, User, db, utcnow
from billing.snapshots import SubscriptionSnapshot


@dataclass(frozen=True)
class Entry:
    """One row of the history, as plain values (what a report reads)."""

    requested_at: datetime
    offer_accepted: bool
    at_period_end: bool
    reason: str | None
    feedback: str | None
    comment: str | None
    withdrawn: bool


def record(user: User, snap: SubscriptionSnapshot | None, retention_coupon: str | None) -> None:
    """Write what the subscription says of a cancellation, or of a retention offer taken (not committed)."""
    if snap is None:
        return
    # The portal in flexible billing mode schedules with `cancel_at` alone; classic mode
    # sets `cancel_at_period_end` (https://docs.stripe.com/api/subscriptions/object#subscription_object-cancel_at).
    scheduled = snap.cancel_at is not None or snap.cancel_at_period_end
    if snap.canceled_at is not None or scheduled:
        _cancellation(user, snap, scheduled)
    elif snap.status not in ENDED_STATUSES:
        # Live with nothing scheduled: a scheduled cancellation was undone ("Renew" in the portal).
        for row in _still_scheduled(snap.id):
            row.withdrawn_at = utcnow()
    # Accepting the cancel flow's retention offer applies its coupon to the subscription
    # instead of canceling it (https://docs.stripe.com/customer-management/portal-deep-links).
    # The coupon applied any other way (the Dashboard) would count too: keep it for this offer.
    if retention_coupon and snap.discount_coupon == retention_coupon and snap.discount_started_at is not None:
        _row(user, snap, snap.discount_started_at, offer_accepted=True)


def _cancellation(user: User, snap: SubscriptionSnapshot, scheduled: bool) -> None:
    pending = _still_scheduled(snap.id)
    # `canceled_at` is when it was asked for, kept when the scheduled end comes
    # (https://docs.stripe.com/api/subscriptions/object#subscription_object-canceled_at).
    requested_at = snap.canceled_at or (pending[0].requested_at if pending else utcnow())
    for earlier in pending:
        if earlier.requested_at != requested_at:
            earlier.withdrawn_at = requested_at  # replaced: "cancel now" after "at period end"
    row = _row(user, snap, requested_at, offer_accepted=False)
    row.withdrawn_at = None  # Stripe says it stands now
    if snap.ended_at is not None and snap.canceled_at is not None:
        # Ended: at once if it ended when asked, else at the moment it was scheduled for.
        row.at_period_end = snap.ended_at > snap.canceled_at
    else:
        row.at_period_end = scheduled
    if scheduled and snap.ended_at is None:
        row.effective_at = snap.cancel_at or snap.current_period_end
    else:
        row.effective_at = snap.ended_at or requested_at
    row.reason = snap.cancellation_reason
    row.feedback = snap.cancellation_feedback
    row.comment = snap.cancellation_comment


def _still_scheduled(subscription_id: str) -> list[Cancellation]:
    """The subscription's scheduled cancellations that still stand, newest first."""
    return list(
        db.session.scalars(
            select(Cancellation)
            .where(
                Cancellation.stripe_subscription_id == subscription_id,
                Cancellation.offer_accepted.is_(False),
                Cancellation.at_period_end.is_(True),
                Cancellation.withdrawn_at.is_(None),
            )
            .order_by(Cancellation.requested_at.desc())
        )
    )


def _row(user: User, snap: SubscriptionSnapshot, requested_at: datetime, offer_accepted: bool) -> Cancellation:
    """The row for this subscription, moment and kind, inserted if missing.

    Inserted with ON CONFLICT DO NOTHING: the way back from the portal and a webhook
    may read the same state at once, in two transactions; the second finds the first's
    row instead of failing on the unique key."""
    key: dict[str, Any] = {
        "stripe_subscription_id": snap.id,
        "requested_at": requested_at,
        "offer_accepted": offer_accepted,
    }
    values = {**key, "user_id": user.id, "stripe_customer_id": snap.customer, "recorded_at": utcnow()}
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(insert(Cancellation).values(values).on_conflict_do_nothing())
    row = db.session.scalar(select(Cancellation).filter_by(**key))
    if row is None:  # a database without ON CONFLICT: the unique key still keeps one row
        row = Cancellation(**values)
        db.session.add(row)
    return row


def history(since: datetime, until: datetime) -> list[Entry]:
    """Every row asked for in [since, until) (naive UTC), oldest first."""
    rows = db.session.scalars(
        select(Cancellation)
        .where(Cancellation.requested_at >= since, Cancellation.requested_at < until)
        .order_by(Cancellation.requested_at, Cancellation.id)
    )
    return [
        Entry(
            requested_at=row.requested_at,
            offer_accepted=row.offer_accepted,
            at_period_end=row.at_period_end,
            reason=row.reason,
            feedback=row.feedback,
            comment=row.comment,
            withdrawn=row.withdrawn_at is not None,
        )
        for row in rows
    ]
