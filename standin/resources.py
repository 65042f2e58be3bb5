"""API handlers for the plain resources: customers, products, prices, coupons,
promotion codes, checkout sessions, subscriptions, payment methods, invoices.

Each handler gets params already validated against the SDK's TypedDict (see
`api.endpoint`) and enforces the Stripe rules the app can run into, with
Stripe's wording. The customer-portal endpoints live in `portal.py`.
"""

from __future__ import annotations

from typing import Any

from stripe.params import (
    CouponCreateParams,
    CouponListParams,
    CouponRetrieveParams,
    CouponUpdateParams,
    CustomerCreateParams,
    CustomerDeleteParams,
    CustomerListParams,
    CustomerPaymentMethodListParams,
    CustomerRetrieveParams,
    CustomerUpdateParams,
    InvoiceListParams,
    PaymentMethodAttachParams,
    PaymentMethodRetrieveParams,
    PriceCreateParams,
    PriceListParams,
    PriceRetrieveParams,
    PriceUpdateParams,
    ProductCreateParams,
    ProductListParams,
    ProductRetrieveParams,
    ProductUpdateParams,
    PromotionCodeCreateParams,
    PromotionCodeListParams,
    PromotionCodeRetrieveParams,
    PromotionCodeUpdateParams,
    SubscriptionCancelParams,
    SubscriptionCreateParams,
    SubscriptionListParams,
    SubscriptionPauseParams,
    SubscriptionResumeParams,
    SubscriptionRetrieveParams,
)
from stripe.params.checkout import SessionCreateParams, SessionRetrieveParams

from standin import effects, objects
from standin.api import bp, endpoint, paginate, refuse_unsupported, set_fields, standin
from standin.errors import StripeError, invalid, missing
from standin.state import State, StripeObject

# Statuses after which a subscription can no longer change.
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})


def state() -> State:
    return standin().state


def find(kind: str, object_id: str, param: str | None = None) -> StripeObject:
    """The stored object, or Stripe's "No such <kind>" (404 by URL, 400 by param)."""
    obj = state().get(object_id, kind)
    if obj is None:
        raise missing(kind.split(".")[-1], object_id, param)
    return obj


# -- Customers --------------------------------------------------------------

_CUSTOMER_FIELDS = {"address", "description", "email", "metadata", "name", "phone", "preferred_locales", "shipping"}


@bp.post("/customers")
@endpoint(CustomerCreateParams)
def create_customer(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, _CUSTOMER_FIELDS | {"expand", "test_clock"})
    customer = objects.customer(params)
    set_fields(customer, params, _CUSTOMER_FIELDS)
    if "test_clock" in params:
        clock = find("test_helpers.test_clock", params["test_clock"], "test_clock")
        customer["test_clock"] = clock["id"]
        customer["created"] = clock["frozen_time"]
    return state().add(customer)


@bp.get("/customers")
@endpoint(CustomerListParams)
def list_customers(params: dict[str, Any]) -> StripeObject:
    """Customers, newest first. As on Stripe, those on a test clock are listed
    only when `test_clock` asks for that clock."""
    refuse_unsupported(params, {"email", "test_clock", "expand", "limit", "starting_after", "ending_before"})
    customers = [
        c
        for c in state().all("customer")
        if not c.get("deleted")
        and params.get("email", c["email"]) == c["email"]
        and params.get("test_clock") == c.get("test_clock")
    ]
    return paginate(customers, params, "/v1/customers")


@bp.delete("/customers/<customer_id>")
@endpoint(CustomerDeleteParams)
def delete_customer(params: dict[str, Any], customer_id: str) -> StripeObject:
    """Delete a customer: its subscriptions end at once and its cards are detached."""
    customer = find("customer", customer_id)
    if customer.get("deleted"):
        raise missing("customer", customer_id)
    return remove_customer(customer)


