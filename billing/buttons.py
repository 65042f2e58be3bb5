"""Every button of the pricing and account pages, declared once: BUTTONS.

A button is a POST route that opens one step of Stripe's hosted pages (a
customer-portal "deep link", or Checkout) and comes back. Its entry holds all
there is to know about it: the route, the label, the eligibility rule that
shows or hides it, the pure builder of its Stripe params and the Stripe call
that sends them; then, grouped, what only some buttons need: where the account
page shows it (`Shows`), what the customer chooses (`Asks`, read and checked in
`choosing`) and where Stripe sends them back (`Returns`). `press` below (every
button's view), the account page, the panels and the tests read BUTTONS.

From a button's route to Stripe in three hops: `press` (the view) -> the
entry's `build` (in `flows`) -> the entry's `send` (in `stripe_api`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Blueprint, current_app, flash, make_response, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import LanguageAccept

from billing import choosing, current, direct, eligibility, flows, mirror, outcomes, portal_facts
from billing.campaign import PROMO
from billing.catalog import Price
from billing.choosing import Chosen, checked_promotion_code
from billing.eligibility import Choice, Facts, NotEligible, Rule
from billing.errors import refuse
from billing.flows import PORTAL_LOCALES
from billing.models import BillingAccount, db
from billing.signin import login_required
from billing.stripe_api import BillingError, StripeAPI

# Where the account page shows a button: its "Change your subscription" panel, its
# "Billing" panel, beside the subscription's status, or not at all (pricing cards).
Section = Literal["change", "billing", "status", ""]


@dataclass(frozen=True)
class Shows:
    """Where the account page shows the button, and how."""

    section: Section = "change"
    style: str = "secondary"
    # A template of its own for the button and its fields (else a plain POST button).
    form: str | None = None


# A pricing card's button: the card shows it, not the account page.
ON_PRICING_CARDS = Shows(section="", style="primary")


@dataclass(frozen=True)
class Asks:
    """What the customer chooses before Stripe's page opens (each raises NotEligible, saying why)."""

    # Reads the choice from the form (a plan of ours, seats).
    choose: Callable[[], Chosen] | None = None
    # Once the rule allows the button: checks the choice against the user's subscription
    # and completes it (the quantity a plan change states).
    check: Callable[[BillingAccount, Chosen], Chosen] | None = None
    # What pressing it now would choose, before any input (a pricing card's seats field and
    # the panels show it); `price` is a pricing card's.
    preview: Callable[[BillingAccount, Price | None], Chosen] | None = None
    # Applies the campaign code from /pricing?promo=CODE, checked with Stripe on click.
    takes_promo: bool = False


@dataclass(frozen=True)
class Returns:
    """Where the customer comes back to from Stripe's page."""

    # Where a customer who finished the step comes back to (a redirect after_completion).
    to: str = "pages.account_return"
    # The step is a portal deep link (flow_data), which ends as catalog.toml's
    # [portal.after_completion] says (else: back to `to`).
    portal_step: bool = True
    # What the step can change, and so what the way back reads from Stripe (one read).
    changes: mirror.Part = "subscription"
    # Where Stripe errors send the customer, with the message.
    on_error: str = "pages.account"


@dataclass(frozen=True)
class ByLink:
    """How a signed link (in an email: see `billing.links`) names a button, and what its
    page says it opens. Only buttons whose step makes sense away from the site have one."""

    # The flow_data type `flask links make --flow` names it by (its builder makes that type).
    flow: str
    # The link page's heading, before "for the account of a…@example.com".
    does: str


@dataclass(frozen=True)
class Button:
    # Names the button everywhere: the endpoint, catalog.toml's [portal.after_completion], tests.
    key: str
    route: str
    # The account page's label; a rule may say a more precise one ("Cancel now"). Pricing
    # cards name the plan instead ("Subscribe to Pro", "Switch to Pro").
    label: str
    # Whether the customer may press it, and why not (pages hide it; a POST is refused).
    rule: Rule
    # The pure builder of its Stripe params (see flows.Press).
    build: Callable[[flows.Press], Any]
    # The Stripe call that sends them and returns the URL to send the browser to
    # (None: the button's `view` makes its own call).
    send: Callable[[StripeAPI, Any], str] | None = StripeAPI.open_portal
    shows: Shows = Shows()
    asks: Asks = Asks()
    returns: Returns = Returns()
    # For a button that does not send the customer to Stripe: what it does with the
    # built params instead, once `press` has checked its rule (see billing.direct).
    view: Callable[[BillingAccount, Button, Any], ResponseReturnValue] | None = None
    # Reachable from a signed email link too (None: from the site's pages only).
    link: ByLink | None = None


