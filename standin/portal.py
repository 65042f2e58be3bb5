"""API handlers for the customer portal: configurations and sessions.

Portal sessions are where deep links fail in practice, so this module
enforces the checks Stripe makes when a session is created with `flow_data`
(the subscription belongs to the customer, the price is in the
configuration, the feature is enabled, ...), worded like Stripe's errors, so
the app meets them offline rather than in production.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint
from stripe.params.billing_portal import (
    ConfigurationCreateParams,
    ConfigurationListParams,
    ConfigurationRetrieveParams,
    ConfigurationUpdateParams,
    SessionCreateParams,
)

from standin import effects, objects, refusals, schedules
from standin.api import endpoint, find, paginate, refuse_unsupported, set_fields, standin, state
from standin.errors import COUPON_EXPIRED, invalid, missing_param
from standin.resources import resolve_discount
from standin.state import StripeObject

bp = Blueprint("portal", __name__, url_prefix="/v1")

# Stripe's limit on features.subscription_update.products.
MAX_UPDATE_PRODUCTS = 10

_CONFIGURATION_FIELDS = {"business_profile", "default_return_url", "login_page", "metadata", "name"}


@bp.post("/billing_portal/configurations")
@endpoint(ConfigurationCreateParams)
def create_configuration(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, _CONFIGURATION_FIELDS | {"expand", "features"})
    configuration = objects.blank("billing_portal.configuration", "bpc_")
    configuration["updated"] = configuration["created"]
    set_fields(configuration, params, _CONFIGURATION_FIELDS)
    _set_features(configuration, params["features"], creating=True)
    # Like a new Stripe account's first saved portal settings, the first
    # configuration becomes the default one sessions use without `configuration`.
    configuration["is_default"] = not state().all("billing_portal.configuration")
    return state().add(configuration)


@bp.get("/billing_portal/configurations/<configuration_id>")
@endpoint(ConfigurationRetrieveParams)
def retrieve_configuration(params: dict[str, Any], configuration_id: str) -> StripeObject:
    return find("billing_portal.configuration", configuration_id)


@bp.post("/billing_portal/configurations/<configuration_id>")
@endpoint(ConfigurationUpdateParams)
def update_configuration(params: dict[str, Any], configuration_id: str) -> StripeObject:
    configuration = find("billing_portal.configuration", configuration_id)
    refuse_unsupported(params, _CONFIGURATION_FIELDS | {"active", "expand", "features"})
    if params.get("active") is False and configuration["is_default"]:
        raise invalid("You cannot deactivate the default configuration.", "active")
    set_fields(configuration, params, _CONFIGURATION_FIELDS | {"active"})
    if "features" in params:
        _set_features(configuration, params["features"], creating=False)
    configuration["updated"] = objects.now()
    return configuration


@bp.get("/billing_portal/configurations")
@endpoint(ConfigurationListParams)
def list_configurations(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"active", "expand", "is_default", "limit", "starting_after", "ending_before"})
    configurations = [
        configuration
        for configuration in state().all("billing_portal.configuration")
        if params.get("active", configuration["active"]) == configuration["active"]
        and params.get("is_default", configuration["is_default"]) == configuration["is_default"]
    ]
    return paginate(configurations, params, "/v1/billing_portal/configurations")


def _set_features(configuration: StripeObject, features: dict[str, Any], creating: bool) -> None:
    """Merge `features` params into the configuration, then check Stripe's rules on the result."""
    merged = copy.deepcopy(configuration["features"])
    for name, settings in features.items():
        for key, value in settings.items():
            merged[name][key] = None if value == "" else value
    update = features.get("subscription_update", {})
    if "products" in update:
        products = update["products"] or []
        if len(products) > MAX_UPDATE_PRODUCTS:
            raise invalid(
                f"You can specify at most {MAX_UPDATE_PRODUCTS} products.",
                "features[subscription_update][products]",
            )
        merged["subscription_update"]["products"] = [
            _update_product(product, f"features[subscription_update][products][{index}]")
            for index, product in enumerate(products)
        ]
    if update.get("enabled") and creating:
        for required in ("default_allowed_updates", "products"):
            if required not in update:
                param = f"features[subscription_update][{required}]"
                raise missing_param(param)
    if merged["subscription_update"]["enabled"] and not merged["payment_method_update"]["enabled"]:
        raise invalid(
            "Cannot enable subscription updates while payment method update is disabled.",
            "features[subscription_update][enabled]",
        )
    schedule = merged["subscription_update"].get("schedule_at_period_end") or {}
    # `conditions=""` unsets them (the update params allow it): none, as a new configuration has.
    merged["subscription_update"]["schedule_at_period_end"] = {"conditions": schedule.get("conditions") or []}
    configuration["features"] = merged


