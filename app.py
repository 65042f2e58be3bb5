"""The site: a pricing page and an account page whose buttons open Stripe's
customer portal on exactly one step, then bring the customer back.

Read it top to bottom. Every button is a POST route that
  1. loads the signed-in user's own records (never ids from the form),
  2. asks `eligibility` whether the button can succeed (else 400, no Stripe call),
  3. asks `flows` for the Stripe params (pure, typed),
  4. asks `billing` to create the session,
  5. answers 303 See Other to the session's URL.
303 (not 302) tells the browser to follow with a GET, as it must for a page
that was reached by a form POST.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from dotenv import load_dotenv
from flask import Flask, Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from markupsafe import escape
from flask_login import current_user
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import flows
import personas
import presenters
import sync
from auth import bp as auth_bp, limiter, login_manager, login_required
from billing import PORTAL_LOCALES, Billing, BillingError, WebhookRefused
from catalog import Catalog, Price, load_catalog
from commands import demo_cli, init_db_command, stripe_cli
from config import STRIPE_DEFAULT_API_BASE, WEBHOOK_PATH, Settings, load_settings, origin
from eligibility import Choice, NotEligible, check_plan_change, decide
from forms import LocaleForm, PlanForm, SeatsForm
from models import Subscription, User, db, save_subscription

if TYPE_CHECKING:
    from stripe.params.billing_portal import SessionCreateParams as PortalSessionParams
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionParams

log = logging.getLogger(__name__)
csrf = CSRFProtect()

# The schema's history (Alembic): `flask --app app db upgrade` brings any database up to date.
MIGRATIONS = Path(__file__).parent / "migrations"

# A promotion code from a campaign link (/pricing?promo=CODE), kept in the session.
PROMO = "promo"
PROMO_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Settings come from the environment and `.env`; tests pass
    `test_config` instead (the same setting names), and the environment is not read."""
    # instance/ keeps the SQLite file, the offline SECRET_KEY and the offline stand-in's
    # state; INSTANCE_PATH moves it (the browser tests run a server in a temporary one).
    if test_config is None:
        load_dotenv()
    source = os.environ if test_config is None else test_config
    instance = str(source.get("INSTANCE_PATH") or Path(__file__).parent / "instance")
    app = Flask(__name__, instance_path=instance)
    if test_config is None:
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
        # Cookies only over https once the site is served over https (not on a laptop).
        SESSION_COOKIE_SECURE=settings.app_base_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.app_base_url.startswith("https://"),
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if settings.trusted_proxies:
        # The client's address and scheme from the proxies' headers (the sign-in limit counts per address).
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.extensions["settings"] = settings
    redact_secrets_in_logs(settings)
    app.extensions["webhook_secret"] = settings.stripe_webhook_secret
    app.extensions["catalog"] = load_catalog()

    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    # Also on the offline stand-in's pages, served from this origin (see offline.py).
    headers = app.extensions["security_headers"] = security_header_values(content_security_policy(settings))
    app.after_request(lambda response: security_headers(response, headers))
    # Each request may wait on Stripe for a bounded time (see Billing.start_request).
    app.before_request(start_stripe_budget)
    app.teardown_request(end_stripe_budget)
    app.register_blueprint(auth_bp)
    register_error_handlers(app)
    app.cli.add_command(init_db_command)
    app.cli.add_command(stripe_cli)
    app.cli.add_command(demo_cli)
    presenters.register(app)

    app.add_url_rule("/", "pricing", pricing)
    app.add_url_rule("/pricing", "pricing_alias", pricing)
    app.add_url_rule("/checkout", "checkout", checkout, methods=["POST"])
    app.add_url_rule("/checkout/return", "checkout_return", checkout_return)
    app.add_url_rule("/account", "account", account)
    app.add_url_rule("/account/return", "account_return", account_return)
    app.add_url_rule("/account/locale", "set_locale", set_locale, methods=["POST"])
    app.add_url_rule(WEBHOOK_PATH, "stripe_webhook", stripe_webhook, methods=["POST"])
    csrf.exempt(stripe_webhook)  # Stripe signs its events instead
    for rule, view in BUTTON_ROUTES.items():
        app.add_url_rule(rule, view.__name__, view, methods=["POST"])
    if settings.demo_personas:
        app.register_blueprint(personas.bp)

    @app.context_processor
    def site_context() -> dict[str, Any]:
        return {
            "offline": settings.offline,
            "test_mode": not settings.live_mode,
            "demo_account": app.extensions.get("demo_account"),
            "personas": personas.menu(app.extensions["catalog"]) if settings.demo_personas else [],
        }

    # Stripe last, once every route exists: offline mode seeds the demo at start, and the
    # stand-in's webhooks for it arrive at this app's webhook route while it does.
    if settings.offline:
        # The one place the app touches the stand-in: no key, so Stripe is simulated in-process.
        from offline import start_offline_mode

        start_offline_mode(app, settings)
    else:
        # Tests may hand the SDK an in-process transport (a stand-in) as STRIPE_HTTP_CLIENT.
        app.extensions["billing"] = connect_billing(settings, app.extensions["catalog"], app.config.get("STRIPE_HTTP_CLIENT"))

    return app