# The order is the order on the account page.
BUTTONS = (
    Button(
        "subscribe",
        "/checkout",
        "Subscribe",
        eligibility.subscribe,
        flows.checkout_subscription,
        send=StripeAPI.open_checkout,
        shows=ON_PRICING_CARDS,
        asks=Asks(choosing.catalog_plan, choosing.new_plan, choosing.plan_preview, takes_promo=True),
        returns=Returns("pages.checkout_return", portal_step=False, on_error="pages.pricing"),
    ),
    # [tutorial: switch-plan]
    Button(
        "switch_plan",
        "/account/switch-plan",
        "Change plan",
        eligibility.switch_plan,
        flows.update_confirm,
        shows=ON_PRICING_CARDS,
        asks=Asks(choosing.catalog_plan, choosing.plan_change, choosing.plan_preview, takes_promo=True),
        returns=Returns(on_error="pages.pricing"),
        link=ByLink("subscription_update_confirm", "Switch plan"),
    ),
    # [end]
    Button(
        "resume",
        "/account/resume",
        "Resume subscription",
        eligibility.resume,
        flows.resume,
        send=None,
        shows=Shows("status", "primary"),
        returns=Returns(portal_step=False),
        view=direct.resume,
    ),
    Button(
        "keep_plan",
        "/account/keep-plan",
        "Keep my current plan",
        eligibility.keep_plan,
        flows.keep_plan,
        send=StripeAPI.release_schedule,
        shows=Shows(style="primary"),
        returns=Returns(portal_step=False),
        view=direct.keep_plan,
    ),
    Button(
        "change_interval",
        "/account/change-interval",
        "Change billing interval",
        eligibility.change_interval,
        flows.update_confirm,
        asks=Asks(check=choosing.other_interval, preview=choosing.other_interval_preview, takes_promo=True),
    ),
    Button(
        "change_quantity",
        "/account/seats",
        "Change seats",
        eligibility.change_quantity,
        flows.update_confirm,
        shows=Shows(form="buttons/_seats.html"),
        asks=Asks(check=choosing.seats, preview=choosing.seats_preview),
    ),
    Button(
        "plan_picker",
        "/account/plans",
        "Browse plans in the portal",
        eligibility.plan_picker,
        flows.plan_picker,
        link=ByLink("subscription_update", "Choose another plan"),
    ),
    Button(
        "pause",
        "/account/pause",
        "Pause subscription",
        eligibility.pause,
        flows.pause,
        link=ByLink("subscription_pause", "Pause the subscription"),
    ),
    # [tutorial: cancel]
    Button(
        "cancel",
        "/account/cancel",
        "Cancel subscription",
        eligibility.cancel,
        flows.cancel,
        shows=Shows(style="danger"),
        link=ByLink("subscription_cancel", "Cancel the subscription"),
    ),
    # [end]
    Button(
        "update_payment_method",
        "/account/payment-method",
        "Update payment method",
        eligibility.update_payment_method,
        flows.payment_method_update,
        shows=Shows("billing"),
        returns=Returns(changes="customer"),
        link=ByLink("payment_method_update", "Update the card"),
    ),
    Button(
        "update_details",
        "/account/details",
        "Update billing details",
        eligibility.update_details,
        flows.customer_update,
        shows=Shows("billing"),
        returns=Returns(changes="customer"),
        link=ByLink("customer_update", "Update the billing details"),
    ),
    Button(
        "manage_billing",
        "/account/billing",
        "Manage billing",
        eligibility.manage_billing,
        flows.portal_home,
        shows=Shows("billing"),
        returns=Returns(portal_step=False),
    ),
)
BUTTON = {b.key: b for b in BUTTONS}
# The buttons whose step's ending catalog.toml's [portal.after_completion] may name.
PORTAL_BUTTONS = tuple(b.key for b in BUTTONS if b.returns.portal_step)
# The buttons a signed email link may open, by the flow type it names (see billing.links).
BY_LINK_FLOW = {b.link.flow: b for b in BUTTONS if b.link is not None}


def choices(u: BillingAccount) -> dict[str, Choice]:
    """Every button for this user: allowed or not, its label and note."""
    sub = u.subscription
    price = current.catalog().price(sub.lookup_key) if sub and sub.lookup_key else None
    product = current.catalog().product(price.product_id) if price else None
    facts = Facts(sub.facts() if sub else None, portal_facts.features(), product, u.stripe_customer_id is not None)
    return decide(facts)


def decide(facts: Facts) -> dict[str, Choice]:
    """Each button's rule applied to `facts`, with the registry's label where the rule has none."""
    answers = {b.key: b.rule(facts) for b in BUTTONS}
    return {key: Choice(c.allowed, c.label or BUTTON[key].label, c.note) for key, c in answers.items()}


