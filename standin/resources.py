"""API handlers for the plain resources: customers, products, prices, coupons,
promotion codes, checkout sessions, subscriptions, payment methods, invoices.

Each handler gets params already validated against the SDK's TypedDict (see
`api.endpoint`) and enforces the Stripe rules the app can run into, with
Stripe's wording. The customer-portal endpoints live in `portal.py`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
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
    PaymentMethodDetachParams,
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
    SubscriptionUpdateParams,
)
from stripe.params.checkout import SessionCreateParams, SessionRetrieveParams

from standin import effects, objects
from standin.api import endpoint, find, paginate, refuse_unsupported, set_fields, standin, state
from standin.errors import (
    COUPON_EXPIRED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_MISSING,
    StripeError,
    exclusive,
    invalid,
    missing,
    missing_param,
)
from standin.state import StripeObject

bp = Blueprint("resources", __name__, url_prefix="/v1")


def find_payment_method(pm_id: str, param: str) -> StripeObject:
    """A payment method named by a param, or Stripe's 400, which spells it "PaymentMethod"."""
    pm = state().get(pm_id, "payment_method")
    if pm is None:
        raise invalid(f"No such PaymentMethod: '{pm_id}'", param, code=RESOURCE_MISSING)
    return pm


def attached_payment_method(pm_id: str, customer_id: str, param: str) -> StripeObject:
    """A payment method that must be attached to the customer (to become a default)."""
    pm = find_payment_method(pm_id, param)
    if pm["customer"] != customer_id:
        raise invalid(
            f"The customer does not have a payment method with the ID {pm_id}. "
            "The payment method must be attached to the customer.",
            param,
        )
    return pm


# -- Customers --------------------------------------------------------------

_CUSTOMER_FIELDS = {"address", "description", "email", "metadata", "name", "phone", "preferred_locales", "shipping"}


@bp.post("/customers")
@endpoint(CustomerCreateParams)
def create_customer(params: dict[str, Any]) -> StripeObject:
    """Create a customer; on a test clock (`test_clock`) it lives in the clock's time.

    `payment_method` is attached (a test id such as `pm_card_visa` makes a
    new card), and `invoice_settings[default_payment_method]` may name it by
    that same id (`pm_card_visa` for both, as Stripe accepts).
    """
    refuse_unsupported(params, _CUSTOMER_FIELDS | {"expand", "invoice_settings", "payment_method", "test_clock"})
    settings = params.get("invoice_settings", {})
    refuse_unsupported(settings, {"default_payment_method"}, "invoice_settings")
    clock = find("test_helpers.test_clock", params["test_clock"], "test_clock") if "test_clock" in params else None
    with objects.frozen_at(clock["frozen_time"] if clock else None):
        customer = objects.customer(params)
        customer["test_clock"] = clock["id"] if clock else None
        set_fields(customer, params, _CUSTOMER_FIELDS)
        default = settings.get("default_payment_method")
        if default and default != params.get("payment_method"):
            # A new customer has no payment method but the one it is created with: this raises.
            attached_payment_method(default, customer["id"], "invoice_settings[default_payment_method]")
        if "payment_method" in params:
            pm = state().add(_attach(params["payment_method"], customer, "payment_method"))
            if default:
                customer["invoice_settings"]["default_payment_method"] = pm["id"]
    return state().add(customer)


@bp.get("/customers")
@endpoint(CustomerListParams)
def list_customers(params: dict[str, Any]) -> StripeObject:
    """Customers, newest first. As on Stripe, those on a test clock are listed
    only when `test_clock` names their clock, and deleted ones never."""
    refuse_unsupported(params, {"email", "test_clock", "expand", "limit", "starting_after", "ending_before"})
    customers = [
        customer
        for customer in state().all("customer")
        if not customer.get("deleted")
        # Stripe matches email case-sensitively.
        and params.get("email", customer["email"]) == customer["email"]
        and params.get("test_clock") == customer["test_clock"]
    ]
    return paginate(customers, params, "/v1/customers")


@bp.delete("/customers/<customer_id>")
@endpoint(CustomerDeleteParams)
def delete_customer(params: dict[str, Any], customer_id: str) -> StripeObject:
    """Delete a customer: its subscriptions are canceled at once, its payment methods detached."""
    customer = find("customer", customer_id)
    with effects.customer_time(state(), customer_id):
        return effects.delete_customer(state(), customer)


