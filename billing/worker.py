"""The background work a webhook wakes, run by the queue (billing.queue) in an app context,
under the background share of Stripe's rate limit (billing.budget).

`refresh(subject)` answers every pending event of one subject (billing.inbox) with one
read of Stripe, however many arrived: it claims them (committed), reads Stripe with no
transaction open, then writes what Stripe said, marks them applied and records the emails
they call for, in one short transaction; then sends those emails, and claims again if
more came meanwhile. A refresh that finds nothing to claim makes no call: an earlier one
read Stripe after its events arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from billing import current, inbox, mirror, notices, portal_facts
from billing.email import EmailNotSent
from billing.models import BillingAccount, Notice, db, forget_customer_from_elsewhere
from billing.stripe_api import BillingError, transient

log = logging.getLogger(__name__)

# A sweep re-queues events left unclaimed this long since they came or their last try
# failed (the queue was down, or their job was lost: longer than a retry's wait, and than
# most renewal days' backlog) and claims this old (their worker died mid-refresh).
UNCLAIMED_SECONDS = 300
CLAIMED_SECONDS = 600


# [tutorial: refresh-subject]
def refresh(subject: str) -> None:
    """Apply the subject's pending events. Raises BillingError (Stripe could not be
    read: the events are pending again, and the queue retries later)."""
    # Again while any wait: an event recorded as this claim began may have found an
    # earlier one waiting, and queued no job of its own (see inbox.waiting_before).
    while (claim := inbox.claim(subject)) is not None:
        token, events = claim
        try:
            account = _apply(subject, events)
            inbox.applied(token)
            db.session.commit()
        except BaseException:
            inbox.release(token)
            raise
        log.info("Applied %d event(s) for %s", len(events), subject)
        if account is not None:
            _send(account)


# [end]


def _apply(subject: str, events: list[tuple[str, str]]) -> BillingAccount | None:
    """Read the subject from Stripe into the mirror (not committed). Returns the account
    whose notices to send, if any. Raises BillingError when trying again may succeed."""
    try:
        return _read(subject, events)
    except BillingError as e:
        if transient(e):
            raise
        # Stripe refuses this read (a customer it does not know, a key without access):
        # it would fail forever, and hold the events back. Logged, and set aside.
        db.session.rollback()
        log.error("Gave up on %d event(s) for %s: Stripe refused the read (%s)", len(events), subject, e)
        return None


def _read(subject: str, events: list[tuple[str, str]]) -> BillingAccount | None:
    api = current.stripe_api()
    if subject == inbox.PRICES:
        mirror.refresh_prices(api, [p.lookup_key for p in current.catalog().prices])
        return None
    if subject == inbox.PORTAL:
        portal_facts.refresh(api)
        return None
    account = db.session.scalar(select(BillingAccount).where(BillingAccount.stripe_customer_id == subject))
    if account is None or forget_customer_from_elsewhere(account, api.origin):
        return None  # not a customer of this site (or of this key's mode): nothing to read
    mirror.refresh(api, account)
    emails = [(event_id, kind) for event_id, kind in events if kind in notices.EMAILS]
    for event_id, kind in emails:
        db.session.merge(Notice(event_id=event_id, account_id=account.id, kind=kind))
    return account if emails else None


def _send(account: BillingAccount) -> None:
    try:
        notices.send_pending(account)
    except EmailNotSent as e:
        log.warning("An email for account %s was not sent (%s): the next sweep tries again", account.id, e)


def sweep(enqueue: Callable[[str], None]) -> None:
    """Re-queue what waits with no job on its way, and send the notices a failed mailer
    left (the queue runs this every minute)."""
    for subject in inbox.stalled(UNCLAIMED_SECONDS, CLAIMED_SECONDS):
        enqueue(subject)
    waiting = db.session.scalars(select(Notice.account_id).where(Notice.sent_at.is_(None)).distinct()).all()
    for account_id in waiting:
        account = db.session.get(BillingAccount, account_id)
        if account is not None:
            _send(account)