def _update_product(product: dict[str, Any], param: str) -> StripeObject:
    find("product", product["product"], f"{param}[product]")
    for index, price_id in enumerate(product["prices"]):
        price = find("price", price_id, f"{param}[prices][{index}]")
        if price["product"] != product["product"]:
            raise invalid(
                f"The price {price_id} does not belong to the product {product['product']}.",
                f"{param}[prices][{index}]",
            )
        if price["type"] != "recurring":
            raise invalid(f"The price {price_id} is not a recurring price.", f"{param}[prices][{index}]")
    adjustable = product.get("adjustable_quantity", {"enabled": False})
    return {
        "adjustable_quantity": {
            "enabled": adjustable["enabled"],
            "maximum": adjustable.get("maximum"),
            "minimum": adjustable.get("minimum", 1),
        },
        "prices": product["prices"],
        "product": product["product"],
    }


# -- Sessions ---------------------------------------------------------------

FLOW_TYPES_WITH_SUBSCRIPTION = (
    "subscription_cancel",
    "subscription_pause",
    "subscription_update",
    "subscription_update_confirm",
)


@bp.post("/billing_portal/sessions")
@endpoint(SessionCreateParams)
def create_session(params: dict[str, Any]) -> StripeObject:
    refuse_unsupported(params, {"configuration", "customer", "expand", "flow_data", "locale", "return_url"})
    if "customer" not in params:
        raise missing_param("customer")
    refusals.check_session(params)
    customer = find("customer", params["customer"], "customer")
    configuration = _session_configuration(params.get("configuration"))
    session = objects.blank("billing_portal.session", "bps_")
    session.update(
        customer=customer["id"],
        configuration=configuration["id"],
        locale=params.get("locale"),
        return_url=params.get("return_url") or configuration["default_return_url"],
        url=f"{standin().public_url}/p/session/{session['id']}",
    )
    if "flow_data" in params:
        session["flow"] = _flow(params["flow_data"], customer, configuration)
    return state().add(session)


def _session_configuration(configuration_id: str | None) -> StripeObject:
    if configuration_id is not None:
        configuration = find("billing_portal.configuration", configuration_id, "configuration")
        if not configuration["active"]:
            raise invalid("The configuration provided is inactive.", "configuration")
        return configuration
    default = next((c for c in state().all("billing_portal.configuration") if c["is_default"]), None)
    if default is None:
        raise invalid(
            "No configuration provided and your test mode default configuration has not been "
            "created. Provide a configuration or create your default by saving your customer "
            "portal settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal."
        )
    return default


def _flow(flow_data: dict[str, Any], customer: StripeObject, configuration: StripeObject) -> StripeObject:
    """Check `flow_data` as Stripe does and return the session's `flow`, with every key Stripe shows."""
    flow_type = flow_data["type"]
    for other in FLOW_TYPES_WITH_SUBSCRIPTION:
        if other in flow_data and other != flow_type:
            raise invalid(f"flow_data[{other}] can only be set when flow_data[type] is {other}.", f"flow_data[{other}]")
    flow: StripeObject = {
        "after_completion": _after_completion(flow_data.get("after_completion", {"type": "portal_homepage"})),
        "customer_update": None,
        "subscription_cancel": None,
        "subscription_pause": None,
        "subscription_update": None,
        "subscription_update_confirm": None,
        "type": flow_type,
    }
    features = configuration["features"]
    if flow_type in ("payment_method_update", "customer_update"):
        # The portal cannot open a step its configuration hides.
        _require_feature(features, flow_type)
        return flow

    if flow_type not in flow_data:
        raise missing_param(f"flow_data[{flow_type}]")
    data = flow_data[flow_type]
    subscription_param = f"flow_data[{flow_type}][subscription]"
    subscription = _flow_subscription(data["subscription"], customer, subscription_param)
    flow[flow_type] = {"subscription": subscription["id"]}
    if flow_type in ("subscription_update", "subscription_update_confirm"):
        # Stripe refuses updates to a paused subscription; canceling it stays allowed.
        refusal = effects.update_refusal(subscription) or schedules.update_refusal(state(), subscription)
        if refusal is not None:
            raise invalid(refusal, subscription_param)
    if flow_type == "subscription_update_confirm":
        flow[flow_type] = _update_confirm(data, subscription, features)
    elif flow_type == "subscription_update":
        _require_feature(features, "subscription_update")
    elif flow_type == "subscription_cancel":
        _require_feature(features, "subscription_cancel")
        flow[flow_type]["retention"] = _retention(data.get("retention"))
    elif flow_type == "subscription_pause":
        _require_feature(features, "subscription_pause")
        # The portal pauses the way POST /v1/subscriptions/{id}/pause does, with its rules.
        refusal = effects.pause_refusal(subscription)
        if refusal is not None:
            raise invalid(refusal, subscription_param)
    return flow


def _after_completion(after: dict[str, Any]) -> StripeObject:
    kind = after["type"]
    for other in ("hosted_confirmation", "redirect"):
        if other in after and other != kind:
            raise invalid(
                f"flow_data[after_completion][{other}] can only be set when "
                f"flow_data[after_completion][type] is {other}.",
                f"flow_data[after_completion][{other}]",
            )
    if kind == "redirect" and "redirect" not in after:
        raise missing_param("flow_data[after_completion][redirect]")
    return {
        "hosted_confirmation": (
            {"custom_message": after.get("hosted_confirmation", {}).get("custom_message")}
            if kind == "hosted_confirmation"
            else None
        ),
        "redirect": {"return_url": after["redirect"]["return_url"]} if kind == "redirect" else None,
        "type": kind,
    }