def remove_customer(customer: StripeObject) -> StripeObject:
    at = objects.now()
    for subscription in state().all("subscription"):
        if subscription["customer"] == customer["id"] and subscription["status"] not in ENDED_STATUSES:
            effects.end_now(subscription, at)
    for pm in state().all("payment_method"):
        if pm["customer"] == customer["id"]:
            pm["customer"] = None
    # What Stripe answers for a deleted customer, then and on every later retrieve.
    return state().add({"id": customer["id"], "object": "customer", "deleted": True})


@bp.get("/customers/<customer_id>")
@endpoint(CustomerRetrieveParams)
def retrieve_customer(params: dict[str, Any], customer_id: str) -> StripeObject:
    return find("customer", customer_id)


@bp.post("/customers/<customer_id>")
@endpoint(CustomerUpdateParams)
def update_customer(params: dict[str, Any], customer_id: str) -> StripeObject:
    customer = find("customer", customer_id)
    refuse_unsupported(params, _CUSTOMER_FIELDS | {"expand", "invoice_settings"})
    settings = params.get("invoice_settings", {})
    refuse_unsupported(settings, {"default_payment_method"}, "invoice_settings")
    if settings.get("default_payment_method"):
        pm_id = settings["default_payment_method"]
        pm = find("payment_method", pm_id, "invoice_settings[default_payment_method]")
        if pm["customer"] != customer_id:
            raise invalid(
                f"The customer does not have a payment method with the ID {pm_id}. "
                "The payment method must be attached to the customer.",
                "invoice_settings[default_payment_method]",
            )
    set_fields(customer, params, _CUSTOMER_FIELDS | {"invoice_settings"})
    return customer


@bp.get("/customers/<customer_id>/payment_methods")
@endpoint(CustomerPaymentMethodListParams)
def list_customer_payment_methods(params: dict[str, Any], customer_id: str) -> StripeObject:
    find("customer", customer_id)
    refuse_unsupported(params, {"expand", "limit", "starting_after", "ending_before", "type"})
    methods = [
        pm
        for pm in state().all("payment_method")
        if pm["customer"] == customer_id and params.get("type", pm["type"]) == pm["type"]
    ]
    return paginate(methods, params, f"/v1/customers/{customer_id}/payment_methods")


# Stripe's test payment methods: attaching one makes a new card from the test number.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    # Attaching succeeds; every charge to the customer afterwards is declined.
    "pm_card_chargeCustomerFail": "4000000000000341",
}


@bp.post("/payment_methods/<pm_id>/attach")
@endpoint(PaymentMethodAttachParams)
def attach_payment_method(params: dict[str, Any], pm_id: str) -> StripeObject:
    refuse_unsupported(params, {"customer", "expand"})
    if "customer" not in params:
        raise invalid("Missing required param: customer.", "customer")
    customer = find("customer", params["customer"], "customer")
    if pm_id in TEST_PAYMENT_METHODS:
        return state().add(objects.card_payment_method(TEST_PAYMENT_METHODS[pm_id], customer["id"]))
    pm = find("payment_method", pm_id)
    if pm["customer"] not in (None, customer["id"]):
        raise invalid("The payment method you provided has already been attached to a customer.")
    pm["customer"] = customer["id"]
    return pm


@bp.get("/payment_methods/<pm_id>")
@endpoint(PaymentMethodRetrieveParams)
def retrieve_payment_method(params: dict[str, Any], pm_id: str) -> StripeObject:
    return find("payment_method", pm_id)


# -- Products and prices ----------------------------------------------------

_PRODUCT_FIELDS = {"active", "description", "metadata", "name", "statement_descriptor", "unit_label", "url"}


@bp.post("/products")
@endpoint(ProductCreateParams)
def create_product(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, _PRODUCT_FIELDS | {"expand", "id"})
    product = objects.blank("product", "prod_")
    if "id" in params:
        # Merchants may choose product ids (this project does, to find them again).
        if params["id"] in state().objects:
            raise invalid("Product already exists.", "id", code="resource_already_exists")
        product["id"] = params["id"]
    set_fields(product, params, _PRODUCT_FIELDS)
    product["updated"] = product["created"]
    return state().add(product)