# Secrets of every app made in this process, kept out of every log line (see below).
_LOG_SECRETS: set[str] = set()


def redact_secrets_in_logs(settings: Settings) -> None:
    """Whatever logs a line (this app, the Stripe SDK at debug level, a library
    echoing an error), the Stripe key and webhook secret come out as "[redacted]"."""
    if settings.offline:
        return  # the offline key is no secret
    if not _LOG_SECRETS:
        make_record = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed call: logging reports it when it emits
                return record
            if any(secret in message for secret in _LOG_SECRETS):
                for secret in _LOG_SECRETS:
                    message = message.replace(secret, "[redacted]")
                record.msg, record.args = message, None
            return record

        logging.setLogRecordFactory(redacting_factory)
    _LOG_SECRETS.update(s for s in (settings.stripe_secret_key, settings.stripe_webhook_secret) if s)


def content_security_policy(settings: Settings) -> str:
    """No inline script or style, no framing. Forms may only post here and go on
    to Stripe's hosted pages (Chrome applies form-action to the 303 as well)."""
    hosted = {"https://checkout.stripe.com", "https://billing.stripe.com"}
    if settings.stripe_api_base != STRIPE_DEFAULT_API_BASE:
        hosted.add(origin(settings.stripe_api_base))  # the stand-in on its own port
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self' " + " ".join(sorted(hosted)),
            "frame-ancestors 'none'",
        ]
    )


def start_stripe_budget() -> None:
    g.stripe_budget = billing().start_request()


def end_stripe_budget(error: BaseException | None) -> None:
    if "stripe_budget" in g:
        billing().end_request(g.pop("stripe_budget"))


def security_header_values(policy: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
    }


