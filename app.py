"""The site: a pricing page and an account page whose buttons open Stripe's
customer portal on exactly one step, then bring the customer back.

Read it top to bottom. Every button is a POST route that
  1. loads the signed-in user's own records (never ids from the form),
  2. asks `flows` for the Stripe params (pure, typed),
  3. asks `billing` to create the session,
  4. answers 303 See Other to the session's URL.
303 (not 302) tells the browser to follow with a GET, as it must for a page
that was reached by a form POST.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from dotenv import load_dotenv
from flask import Flask, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

import flows
from auth import bp as auth_bp, login_manager, login_required
from billing import Billing, BillingError, SubscriptionSnapshot
from catalog import Catalog, Price, format_amount, load_catalog
from commands import init_db_command, stripe_cli
from config import Settings, load_settings
from forms import PlanForm
from models import Subscription, User, db

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Settings come from the environment and `.env`; tests pass
    `test_config` instead (the same setting names), and the environment is not read."""
    app = Flask(__name__, instance_path=str(Path(__file__).parent / "instance"))
    if test_config is None:
        load_dotenv()
        settings = load_settings(instance_path=Path(app.instance_path))
    else:
        settings = load_settings(
            {k: str(v) for k, v in test_config.items() if isinstance(v, str)},
            instance_path=Path(app.instance_path),
        )
        app.config.update({k: v for k, v in test_config.items() if not isinstance(v, str)})

    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # A form post is a few hundred bytes; refuse anything large before reading it.
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.app_base_url.startswith("https://"),
    )
    app.extensions["settings"] = settings
    app.extensions["catalog"] = load_catalog()

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(auth_bp)
    register_error_handlers(app)
    app.cli.add_command(init_db_command)
    app.cli.add_command(stripe_cli)

    if settings.offline:
        # The one place the app touches the stand-in: no key, so Stripe is simulated in-process.
        from offline import start_offline_mode

        start_offline_mode(app, settings)
    else:
        app.extensions["billing"] = Billing(settings)

    app.add_url_rule("/", "pricing", pricing)
    app.add_url_rule("/pricing", "pricing_alias", pricing)
    app.add_url_rule("/checkout", "checkout", checkout, methods=["POST"])
    app.add_url_rule("/checkout/return", "checkout_return", checkout_return)
    app.add_url_rule("/account", "account", account)
    app.add_url_rule("/account/return", "account_return", account_return)
    app.add_url_rule("/account/switch-plan", "switch_plan", switch_plan, methods=["POST"])
    app.add_url_rule("/account/cancel", "cancel", cancel, methods=["POST"])
    app.add_url_rule("/account/billing", "manage_billing", manage_billing, methods=["POST"])

    @app.context_processor
    def site_context() -> dict[str, Any]:
        return {
            "offline": settings.offline,
            "test_mode": not settings.live_mode,
            "demo_account": app.extensions.get("demo_account"),
        }

    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_day, "day")
    app.add_template_filter(status_label)

    return app


# The snapshot fields the Subscription row keeps (all but the ids it stores differently).
MIRRORED_FIELDS = [f for f in SubscriptionSnapshot.__dataclass_fields__ if f not in ("id", "customer")]


# --- helpers shared by the routes -------------------------------------------------


def settings() -> Settings:
    s: Settings = current_app.extensions["settings"]
    return s


def catalog() -> Catalog:
    c: Catalog = current_app.extensions["catalog"]
    return c


def billing() -> Billing:
    b: Billing = current_app.extensions["billing"]
    return b


def user() -> User:
    u: User = current_user._get_current_object()
    return u


def customer_id(u: User) -> str:
    """The user's Stripe customer, created the first time a button needs one."""
    if u.stripe_customer_id is None:
        key = f"customer-for-user-{u.id}-{u.created_at:%Y%m%dT%H%M%S%f}"
        u.stripe_customer_id = billing().create_customer(u.email, u.id, idempotency_key=key)
        db.session.commit()
    return u.stripe_customer_id