@bp.get("/products/<product_id>")
@endpoint(ProductRetrieveParams)
def retrieve_product(params: dict[str, Any], product_id: str) -> StripeObject:
    return find("product", product_id)


@bp.post("/products/<product_id>")
@endpoint(ProductUpdateParams)
def update_product(params: dict[str, Any], product_id: str) -> StripeObject:
    product = find("product", product_id)
    refuse_unsupported(params, _PRODUCT_FIELDS | {"expand", "default_price"})
    if params.get("default_price"):
        price = find("price", params["default_price"], "default_price")
        if price["product"] != product_id:
            raise invalid("The default price must belong to this product.", "default_price")
    set_fields(product, params, _PRODUCT_FIELDS | {"default_price"})
    product["updated"] = objects.now()
    return product


@bp.get("/products")
@endpoint(ProductListParams)
def list_products(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"active", "ids", "expand", "limit", "starting_after", "ending_before"})
    products = [
        product
        for product in state().all("product")
        if params.get("active", product["active"]) == product["active"]
        and ("ids" not in params or product["id"] in params["ids"])
    ]
    return paginate(products, params, "/v1/products")


_PRICE_FIELDS = {"active", "currency", "metadata", "nickname", "tax_behavior"}


@bp.post("/prices")
@endpoint(PriceCreateParams)
def create_price(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(
        params,
        _PRICE_FIELDS
        | {"expand", "lookup_key", "product", "product_data", "recurring", "transfer_lookup_key", "unit_amount"},
    )
    if "unit_amount" not in params:
        raise invalid("The stand-in only supports prices with a unit_amount.", "unit_amount")
    price = objects.price(params)
    price["product"] = _price_product(params)
    set_fields(price, params, _PRICE_FIELDS)
    _assign_lookup_key(price, params)
    return state().add(price)


def _price_product(params: dict[str, Any]) -> str:
    if "product" in params:
        return str(find("product", params["product"], "product")["id"])
    if "product_data" in params:
        data = params["product_data"]
        refuse_unsupported(data, {"name", "active", "metadata"}, "product_data")
        product = objects.blank("product", "prod_")
        set_fields(product, data, {"name", "active", "metadata"})
        return str(state().add(product)["id"])
    raise invalid("You must specify either `product` or `product_data` when creating a price.", "product")


def _assign_lookup_key(price: StripeObject, params: dict[str, Any]) -> None:
    """Lookup keys are unique among prices; `transfer_lookup_key` moves one, as on Stripe."""
    if "lookup_key" not in params:
        return
    key = params["lookup_key"] or None
    holder = next(
        (other for other in state().all("price") if key and other["lookup_key"] == key and other is not price),
        None,
    )
    if holder is not None:
        if not params.get("transfer_lookup_key"):
            raise invalid(
                f"A price (`{holder['id']}`) already uses that lookup key.",
                "lookup_key",
                code="lookup_key_already_exists",
            )
        holder["lookup_key"] = None
    price["lookup_key"] = key


@bp.get("/prices/<price_id>")
@endpoint(PriceRetrieveParams)
def retrieve_price(params: dict[str, Any], price_id: str) -> StripeObject:
    return find("price", price_id)


@bp.post("/prices/<price_id>")
@endpoint(PriceUpdateParams)
def update_price(params: dict[str, Any], price_id: str) -> StripeObject:
    price = find("price", price_id)
    refuse_unsupported(params, {"active", "expand", "lookup_key", "metadata", "nickname", "transfer_lookup_key"})
    set_fields(price, params, {"active", "metadata", "nickname"})
    _assign_lookup_key(price, params)
    return price


@bp.get("/prices")
@endpoint(PriceListParams)
def list_prices(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(
        params,
        {"active", "currency", "expand", "lookup_keys", "product", "type", "limit", "starting_after", "ending_before"},
    )

    def matches(price: StripeObject) -> bool:
        return all(
            (
                params.get("active", price["active"]) == price["active"],
                params.get("currency", price["currency"]) == price["currency"],
                params.get("product", price["product"]) == price["product"],
                params.get("type", price["type"]) == price["type"],
                "lookup_keys" not in params or price["lookup_key"] in params["lookup_keys"],
            )
        )

    return paginate([price for price in state().all("price") if matches(price)], params, "/v1/prices")


# -- Coupons and promotion codes --------------------------------------------


@bp.post("/coupons")
@endpoint(CouponCreateParams)
def create_coupon(params: dict[str, Any]) -> StripeObject:
    fields = {"amount_off", "currency", "duration", "duration_in_months", "max_redemptions", "metadata", "name", "percent_off", "redeem_by"}
    refuse_unsupported(params, fields | {"applies_to", "expand", "id"})
    if ("percent_off" in params) == ("amount_off" in params):
        raise invalid("Must provide one of percent_off or amount_off.", "percent_off")
    if "amount_off" in params and "currency" not in params:
        raise invalid("You must pass currency when passing amount_off.", "currency")
    if params.get("duration") == "repeating" and "duration_in_months" not in params:
        raise invalid("Missing required param: duration_in_months.", "duration_in_months")
    coupon = objects.blank("coupon", "")
    coupon["id"] = params.get("id") or objects.new_id("", 8)
    if coupon["id"] in state().objects:
        raise invalid("Coupon already exists.", "id", code="resource_already_exists")
    coupon["currency"] = None
    set_fields(coupon, params, fields)
    if "applies_to" in params:
        # Kept only when set: Stripe returns it only then, and only when expanded.
        products = params["applies_to"].get("products", [])
        for index, product in enumerate(products):
            find("product", product, f"applies_to[products][{index}]")
        coupon["applies_to"] = {"products": products}
    return state().add(coupon)


@bp.get("/coupons/<coupon_id>")
@endpoint(CouponRetrieveParams)
def retrieve_coupon(params: dict[str, Any], coupon_id: str) -> StripeObject:
    return find("coupon", coupon_id)


@bp.post("/coupons/<coupon_id>")
@endpoint(CouponUpdateParams)
def update_coupon(params: dict[str, Any], coupon_id: str) -> StripeObject:
    """Only a coupon's name and metadata can change; its terms are fixed once made."""
    coupon = find("coupon", coupon_id)
    refuse_unsupported(params, {"expand", "metadata", "name"})
    set_fields(coupon, params, {"metadata", "name"})
    return coupon


@bp.get("/coupons")
@endpoint(CouponListParams)
def list_coupons(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"expand", "limit", "starting_after", "ending_before"})
    return paginate(state().all("coupon"), params, "/v1/coupons")


@bp.post("/promotion_codes")
@endpoint(PromotionCodeCreateParams)
def create_promotion_code(params: dict[str, Any]) -> StripeObject:
    fields = {"active", "code", "customer", "expires_at", "max_redemptions", "metadata"}
    refuse_unsupported(params, fields | {"expand", "promotion"})
    if "coupon" not in params["promotion"]:
        raise invalid("Missing required param: promotion[coupon].", "promotion[coupon]")
    coupon = find("coupon", params["promotion"]["coupon"], "promotion[coupon]")
    if "customer" in params:
        find("customer", params["customer"], "customer")
    code = params.get("code") or objects.new_id("", 8).upper()
    if any(other["code"] == code and other["active"] for other in state().all("promotion_code")):
        raise invalid("An active promotion code with `code: " + code + "` already exists.", "code")
    promotion_code = objects.blank("promotion_code", "promo_")
    set_fields(promotion_code, params, fields)
    promotion_code["code"] = code
    promotion_code["promotion"] = {"coupon": coupon["id"], "type": "coupon"}
    return state().add(promotion_code)


@bp.get("/promotion_codes/<promotion_code_id>")
@endpoint(PromotionCodeRetrieveParams)
def retrieve_promotion_code(params: dict[str, Any], promotion_code_id: str) -> StripeObject:
    return find("promotion_code", promotion_code_id)


@bp.post("/promotion_codes/<promotion_code_id>")
@endpoint(PromotionCodeUpdateParams)
def update_promotion_code(params: dict[str, Any], promotion_code_id: str) -> StripeObject:
    code = find("promotion_code", promotion_code_id)
    refuse_unsupported(params, {"active", "expand", "metadata"})
    set_fields(code, params, {"active", "metadata"})
    return code


@bp.get("/promotion_codes")
@endpoint(PromotionCodeListParams)
def list_promotion_codes(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"active", "code", "coupon", "expand", "limit", "starting_after", "ending_before"})
    codes = [
        code
        for code in state().all("promotion_code")
        if params.get("active", code["active"]) == code["active"]
        # Codes are matched case-insensitively, as customers type them.
        and str(params.get("code", code["code"])).upper() == str(code["code"]).upper()
        and params.get("coupon", code["promotion"]["coupon"]) == code["promotion"]["coupon"]
    ]
    return paginate(codes, params, "/v1/promotion_codes")


