"""The hosted pages: Checkout (`/c/pay/<id>`) and the customer portal (`/p/session/<id>`).

On Stripe these are the pages the app redirects customers to with `303 See
Other`. Here they are plain HTML forms that apply the real effect of each
step (see `effects.py`) and then send the customer where Stripe would:
Checkout to `success_url`, a portal flow per its `after_completion`.

A page only ever acts on its own session: the portal session's customer and,
for deep links, the subscription named in its `flow`. Anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from babel.numbers import get_currency_precision
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_currency, format_date, format_decimal, format_number
from werkzeug.wrappers import Response

from standin import effects, i18n, objects, schedules
from standin.api import standin
from standin.effects import ENDED_STATUSES
from standin.i18n import _, lazy, ngettext
from standin.state import State, StripeObject

bp = Blueprint("pages", __name__)

# The portal's words for each of Stripe's `cancellation_details.feedback` values, offered
# when the configuration enables `features.subscription_cancel.cancellation_reason`
# (https://docs.stripe.com/api/customer_portal/configurations/object#portal_configuration_object-features-subscription_cancel-cancellation_reason).
FEEDBACK_LABELS = {
    "too_expensive": lazy("It's too expensive"),
    "missing_features": lazy("Some features are missing"),
    "switched_service": lazy("I'm switching to a different service"),
    "unused": lazy("I don't use the service enough"),
    "customer_service": lazy("Customer service was less than expected"),
    "too_complex": lazy("Ease of use was less than expected"),
    "low_quality": lazy("Quality was less than expected"),
    "other": lazy("Other reason"),
}
# Stripe's limit on `cancellation_details.comment`.
MAX_COMMENT = 5000
# Steps the home page links to; each needs its feature enabled in the configuration.
HOME_ACTIONS = (
    "subscription_update",
    "subscription_cancel",
    "subscription_pause",
    "payment_method_update",
    "customer_update",
)


def _state() -> State:
    return standin().state


def _get(object_id: str, kind: str) -> StripeObject:
    obj = _state().get(object_id, kind)
    if obj is None:
        abort(404)
    return obj


@bp.app_template_filter("money")
def money(amount: int | None, currency: str = "usd") -> str:
    """Minor units to a display amount in the page's language: 1500, "usd" -> "$15.00" ("15,00 $US" in French).

    Zero-decimal currencies (JPY) have no minor unit
    (https://docs.stripe.com/currencies#zero-decimal); Babel knows each currency's digits."""
    if amount is None:
        return "—"
    code = currency.upper()
    return str(format_currency(amount / 10 ** get_currency_precision(code), code))


@bp.app_template_filter("date")
def date(timestamp: int | None) -> str:
    if timestamp is None:
        return "—"
    # Babel's "medium" date: "Dec 2, 2026", "2 déc. 2026", "2026/12/02".
    return str(format_date(datetime.fromtimestamp(timestamp, tz=UTC), "medium"))


# -- Checkout ---------------------------------------------------------------


@bp.route("/c/pay/<session_id>", methods=["GET", "POST"])
def checkout(session_id: str) -> Response | str:
    """Show a Checkout session; POST pays it with a test card and returns to success_url."""
    with _state().lock:
        session = _get(session_id, "checkout.session")
        i18n.use(session.get("locale"))
        if request.method == "POST" and session["status"] == "open":
            with effects.customer_time(_state(), session["customer"]):
                effects.complete_checkout(_state(), session, "4242424242424242")
            _state().save()
        if session["status"] == "complete" and request.method == "POST":
            # Stripe substitutes the template variable so the site can look the session up.
            return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), 303)
        customer = _state().get(session["customer"] or "", "customer")
        return render_template(
            "checkout.html",
            session=session,
            items=session["line_items"]["data"],
            email=(customer or {}).get("email") or session["customer_email"],
            products={item["price"]["product"]: _product_name(item["price"]) for item in session["line_items"]["data"]},
        )


# -- Portal -----------------------------------------------------------------