@bp.get("/customers/<customer_id>")
@endpoint(CustomerRetrieveParams)
def retrieve_customer(params: dict[str, Any], customer_id: str) -> StripeObject:
    """The customer; a deleted one as Stripe keeps answering: `{"id", "object", "deleted": true}`."""
    customer = state().get(customer_id, "customer")
    if customer is None:
        raise missing("customer", customer_id)
    return customer


@bp.post("/customers/<customer_id>")
@endpoint(CustomerUpdateParams)
def update_customer(params: dict[str, Any], customer_id: str) -> StripeObject:
    customer = find("customer", customer_id)
    refuse_unsupported(params, _CUSTOMER_FIELDS | {"expand", "invoice_settings"})
    settings = params.get("invoice_settings", {})
    refuse_unsupported(settings, {"default_payment_method"}, "invoice_settings")
    if settings.get("default_payment_method"):
        attached_payment_method(
            settings["default_payment_method"], customer_id, "invoice_settings[default_payment_method]"
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


# -- Payment methods --------------------------------------------------------


@bp.post("/payment_methods/<pm_id>/attach")
@endpoint(PaymentMethodAttachParams)
def attach_payment_method(params: dict[str, Any], pm_id: str) -> StripeObject:
    """Attach a payment method to a customer.

    Stripe's test ids (`pm_card_visa`, `pm_card_mastercard`,
    `pm_card_chargeCustomerFail`, see `objects.TEST_PAYMENT_METHODS`) each
    make a new card, attached and returned; the last attaches fine but every
    charge to it is declined.
    """
    refuse_unsupported(params, {"customer", "expand"})
    if "customer" not in params:
        raise missing_param("customer")
    customer = find("customer", params["customer"], "customer")
    with effects.customer_time(state(), customer["id"]):
        return state().add(_attach(pm_id, customer, "payment_method"))


def _attach(pm_id: str, customer: StripeObject, param: str) -> StripeObject:
    """The payment method `pm_id` attached to the customer (a new card for a test id); the caller stores it."""
    if pm_id in objects.TEST_PAYMENT_METHODS:
        return objects.card_payment_method(objects.TEST_PAYMENT_METHODS[pm_id], customer["id"])
    pm = find_payment_method(pm_id, param)
    if pm["customer"] not in (None, customer["id"]):
        raise invalid("The payment method you provided has already been attached to a customer.", param)
    pm["customer"] = customer["id"]
    return pm


@bp.post("/payment_methods/<pm_id>/detach")
@endpoint(PaymentMethodDetachParams)
def detach_payment_method(params: dict[str, Any], pm_id: str) -> StripeObject:
    """Detach a payment method from its customer (no longer usable for its charges)."""
    pm = find_payment_method(pm_id, "payment_method")
    refuse_unsupported(params, {"expand"})
    if pm["customer"] is None:
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            "payment_method",
        )
    return effects.detach(state(), pm)


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
            raise invalid("Product already exists.", "id", code=RESOURCE_ALREADY_EXISTS)
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
    fields = {
        "amount_off",
        "currency",
        "duration",
        "duration_in_months",
        "max_redemptions",
        "metadata",
        "name",
        "percent_off",
        "redeem_by",
    }
    refuse_unsupported(params, fields | {"applies_to", "expand", "id"})
    if ("percent_off" in params) == ("amount_off" in params):
        raise invalid("Must provide one of percent_off or amount_off.", "percent_off")
    if "amount_off" in params and "currency" not in params:
        raise invalid("You must pass currency when passing amount_off.", "currency")
    if params.get("duration") == "repeating" and "duration_in_months" not in params:
        raise missing_param("duration_in_months")
    coupon = objects.blank("coupon", "")
    coupon["id"] = params.get("id") or objects.new_id("", 8)
    if coupon["id"] in state().objects:
        raise invalid("Coupon already exists.", "id", code=RESOURCE_ALREADY_EXISTS)
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
        raise missing_param("promotion[coupon]")
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
    """Turn a code off or on (`active`) or change its metadata; its terms are fixed once made."""
    code = find("promotion_code", promotion_code_id)
    refuse_unsupported(params, {"active", "expand", "metadata"})
    # As at creation, only one active code may use a given code.
    if (
        params.get("active")
        and not code["active"]
        and any(other["code"] == code["code"] and other["active"] for other in state().all("promotion_code"))
    ):
        raise invalid("An active promotion code with `code: " + code["code"] + "` already exists.", "active")
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