def security_headers(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    return response


def connect_billing(settings: Settings, catalog: Catalog, http_client: Any = None) -> Billing:
    """The Stripe client, with what the pages need read once at start: the
    portal configuration's features (for eligibility) and the price ids (for
    the "Show the API call" panels). Pages then make no Stripe calls."""
    billing = Billing(settings, http_client=http_client)
    try:
        billing.load_portal_features()
        billing.load_prices([p.lookup_key for p in catalog.prices])
    except BillingError as e:
        log.warning("Could not read the portal configuration or prices at start: %s", e)
    return billing


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


def choices(u: User) -> dict[str, Choice]:
    """Which buttons this user may press (see eligibility.decide)."""
    sub = u.subscription
    price = catalog().price(sub.lookup_key) if sub and sub.lookup_key else None
    product = catalog().product(price.product_id) if price else None
    return decide(sub.facts() if sub else None, billing().portal_features(), product, u.stripe_customer_id is not None)


def portal_locale(u: User) -> str | None:
    """The user's chosen language, else the browser's best match Stripe supports.

    A bare "*" names no language (best_match would take Stripe's first, Bulgarian):
    then no locale is sent and Stripe picks one itself."""
    named = LanguageAccept([(value, q) for value, q in request.accept_languages if value != "*"])
    return u.locale or named.best_match(PORTAL_LOCALES)


def refuse(message: str, status: int = 400) -> ResponseReturnValue:
    """A request we will not send to Stripe: say why, with a way back."""
    return error_page("We could not do that", message, status)


def to_stripe(make_url: Callable[[], str], back: str) -> ResponseReturnValue:
    """Call Stripe for a session URL and answer 303 to it; on failure, flash and go back."""
    try:
        url = make_url()
    except BillingError as e:
        flash(str(e), "error")
        return redirect(url_for(back), 303)
    return redirect(url, 303)


def promo_code() -> str | None:
    code = session.get(PROMO)
    return code if isinstance(code, str) else None


# --- pages ---------------------------------------------------------------------------


def pricing() -> ResponseReturnValue:
    """The merchant's own pricing page, rendered from the catalog: no Stripe call."""
    if "promo" in request.args:
        # A campaign link: keep the code for the buttons, through sign-up or sign-in.
        code = request.args["promo"].strip()
        if PROMO_FORMAT.fullmatch(code):
            session[PROMO] = code
        else:
            session.pop(PROMO, None)
    interval = request.args.get("interval", "month")
    if interval not in ("month", "year"):
        interval = "month"
    picked = catalog().price(request.args.get("plan", ""))
    if picked is not None:
        interval = picked.interval
    u = user() if current_user.is_authenticated else None
    return render_template(
        "pricing.html",
        cards=[plan_card(p.prices[interval], u, picked) for p in catalog().products if interval in p.prices],
        interval=interval,
        picked_name=presenters.price_name(catalog(), picked) if picked else None,
        yearly_saving=presenters.yearly_saving(catalog()),
        promo=promo_code(),
    )


def plan_card(price: Price, u: User | None, picked: Price | None) -> dict[str, Any]:
    """What one price card shows, and which route its button posts to."""
    product = catalog().product(price.product_id)
    card: dict[str, Any] = {"product": product, "price": price, "picked": picked == price, "api_call": None}
    sub = u.subscription if u else None
    if u is None:
        return card | {"action": "signup", "label": "Get started"}
    if sub is None or not sub.is_live:
        card.update(action="checkout", label=f"Subscribe to {product.name if product else price.lookup_key}")
        card["api_call"] = presenters.checkout_call(
            checkout_params(u, price, u.stripe_customer_id, presenters.shown_price_id(billing(), price), shown_promo())
        )
        return card
    if sub.lookup_key == price.lookup_key:
        return card | {"action": "current", "label": "Current plan"}
    try:
        check_plan_change(sub.facts(), price)
    except NotEligible as e:
        return card | {"action": "unavailable", "label": "Not available", "reason": str(e)}
    card.update(action="switch", label=f"Switch to {product.name if product else price.lookup_key}")
    card["api_call"] = presenters.portal_call(shown_params(u, "switch_plan", price))
    return card


@login_required
def account() -> ResponseReturnValue:
    """The customer's plan, status and dates, from the local mirror: no Stripe call."""
    u = user()
    sub = u.subscription
    price = catalog().price(sub.lookup_key) if sub and sub.lookup_key else None
    allowed = choices(u)
    panels = presenters.account_buttons(allowed, lambda button: shown_params(u, button))
    return render_template(
        "account.html",
        subscription=sub,
        profile=u.profile,
        address=presenters.address(u.profile.address) if u.profile else None,
        product=catalog().product(price.product_id) if price else None,
        coupon=catalog().coupon(sub.discount_coupon) if sub and sub.discount_coupon else None,
        buttons=panels,
        choices=allowed,
        seats_form=SeatsForm(quantity=sub.quantity if sub else 1),
        locale_form=LocaleForm(locale=u.locale or ""),
        locales=PORTAL_LOCALES,
    )


# --- the Stripe params behind each button -------------------------------------------------


def checkout_params(
    u: User, price: Price, customer: str | None, price_id: str, promotion_code: str | None
) -> CheckoutSessionParams:
    return flows.checkout_subscription(
        customer or presenters.NEW_CUSTOMER,
        price_id,
        success_url=settings().url(url_for("checkout_return")),
        cancel_url=settings().url(url_for("pricing", interval=price.interval)),
        user_id=u.id,
        promotion_code=promotion_code,
    )


def button_params(
    u: User,
    button: str,
    customer: str,
    price_id: str | None = None,
    quantity: int | None = None,
    discount: flows.Discount | None = None,
) -> PortalSessionParams:
    """The portal session params of one button, for this user: the routes send
    them, and `shown_params` renders them in the "Show the API call" panels."""
    s = flows.Session(
        customer=customer,
        return_url=settings().url(url_for("account_return")),
        configuration=billing().configuration,
        locale=portal_locale(u),
    )
    if button == "manage_billing":
        return flows.portal_home(s)
    ending = catalog().portal.ending(button)
    if button == "update_payment_method":
        return flows.payment_method_update(s, ending)
    if button == "update_details":
        return flows.customer_update(s, ending)

    assert u.subscription is not None, "eligibility lets subscription buttons through only with one"
    facts = u.subscription.facts()
    if button == "plan_picker":
        return flows.plan_picker(s, facts, ending)
    if button == "cancel":
        return flows.cancel(s, facts, ending, catalog().portal.retention_coupon)
    if button == "pause":
        return flows.pause(s, facts, ending)
    # switch_plan, change_interval, change_quantity
    return flows.update_confirm(s, facts, ending, price_id=price_id, quantity=quantity, discount=discount)


def shown_params(u: User, button: str, price: Price | None = None) -> PortalSessionParams:
    """What `button` will send, for its panel. Pages make no Stripe calls, so
    ids that only exist after a click (a new customer, a checked promotion
    code) are shown as placeholders; everything else is exactly what is sent."""
    sub = u.subscription
    if button == "change_interval" and sub is not None:
        price = other_interval_price(sub)
    quantity = sub.quantity if button == "change_quantity" and sub is not None else None
    promo = shown_promo() if button in ("switch_plan", "change_interval") else None
    return button_params(
        u,
        button,
        u.stripe_customer_id or presenters.NEW_CUSTOMER,
        price_id=presenters.shown_price_id(billing(), price) if price else None,
        quantity=quantity,
        discount=flows.Discount(promotion_code=promo) if promo else None,
    )


def shown_promo() -> str | None:
    code = promo_code()
    return presenters.promo_placeholder(code) if code else None


def other_interval_price(sub: Subscription) -> Price | None:
    """The same plan billed at the other interval (monthly <-> yearly), if the catalog has it."""
    current = catalog().price(sub.lookup_key or "")
    product = catalog().product(current.product_id) if current else None
    if current is None or product is None:
        return None
    return next((p for p in product.prices.values() if p.interval != current.interval), None)


def checked_promotion_code(product_id: str) -> str | None:
    """The id of the session's campaign code, checked with Stripe; BillingError if unusable."""
    code = promo_code()
    if code is None:
        return None
    try:
        return billing().promotion_code_id(code, product_id)
    except BillingError:
        session.pop(PROMO, None)  # do not offer a bad code again
        raise


# --- buttons: each opens one step on Stripe and comes back ----------------------------


def open_portal(button: str, back: str = "account", **options: Any) -> ResponseReturnValue:
    """Refuse the button if it cannot succeed; else create its portal session and 303 to it."""
    u = user()
    choice = choices(u)[button]
    if not choice.allowed:
        return refuse(choice.note)

    def make_url() -> str:
        return billing().portal_session_url(button_params(u, button, customer_id(u), **options))

    return to_stripe(make_url, back)


def chosen_price() -> Price | None:
    """The catalog price a plan button names, or None if it is not one of ours."""
    form = PlanForm()
    if not form.validate():
        return None
    return catalog().price(form.lookup_key.data or "")


@login_required
def checkout() -> ResponseReturnValue:
    """First subscription: Stripe Checkout, then back to the account page."""
    price = chosen_price()
    if price is None:
        return refuse("That plan is not on our pricing page.")
    u = user()
    if not choices(u)["subscribe"].allowed:
        return refuse("You already have a subscription: switch plan from the pricing or account page.")

    def make_url() -> str:
        promotion_code = checked_promotion_code(price.product_id)
        params = checkout_params(u, price, customer_id(u), billing().price_id(price.lookup_key), promotion_code)
        url = billing().checkout_session_url(params)
        session.pop(PROMO, None)  # used: do not apply it again
        return url

    return to_stripe(make_url, back="pricing")


@login_required
def switch_plan() -> ResponseReturnValue:
    """Switch plan: `subscription_update_confirm` for the user's own subscription
    item and the chosen catalog price, with the campaign code if there is one."""
    price = chosen_price()
    if price is None:
        return refuse("That plan is not on our pricing page.")
    return change_price(price, "switch_plan", back="pricing")


@login_required
def change_interval() -> ResponseReturnValue:
    """Monthly <-> yearly: `subscription_update_confirm` to the same plan's other price."""
    sub = user().subscription
    price = other_interval_price(sub) if sub else None
    if price is None:
        return refuse(choices(user())["change_interval"].note or "Your plan has no other billing interval.")
    return change_price(price, "change_interval")


def change_price(price: Price, button: str, back: str = "account") -> ResponseReturnValue:
    u = user()
    choice = choices(u)[button]
    if not choice.allowed:
        return refuse(choice.note)
    assert u.subscription is not None
    try:
        check_plan_change(u.subscription.facts(), price)
    except NotEligible as e:
        return refuse(str(e))

    def make_url() -> str:
        promotion_code = checked_promotion_code(price.product_id)
        params = button_params(
            u,
            button,
            customer_id(u),
            price_id=billing().price_id(price.lookup_key),
            discount=flows.Discount(promotion_code=promotion_code) if promotion_code else None,
        )
        url = billing().portal_session_url(params)
        session.pop(PROMO, None)  # used: do not apply it again
        return url

    return to_stripe(make_url, back)


@login_required
def change_quantity() -> ResponseReturnValue:
    """Seats: `subscription_update_confirm` with a new quantity for the same price."""
    u = user()
    form = SeatsForm()
    sub = u.subscription
    price = catalog().price(sub.lookup_key or "") if sub else None
    product = catalog().product(price.product_id) if price else None
    if not choices(u)["change_quantity"].allowed or sub is None or product is None or product.seats is None:
        return refuse(choices(u)["change_quantity"].note or "Your plan is not priced per seat.")
    if not form.validate() or not product.seats.min <= (form.quantity.data or 0) <= product.seats.max:
        return refuse(f"Choose between {product.seats.min} and {product.seats.max} seats.")
    if form.quantity.data == sub.quantity:
        return refuse("You already have this many seats.")
    return open_portal("change_quantity", quantity=form.quantity.data)


@login_required
def plan_picker() -> ResponseReturnValue:
    """"Browse plans": `subscription_update`, the portal's own plan picker."""
    return open_portal("plan_picker")


@login_required
def cancel() -> ResponseReturnValue:
    """Cancel: `subscription_cancel`, with the retention offer if one is configured."""
    return open_portal("cancel")


@login_required
def pause() -> ResponseReturnValue:
    """Pause: `subscription_pause` (flexible billing mode only)."""
    return open_portal("pause")


@login_required
def update_payment_method() -> ResponseReturnValue:
    """`payment_method_update`: add a card that becomes the default."""
    return open_portal("update_payment_method")


@login_required
def update_details() -> ResponseReturnValue:
    """`customer_update`: name, email and address on invoices."""
    return open_portal("update_details")


@login_required
def manage_billing() -> ResponseReturnValue:
    """"Manage billing": the portal's home page, for invoices and everything else.
    Open to anyone with a Stripe customer, a canceled one too."""
    return open_portal("manage_billing")


@login_required
def resume() -> ResponseReturnValue:
    """Resume a paused subscription. The portal has no resume step, so this is
    a direct API call, then back to the account page."""
    u = user()
    choice = choices(u)["resume"]
    if not choice.allowed or u.subscription is None:
        return refuse(choice.note)
    try:
        save_subscription(u, billing().resume_subscription(u.subscription.stripe_subscription_id))
        db.session.commit()
        flash("Your subscription is active again.", "success")
    except BillingError as e:
        flash(str(e), "error")
    return redirect(url_for("account"), 303)


BUTTON_ROUTES: dict[str, Callable[[], ResponseReturnValue]] = {
    "/account/switch-plan": switch_plan,
    "/account/change-interval": change_interval,
    "/account/seats": change_quantity,
    "/account/plans": plan_picker,
    "/account/cancel": cancel,
    "/account/pause": pause,
    "/account/resume": resume,
    "/account/payment-method": update_payment_method,
    "/account/details": update_details,
    "/account/billing": manage_billing,
}


@login_required
def set_locale() -> ResponseReturnValue:
    """The language of Stripe's pages for this user ("" follows the browser)."""
    form = LocaleForm()
    if not form.validate() or (form.locale.data and form.locale.data not in PORTAL_LOCALES):
        return refuse("Choose one of the listed languages.")
    user().locale = form.locale.data or None
    db.session.commit()
    flash("Language saved.", "success")
    return redirect(url_for("account"), 303)


# --- coming back from Stripe --------------------------------------------------------


@login_required
def checkout_return() -> ResponseReturnValue:
    """Checkout's success_url: read the new subscription once, then show the account."""
    session_id = request.args.get("checkout_session", "")
    cus = user().stripe_customer_id
    if not session_id.startswith("cs_") or cus is None:
        return redirect(url_for("account"), 303)
    try:
        changed = save_subscription(user(), billing().checkout_subscription(session_id, cus))
        sync.refresh_profile(billing(), user())  # the card just entered on Checkout
        db.session.commit()
        if changed:
            flash("Thank you! Your subscription is active.", "success")
    except BillingError as e:
        flash(f"Your payment went through, but we could not load it yet: {e}", "error")
    return redirect(url_for("account"), 303)


@login_required
def account_return() -> ResponseReturnValue:
    """Where every portal flow sends the customer back: refresh the subscription
    and billing details from Stripe once, so the page is right before any
    webhook arrives."""
    try:
        changed = sync.refresh(billing(), user())
        db.session.commit()
        if changed:
            flash("Your subscription is updated.", "success")
    except BillingError as e:
        db.session.rollback()
        flash(f"We could not refresh your subscription: {e}", "error")
    return redirect(url_for("account"), 303)


# --- Stripe tells us: webhooks -----------------------------------------------------


def stripe_webhook() -> ResponseReturnValue:
    """Stripe's events. No CSRF token (Stripe cannot have one): the signature
    proves the sender instead. Answers 2xx once the event is applied (or was
    already, or is of no interest), 400 to anything not signed by Stripe, and
    503 when it could not be applied, so that Stripe retries it later."""
    secret: str | None = current_app.extensions.get("webhook_secret")
    if secret is None:
        log.error("A webhook arrived but STRIPE_WEBHOOK_SECRET is not set: refused. See `flask stripe doctor`.")
        return {"error": "Webhooks are not configured on this site."}, 400
    try:
        event = billing().verify_event(request.get_data(), request.headers.get("Stripe-Signature"), secret)
    except WebhookRefused as e:
        log.warning("Refused a webhook: %s", e)
        return {"error": str(e)}, 400
    try:
        outcome = sync.apply_event(billing(), event)
    except (BillingError, SQLAlchemyError) as e:
        log.warning("Could not apply event %s (%s), Stripe will retry: %s", event.id, event.type, e)
        return {"error": "The event could not be applied now; retry later."}, 503
    return {"received": event.id, "outcome": outcome}, 200


# --- errors --------------------------------------------------------------------------


# The error page when even error.html cannot be drawn (the database is down, so the header
# can't know who is signed in; or a malformed Host header left no way to build links).
BARE_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Acme Cloud</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><main><section class="panel narrow"><h1>{title}</h1><p>{message}</p>
<p><a class="button secondary" href="/">Pricing</a></p></section></main></body></html>
"""


def error_page(title: str, message: str, status: int, headers: Any = None) -> Response:
    """error.html with this title and message; a bare page if that fails too."""
    try:
        body = render_template("error.html", title=title, message=message)
    except Exception:
        log.warning("Could not draw error.html (answering %s with a bare page)", status, exc_info=True)
        body = BARE_ERROR_PAGE.format(title=escape(title), message=escape(message))
    return Response(body, status, headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> ResponseReturnValue:
        return refuse("This form has expired or did not come from this site. Reload the page and try again.")

    @app.errorhandler(429)
    def too_many(e: HTTPException) -> ResponseReturnValue:
        message = "Too many attempts. Wait a few minutes, then try again."
        return error_page("Slow down", message, 429, [h for h in e.get_headers() if h[0] == "Retry-After"])

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> ResponseReturnValue:
        # Keep what the error says beyond its page, such as a 405's Allow header.
        headers = [h for h in e.get_headers() if h[0].lower() != "content-type"]
        return error_page(e.name, e.description or "", e.code or 500, headers)

    @app.errorhandler(SQLAlchemyError)
    def database_error(e: SQLAlchemyError) -> ResponseReturnValue:
        log.error("Database error: %s", e)
        rollback_quietly()
        message = "We can't reach our database right now, so nothing was saved. Please try again in a moment."
        return error_page("Temporarily unavailable", message, 503, {"Retry-After": "30"})

    @app.errorhandler(Exception)
    def unexpected_error(e: Exception) -> ResponseReturnValue:
        log.exception("Unhandled error")
        rollback_quietly()
        message = "Something went wrong on our side. Nothing you did was lost; please try again."
        return error_page("Sorry", message, 500)


def rollback_quietly() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError:
        log.warning("Rolling back failed too", exc_info=True)