@bp.get("/p/session/<session_id>")
def portal_session(session_id: str) -> str:
    """A deep link opens on its flow's step; a session without flow_data on the home page."""
    with _state().lock:
        session = _portal(session_id)
        if session["flow"] is None:
            return _home(session)
        return _flow_page(session, session["flow"])


@bp.post("/p/session/<session_id>")
def complete_flow(session_id: str) -> Response | str:
    """Complete the deep-linked flow, then do what its after_completion says."""
    with _state().lock:
        session = _portal(session_id)
        flow = session["flow"]
        if flow is None:
            abort(404)
        outcome = _complete(session, flow)
        if outcome is not None:
            return outcome
        after = flow["after_completion"]
        if _accepted_offer(flow) and after["type"] == "hosted_confirmation":
            # The customer kept the subscription: the merchant's message was written for a
            # cancellation, so the portal confirms the discount instead (see `offer_accepted`).
            return redirect(url_for(".offer_accepted", session_id=session_id), 303)
        if after["type"] == "redirect":
            return redirect(after["redirect"]["return_url"], 303)
        if after["type"] == "hosted_confirmation":
            return redirect(url_for(".confirmation", session_id=session_id), 303)
        return redirect(url_for(".home", session_id=session_id), 303)


@bp.get("/p/session/<session_id>/home")
def home(session_id: str) -> str:
    with _state().lock:
        return _home(_portal(session_id))


@bp.get("/p/session/<session_id>/done")
def confirmation(session_id: str) -> str:
    """The `hosted_confirmation` page: the merchant's message and a way back."""
    with _state().lock:
        session = _portal(session_id)
        flow = session["flow"] or {}
        message = ((flow.get("after_completion") or {}).get("hosted_confirmation") or {}).get("custom_message")
        return render_template(
            "portal_done.html", session=session, message=message or _("Your changes have been saved.")
        )


@bp.get("/p/session/<session_id>/kept")
def offer_accepted(session_id: str) -> str:
    """After the customer accepts a cancel flow's retention coupon: nothing was canceled.

    Stripe's deep-link guide (https://docs.stripe.com/customer-management/portal-deep-links)
    describes `retention` as a coupon offered before the cancellation, and
    `after_completion` as what follows a completed action; it does not
    document a hosted confirmation for an accepted offer, so the stand-in
    shows what really happened (the coupon on the subscription) rather than
    the merchant's cancellation message. A `redirect` or `portal_homepage`
    ending is followed as for any completed flow.
    """
    with _state().lock:
        session = _portal(session_id)
        flow = session["flow"] or {}
        if not _accepted_offer(flow):
            abort(404)
        coupon = _state().objects[flow["subscription_cancel"]["retention"]["coupon_offer"]["coupon"]]
        message = _(
            "Your subscription continues, with %(offer)s applied. Nothing was canceled.",
            offer=_describe_coupon(coupon),
        )
        return render_template("portal_done.html", session=session, message=message, title=_("Offer accepted"))


def _accepted_offer(flow: StripeObject) -> bool:
    """Whether this cancel flow ended with the customer taking its retention coupon."""
    data = flow.get("subscription_cancel") or {}
    if flow.get("type") != "subscription_cancel" or not data.get("retention"):
        return False
    subscription = _state().get(data["subscription"], "subscription")
    return bool(
        subscription
        and subscription["status"] not in ENDED_STATUSES
        and not subscription["cancel_at"]
        and not subscription["cancel_at_period_end"]
        and _has_coupon(subscription, data["retention"])
    )


def _has_coupon(subscription: StripeObject, retention: StripeObject) -> bool:
    coupon_id = retention["coupon_offer"]["coupon"]
    return any(_state().objects[d]["source"]["coupon"] == coupon_id for d in subscription["discounts"])


@bp.route("/p/session/<session_id>/do/<flow_type>", methods=["GET", "POST"])
def home_action(session_id: str, flow_type: str) -> Response | str:
    """A step started from the portal home page; it returns to the home page when done."""
    with _state().lock:
        session = _portal(session_id)
        if flow_type not in HOME_ACTIONS or not _configuration(session)["features"][flow_type]["enabled"]:
            abort(404)
        flow: StripeObject = {"type": flow_type, "after_completion": {"type": "portal_homepage"}}
        if flow_type.startswith("subscription_"):
            subscription = _own_subscription(session, request.args.get("subscription", ""))
            flow[flow_type] = {"subscription": subscription["id"], "retention": None}
        if request.method == "GET":
            return _flow_page(session, flow)
        outcome = _complete(session, flow)
        return outcome or redirect(url_for(".home", session_id=session_id), 303)