def resolve_discount(
    discount: dict[str, str], param: str, products: list[str]
) -> tuple[StripeObject, str | None]:
    """The coupon behind a `{coupon}` or `{promotion_code}` discount, and the code's id.

    Refuses, as Stripe does when the discount is given, a code that is
    inactive or expired, a coupon no longer valid, and a coupon whose
    `applies_to` names none of `products` (what is being bought).
    """
    if discount.get("promotion_code"):
        code_param = f"{param}[promotion_code]"
        code = find("promotion_code", discount["promotion_code"], code_param)
        if not code["active"]:
            raise invalid(f"This promotion code is not active: {code['code']}", code_param)
        if code["expires_at"] is not None and code["expires_at"] <= objects.now():
            raise invalid(f"This promotion code has expired: {code['code']}", code_param)
        if code["max_redemptions"] is not None and code["times_redeemed"] >= code["max_redemptions"]:
            raise invalid(f"This promotion code has been redeemed the maximum number of times: {code['code']}", code_param)
        coupon, code_id, name = find("coupon", code["promotion"]["coupon"]), code["id"], f"promotion code {code['code']}"
    elif discount.get("coupon"):
        code_param = f"{param}[coupon]"
        coupon, code_id = find("coupon", discount["coupon"], code_param), None
        name = f"coupon {coupon['id']}"
    else:
        raise invalid("You must specify either `coupon` or `promotion_code` for a discount.", param)
    if not coupon_valid(coupon):
        raise invalid(f"Coupon {coupon['id']} is no longer valid.", code_param)
    if not any(objects.applies(coupon, product) for product in products):
        raise invalid(
            f"The {name} cannot be redeemed because it does not apply to anything in this order "
            f"(its coupon applies only to the products {', '.join(coupon['applies_to']['products']) or 'none'}).",
            code_param,
        )
    return coupon, code_id


