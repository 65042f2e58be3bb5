"""Why customers cancel, over a range of days: `flask stripe report` prints it, the
demo's report page shows it.

`compute` is pure: the history's entries (billing.cancellations) and the range in,
the figures out. Every figure comes from Stripe's `cancellation_details`
(https://docs.stripe.com/api/subscriptions/object#subscription_object-cancellation_details),
kept for each cancellation as its webhooks arrived.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from billing.cancellations import Entry

# The range when none is given: the last 30 days, today included.
DEFAULT_DAYS = 30

# Stripe's `feedback` values (the portal's reasons), as the report names them.
FEEDBACK_LABELS = {
    "too_expensive": "Too expensive",
    "missing_features": "Missing features",
    "switched_service": "Switched to another service",
    "unused": "Not used enough",
    "customer_service": "Customer service",
    "too_complex": "Too complex",
    "low_quality": "Low quality",
    "other": "Other",
}
# Stripe's `reason` values: who or what ended the subscription.
REASON_LABELS = {
    "cancellation_requested": "Asked for (the customer, or you through the API)",
    "payment_failed": "Payment failed",
    "payment_disputed": "Payment disputed",
    "canceled_by_retention_policy": "Stripe's retention policy",
}


@dataclass(frozen=True)
class Comment:
    requested_at: datetime
    feedback: str  # its label, or "" when none was chosen
    text: str


@dataclass(frozen=True)
class Report:
    since: date
    until: date  # included
    cancellations: int
    at_period_end: int
    immediately: int
    # (label, count), the most frequent first; those who chose none are counted apart.
    feedback: tuple[tuple[str, int], ...]
    no_feedback: int
    reasons: tuple[tuple[str, int], ...]
    comments: tuple[Comment, ...]
    offers_accepted: int
    # Scheduled cancellations renewed (or replaced) before their date: not counted above.
    withdrawn: int

    @property
    def empty(self) -> bool:
        return not (self.cancellations or self.offers_accepted or self.withdrawn)


# Days a range may name: Stripe's times start in 1970, and the range's end is the day after its last.
YEARS = (1970, 9998)


def parse_day(text: str, name: str) -> date:
    """A YYYY-MM-DD day typed by someone; ValueError with a message for them."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a date: use YYYY-MM-DD, such as 2026-11-01.") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValueError(f"{name} {day} is outside the years {YEARS[0]} to {YEARS[1]}.")
    return day


def date_range(since: str | None, until: str | None, today: date, names: tuple[str, str]) -> tuple[date, date]:
    """The first and last day (both included) from what was typed, each optional:
    by default the last DEFAULT_DAYS days up to `until`. `names` name the two inputs
    in messages (the command's options, the page's fields)."""
    last = parse_day(until, names[1]) if until else today
    first = parse_day(since, names[0]) if since else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError(f"{names[0]} ({first}) is after {names[1]} ({last}): nothing is in that range.")
    return first, last


def bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[since 00:00, the day after until 00:00) in naive UTC, as the history stores times."""
    return datetime.combine(since, time()), datetime.combine(until + timedelta(days=1), time())


def compute(entries: Iterable[Entry], since: date, until: date) -> Report:
    """The report for the entries asked for between `since` and `until` (both included)."""
    start, end = bounds(since, until)
    in_range = [entry for entry in entries if start <= entry.requested_at < end]
    counted = [e for e in in_range if not e.offer_accepted and not e.withdrawn]
    feedback = Counter(FEEDBACK_LABELS.get(e.feedback, e.feedback) for e in counted if e.feedback)
    reasons = Counter(REASON_LABELS.get(e.reason, e.reason) if e.reason else "Not given" for e in counted)
    return Report(
        since=since,
        until=until,
        cancellations=len(counted),
        at_period_end=sum(e.at_period_end for e in counted),
        immediately=sum(not e.at_period_end for e in counted),
        feedback=_most_first(feedback),
        no_feedback=sum(not e.feedback for e in counted),
        reasons=_most_first(reasons),
        comments=tuple(
            Comment(e.requested_at, FEEDBACK_LABELS.get(e.feedback, e.feedback) if e.feedback else "", e.comment)
            for e in counted
            if e.comment
        ),
        offers_accepted=sum(e.offer_accepted for e in in_range),
        withdrawn=sum(e.withdrawn and not e.offer_accepted for e in in_range),
    )


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def lines(report: Report) -> list[str]:
    """The report as the command prints it."""
    out = [f"Why customers cancel, {report.since} to {report.until} (UTC)", ""]
    if report.empty:
        return [*out, "No cancellations and no retention offers accepted in this range."]
    out.append(
        f"Cancellations: {report.cancellations} "
        f"({report.at_period_end} at period end, {report.immediately} immediately)"
    )
    if report.cancellations:
        out.append("  Feedback (the reason the customer chose in the portal):")
        out += [f"    {label:<32}{count:>4}" for label, count in report.feedback]
        out.append(f"    {'None given':<32}{report.no_feedback:>4}")
        out.append("  Ended by (Stripe's reason):")
        out += [f"    {label:<48}{count:>4}" for label, count in report.reasons]
    if report.comments:
        out.append(f"  Comments ({len(report.comments)}):")
        for comment in report.comments:
            about = f" ({comment.feedback})" if comment.feedback else ""
            out.append(f'    {comment.requested_at:%Y-%m-%d}{about}: "{" ".join(comment.text.split())}"')
    out.append(f"Retention offers accepted: {report.offers_accepted} (kept their subscription, with the coupon)")
    if report.withdrawn:
        out.append(f"Withdrawn before taking effect: {report.withdrawn} (renewed or replaced; not counted above)")
    return out