@bp.post("/p/session/<session_id>/resume")
def resume(session_id: str) -> Response | str:
    """Resume a paused subscription (home page action), as `POST /v1/subscriptions/{id}/resume` does.

    The period is kept (`billing_cycle_anchor` `unchanged`): the customer
    already paid for it before pausing, so resuming charges nothing.
    """
    with _state().lock:
        session = _portal(session_id)
        subscription = _own_subscription(session, request.args.get("subscription", ""))
        refusal = effects.resume_refusal(subscription)
        if refusal is not None:
            return _home(session, refusal)
        with effects.customer_time(_state(), subscription["customer"]):
            effects.resume(_state(), subscription, "unchanged")
        _state().save()
        return redirect(url_for(".home", session_id=session_id), 303)


@bp.post("/p/session/<session_id>/pay/<invoice_id>")
def pay(session_id: str, invoice_id: str) -> Response | str:
    """Pay an open invoice from the home page's invoice list with the default card.

    The portal's invoice history lists a customer's invoices and lets them pay
    the open ones (https://docs.stripe.com/customer-management, "invoice
    history"); updating the card alone does not pay them
    (https://docs.stripe.com/customer-management/portal-deep-links: the new
    payment method only becomes `invoice_settings.default_payment_method`).
    """
    with _state().lock:
        session = _portal(session_id)
        invoice = _get(invoice_id, "invoice")
        if invoice["customer"] != session["customer"]:
            abort(404)
        if invoice["status"] == "open":
            with effects.customer_time(_state(), session["customer"]):
                paid = effects.pay_invoice(_state(), invoice)
            _state().save()
            if not paid:
                return _home(session, _("Your card was declined. Update your payment method and try again."))
        return redirect(url_for(".home", session_id=session_id), 303)


@bp.route("/i/<invoice_id>", methods=["GET", "POST"])
def hosted_invoice(invoice_id: str) -> Response | str:
    """The invoice's `hosted_invoice_url`: what is due, and a Pay button (with the default card)
    (https://docs.stripe.com/invoicing/hosted-invoice-page)."""
    with _state().lock:
        invoice = _get(invoice_id, "invoice")
        i18n.use(_invoice_locale(invoice))
        error = None
        if request.method == "POST" and invoice["status"] == "open":
            with effects.customer_time(_state(), invoice["customer"]):
                paid = effects.pay_invoice(_state(), invoice)
            _state().save()
            if paid:
                return redirect(url_for(".hosted_invoice", invoice_id=invoice_id), 303)
            error = _("Your card was declined.")
        return render_template("invoice.html", invoice=invoice, error=error)


@bp.post("/p/session/<session_id>/renew")
def renew(session_id: str) -> Response:
    """Undo a scheduled cancellation (home page action)."""
    return _home_effect(session_id, effects.renew)


def _home_effect(session_id: str, effect: Callable[[StripeObject], StripeObject]) -> Response:
    with _state().lock:
        session = _portal(session_id)
        with effects.customer_time(_state(), session["customer"]):
            effect(_own_subscription(session, request.args.get("subscription", "")))
        _state().save()
        return redirect(url_for(".home", session_id=session_id), 303)


def _portal(session_id: str) -> StripeObject:
    """A portal session, its page shown in the session's `locale`."""
    session = _get(session_id, "billing_portal.session")
    i18n.use(session.get("locale"))
    return session


def _invoice_locale(invoice: StripeObject) -> str | None:
    """The hosted invoice is in the customer's first `preferred_locales`, else the browser's
    (https://docs.stripe.com/invoicing/customize#languages)."""
    customer = _state().get(invoice["customer"] or "", "customer")
    preferred = (customer or {}).get("preferred_locales") or []
    return str(preferred[0]) if preferred else None