def coupon_valid(coupon: StripeObject) -> bool:
    """A coupon is redeemable until its `redeem_by` or `max_redemptions` is reached, as `valid` reports."""
    if coupon["redeem_by"] is not None and coupon["redeem_by"] <= objects.now():
        return False
    if coupon["max_redemptions"] is not None and coupon["times_redeemed"] >= coupon["max_redemptions"]:
        return False
    return bool(coupon["valid"])


# -- Checkout sessions ------------------------------------------------------

_CHECKOUT_FIELDS = {"allow_promotion_codes", "cancel_url", "client_reference_id", "customer_email", "locale", "metadata", "success_url"}


@bp.post("/checkout/sessions")
@endpoint(SessionCreateParams)
def create_checkout_session(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, _CHECKOUT_FIELDS | {"customer", "discounts", "expand", "line_items", "mode", "subscription_data"})
    if params.get("mode") != "subscription":
        raise invalid("The Stripe stand-in only implements Checkout in subscription mode.", "mode")
    if "success_url" not in params:
        raise invalid("The Stripe stand-in needs a success_url to send the customer back to.", "success_url")
    if "customer" in params:
        find("customer", params["customer"], "customer")
        if "customer_email" in params:
            raise invalid("You may only specify one of these parameters: customer, customer_email.", "customer_email")
    if params.get("allow_promotion_codes") and params.get("discounts"):
        raise invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.", "allow_promotion_codes"
        )
    subscription_data = params.get("subscription_data", {})
    refuse_unsupported(subscription_data, {"billing_mode", "description", "metadata"}, "subscription_data")
    if not params.get("line_items"):
        raise invalid("line_items is required in subscription mode.", "line_items")

    session = objects.blank("checkout.session", "cs_test_")
    items = [_checkout_item(item, f"line_items[{index}]") for index, item in enumerate(params["line_items"])]
    products = [item["price"]["product"] for item in items]
    coupons = []
    for index, discount in enumerate(params.get("discounts", [])):
        coupon, code = resolve_discount(discount, f"discounts[{index}]", products)
        coupons.append(coupon)
        session["discounts"].append({"coupon": None if code else coupon["id"], "promotion_code": code})
    per_item = objects.discount_amounts([(item["amount_subtotal"], item["price"]["product"]) for item in items], coupons)
    for item, amounts in zip(items, per_item):
        item["amount_discount"] = sum(amounts)
        item["amount_total"] = item["amount_subtotal"] - item["amount_discount"]
    subtotal = sum(item["amount_subtotal"] for item in items)
    set_fields(session, params, _CHECKOUT_FIELDS)
    session.update(
        customer=params.get("customer"),
        mode="subscription",
        currency=items[0]["currency"],
        amount_subtotal=subtotal,
        amount_total=sum(item["amount_total"] for item in items),
        expires_at=session["created"] + 24 * 3600,
        url=f"{standin().public_url}/c/pay/{session['id']}",
        line_items=objects.list_object(items, f"/v1/checkout/sessions/{session['id']}/line_items"),
    )
    session["total_details"]["amount_discount"] = subtotal - session["amount_total"]
    # Kept for the hosted page, which creates the subscription on payment;
    # fields starting with "_" are the stand-in's own and never sent.
    session["_subscription_data"] = subscription_data
    return state().add(session)


