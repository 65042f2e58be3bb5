"""The pages: pricing and account, and where Stripe sends customers back.

Pages read only the local database and the catalog: no Stripe call per view.
Stripe is asked when a customer comes back from one of its pages (the mirror
is refreshed once, so the page is right before any webhook arrives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from billing import campaign, current, mirror, outcomes, presenters, signin, web
from billing.buttons import BUTTON, BUTTONS, Button, choices
from billing.catalog import Price
from billing.choosing import promo_code
from billing.eligibility import NotEligible, check_plan_change
from billing.errors import refuse
from billing.flows import PORTAL_LOCALES
from billing.forms import LocaleForm
from billing.limits import limiter
from billing.models import BillingAccount, db
from billing.signin import login_required
from billing.stripe_api import BillingError

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class ButtonView:
    """One allowed button as the account page shows it."""

    key: str
    label: str
    note: str
    section: str
    style: str
    form: str | None


# [tutorial: pricing-view]
@bp.route("/")
@bp.route("/pricing", endpoint="pricing_alias")
@web.public_when_signed_out  # a cache may keep it for everyone signed out (billing.web)
def pricing() -> ResponseReturnValue:
    """The merchant's own pricing page, rendered from the catalog: no Stripe call."""
    interval = request.args.get("interval", "month")
    if interval not in ("month", "year"):
        interval = "month"
    catalog = current.catalog()
    picked = catalog.price(request.args.get("plan", ""))
    if picked is not None:
        interval = picked.interval
    u = current.account_or_none()
    if u is None:
        # A campaign link, signed out: the page's links carry the code, and no session keeps
        # it, so the page is the same for everyone at this address.
        promo = campaign.from_link(request.args.get(campaign.PROMO))
    else:
        if campaign.PROMO in request.args:
            campaign.keep(request.args[campaign.PROMO])
        promo = promo_code()
    ways_in = (signin.provider().signup_url(), signin.provider().signin_url())  # once a page, not once a card
    return render_template(
        "pricing.html",
        cards=[
            plan_card(p.prices[interval], u, picked, promo, ways_in) for p in catalog.products if interval in p.prices
        ],
        interval=interval,
        picked_name=presenters.price_name(catalog, picked) if picked else None,
        yearly_saving=presenters.yearly_saving(catalog),
        promo=promo,
        # In the page's own links while signed out (signed in, the session keeps it).
        linked_promo=promo if u is None else None,
        # Shown as applied only when it is one of the catalog's codes; any other code is
        # checked with Stripe on the click (pages make no Stripe calls).
        promo_coupon=catalog.campaign_code(promo or ""),
    )


# [end]


