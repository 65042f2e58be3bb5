"""/links/<token>: where an email's signed link lands (tokens: billing.links).

GET shows what the link will do, with one button, and changes nothing: mail
scanners and link previews open links before the customer does, so opening one
neither calls Stripe nor uses it up. The button POSTs (CSRF) to the same address,
which checks everything again, records the link as used, and sends the customer to
Stripe's page for that one step through the button's own builder and Stripe call
(buttons.open_step), answering 303; the step ends back on the account page.

No sign-in is needed, on purpose: a customer reading the email on a phone is
usually signed out, and the token is the credential, as a password-reset link is.
It authorises exactly one step for exactly its user, and signs no one in. If
someone else is signed in, the link is refused (403) rather than acting for
either account: which one the person at the keyboard meant is not ours to guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template
from flask.typing import ResponseReturnValue

from billing import current, links, presenters, signin, web
from billing.buttons import BUTTON, Button, choices, open_step, ready
from billing.choosing import Chosen
from billing.eligibility import NotEligible
from billing.limits import limiter
from billing.links import Claims, LinkRefused
from billing.models import BillingAccount, db
from billing.stripe_api import BillingError

bp = Blueprint("links", __name__)
# Presses per client address: each one may make a Stripe call.
PRESSES = "10 per minute;100 per hour"


@dataclass(frozen=True)
class Opened:
    """A link that may be used now: its claims, its account, the button and the choice."""

    claims: Claims
    account: BillingAccount
    button: Button
    chosen: Chosen


def check(token: str) -> Opened:
    """Everything a link must be, from local records only (no Stripe call); LinkRefused
    with the page's status otherwise."""
    claims = links.read(token)
    if links.used(claims):
        raise links.used_up()
    account = db.session.get(BillingAccount, claims.account_id)
    if account is None or links.email_tag(account.email) != claims.email_tag:
        raise LinkRefused(410, "This link is no longer valid", "The account it was sent for has changed. Sign in.")
    viewer = current.account_or_none()
    if viewer is not None and viewer.id != account.id:
        raise LinkRefused(
            403,
            "This link is for another account",
            f"You are signed in as {viewer.email}, and the link was sent to "
            f"{links.mask_email(account.email)}. Sign out, then open the link again.",
        )
    button = BUTTON.get(claims.button)
    price = current.catalog().price(claims.price) if claims.price else None
    if button is None or button.link is None or (claims.price and price is None):
        raise LinkRefused(409, "This link no longer works", "What it opened is no longer offered. Sign in.")
    try:
        chosen = ready(account, button, Chosen(price=price))
    except NotEligible as e:
        raise LinkRefused(409, "This can't be done any more", f"{e} Sign in to see your account.") from e
    return Opened(claims, account, button, chosen)


def page(opened: Opened, token: str, status: int = 200) -> Response:
    """The link's page: what its one button will do, and for which account."""
    link = opened.button.link
    assert link is not None, "check lets through only buttons reachable by link"
    does = link.does
    if opened.chosen.price is not None:
        does += f" to {presenters.price_name(current.catalog(), opened.chosen.price)}"
    choice = choices(opened.account)[opened.button.key]
    expires = datetime.fromtimestamp(opened.claims.expires_at, UTC).replace(tzinfo=None)
    body = render_template(
        "links/open.html",
        heading=f"{does} for the account of {links.mask_email(opened.account.email)}",
        label=choice.label,
        note=choice.note,
        style="danger" if opened.button.shows.style == "danger" else "primary",
        token=token,
        expires=expires,
    )
    return Response(body, status)


@bp.get(links.LINKS_PATH + "/<token>")
def open_link(token: str) -> ResponseReturnValue:
    """What the link will do, with one button: no Stripe call, and the link stays unused."""
    return page(check(token), token)


@bp.post(links.LINKS_PATH + "/<token>")
@limiter.limit(PRESSES, methods=["POST"])
def use_link(token: str) -> ResponseReturnValue:
    """The page's button: check again (time has passed since the GET), use the link up,
    then open the step as the button on the account page would, and 303 to Stripe."""
    opened = check(token)
    if not links.claim(opened.claims):  # pressed at the same moment elsewhere
        raise links.used_up()
    try:
        # Signed out, the browser's session cookie (readable by whoever holds it) gets nothing
        # of the account: the link may have been forwarded.
        url = open_step(opened.account, opened.button, opened.chosen, signed_in=signin.person() is not None)
    except BillingError as e:
        links.release(opened.claims)  # nothing happened: the link works again for a retry
        flash(str(e), "error")
        return page(opened, token, 503)
    return redirect(url, 303)


@bp.errorhandler(LinkRefused)
def refused(e: LinkRefused) -> ResponseReturnValue:
    return render_template("links/refused.html", title=e.title, message=e.message), e.status


@bp.after_request
def private(response: Response) -> Response:
    # The address holds the token: no cache may keep the page, no other site may see it
    # in a Referer, no search engine may list it.
    web.never_store(response)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