def _checkout_item(line: dict[str, Any], param: str) -> StripeObject:
    refuse_unsupported(line, {"price", "quantity"}, param)
    if "price" not in line:
        raise invalid(f"Missing required param: {param}[price].", f"{param}[price]")
    price = find("price", line["price"], f"{param}[price]")
    if not price["active"]:
        raise invalid("The price specified is inactive. This field only accepts active prices.", f"{param}[price]")
    if price["type"] != "recurring":
        raise invalid(
            "You must provide at least one recurring price in `subscription` mode when using prices.", f"{param}[price]"
        )
    quantity = line.get("quantity", 1)
    item = objects.blank("item", "li_")
    amount = price["unit_amount"] * quantity
    product = state().get(price["product"], "product")
    item.update(
        price=price,
        quantity=quantity,
        currency=price["currency"],
        description=product["name"] if product else None,
        amount_subtotal=amount,
        amount_total=amount,
    )
    return item


@bp.get("/checkout/sessions/<session_id>")
@endpoint(SessionRetrieveParams)
def retrieve_checkout_session(params: dict[str, Any], session_id: str) -> StripeObject:
    return find("checkout.session", session_id)


# -- Subscriptions, invoices -------------------------------------------------


@bp.get("/subscriptions")
@endpoint(SubscriptionListParams)
def list_subscriptions(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(
        params, {"customer", "expand", "price", "status", "limit", "starting_after", "ending_before"}
    )
    wanted = params.get("status")

    def status_matches(status: str) -> bool:
        # Without a status filter Stripe lists every subscription not canceled.
        if wanted is None:
            return status != "canceled"
        if wanted == "all":
            return True
        if wanted == "ended":
            return status in ENDED_STATUSES
        return bool(status == wanted)

    subscriptions = [
        sub
        for sub in state().all("subscription")
        if status_matches(sub["status"])
        and params.get("customer", sub["customer"]) == sub["customer"]
        and ("price" not in params or any(item["price"]["id"] == params["price"] for item in sub["items"]["data"]))
    ]
    return paginate(subscriptions, params, "/v1/subscriptions")


@bp.get("/subscriptions/<subscription_id>")
@endpoint(SubscriptionRetrieveParams)
def retrieve_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    return find("subscription", subscription_id)


@bp.get("/invoices")
@endpoint(InvoiceListParams)
def list_invoices(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(
        params, {"customer", "expand", "status", "subscription", "limit", "starting_after", "ending_before"}
    )
    invoices = [
        invoice
        for invoice in state().all("invoice")
        if params.get("customer", invoice["customer"]) == invoice["customer"]
        and params.get("status", invoice["status"]) == invoice["status"]
        and params.get("subscription", _invoice_subscription(invoice)) == _invoice_subscription(invoice)
    ]
    return paginate(invoices, params, "/v1/invoices")


def _invoice_subscription(invoice: StripeObject) -> str | None:
    # Since API version 2025-03-31 the subscription is under parent.subscription_details.
    details = (invoice["parent"] or {}).get("subscription_details") or {}
    return details.get("subscription")


# -- Pausing and resuming (API 2026-09-30 and later) ------------------------


@bp.post("/subscriptions/<subscription_id>/pause")
@endpoint(SubscriptionPauseParams)
def pause_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    """Pause the subscription (status `paused`); flexible billing mode, active or trialing only.

    `bill_for` and `invoicing_behavior` shape the final invoice and credits,
    which the stand-in does not model, so they are refused rather than ignored.
    """
    subscription = find("subscription", subscription_id)
    refuse_unsupported(params, {"expand", "type"})
    refusal = effects.pause_refusal(subscription)
    if refusal is not None:
        raise invalid(refusal)
    return effects.pause(subscription)


@bp.post("/subscriptions/<subscription_id>/resume")
@endpoint(SubscriptionResumeParams)
def resume_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    """Resume a paused subscription; `billing_cycle_anchor[type]` defaults to `now`, as on Stripe.

    Prorations are not modelled, so `proration_behavior`, `proration_date`
    and `payment_behavior` are refused rather than ignored.
    """
    subscription = find("subscription", subscription_id)
    refuse_unsupported(params, {"billing_cycle_anchor", "expand"})
    refusal = effects.resume_refusal(subscription)
    if refusal is not None:
        raise invalid(refusal)
    anchor = params.get("billing_cycle_anchor", {"type": "now"})["type"]
    return effects.resume(state(), subscription, anchor)


# -- Subscriptions made through the API (not Checkout) -----------------------

_SUBSCRIPTION_CREATE = {
    "billing_mode",
    "cancel_at_period_end",
    "customer",
    "default_payment_method",
    "discounts",
    "expand",
    "items",
    "metadata",
    "payment_behavior",
    "trial_end",
    "trial_period_days",
}


@bp.post("/subscriptions")
@endpoint(SubscriptionCreateParams)
def create_subscription(params: dict[str, Any]) -> StripeObject:
    """Subscribe a customer: a trial starts at once; otherwise the first period
    is charged to the default card. A declined first charge leaves the
    subscription `incomplete` with an open invoice (or refuses it with a 402
    under `payment_behavior=error_if_incomplete`), as on Stripe."""
    refuse_unsupported(params, _SUBSCRIPTION_CREATE)
    if "customer" not in params:
        raise invalid("Missing required param: customer.", "customer")
    customer = find("customer", params["customer"], "customer")
    if customer.get("deleted"):
        raise missing("customer", customer["id"], "customer")
    lines = []
    for n, item in enumerate(params.get("items", [])):
        refuse_unsupported(item, {"price", "quantity", "metadata"}, f"items[{n}]")
        if "price" not in item:
            raise invalid("The stand-in only supports items with a price.", f"items[{n}][price]")
        lines.append((find("price", item["price"], f"items[{n}][price]"), item.get("quantity", 1)))
    if not lines:
        raise invalid("Missing required param: items.", "items")
    pm_id = params.get("default_payment_method")
    if pm_id is not None and find("payment_method", pm_id, "default_payment_method")["customer"] != customer["id"]:
        raise invalid(f"The customer does not have a payment method with the ID {pm_id}.", "default_payment_method")

    subscription = objects.subscription(
        customer["id"],
        lines,
        billing_mode=params.get("billing_mode", {}).get("type", "classic"),
        default_payment_method=pm_id,
        metadata=dict(params.get("metadata", {})),
    )
    start = _clock_time(customer)
    _start_at(subscription, start)
    for n, discount in enumerate(params.get("discounts", [])):
        refuse_unsupported(discount, {"coupon", "promotion_code"}, f"discounts[{n}]")
        coupon = find("coupon", discount["coupon"], f"discounts[{n}][coupon]")["id"] if "coupon" in discount else None
        code = find("promotion_code", discount["promotion_code"], f"discounts[{n}][promotion_code]")["id"] if "promotion_code" in discount else None
        effects._apply_discount(state(), subscription, coupon, code)
    subscription["cancel_at_period_end"] = bool(params.get("cancel_at_period_end", False))

    trial_end = params.get("trial_end")
    if "trial_period_days" in params:
        trial_end = start + params["trial_period_days"] * 86400
    if trial_end == "now":
        trial_end = None
    if trial_end is not None:
        if trial_end <= start:
            raise invalid("Invalid timestamp: must be in the future.", "trial_end")
        subscription.update(status="trialing", trial_start=start, trial_end=trial_end)
        for item in subscription["items"]["data"]:
            item["current_period_end"] = trial_end
        return state().add(subscription)

    state().add(subscription)
    if not effects.bill(state(), subscription, "subscription_create"):
        if params.get("payment_behavior") == "error_if_incomplete":
            del state().objects[subscription["id"]]
            raise StripeError(402, "Your card was declined.", type="card_error", code="card_declined")
        subscription["status"] = "incomplete"
    return subscription


def _clock_time(customer: StripeObject) -> int:
    """"Now" for a customer: its test clock's frozen time, if it lives on one."""
    clock = state().get(customer.get("test_clock") or "", "test_helpers.test_clock")
    return int(clock["frozen_time"]) if clock else objects.now()


def _start_at(subscription: StripeObject, start: int) -> None:
    subscription.update(created=start, start_date=start, billing_cycle_anchor=start)
    for item in subscription["items"]["data"]:
        interval = item["price"]["recurring"] or {"interval": "month", "interval_count": 1}
        item["current_period_start"] = start
        item["current_period_end"] = objects.add_interval(start, interval["interval"], interval["interval_count"])


@bp.delete("/subscriptions/<subscription_id>")
@endpoint(SubscriptionCancelParams)
def cancel_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    """Cancel at once (not at the period's end: that is an update)."""
    subscription = find("subscription", subscription_id)
    refuse_unsupported(params, {"expand"})
    if subscription["status"] in ENDED_STATUSES:
        raise invalid(
            f"A canceled subscription can only update its cancellation_details and metadata.",
        )
    customer = state().objects[subscription["customer"]]
    return effects.end_now(subscription, _clock_time(customer))
