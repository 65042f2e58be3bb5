"""The emails Stripe's events call for, each with a signed link to the one step that
helps (see billing.links): a failed payment asks for a new card, a trial that is
about to end for a payment method. Prepared here, sent through `billing.email`.

The background work records a notice for each such event with the refresh that
applied it (billing.worker), then sends it after that commit, so the wording reads what
Stripe says now; each notice is sent once, however often its job runs (`send_pending`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from billing import links
from billing.buttons import BUTTON, ready
from billing.catalog import format_amount
from billing.choosing import Chosen
from billing.eligibility import NotEligible
from billing.email import Message, send_email
from billing.models import BillingAccount, Notice, db, rows_changed, utcnow
from billing.presenters import format_day

log = logging.getLogger(__name__)

# How the emails sign off (the templates' brand: change both together).
SITE_NAME = "Acme Cloud"
CARD_BUTTON = "update_payment_method"
# How long a notice handed to the mailer stays leased (billing.models.Notice).
LEASE = timedelta(minutes=10)


def payment_failed(account: BillingAccount, link: str, expires: str) -> Message:
    sub = account.subscription
    due = ""
    if sub is not None and sub.open_invoice_amount and sub.currency:
        due = f" {format_amount(sub.open_invoice_amount, sub.currency)} is still due."
    text = (
        f"Hello,\n\nWe could not charge your card for your {SITE_NAME} subscription.{due}\n\n"
        f"Update the card here (the link works once, until {expires}):\n{link}\n\n"
        "Then pay the open invoice from your account page, and your subscription is active again.\n\n"
        f"{SITE_NAME}\n"
    )
    return Message(to=account.email, subject=f"Your {SITE_NAME} payment failed: please update your card", text=text)


def trial_ending(account: BillingAccount, link: str, expires: str) -> Message | None:
    sub, profile = account.subscription, account.profile
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
    return Message(to=account.email, subject=f"Your {SITE_NAME} trial ends on {ends}", text=text)


# The events that send an email, and what it says (every one links to a new card).
EMAILS: dict[str, Callable[[BillingAccount, str, str], Message | None]] = {
    "invoice.payment_failed": payment_failed,
    "customer.subscription.trial_will_end": trial_ending,
}


def prepare(kind: str, account: BillingAccount) -> Message | None:
    """The email the event type `kind` calls for, or None: none is called for, the link's
    step would be refused (the same rule as the account page's button), or it no longer
    applies (a late event)."""
    write = EMAILS.get(kind)
    if write is None:
        return None
    button = BUTTON[CARD_BUTTON]
    try:
        ready(account, button, Chosen())
    except NotEligible as e:
        log.info("No %s email for account %s: %s", kind, account.id, e)
        return None
    token = links.make(account, button.key, expires=links.DEFAULT_EXPIRY)
    expires = datetime.now(UTC).replace(tzinfo=None) + links.DEFAULT_EXPIRY
    return write(account, links.url(token), format_day(expires))


def send_pending(account: BillingAccount) -> int:
    """Send the account's notices not sent yet; returns how many went. Each is leased
    before the mailer is called (committed: of two jobs at once only one sends it),
    marked sent once the mailer took it, and released if the mailer fails, for the next
    sweep. A lease older than LEASE (its process died mid-send) is taken again: an email
    may then go twice, rather than never. Raises EmailNotSent."""
    now = utcnow()
    free = Notice.sending_at.is_(None) | (Notice.sending_at < now - LEASE)
    pending = db.session.scalars(
        select(Notice.event_id)
        .where(Notice.account_id == account.id, Notice.sent_at.is_(None), free)
        .order_by(Notice.created_at)
    ).all()
    sent = 0
    for event_id in pending:
        taken = Notice.event_id == event_id
        leased = rows_changed(update(Notice).where(taken, Notice.sent_at.is_(None), free).values(sending_at=now))
        db.session.commit()
        if not leased:
            continue  # another job sends it
        kind = db.session.scalar(select(Notice.kind).where(taken))
        try:
            message = prepare(kind or "", account)
            if message is not None:
                send_email(message)
                sent += 1
        except BaseException:
            db.session.rollback()
            db.session.execute(update(Notice).where(taken).values(sending_at=None))
            db.session.commit()
            raise
        db.session.execute(update(Notice).where(taken).values(sent_at=utcnow()))
        db.session.commit()
    return sent