def resolve_discount(discount: dict[str, str], param: str, products: list[str]) -> tuple[StripeObject, str | None]:
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
            raise invalid(
                f"This promotion code has been redeemed the maximum number of times: {code['code']}", code_param
            )
        coupon, code_id, name = (
            find("coupon", code["promotion"]["coupon"]),
            code["id"],
            f"promotion code {code['code']}",
        )
    elif discount.get("coupon"):
        code_param = f"{param}[coupon]"
        coupon, code_id = find("coupon", discount["coupon"], code_param), None
        name = f"coupon {coupon['id']}"
    else:
        raise invalid("You must specify either `coupon` or `promotion_code` for a discount.", param)
    if not coupon_valid(coupon):
        raise invalid(f"Coupon {coupon['id']} is no longer valid.", code_param, code=COUPON_EXPIRED)
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

_CHECKOUT_FIELDS = {
    "allow_promotion_codes",
    "cancel_url",
    "client_reference_id",
    "customer_email",
    "locale",
    "metadata",
    "success_url",
}


@bp.post("/checkout/sessions")
@endpoint(SessionCreateParams)
def create_checkout_session(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(
        params, _CHECKOUT_FIELDS | {"customer", "discounts", "expand", "line_items", "mode", "subscription_data"}
    )
    if params.get("mode") != "subscription":
        raise invalid("The Stripe stand-in only implements Checkout in subscription mode.", "mode")
    if "success_url" not in params:
        raise invalid("The Stripe stand-in needs a success_url to send the customer back to.", "success_url")
    if "customer" in params:
        find("customer", params["customer"], "customer")
        if "customer_email" in params:
            raise exclusive("customer, customer_email", "customer_email")
    if params.get("allow_promotion_codes") and params.get("discounts"):
        raise exclusive("allow_promotion_codes, discounts", "allow_promotion_codes")
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
    per_item = objects.discount_amounts(
        [(item["amount_subtotal"], item["price"]["product"]) for item in items], coupons
    )
    for item, amounts in zip(items, per_item, strict=True):
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


def _active_price(line: dict[str, Any], param: str) -> StripeObject:
    """The active price a line item ({price, quantity}) names; Stripe's errors otherwise."""
    refuse_unsupported(line, {"price", "quantity"}, param)
    if "price" not in line:
        raise missing_param(f"{param}[price]")
    price = find("price", line["price"], f"{param}[price]")
    if not price["active"]:
        raise invalid("The price specified is inactive. This field only accepts active prices.", f"{param}[price]")
    return price


def _checkout_item(line: dict[str, Any], param: str) -> StripeObject:
    price = _active_price(line, param)
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
        params, {"customer", "expand", "price", "status", "test_clock", "limit", "starting_after", "ending_before"}
    )
    wanted = params.get("status")

    def status_matches(status: str) -> bool:
        # Without a status filter Stripe lists every subscription not canceled.
        if wanted is None:
            return status != "canceled"
        if wanted == "all":
            return True
        if wanted == "ended":
            return status in effects.ENDED_STATUSES
        return bool(status == wanted)

    def clock_matches(clock: str | None) -> bool:
        # As on Stripe, subscriptions on a test clock are listed only for their clock or customer.
        if "test_clock" in params:
            return bool(clock == params["test_clock"])
        return "customer" in params or clock is None

    subscriptions = [
        sub
        for sub in state().all("subscription")
        if status_matches(sub["status"])
        and clock_matches(sub["test_clock"])
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
    with effects.customer_time(state(), subscription["customer"]):
        return effects.pause(subscription)


@bp.post("/subscriptions/<subscription_id>/resume")
@endpoint(SubscriptionResumeParams)
def resume_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    """Resume a paused subscription; `billing_cycle_anchor[type]` defaults to `now`, as on Stripe.

    `proration_date` and `payment_behavior` are not modelled, so they are
    refused rather than ignored.
    """
    subscription = find("subscription", subscription_id)
    refuse_unsupported(params, {"billing_cycle_anchor", "expand", "proration_behavior"})
    refusal = effects.resume_refusal(subscription)
    if refusal is not None:
        raise invalid(refusal)
    anchor = params.get("billing_cycle_anchor", {"type": "now"})["type"]
    with effects.customer_time(state(), subscription["customer"]):
        return effects.resume(state(), subscription, anchor, params.get("proration_behavior", "create_prorations"))


# -- Subscriptions made through the API (not Checkout) -----------------------

# Stripe's answer when a payment must be made at once and there is nothing to charge.
_NO_PAYMENT_METHOD = (
    "This customer has no attached payment source or default payment method. "
    "Please consider adding a default payment method. For more information, visit "
    "https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority."
)


@bp.post("/subscriptions")
@endpoint(SubscriptionCreateParams)
def create_subscription(params: dict[str, Any]) -> StripeObject:
    """Subscribe a customer (see `effects.start` for what happens next).

    `payment_behavior` defaults to `allow_incomplete` and `billing_mode` to
    `flexible`, as in current API versions. Under `error_if_incomplete` a
    first charge that would fail is refused (402 `card_declined`) and nothing
    is stored. On a test clock everything happens at the clock's time.
    """
    refuse_unsupported(
        params,
        {
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
        },
    )
    refuse_unsupported(params.get("billing_mode", {}), {"type"}, "billing_mode")
    if "customer" not in params:
        raise missing_param("customer")
    customer = find("customer", params["customer"], "customer")
    if not params.get("items"):
        raise missing_param("items")
    behavior = params.get("payment_behavior", "allow_incomplete")
    if behavior == "pending_if_incomplete":
        raise invalid(
            "The Stripe stand-in does not implement payment_behavior=pending_if_incomplete.", "payment_behavior"
        )
    prices = [_subscription_price(item, f"items[{index}]") for index, item in enumerate(params["items"])]
    pm_id = params.get("default_payment_method")
    if pm_id is not None:
        attached_payment_method(pm_id, customer["id"], "default_payment_method")

    with effects.customer_time(state(), customer["id"]):
        trial_end = _trial_end(params)
        products = [price["product"] for price, _ in prices]
        discounts = []
        for index, discount in enumerate(params.get("discounts") or []):
            refuse_unsupported(discount, {"coupon", "promotion_code"}, f"discounts[{index}]")
            discounts.append(resolve_discount(discount, f"discounts[{index}]", products))
        subscription = objects.subscription(
            customer["id"],
            prices,
            billing_mode=params.get("billing_mode", {}).get("type", "flexible"),
            default_payment_method=pm_id,
            metadata=dict(params.get("metadata") or {}),
            test_clock=customer["test_clock"],
        )
        if trial_end is None and behavior == "error_if_incomplete":
            lines = [((price["unit_amount"] or 0) * quantity, price["product"]) for price, quantity in prices]
            taken_off = objects.discount_amounts(lines, [coupon for coupon, _ in discounts])
            if sum(amount for amount, _ in lines) > sum(map(sum, taken_off)):
                card = effects.default_card(state(), subscription)
                if card is None:
                    raise invalid(_NO_PAYMENT_METHOD)
                if effects.declines(card):
                    raise StripeError(402, "Your card was declined.", type="card_error", code="card_declined")
        ids = [(None if code else coupon["id"], code) for coupon, code in discounts]
        effects.start(state(), subscription, ids, trial_end, behavior)
        if params.get("cancel_at_period_end"):
            effects.schedule_cancel(subscription, effects.period_end(subscription), at_period_end=True)
    return subscription


def _subscription_price(item: dict[str, Any], param: str) -> tuple[StripeObject, int]:
    # The recurring check differs from Checkout's only in Stripe's wording.
    price = _active_price(item, param)
    if price["type"] != "recurring":
        raise invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
            f"{param}[price]",
        )
    return price, item.get("quantity", 1)