def save_subscription(u: User, snap: SubscriptionSnapshot | None) -> bool:
    """Copy what Stripe said into the local mirror the pages read.
    Returns whether anything the pages show changed."""
    if snap is None:
        return False
    sub = u.subscription or Subscription(user=u)
    fields = {name: getattr(snap, name) for name in MIRRORED_FIELDS}
    fields["stripe_subscription_id"] = snap.id
    changed = any(getattr(sub, name) != value for name, value in fields.items())
    for name, value in fields.items():
        setattr(sub, name, value)
    db.session.add(sub)
    db.session.commit()
    return changed


def live_subscription(u: User) -> Subscription | None:
    sub = u.subscription
    return sub if sub is not None and sub.is_live else None


def refuse(message: str, status: int = 400) -> ResponseReturnValue:
    """A request we will not send to Stripe: say why, with a way back."""
    return render_template("error.html", title="We could not do that", message=message), status


def chosen_price() -> Price | None:
    """The catalog price a plan button names, or None if it is not one of ours."""
    form = PlanForm()
    if not form.validate():
        return None
    return catalog().price(form.lookup_key.data or "")


def to_stripe(make_url: Any, back: str) -> ResponseReturnValue:
    """Call Stripe for a session URL and answer 303 to it; on failure, flash and go back."""
    try:
        url: str = make_url()
    except BillingError as e:
        flash(str(e), "error")
        return redirect(url_for(back), 303)
    return redirect(url, 303)


def format_money(amount: int | None, currency: str | None) -> str:
    return "—" if amount is None or currency is None else format_amount(amount, currency)


def format_day(when: datetime | None) -> str:
    return "—" if when is None else f"{when:%B} {when.day}, {when.year}"


