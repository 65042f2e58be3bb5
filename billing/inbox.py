"""The events Stripe sent, kept until the background work has applied them.

The webhook only records (`record`): Stripe waits for its answer, and on renewal day
it sends thousands of events at once, so the answer must not wait on Stripe, on a lock
or on a mailer ("quickly return a successful status code (2xx) prior to any complex
logic", https://docs.stripe.com/webhooks#best-practices). An event is only a hint of
*what* changed (its payload may be old: Stripe does not deliver in order, and retries for
days), so the work it wakes re-reads that subject from Stripe (billing.worker).

An event's subject is what that re-read is about: the customer's id, or every price
("prices"), or the portal configuration ("portal"). All pending events of one subject
are answered by one read (`claim`), however many arrived.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from uuid import uuid4

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from billing.models import StripeEvent, db, rows_changed, utcnow
from billing.snapshots import EventFacts

# The events this site acts on; any other type is acknowledged and not recorded.
CUSTOMER_EVENTS = frozenset(
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
# Events that may change which price a lookup key names (https://docs.stripe.com/api/events/types).
PRICE_EVENTS = frozenset({"price.created", "price.updated", "price.deleted", "product.updated", "product.deleted"})
# Events that may change what the portal configuration in use allows: "Occurs whenever a
# portal configuration is created / updated" (https://docs.stripe.com/api/events/types,
# billing_portal.configuration.*). The pages word their buttons by it (billing.portal_facts).
PORTAL_EVENTS = frozenset({"billing_portal.configuration.created", "billing_portal.configuration.updated"})

PRICES, PORTAL = "prices", "portal"

Outcome = Literal["recorded", "duplicate", "ignored"]


def subject_of(event: EventFacts) -> str | None:
    """What the event asks to re-read, or None when this site does nothing with it."""
    if event.type in PRICE_EVENTS:
        return PRICES
    if event.type in PORTAL_EVENTS:
        return PORTAL
    if event.type in CUSTOMER_EVENTS:
        return event.customer
    return None


def record(event: EventFacts, payload: str) -> Outcome:
    """Keep a verified event for the background work, and commit. "duplicate": it was
    recorded before (a redelivery, or another instance that got the same event at the
    same moment: the primary key lets one insert through); "ignored": of no interest.
    Raises SQLAlchemyError (the caller answers 503, and Stripe delivers it again)."""
    subject = subject_of(event)
    if subject is None:
        return "ignored"
    db.session.add(
        StripeEvent(
            id=event.id,
            type=event.type,
            customer=event.customer,
            subject=subject,
            created=event.created,
            payload=payload,
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    return "recorded"


def waiting_before(event: EventFacts, subject: str) -> bool:
    """Whether an event of `subject` recorded before this one waits unclaimed: the refresh
    queued for it (or the sweep) will claim this one too, so this one needs no job of its
    own. Asked once this one is committed. Of events recorded at once (two instances), only
    the later ones stand back, so the first always queues its job; and a refresh under way
    claims again before its job ends (worker.refresh), so none is left waiting."""
    mine = select(StripeEvent.received_at).where(StripeEvent.id == event.id).scalar_subquery()
    earlier = (StripeEvent.received_at < mine) | ((StripeEvent.received_at == mine) & (StripeEvent.id < event.id))
    others = select(StripeEvent.id).where(
        StripeEvent.subject == subject, StripeEvent.applied_at.is_(None), StripeEvent.claimed_by.is_(None), earlier
    )
    found = db.session.scalar(others.limit(1)) is not None
    db.session.commit()  # ends the read: the request holds no transaction from here
    return found


def claim(subject: str) -> tuple[str, list[tuple[str, str]]] | None:
    """Mark every pending, unclaimed event of `subject` as answered by a refresh about
    to read Stripe, and commit. Returns the claim's id and the claimed events' ids and types, or
    None when there is none: a refresh already read Stripe after they arrived, or one
    is reading now and an event that lands meanwhile stays unclaimed, for one more."""
    token = uuid4().hex
    claimed = rows_changed(
        update(StripeEvent)
        .where(StripeEvent.subject == subject, StripeEvent.applied_at.is_(None), StripeEvent.claimed_by.is_(None))
        .values(claimed_by=token, claimed_at=utcnow())
    )
    db.session.commit()
    if not claimed:
        return None
    events = db.session.execute(select(StripeEvent.id, StripeEvent.type).where(StripeEvent.claimed_by == token)).all()
    return token, [(event_id, kind) for event_id, kind in events]


def applied(token: str) -> None:
    """The claimed events are applied (not committed: with the refresh's writes)."""
    db.session.execute(update(StripeEvent).where(StripeEvent.claimed_by == token).values(applied_at=utcnow()))


def release(token: str) -> None:
    """The refresh failed: its events are pending again, for the queue's retry (committed)."""
    db.session.rollback()
    # claimed_at stays: when it was last tried, so the sweep leaves it to the queue's retry.
    db.session.execute(update(StripeEvent).where(StripeEvent.claimed_by == token).values(claimed_by=None))
    db.session.commit()


def stalled(waited_seconds: float, claimed_seconds: float) -> list[str]:
    """Subjects whose events wait with no refresh on its way: unclaimed for longer than
    `waited_seconds` (the queue was down when they arrived, or its job was lost), or
    claimed longer than `claimed_seconds` ago by a refresh that never finished (its
    worker was killed: the claim is dropped). Committed."""
    now = utcnow()
    waited, claimed = now - timedelta(seconds=waited_seconds), now - timedelta(seconds=claimed_seconds)
    pending = StripeEvent.applied_at.is_(None)
    stale = (StripeEvent.claimed_by.is_not(None)) & (StripeEvent.claimed_at < claimed)
    last_tried = func.coalesce(StripeEvent.claimed_at, StripeEvent.received_at)
    forgotten = StripeEvent.claimed_by.is_(None) & (last_tried < waited)
    subjects = db.session.scalars(select(StripeEvent.subject).where(pending, stale | forgotten).distinct()).all()
    db.session.execute(update(StripeEvent).where(pending, stale).values(claimed_by=None, claimed_at=None))
    db.session.commit()
    return [s for s in subjects if s is not None]