def plan_card(
    price: Price,
    u: BillingAccount | None,
    picked: Price | None,
    promo: str | None = None,
    ways_in: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """What one price card shows, and which button it has (see billing.buttons)."""
    product = current.catalog().product(price.product_id)
    name = product.name if product else price.lookup_key
    card: dict[str, Any] = {"product": product, "price": price, "picked": picked == price, "button": None}
    sub = u.subscription if u else None
    if u is None:
        # Sign up or in with this plan (and the campaign code), where the sign-in has such
        # pages. Their addresses come from the page, looked up once (url_for was its costliest
        # call, see `make bench`).
        query = urlencode({"plan": price.lookup_key, **({campaign.PROMO: promo} if promo else {})})
        signup, signin_ = (f"{url}{'&' if '?' in url else '?'}{query}" if url else None for url in ways_in)
        return card | {"action": "signup", "label": "Get started", "signup": signup, "signin": signin_}
    if sub is None or not sub.is_live:
        return card | _button_card(BUTTON["subscribe"], u, price, f"Subscribe to {name}")
    if sub.lookup_key == price.lookup_key:
        return card | {"action": "current", "label": "Current plan"}
    if sub.scheduled_at is not None and sub.scheduled_lookup_key == price.lookup_key:
        # The plan the customer is switching to at the period's end: nothing to press.
        starts = presenters.short_day(sub.scheduled_at)
        return card | {"action": "scheduled", "label": f"Starting {starts}", "when": sub.scheduled_at}
    try:
        check_plan_change(sub.facts(), price)
    except NotEligible as e:
        return card | {"action": "unavailable", "label": "Not available", "reason": str(e)}
    return card | _button_card(BUTTON["switch_plan"], u, price, f"Switch to {name}")


def _button_card(button: Button, u: BillingAccount, price: Price, label: str) -> dict[str, Any]:
    """A card's button; a per-seat plan's asks for seats, starting where a press would."""
    assert button.asks.preview is not None, "a pricing card's button previews its plan"
    product = current.catalog().product(price.product_id)
    seats = button.asks.preview(u, price).quantity if product and product.seats else None
    return {"action": "button", "button": button, "label": label, "seats": seats}


@bp.route("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Browsers and crawlers ask for /favicon.ico; the pages link static/favicon.svg."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    """The customer's plan, status and dates, from the local mirror: no Stripe call."""
    u = current.account()
    sub = u.subscription
    catalog = current.catalog()
    price = catalog.price(sub.lookup_key) if sub and sub.lookup_key else None
    allowed = choices(u)
    views = [
        ButtonView(b.key, allowed[b.key].label, allowed[b.key].note, b.shows.section, b.shows.style, b.shows.form)
        for b in BUTTONS
        if b.shows.section and allowed[b.key].allowed
    ]
    return render_template(
        "account.html",
        account=u,
        subscription=sub,
        profile=u.profile,
        address=presenters.address(u.profile.address) if u.profile else None,
        product=catalog.product(price.product_id) if price else None,
        coupon=catalog.coupon(sub.discount_coupon) if sub and sub.discount_coupon else None,
        coming_plan=presenters.plan_name(catalog, sub.scheduled_lookup_key, sub.scheduled_quantity)
        if sub and sub.scheduled_at
        else None,
        buttons=views,
        choices=allowed,
        locales=[(code, presenters.language_name(code)) for code in PORTAL_LOCALES],
    )


@bp.post("/account/locale")
@login_required
def set_locale() -> ResponseReturnValue:
    """The language of Stripe's pages for this user ("" follows the browser)."""
    form = LocaleForm()
    if not form.validate() or (form.locale.data and form.locale.data not in PORTAL_LOCALES):
        return refuse("Choose one of the listed languages.")
    current.account().locale = form.locale.data or None
    db.session.commit()
    flash("Language saved.", "success")
    return redirect(url_for("pages.account"), 303)


# The ways back from Stripe read Stripe once a visit; a customer reloading them cannot
# make the site read Stripe without bound: past the limit, the account page as the
# mirror has it (webhooks keep it current), with no Stripe read.
RETURNS = "10 per minute"


def _visitor() -> str:
    return "customer:" + str(current.account().id)


def _account_as_mirrored(limit: Any) -> Response:
    return make_response(redirect(url_for("pages.account"), 303))


@bp.route("/checkout/return")
@login_required
@limiter.limit(RETURNS, key_func=_visitor, on_breach=_account_as_mirrored)
def checkout_return() -> ResponseReturnValue:
    """Checkout's success_url: read the new subscription and card once (one Stripe
    read), then show the account."""
    u = current.account()
    session_id = request.args.get("checkout_session", "")
    customer = u.stripe_customer_id
    if not session_id.startswith("cs_") or customer is None:
        return redirect(url_for("pages.account"), 303)
    before = _left_with(u) or outcomes.remember(u)
    session.pop(outcomes.LEFT_WITH, None)
    try:
        ticket = mirror.take_ticket(u)  # this read's stamp: a later one (a webhook's) wins
        result = current.stripe_api().checkout_result(session_id, customer)
    except BillingError as e:
        flash_once(f"Your payment may have gone through, but we could not load it yet: {e}", "error")
        return redirect(url_for("pages.account"), 303)
    if result is None:
        flash_once("We found no payment of yours at that address: your account shows your current plan.", "error")
        return redirect(url_for("pages.account"), 303)
    mirror.write(u, ticket, result[0], result[1])
    try:
        db.session.commit()
    except IntegrityError:
        # The webhooks of this checkout saved its subscription or card at the same moment
        # (the first of either is an insert): theirs stand, read from Stripe as ours was.
        db.session.rollback()
    for message in outcomes.describe(before, u, current.catalog()):
        flash(message, "success")
    return redirect(url_for("pages.account"), 303)


# [tutorial: account-return]
@bp.route("/account/return")
@login_required
@limiter.limit(RETURNS, key_func=_visitor, on_breach=_account_as_mirrored)
def account_return() -> ResponseReturnValue:
    """Where every portal flow sends the customer back: refresh from Stripe what the
    step could change (one read), so the page is right before any webhook arrives,
    and say what the step changed (see outcomes)."""
    u = current.account()
    # What the page showed when the customer left (else, now: a webhook may have come first);
    # kept until a refresh succeeds, so a retry after a failed one can still say what changed.
    before = _left_with(u) or outcomes.remember(u)
    try:
        changed = mirror.refresh(current.stripe_api(), u, only=before.get(outcomes.STEP_CHANGES, "subscription"))
        db.session.commit()
        session.pop(outcomes.LEFT_WITH, None)
        messages = outcomes.describe(before, u, current.catalog())
        for message in messages or (["Your subscription is updated."] if changed else []):
            flash(message, "success")
    except BillingError as e:
        db.session.rollback()
        flash_once(f"We could not refresh your subscription: {e}", "error")
    return redirect(url_for("pages.account"), 303)


# [end]


def _left_with(u: BillingAccount) -> dict[str, Any] | None:
    """What this account's page showed when it left for Stripe (None if the session
    holds another account's)."""
    kept = session.get(outcomes.LEFT_WITH)
    return kept if isinstance(kept, dict) and kept.get(outcomes.ACCOUNT) == u.id else None


def flash_once(message: str, category: str) -> None:
    """Flash a message unless it is already waiting (a reloaded page does not stack it)."""
    if (category, message) not in session.get("_flashes", []):
        flash(message, category)