STATUS_LABELS = {
    "trialing": "Trial",
    "active": "Active",
    "past_due": "Past due: please update your card",
    "unpaid": "Unpaid",
    "incomplete": "Awaiting first payment",
    "incomplete_expired": "Expired",
    "canceled": "Canceled",
    "paused": "Paused",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


# --- pages ---------------------------------------------------------------------------


def pricing() -> ResponseReturnValue:
    """The merchant's own pricing page, rendered from the catalog: no Stripe call."""
    interval = request.args.get("interval", "month")
    if interval not in ("month", "year"):
        interval = "month"
    picked = catalog().price(request.args.get("plan", ""))
    if picked is not None:
        interval = picked.interval
    sub = current_user.subscription if current_user.is_authenticated else None
    cards = [plan_card(product.prices.get(interval), sub, picked) for product in catalog().products]
    picked_name = None
    if picked is not None:
        product = catalog().product(picked.product_id)
        picked_name = f"{product.name if product else picked.lookup_key}, billed {picked.interval}ly"
    return render_template(
        "pricing.html",
        cards=[c for c in cards if c],
        interval=interval,
        picked_name=picked_name,
        yearly_saving=yearly_saving(catalog()),
    )


def yearly_saving(c: Catalog) -> int:
    """The best saving of a yearly price over twelve monthly ones, in percent."""
    savings = [
        round(100 * (1 - p.prices["year"].amount / (12 * p.prices["month"].amount)))
        for p in c.products
        if "year" in p.prices and "month" in p.prices
    ]
    return max(savings, default=0)


def plan_card(price: Price | None, sub: Subscription | None, picked: Price | None) -> dict[str, Any] | None:
    """What one price card shows and which route its button posts to."""
    if price is None:
        return None
    product = catalog().product(price.product_id)
    assert product is not None
    card: dict[str, Any] = {"product": product, "price": price, "picked": picked == price}
    if not current_user.is_authenticated:
        card.update(action="signup", label="Get started")
    elif sub is not None and sub.lookup_key == price.lookup_key and sub.is_live:
        card.update(action="current", label="Current plan")
    elif sub is not None and sub.is_live:
        try:
            flows.check_plan_change(sub.facts(), price)
            card.update(action="switch", label=f"Switch to {product.name}")
        except flows.NotEligible as e:
            card.update(action="unavailable", label="Not available", reason=str(e))
    else:
        card.update(action="checkout", label=f"Subscribe to {product.name}")
    return card


@login_required
def account() -> ResponseReturnValue:
    """The customer's plan, status and dates, from the local mirror: no Stripe call."""
    sub = user().subscription
    product = None
    if sub is not None and sub.lookup_key:
        price = catalog().price(sub.lookup_key)
        product = catalog().product(price.product_id) if price else None
    return render_template("account.html", subscription=sub, product=product)


# --- buttons: each opens one step on Stripe and comes back ----------------------------


@login_required
def checkout() -> ResponseReturnValue:
    """First subscription: Stripe Checkout, then back to the account page."""
    price = chosen_price()
    if price is None:
        return refuse("That plan is not on our pricing page.")
    if live_subscription(user()) is not None:
        return refuse("You already have a subscription: switch plan from the pricing or account page.")

    def make_url() -> str:
        cus = customer_id(user())
        params = flows.checkout_subscription(
            cus,
            billing().price_id(price.lookup_key),
            success_url=settings().url(url_for("checkout_return")),
            cancel_url=settings().url(url_for("pricing", interval=price.interval)),
            user_id=user().id,
        )
        return billing().checkout_session_url(params)

    return to_stripe(make_url, back="pricing")


@login_required
def switch_plan() -> ResponseReturnValue:
    """Switch plan: a `subscription_update_confirm` deep link for the user's own
    subscription item and the chosen catalog price."""
    price = chosen_price()
    if price is None:
        return refuse("That plan is not on our pricing page.")
    sub = live_subscription(user())
    if sub is None:
        return refuse("You have no active subscription to change: pick a plan to subscribe.")
    try:
        flows.check_plan_change(sub.facts(), price)
    except flows.NotEligible as e:
        return refuse(str(e))

    def make_url() -> str:
        params = flows.update_confirm(
            customer_id(user()),
            sub.facts(),
            price,
            billing().price_id(price.lookup_key),
            return_url=settings().url(url_for("account_return")),
            configuration=billing().configuration,
        )
        return billing().portal_session_url(params)

    return to_stripe(make_url, back="pricing")


@login_required
def cancel() -> ResponseReturnValue:
    """Cancel: a `subscription_cancel` deep link for the user's own subscription."""
    sub = live_subscription(user())
    if sub is None:
        return refuse("You have no active subscription to cancel.")
    try:
        params = flows.cancel(
            customer_id(user()),
            sub.facts(),
            return_url=settings().url(url_for("account_return")),
            configuration=billing().configuration,
        )
    except flows.NotEligible as e:
        return refuse(str(e))
    return to_stripe(lambda: billing().portal_session_url(params), back="account")


@login_required
def manage_billing() -> ResponseReturnValue:
    """"Manage billing": the portal's home page, for invoices and everything else."""

    def make_url() -> str:
        params = flows.portal_home(
            customer_id(user()),
            return_url=settings().url(url_for("account_return")),
            configuration=billing().configuration,
        )
        return billing().portal_session_url(params)

    return to_stripe(make_url, back="account")


# --- coming back from Stripe --------------------------------------------------------


@login_required
def checkout_return() -> ResponseReturnValue:
    """Checkout's success_url: read the new subscription once, then show the account."""
    session_id = request.args.get("checkout_session", "")
    cus = user().stripe_customer_id
    if not session_id.startswith("cs_") or cus is None:
        return redirect(url_for("account"), 303)
    try:
        if save_subscription(user(), billing().checkout_subscription(session_id, cus)):
            flash("Thank you! Your subscription is active.", "success")
    except BillingError as e:
        flash(f"Your payment went through, but we could not load it yet: {e}", "error")
    return redirect(url_for("account"), 303)


@login_required
def account_return() -> ResponseReturnValue:
    """Where every portal flow sends the customer back: refresh the subscription
    from Stripe once, so the page is right before any webhook arrives."""
    cus = user().stripe_customer_id
    if cus is not None:
        try:
            if save_subscription(user(), billing().current_subscription(cus)):
                flash("Your subscription is updated.", "success")
        except BillingError as e:
            flash(f"We could not refresh your subscription: {e}", "error")
    return redirect(url_for("account"), 303)


# --- errors and commands ------------------------------------------------------------


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> ResponseReturnValue:
        return refuse("This form has expired or did not come from this site. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> ResponseReturnValue:
        return render_template("error.html", title=e.name, message=e.description), e.code or 500

    @app.errorhandler(Exception)
    def unexpected_error(e: Exception) -> ResponseReturnValue:
        log.exception("Unhandled error")
        db.session.rollback()
        message = "Something went wrong on our side. Nothing you did was lost; please try again."
        return render_template("error.html", title="Sorry", message=message), 500
