"""Every button of the pricing and account pages, declared once: BUTTONS.

A button is a POST route that opens one step of Stripe's hosted pages (a
customer-portal "deep link", or Checkout) and comes back. Its entry holds all
there is to know about it: the route, the label, the eligibility rule that
shows or hides it, the pure builder of its Stripe params and the Stripe call
that sends them. The views below, the account page and the tests read BUTTONS.

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

from billing import current, eligibility, flows, mirror, outcomes, presenters
from billing.accounts import login_required
from billing.campaign import PROMO  # a campaign link's code, kept in the session
from billing.catalog import Catalog, Price, Seats
from billing.eligibility import Choice, Facts, NotEligible, Rule, check_plan_change
from billing.errors import refuse
from billing.forms import PlanForm, SeatsForm
from billing.models import Subscription, User, db, save_subscription
from billing.stripe_api import PORTAL_LOCALES, BillingError, StripeAPI


@dataclass(frozen=True)
class Chosen:
    """What the customer chose on the page, read from the form and checked."""

    price: Price | None = None
    quantity: int | None = None


# Where the account page shows a button: its "Change your subscription" panel, its
# "Billing" panel, beside the subscription's status, or not at all (pricing cards).
Section = Literal["change", "billing", "status", ""]


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
    # (None: the button has a view of its own, below).
    send: Callable[[StripeAPI, Any], str] | None = StripeAPI.open_portal
    # Opens one step of the portal (flow_data), which ends as catalog.toml's
    # [portal.after_completion] says (else: back to the site).
    deep_link: bool = True
    section: Section = "change"
    style: str = "secondary"
    # A template of its own for the button and its fields (else a plain POST button).
    form: str | None = None
    # Reads what the customer chose from the form (a plan of ours); raises NotEligible.
    choose: Callable[[], Chosen] | None = None
    # Once the rule allows the button: checks the choice against the user's subscription
    # (a plan change it can make, a new number of seats); raises NotEligible.
    check: Callable[[User, Chosen], Chosen] | None = None
    # What the customer would choose by pressing it now, before any input (the panels show
    # it); `price` is a pricing card's.
    preview: Callable[[User, Price | None], Chosen] | None = None
    # Applies the campaign code from /pricing?promo=CODE, checked with Stripe on click.
    takes_promo: bool = False
    # Where a customer who finished the step comes back to (a redirect after_completion).
    comes_back_to: str = "pages.account_return"
    # What the step can change, and so what the way back reads from Stripe (one read).
    changes: mirror.Part = "subscription"
    # Where Stripe errors send the customer, with the message.
    back: str = "pages.account"
    # A view of its own, for a button that does not send the customer to Stripe.
    view: Callable[[], ResponseReturnValue] | None = None
    # Reachable from a signed email link too (None: from the site's pages only).
    link: ByLink | None = None


def other_interval_price(c: Catalog, sub: Subscription | None) -> Price | None:
    """The same plan billed at the other interval (monthly <-> yearly), if the catalog has it."""
    current_price = c.price(sub.lookup_key or "") if sub else None
    product = c.product(current_price.product_id) if current_price else None
    if current_price is None or product is None:
        return None
    return next((p for p in product.prices.values() if p.interval != current_price.interval), None)


def _catalog_plan() -> Chosen:
    """The plan a pricing card's button names: a lookup key from our catalog, never a price id;
    for a per-seat plan, the number of seats too (within the catalog's bounds)."""
    form = PlanForm()
    form.validate()
    price = None if form.lookup_key.errors else current.catalog().price(form.lookup_key.data or "")
    if price is None:
        raise NotEligible("That plan is not on our pricing page.")
    product = current.catalog().product(price.product_id)
    if product is None or product.seats is None or not form.quantity.raw_data:
        return Chosen(price=price)
    return Chosen(price=price, quantity=_within(product.seats, None if form.quantity.errors else form.quantity.data))


def _within(seats: Seats, quantity: int | None) -> int:
    """A number of seats the catalog allows for this plan; NotEligible (with the bounds) otherwise."""
    if quantity is None or not seats.min <= quantity <= seats.max:
        raise NotEligible(f"Choose between {seats.min} and {seats.max} seats.")
    return quantity


def _first_seats(u: User, price: Price | None) -> Chosen:
    """A per-seat plan's card offers its fewest seats first (the form's default)."""
    product = current.catalog().product(price.product_id) if price else None
    return Chosen(price=price, quantity=product.seats.min if product and product.seats else None)


def _plan_change(u: User, chosen: Chosen) -> Chosen:
    if chosen.price is None or u.subscription is None:
        raise NotEligible("Your plan has no other billing interval.")
    check_plan_change(u.subscription.facts(), chosen.price)
    return chosen


def _other_interval(u: User, chosen: Chosen) -> Chosen:
    return _plan_change(u, Chosen(price=other_interval_price(current.catalog(), u.subscription)))


def _seats(u: User, chosen: Chosen) -> Chosen:
    sub, c = u.subscription, current.catalog()
    price = c.price(sub.lookup_key or "") if sub else None
    product = c.product(price.product_id) if price else None
    if sub is None or product is None or product.seats is None:
        raise NotEligible("Your plan is not priced per seat.")
    form = SeatsForm()
    quantity = _within(product.seats, form.quantity.data if form.validate() else None)
    if quantity == sub.quantity:
        raise NotEligible("You already have this many seats.")
    return Chosen(quantity=quantity)


@login_required
def resume() -> ResponseReturnValue:
    """Resume a paused subscription. The portal has no resume step, so this is
    a direct API call, then back to the account page."""
    u = current.user()
    choice = choices(u)["resume"]
    if not choice.allowed or u.subscription is None:
        return refuse(choice.note)
    try:
        params = flows.resume(press_for(u, BUTTON["resume"], Chosen(), u.stripe_customer_id or ""))
        save_subscription(u, current.stripe_api().resume_subscription(u.subscription.stripe_subscription_id, params))
        db.session.commit()
        flash("Your subscription is active again.", "success")
    except BillingError as e:
        flash(str(e), "error")
    return redirect(url_for("pages.account"), 303)


@login_required
def keep_plan() -> ResponseReturnValue:
    """Keep the current plan: release the schedule that holds a switch for the end of the
    period (one Stripe call), then back to the account page. Releasing changes nothing else
    on the subscription, so the mirror forgets the switch without reading Stripe again; the
    webhooks that follow confirm it."""
    u = current.user()
    choice = choices(u)["keep_plan"]
    sub = u.subscription
    if not choice.allowed or sub is None:
        return refuse(choice.note)
    button, c = BUTTON["keep_plan"], current.catalog()
    coming = presenters.plan_name(c, sub.scheduled_lookup_key, sub.scheduled_quantity)
    keeping = presenters.plan_name(c, sub.lookup_key, sub.quantity)
    when = presenters.format_day(sub.scheduled_at)
    try:
        assert button.send is not None
        button.send(current.stripe_api(), button.build(press_for(u, button, Chosen(), u.stripe_customer_id or "")))
        sub.forget_scheduled_change()
        db.session.commit()
        flash(f"You keep {keeping}: the switch to {coming} on {when} is canceled.", "success")
    except BillingError as e:
        flash(str(e), "error")
    return redirect(url_for("pages.account"), 303)


# The order is the order on the account page.
BUTTONS = (
    Button(
        "subscribe",
        "/checkout",
        "Subscribe",
        eligibility.subscribe,
        flows.checkout_subscription,
        send=StripeAPI.open_checkout,
        section="",
        style="primary",
        choose=_catalog_plan,
        preview=_first_seats,
        takes_promo=True,
        deep_link=False,
        comes_back_to="pages.checkout_return",
        back="pages.pricing",
    ),
    # [tutorial: switch-plan]
    Button(
        "switch_plan",
        "/account/switch-plan",
        "Change plan",
        eligibility.switch_plan,
        flows.update_confirm,
        section="",
        style="primary",
        choose=_catalog_plan,
        check=_plan_change,
        takes_promo=True,
        back="pages.pricing",
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
        deep_link=False,
        section="status",
        style="primary",
        view=resume,
    ),
    Button(
        "keep_plan",
        "/account/keep-plan",
        "Keep my current plan",
        eligibility.keep_plan,
        flows.keep_plan,
        send=StripeAPI.release_schedule,
        deep_link=False,
        style="primary",
        view=keep_plan,
    ),
    Button(
        "change_interval",
        "/account/change-interval",
        "Change billing interval",
        eligibility.change_interval,
        flows.update_confirm,
        check=_other_interval,
        preview=lambda u, price: Chosen(price=other_interval_price(current.catalog(), u.subscription)),
        takes_promo=True,
    ),
    Button(
        "change_quantity",
        "/account/seats",
        "Change seats",
        eligibility.change_quantity,
        flows.update_confirm,
        form="buttons/_seats.html",
        check=_seats,
        preview=lambda u, price: Chosen(quantity=u.subscription.quantity if u.subscription else None),
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
        style="danger",
        link=ByLink("subscription_cancel", "Cancel the subscription"),
    ),
    # [end]
    Button(
        "update_payment_method",
        "/account/payment-method",
        "Update payment method",
        eligibility.update_payment_method,
        flows.payment_method_update,
        section="billing",
        changes="customer",
        link=ByLink("payment_method_update", "Update the card"),
    ),
    Button(
        "update_details",
        "/account/details",
        "Update billing details",
        eligibility.update_details,
        flows.customer_update,
        section="billing",
        changes="customer",
        link=ByLink("customer_update", "Update the billing details"),
    ),
    Button(
        "manage_billing",
        "/account/billing",
        "Manage billing",
        eligibility.manage_billing,
        flows.portal_home,
        deep_link=False,
        section="billing",
    ),
)
BUTTON = {b.key: b for b in BUTTONS}
# The buttons whose step's ending catalog.toml's [portal.after_completion] may name.
PORTAL_BUTTONS = tuple(b.key for b in BUTTONS if b.deep_link)
# The buttons a signed email link may open, by the flow type it names (see billing.links).
BY_LINK_FLOW = {b.link.flow: b for b in BUTTONS if b.link is not None}


def choices(u: User) -> dict[str, Choice]:
    """Every button for this user: allowed or not, its label and note."""
    sub = u.subscription
    price = current.catalog().price(sub.lookup_key) if sub and sub.lookup_key else None
    product = current.catalog().product(price.product_id) if price else None
    facts = Facts(
        sub.facts() if sub else None, current.stripe_api().portal_features(), product, u.stripe_customer_id is not None
    )
    return decide(facts)


def decide(facts: Facts) -> dict[str, Choice]:
    """Each button's rule applied to `facts`, with the registry's label where the rule has none."""
    answers = {b.key: b.rule(facts) for b in BUTTONS}
    return {key: Choice(c.allowed, c.label or BUTTON[key].label, c.note) for key, c in answers.items()}


def portal_locale(u: User) -> str | None:
    """The user's chosen language, else the browser's best match Stripe supports.

    A bare "*" names no language (best_match would take Stripe's first, Bulgarian):
    then no locale is sent and Stripe picks one itself."""
    named = LanguageAccept([(value, q) for value, q in request.accept_languages if value != "*"])
    return u.locale or named.best_match(PORTAL_LOCALES)


def press_for(
    u: User,
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
        return_url=s.url(url_for(button.comes_back_to)),
        ending=c.portal.ending(button.key),
        configuration=current.stripe_api().configuration,
        locale=portal_locale(u),
        sub=u.subscription.facts() if u.subscription else None,
        price_id=price_id,
        quantity=chosen.quantity,
        discount=discount,
        retention_coupon=c.portal.retention_coupon,
        cancel_url=s.url(url_for("pages.pricing", interval=chosen.price.interval)) if chosen.price else "",
        user_id=u.id,
    )


def customer_id(u: User) -> str:
    """The user's Stripe customer, created the first time a button needs one."""
    if u.stripe_customer_id is not None:
        return u.stripe_customer_id
    key = f"customer-for-user-{u.id}-{u.created_at:%Y%m%dT%H%M%S%f}"
    api = current.stripe_api()
    customer = api.create_customer(u.email, u.id, idempotency_key=key)
    u.use_customer(customer, api.origin)
    db.session.commit()
    return customer


def promo_code() -> str | None:
    code = session.get(PROMO)
    return code if isinstance(code, str) else None


def checked_promotion_code(chosen: Chosen) -> flows.Discount | None:
    """The session's campaign code, checked with Stripe for the chosen plan; BillingError if unusable."""
    code = promo_code()
    if code is None or chosen.price is None:
        return None
    try:
        return flows.Discount(promotion_code=current.stripe_api().promotion_code_id(code, chosen.price.product_id))
    except BillingError:
        session.pop(PROMO, None)  # do not offer a bad code again
        raise


def ready(u: User, button: Button, chosen: Chosen) -> Chosen:
    """The choice, checked against the button's rule and the user's subscription;
    NotEligible (saying why) if the button cannot succeed now. No Stripe call."""
    choice = choices(u)[button.key]
    if not choice.allowed:
        raise NotEligible(choice.note)
    return button.check(u, chosen) if button.check else chosen


# [tutorial: open-step]
def open_step(
    u: User, button: Button, chosen: Chosen, discount: flows.Discount | None = None, signed_in: bool = True
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
        session[outcomes.LEFT_WITH] = outcomes.remember(u) | {outcomes.STEP_CHANGES: button.changes}
    return url


# [end]


# [tutorial: press]
def press(button: Button) -> ResponseReturnValue:
    """Every button's view: refuse it if it cannot succeed, else build its params,
    send them to Stripe and answer 303 See Other to the page Stripe returns.
    (303, not 302: the browser must follow a form POST with a GET.)"""
    u = current.user()
    try:
        chosen = ready(u, button, button.choose() if button.choose else Chosen())
    except NotEligible as e:
        if button.form:  # the button's own form on the account page: that page again, with the message
            flash(str(e), "error")
            page = make_response(current_app.view_functions["pages.account"]())
            page.status_code = 400
            return page
        return refuse(str(e))
    try:
        discount = checked_promotion_code(chosen) if button.takes_promo else None
        url = open_step(u, button, chosen, discount)
    except BillingError as e:
        flash(str(e), "error")
        return redirect(url_for(button.back), 303)
    if discount is not None:
        session.pop(PROMO, None)  # used: do not apply it again
    return redirect(url, 303)


# [end]


def view_of(button: Button) -> Callable[[], ResponseReturnValue]:
    @login_required
    def view() -> ResponseReturnValue:
        return press(button)

    return button.view or view


bp = Blueprint("buttons", __name__)
for _button in BUTTONS:
    bp.add_url_rule(_button.route, _button.key, view_of(_button), methods=["POST"])