def _trial_end(params: dict[str, Any]) -> int | None:
    """When the trial asked for ends (None: no trial), checked against the customer's "now"."""
    if "trial_end" in params and "trial_period_days" in params:
        raise exclusive("trial_end, trial_period_days", "trial_end")
    if "trial_period_days" in params:
        days = params["trial_period_days"]
        if days < 0:
            raise invalid("Invalid trial_period_days: must be at least 0.", "trial_period_days")
        return objects.now() + days * 86400 if days else None
    trial_end = params.get("trial_end", "now")
    if trial_end == "now":
        return None
    if trial_end <= objects.now():
        raise invalid("Invalid timestamp: must be an integer Unix timestamp in the future.", "trial_end")
    return int(trial_end)


@bp.post("/subscriptions/<subscription_id>")
@endpoint(SubscriptionUpdateParams)
def update_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    """Schedule or undo a cancellation, change the default payment method or metadata.

    `cancel_at_period_end=true` sets the flag and `cancel_at` to the period's
    end; `cancel_at` (a time, `min_period_end` or `max_period_end`) sets only
    `cancel_at`; `false` or `""` undoes either. As on Stripe, an ended
    subscription can change only its metadata, and so can an `incomplete` one.
    """
    subscription = find("subscription", subscription_id)
    refuse_unsupported(params, {"cancel_at", "cancel_at_period_end", "default_payment_method", "expand", "metadata"})
    changes = sorted(params.keys() - {"expand", "metadata"})
    refusal = _update_refusal(subscription["status"])
    if changes and refusal is not None:
        raise invalid(refusal, changes[0])
    if "cancel_at" in params and "cancel_at_period_end" in params:
        raise exclusive("cancel_at, cancel_at_period_end", "cancel_at")
    with effects.customer_time(state(), subscription["customer"]):
        if "default_payment_method" in params:
            pm = attached_payment_method(
                params["default_payment_method"], subscription["customer"], "default_payment_method"
            )
            subscription["default_payment_method"] = pm["id"]
        if params.get("cancel_at_period_end"):
            effects.schedule_cancel(subscription, effects.period_end(subscription), at_period_end=True)
        elif "cancel_at" in params and params["cancel_at"] != "":
            effects.schedule_cancel(subscription, _cancel_at(subscription, params["cancel_at"]), at_period_end=False)
        elif ("cancel_at_period_end" in params or "cancel_at" in params) and subscription["cancel_at"] is not None:
            effects.renew(subscription)
    set_fields(subscription, params, {"metadata"})
    return subscription