def _own_subscription(session: StripeObject, subscription_id: str) -> StripeObject:
    subscription = _get(subscription_id, "subscription")
    if subscription["customer"] != session["customer"]:
        abort(404)
    return subscription


def _configuration(session: StripeObject) -> StripeObject:
    return _state().objects[session["configuration"]]


def _home(session: StripeObject, error: str | None = None) -> str:
    state = _state()
    customer = state.objects[session["customer"]]
    subscriptions = [s for s in state.all("subscription") if s["customer"] == customer["id"]]
    invoices = [i for i in state.all("invoice") if i["customer"] == customer["id"]]
    card = state.get(customer["invoice_settings"]["default_payment_method"] or "", "payment_method")
    return render_template(
        "portal_home.html",
        session=session,
        customer=customer,
        subscriptions=[_describe(s) for s in subscriptions],
        invoices=invoices,
        card=card,
        features=_configuration(session)["features"],
        error=error,
    )


def _flow_page(session: StripeObject, flow: StripeObject, error: str | None = None) -> str:
    """Render the step a flow asks for, with ready-to-show values."""
    state = _state()
    flow_type = flow["type"]
    context: dict[str, Any] = {"session": session, "flow": flow, "flow_type": flow_type, "error": error}
    context["customer"] = state.objects[session["customer"]]
    data = flow.get(flow_type) or {}
    if "subscription" in data:
        subscription = state.objects[data["subscription"]]
        context["subscription"] = _describe(subscription)
        if subscription["status"] in ENDED_STATUSES:
            context["error"] = error or _("This subscription has ended and can no longer be changed.")
        else:
            context["error"] = error or _refusal(flow_type, subscription)
    if flow_type == "subscription_update_confirm":
        item = data["items"][0]
        current = next(i for i in subscription["items"]["data"] if i["id"] == item["id"])
        new_price = state.objects[item["price"]] if item["price"] else current["price"]
        quantity = item["quantity"] or current["quantity"]
        waits = schedules.waits_for_period_end(_schedule_conditions(session), current, new_price, quantity)
        context["change"] = {
            "current": _describe_price(current["price"], current["quantity"]),
            "new": _describe_price(new_price, quantity),
            "discounts": [_describe_discount(d) for d in data["discounts"] or []],
            # The portal says a scheduled change starts at the period's end, not now.
            "starts": current["current_period_end"] if waits else None,
        }
    elif flow_type == "subscription_update":
        current_price = subscription["items"]["data"][0]["price"]["id"]
        current_item = subscription["items"]["data"][0]
        conditions = _schedule_conditions(session)
        context["choices"] = [
            {
                **_describe_price(state.objects[price_id], 1),
                "id": price_id,
                "current": price_id == current_price,
                "starts": current_item["current_period_end"]
                if schedules.waits_for_period_end(conditions, current_item, state.objects[price_id], 1)
                else None,
            }
            for product in _configuration(session)["features"]["subscription_update"]["products"] or []
            for price_id in product["prices"]
        ]
    elif flow_type == "subscription_cancel":
        retention = data.get("retention")
        context["mode"] = _configuration(session)["features"]["subscription_cancel"]["mode"]
        context["reasons"] = [(value, str(FEEDBACK_LABELS.get(value, value))) for value in _reason_options(session)]
        context["max_comment"] = MAX_COMMENT
        if retention:
            context["offer"] = _describe_coupon(state.objects[retention["coupon_offer"]["coupon"]])
    elif flow_type == "payment_method_update":
        context["cards"] = objects.TEST_CARDS
    return render_template("portal_flow.html", **context)


def _complete(session: StripeObject, flow: StripeObject) -> str | None:
    """Apply a flow's effect from the submitted form; a page to show again on failure, else None.

    For a customer on a test clock the changes happen at the clock's time.
    """
    with effects.customer_time(_state(), session["customer"]):
        return _apply_flow(session, flow)