def _flow_subscription(subscription_id: str, customer: StripeObject, param: str) -> StripeObject:
    subscription = find("subscription", subscription_id, param)
    if subscription["customer"] != customer["id"]:
        raise invalid(f"The subscription {subscription_id} does not belong to the customer {customer['id']}.", param)
    if subscription["status"] in effects.ENDED_STATUSES:
        raise invalid(f"The subscription {subscription_id} has been canceled and can no longer be changed.", param)
    return subscription


def _require_feature(features: StripeObject, feature: str) -> None:
    if not features[feature]["enabled"]:
        raise invalid(
            f"This flow requires features[{feature}][enabled] to be true in the portal configuration.",
            "flow_data[type]",
        )


def _update_confirm(data: dict[str, Any], subscription: StripeObject, features: StripeObject) -> StripeObject:
    param = "flow_data[subscription_update_confirm]"
    _require_feature(features, "subscription_update")
    if len(data["items"]) != 1:
        raise invalid(f"{param}[items] must contain exactly one item.", f"{param}[items]")
    item = data["items"][0]
    current = next((i for i in subscription["items"]["data"] if i["id"] == item["id"]), None)
    if current is None:
        raise invalid(
            f"The subscription item {item['id']} does not belong to the subscription {subscription['id']}.",
            f"{param}[items][0][id]",
        )
    if len(subscription["items"]["data"]) != 1:
        raise invalid("Subscriptions with multiple items cannot be updated in the portal.", f"{param}[subscription]")
    allowed = {price for product in features["subscription_update"]["products"] or [] for price in product["prices"]}
    if "price" in item:
        find("price", item["price"], f"{param}[items][0][price]")
        if item["price"] not in allowed:
            raise invalid(
                f"The price {item['price']} is not in the portal configuration's "
                "features[subscription_update][products].",
                f"{param}[items][0][price]",
            )
    if current["price"]["id"] not in allowed:
        raise invalid(
            f"The subscription's current price {current['price']['id']} is not in the portal "
            "configuration's features[subscription_update][products].",
            f"{param}[items][0][id]",
        )
    # The discount must apply to the plan the customer ends up on.
    product = find("price", item["price"])["product"] if "price" in item else current["price"]["product"]
    if item.get("quantity", current["quantity"]) != current["quantity"]:
        _check_quantity(item["quantity"], product, features, f"{param}[items][0][quantity]")
    discounts = []
    for index, discount in enumerate(data.get("discounts", [])):
        resolve_discount(discount, f"{param}[discounts][{index}]", [product])
        discounts.append({"coupon": discount.get("coupon"), "promotion_code": discount.get("promotion_code")})
    return {
        "discounts": discounts or None,
        # Stripe echoes the item; without a quantity in the request it is the item's current one.
        "items": [
            {"id": item["id"], "price": item.get("price"), "quantity": item.get("quantity", current["quantity"])}
        ],
        "subscription": subscription["id"],
    }


def _check_quantity(quantity: int, product: str, features: StripeObject, param: str) -> None:
    """A new quantity must be one the configuration lets customers choose for the product:
    `features.subscription_update.products[].adjustable_quantity` is enabled and the
    quantity is within its `minimum` and `maximum`
    (https://docs.stripe.com/api/customer_portal/configurations/object#portal_configuration_object-features-subscription_update-products-adjustable_quantity)."""
    entry = next((p for p in features["subscription_update"]["products"] or [] if p["product"] == product), None)
    limits = entry["adjustable_quantity"] if entry is not None else {"enabled": False}
    if not limits["enabled"] and quantity == 1:
        # One is the quantity a product sold one at a time has: moving 5 seats of a per-seat
        # plan to a flat one names it (adjustable_quantity is what the customer may change).
        return
    if not limits["enabled"]:
        raise invalid(
            f"The quantity of the product {product} cannot be changed: its entry in the portal configuration's "
            "features[subscription_update][products] does not have adjustable_quantity[enabled].",
            param,
        )
    low, high = limits["minimum"], limits["maximum"]
    if quantity < low or (high is not None and quantity > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(
            f"The quantity {quantity} is outside the portal configuration's limits for the product "
            f"{product}: it must be {bounds}.",
            param,
        )


def _retention(retention: dict[str, Any] | None) -> StripeObject | None:
    if retention is None:
        return None
    param = "flow_data[subscription_cancel][retention][coupon_offer][coupon]"
    coupon = find("coupon", retention["coupon_offer"]["coupon"], param)
    if not coupon["valid"] or refusals.exhausted(coupon):
        raise invalid(f"Coupon {coupon['id']} is no longer valid.", param, code=COUPON_EXPIRED)
    return {"coupon_offer": {"coupon": coupon["id"]}, "type": "coupon_offer"}