def _update_refusal(status: str) -> str | None:
    """Why Stripe refuses to change more than metadata on a subscription in this status, if it does."""
    if status == "canceled":
        return "A canceled subscription can only update its cancellation_details and metadata."
    if status == "incomplete_expired":
        return "You cannot update a subscription that is `canceled` or `incomplete_expired`."
    if status == "incomplete":
        return "A subscription in status `incomplete` can only have its metadata and default_source updated."
    return None


def _cancel_at(subscription: StripeObject, value: int | str) -> int:
    if value == "min_period_end":
        return min(int(item["current_period_end"]) for item in subscription["items"]["data"])
    if value == "max_period_end":
        return effects.period_end(subscription)
    if isinstance(value, str):
        raise invalid(f"The Stripe stand-in does not implement cancel_at={value}.", "cancel_at")
    if value <= objects.now():
        raise invalid("Invalid timestamp: must be an integer Unix timestamp in the future.", "cancel_at")
    return value


@bp.delete("/subscriptions/<subscription_id>")
@endpoint(SubscriptionCancelParams)
def cancel_subscription(params: dict[str, Any], subscription_id: str) -> StripeObject:
    """Cancel at once (ending at the period's end is an update: `cancel_at_period_end`).

    For this call an ended subscription no longer exists: Stripe answers
    "No such subscription". `invoice_now` and `prorate` shape a final invoice
    the stand-in does not make, so they are refused.
    """
    subscription = find("subscription", subscription_id)
    refuse_unsupported(params, {"cancellation_details", "expand"})
    details = params.get("cancellation_details", {})
    refuse_unsupported(details, {"comment", "feedback"}, "cancellation_details")
    if subscription["status"] in effects.ENDED_STATUSES:
        raise missing("subscription", subscription_id)
    with effects.customer_time(state(), subscription["customer"]):
        effects.end_now(subscription)
    subscription["cancellation_details"].update({key: value or None for key, value in details.items()})
    return subscription