def _apply_flow(session: StripeObject, flow: StripeObject) -> str | None:
    state = _state()
    flow_type = flow["type"]
    data = flow.get(flow_type) or {}
    customer = state.objects[session["customer"]]
    subscription = state.objects[data["subscription"]] if "subscription" in data else None
    if subscription is not None and (subscription["status"] in ENDED_STATUSES or _refusal(flow_type, subscription)):
        # The subscription changed since the session was made (paused, resumed, ended).
        return _flow_page(session, flow)
    try:
        if flow_type == "subscription_update_confirm" and subscription is not None:
            item = data["items"][0]
            discounts = [_discount_ids(d) for d in data["discounts"] or []]
            price = state.objects[item["price"]] if item["price"] else None
            if not _schedule_if_due(session, subscription, price, item["quantity"]):
                effects.change_plan(
                    state, subscription, item["id"], price, item["quantity"], discounts, _proration_behavior(session)
                )
        elif flow_type == "subscription_update" and subscription is not None:
            allowed = {
                price_id
                for product in _configuration(session)["features"]["subscription_update"]["products"] or []
                for price_id in product["prices"]
            }
            price_id = request.form.get("price", "")
            if price_id not in allowed:
                return _flow_page(session, flow, _("Choose one of the plans listed."))
            item_id = subscription["items"]["data"][0]["id"]
            if not _schedule_if_due(session, subscription, state.objects[price_id], None):
                effects.change_plan(
                    state, subscription, item_id, state.objects[price_id], None, None, _proration_behavior(session)
                )
        elif flow_type == "subscription_cancel" and subscription is not None:
            retention = data.get("retention")
            if retention and request.form.get("choice") == "accept":
                effects.accept_retention_offer(state, subscription, retention["coupon_offer"]["coupon"])
            else:
                answers = _cancellation_answers(session)
                if isinstance(answers, str):
                    return _flow_page(session, flow, answers)
                mode = _configuration(session)["features"]["subscription_cancel"]["mode"]
                _release_coming_change(subscription)
                effects.cancel(subscription, mode, *answers)
        elif flow_type == "subscription_pause" and subscription is not None:
            effects.pause(subscription)
        elif flow_type == "payment_method_update":
            number = request.form.get("card", "")
            if number not in objects.TEST_CARDS:
                return _flow_page(session, flow, _("Choose one of the test cards."))
            effects.add_card(state, customer, number)
        elif flow_type == "customer_update":
            form = request.form
            address = {key: form.get(key, "") for key in ("line1", "city", "postal_code", "country")}
            effects.update_customer(customer, form.get("name", ""), form.get("email", ""), address)
    except effects.CardDeclined as declined:
        return _flow_page(session, flow, str(declined))
    state.save()
    return None


def _reason_options(session: StripeObject) -> list[str]:
    """The reasons the portal asks a canceling customer to choose from (none when not enabled)."""
    asked = _configuration(session)["features"]["subscription_cancel"]["cancellation_reason"]
    return list(asked["options"]) if asked["enabled"] else []


def _cancellation_answers(session: StripeObject) -> tuple[str | None, str | None] | str:
    """The customer's (feedback, comment) from the cancel form, or why they are refused.

    Both are optional, as in the portal: a customer may cancel without saying why."""
    options = _reason_options(session)
    if not options:
        return None, None
    feedback = request.form.get("feedback", "") or None
    comment = request.form.get("comment", "").strip() or None
    if feedback is not None and feedback not in options:
        return _("Choose one of the reasons listed.")
    if comment is not None and len(comment) > MAX_COMMENT:
        return _("Your comment is too long: %(most)s characters at most.", most=format_number(MAX_COMMENT))
    return feedback, comment


def _schedule_if_due(
    session: StripeObject, subscription: StripeObject, price: StripeObject | None, quantity: int | None
) -> bool:
    """Keep the change for the period's end when the configuration says so (see `schedules`)."""
    item = subscription["items"]["data"][0]
    new, count = price or item["price"], quantity or item["quantity"]
    if not schedules.waits_for_period_end(_schedule_conditions(session), item, new, count):
        return False
    schedules.schedule_change(_state(), subscription, new, count)
    return True