def portal_locale(u: BillingAccount) -> str | None:
    """The user's chosen language, else the browser's best match Stripe supports.

    A bare "*" names no language (best_match would take Stripe's first, Bulgarian):
    then no locale is sent and Stripe picks one itself."""
    named = LanguageAccept([(value, q) for value, q in request.accept_languages if value != "*"])
    return u.locale or named.best_match(PORTAL_LOCALES)


def press_for(
    u: BillingAccount,
    button: Button,
    chosen: Chosen,
    customer: str,
    price_id: str | None = None,
    discount: flows.Discount | None = None,
) -> flows.Press:
    """What `button`'s builder gets for this user and choice (the ids come from Stripe)."""
    s, c = current.settings(), current.catalog()
    return flows.Press(
        customer=customer,
        return_url=s.url(url_for(button.returns.to)),
        ending=c.portal.ending(button.key),
        configuration=current.stripe_api().configuration,
        locale=portal_locale(u),
        sub=u.subscription.facts() if u.subscription else None,
        price_id=price_id,
        quantity=chosen.quantity,
        discount=discount,
        retention_coupon=c.portal.retention_coupon,
        cancel_url=s.url(url_for("pages.pricing", interval=chosen.price.interval)) if chosen.price else "",
        account_id=u.id,
    )


def customer_id(u: BillingAccount) -> str:
    """The account's Stripe customer, created the first time a button needs one."""
    if u.stripe_customer_id is not None:
        return u.stripe_customer_id
    api = current.stripe_api()
    customer = api.create_customer(u.email, u.owner_id, idempotency_key=u.customer_idempotency_key)
    u.use_customer(customer, api.origin)
    db.session.commit()
    return customer


def ready(u: BillingAccount, button: Button, chosen: Chosen) -> Chosen:
    """The choice, checked against the button's rule and the user's subscription;
    NotEligible (saying why) if the button cannot succeed now. No Stripe call."""
    choice = choices(u)[button.key]
    if not choice.allowed:
        raise NotEligible(choice.note)
    return button.asks.check(u, chosen) if button.asks.check else chosen


# [tutorial: open-step]
def open_step(
    u: BillingAccount, button: Button, chosen: Chosen, discount: flows.Discount | None = None, signed_in: bool = True
) -> str:
    """Build the button's params and send them: the URL of Stripe's page for this step.
    Raises BillingError. (The one way to Stripe for a button, from its page or a link.)
    `signed_in`: the browser is `u`'s own session, which may keep what their account showed."""
    api = current.stripe_api()
    price_id = mirror.price_id(api, chosen.price.lookup_key) if chosen.price else None
    params = button.build(press_for(u, button, chosen, customer_id(u), price_id, discount))
    assert button.send is not None, f"{button.key} has a view of its own"
    url = button.send(api, params)
    if signed_in:
        # To say, on return, what the step changed (and to read only what it could change).
        session[outcomes.LEFT_WITH] = outcomes.remember(u) | {outcomes.STEP_CHANGES: button.returns.changes}
    return url


# [end]


# [tutorial: press]
def press(button: Button) -> ResponseReturnValue:
    """Every button's view: refuse it if it cannot succeed, else build its params,
    send them to Stripe and answer 303 See Other to the page Stripe returns.
    (303, not 302: the browser must follow a form POST with a GET.)"""
    u = current.account()
    try:
        chosen = ready(u, button, button.asks.choose() if button.asks.choose else Chosen())
    except NotEligible as e:
        if button.shows.form:  # the button's own form on the account page: that page again, with the message
            flash(str(e), "error")
            page = make_response(current_app.view_functions["pages.account"]())
            page.status_code = 400
            return page
        return refuse(str(e))
    if button.view is not None:  # one API call of its own, no page of Stripe's
        return button.view(u, button, button.build(press_for(u, button, chosen, u.stripe_customer_id or "")))
    try:
        discount = checked_promotion_code(chosen) if button.asks.takes_promo else None
        url = open_step(u, button, chosen, discount)
    except BillingError as e:
        flash(str(e), "error")
        return redirect(url_for(button.returns.on_error), 303)
    if discount is not None:
        session.pop(PROMO, None)  # used: do not apply it again
    return redirect(url, 303)


# [end]


def view_of(button: Button) -> Callable[[], ResponseReturnValue]:
    @login_required
    def view() -> ResponseReturnValue:
        return press(button)

    return view


bp = Blueprint("buttons", __name__)
for _button in BUTTONS:
    bp.add_url_rule(_button.route, _button.key, view_of(_button), methods=["POST"])