def _schedule_conditions(session: StripeObject) -> list[StripeObject]:
    return list(_configuration(session)["features"]["subscription_update"]["schedule_at_period_end"]["conditions"])


def _release_coming_change(subscription: StripeObject) -> None:
    """A cancellation ends the subscription: a plan change waiting for the period's end is
    dropped first (the stand-in's choice; Stripe does not let a schedule's subscription set
    its own cancellation while the schedule manages it)."""
    schedule = _state().get(subscription["schedule"] or "", schedules.KIND)
    if schedule is not None and schedule["status"] == "active":
        schedules.release(_state(), schedule)


def _proration_behavior(session: StripeObject) -> str:
    """How the portal bills a change within the period: the configuration says
    (https://docs.stripe.com/customer-management/configure-portal, "Prorations")."""
    return str(_configuration(session)["features"]["subscription_update"]["proration_behavior"] or "none")


def _refusal(flow_type: str, subscription: StripeObject) -> str | None:
    """Why this flow can no longer act on the subscription, checked again when the page is used."""
    if flow_type == "subscription_pause":
        return effects.pause_refusal(subscription)
    if flow_type in ("subscription_update", "subscription_update_confirm"):
        return effects.update_refusal(subscription) or schedules.update_refusal(_state(), subscription)
    return None


def _discount_ids(discount: StripeObject) -> StripeObject:
    return {"coupon": discount.get("coupon"), "promotion_code": discount.get("promotion_code")}


# -- Ready-to-show values ---------------------------------------------------


def _product_name(price: StripeObject) -> str:
    product = _state().get(price["product"], "product")
    return str(product["name"]) if product else str(price["product"])


def _describe_price(price: StripeObject, quantity: int) -> dict[str, Any]:
    recurring = price["recurring"] or {}
    return {
        "product": _product_name(price),
        "nickname": price["nickname"],
        "amount": money(price["unit_amount"] * quantity, price["currency"]),
        "interval": recurring.get("interval"),
        "quantity": quantity,
    }


def _describe(subscription: StripeObject) -> dict[str, Any]:
    item = subscription["items"]["data"][0]
    period_end = item["current_period_end"]
    return {
        "id": subscription["id"],
        "status": subscription["status"],
        "plan": _describe_price(item["price"], item["quantity"]),
        "period_end": period_end,
        "cancel_at": subscription["cancel_at"] or (period_end if subscription["cancel_at_period_end"] else None),
        "ended_at": subscription["ended_at"],
        "paused": subscription["status"] == "paused",
        "pausable": effects.pause_refusal(subscription) is None,
        "live": subscription["status"] not in ENDED_STATUSES,
        "discounts": [
            _describe_coupon(_state().objects[_state().objects[d]["source"]["coupon"]])
            for d in subscription["discounts"]
        ],
    }


def _describe_coupon(coupon: StripeObject) -> str:
    if coupon["percent_off"] is not None:
        # "30%", "30 %" in French: the catalog places the sign, Babel writes the number (12.5, 12,5).
        off = _("%(number)s%%", number=format_decimal(coupon["percent_off"]))
    else:
        off = money(coupon["amount_off"], coupon["currency"] or "usd")
    if coupon["duration"] == "once":
        terms = _("%(off)s off once", off=off)
    elif coupon["duration"] == "forever":
        terms = _("%(off)s off forever", off=off)
    else:
        terms = ngettext(
            "%(off)s off for %(num)d month", "%(off)s off for %(num)d months", coupon["duration_in_months"], off=off
        )
    name = coupon["name"]
    # A name that already says the terms ("Stay with us: 30% off for 2 months") is shown alone.
    if name and terms in name:
        return str(name)
    return f"{name or coupon['id']}: {terms}"


def _describe_discount(discount: StripeObject) -> str:
    state = _state()
    if discount.get("promotion_code"):
        code = state.objects[discount["promotion_code"]]
        coupon = _describe_coupon(state.objects[code["promotion"]["coupon"]])
        return _("Code %(code)s — %(coupon)s", code=code["code"], coupon=coupon)
    return _describe_coupon(state.objects[discount["coupon"]])
