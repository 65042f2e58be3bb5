"""`flask stripe setup`: make the Stripe account match the catalog.

Products, prices by lookup key, coupons and promotion codes, and one portal
configuration (marked with `CONFIG_MARKER`, so a rerun finds it) that enables
every step the site's buttons open. Idempotent: a rerun changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import stripe

from billing.catalog import Catalog, Coupon, Price, Product, format_amount
from billing.stripe_api import CONFIG_MARKER, StripeAPI

if TYPE_CHECKING:
    from stripe import StripeClient
    from stripe.params import CouponCreateParams
    from stripe.params.billing_portal import (
        ConfigurationCreateParams,
        ConfigurationCreateParamsFeatures,
        ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct,
        ConfigurationUpdateParams,
    )

PORTAL_HEADLINE = "Manage your subscription"
# What makes the portal schedule a plan change for the end of the period instead of making it
# now, under catalog.toml's `downgrades = "at_period_end"`: a cheaper item or a shorter interval
# (https://docs.stripe.com/customer-management/configure-portal#downgrades and
# https://docs.stripe.com/api/customer_portal/configurations/create#create_portal_configuration-features-subscription_update-schedule_at_period_end).
SCHEDULE_CONDITIONS = ("decreasing_item_amount", "shortening_interval")
# The reasons the portal asks a canceling customer to pick from.
CANCELLATION_REASONS = ("too_expensive", "missing_features", "switched_service", "unused", "other")

T = TypeVar("T")


@dataclass
class SetupReport:
    """What `ensure_catalog` did: the portal configuration to use, each
    change it made (none on a rerun), and what it could not fix by itself."""

    configuration: str
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _same_terms(current: stripe.Price, price: Price) -> bool:
    """Whether a Stripe price charges what the catalog price says."""
    product = current.product if isinstance(current.product, str) else current.product.id
    recurring = current.recurring
    return (
        current.unit_amount == price.amount
        and current.currency == price.currency
        and product == price.product_id
        and recurring is not None
        and recurring.interval == price.interval
        and recurring.interval_count == 1
    )


def _describe_price(price: stripe.Price) -> str:
    amount = format_amount(price.unit_amount or 0, price.currency)
    return f"{amount}/{price.recurring.interval}" if price.recurring else amount


def _matches(wanted: Any, actual: Any) -> bool:
    """Whether what Stripe has already says everything `wanted` says (Stripe
    adds fields and defaults of its own; lists may come back in another order)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_matches(value, actual.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(wanted) != len(actual):
            return False
        unmatched = list(actual)
        for item in wanted:
            match = next((i for i, candidate in enumerate(unmatched) if _matches(item, candidate)), None)
            if match is None:
                return False
            unmatched.pop(match)
        return True
    return bool(wanted == actual)


def ensure_catalog(api: StripeAPI, catalog: Catalog, return_url: str | None = None) -> SetupReport:
    """Make the Stripe account match the catalog: products, prices, coupons,
    promotion codes, and a portal configuration offering every step the
    site's buttons open. Returns what it changed (nothing, on a rerun).

    Idempotent, so offline mode runs it at every start: products and coupons
    use the catalog's ids, prices are found by lookup key, and the portal
    configuration by the metadata this app puts on it.
    """
    report = SetupReport(configuration="")
    client = api.client
    with api.calling("set up the catalog in Stripe"):
        products = [_ensure_product(client, product, report) for product in catalog.products]
        for coupon in catalog.coupons:
            _ensure_coupon(client, coupon, report)
        managed = api.managed_configuration()
        report.configuration = _ensure_configuration(client, managed, catalog, products, return_url, report)
    for entry in products:
        for lookup_key, price_id in zip(_lookup_keys(catalog, entry["product"]), entry.get("prices", []), strict=True):
            api.remember_price(lookup_key, price_id)
    api.use_configuration(report.configuration)
    with api.calling("read the portal configuration"):
        # What the pages will say comes from the configuration in use, which
        # STRIPE_PORTAL_CONFIGURATION may name instead: stored by the caller (portal_facts).
        api.read_portal()
    return report


def _lookup_keys(catalog: Catalog, product_id: str) -> list[str]:
    product = catalog.product(product_id)
    return [price.lookup_key for price in product.prices.values()] if product else []


def _ensure_product(
    client: StripeClient, product: Product, report: SetupReport
) -> ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct:
    description = product.tagline or product.name
    existing = _retrieve_or_none(client.v1.products.retrieve, product.id)
    if existing is None:
        client.v1.products.create({"id": product.id, "name": product.name, "description": description})
        report.changes.append(f"Created product {product.id} ({product.name}).")
    else:
        stale = [
            name
            for name, ok in [
                ("name", existing.name == product.name),
                ("description", existing.description == description),
                ("active", existing.active),
            ]
            if not ok
        ]
        if stale:
            client.v1.products.update(product.id, {"name": product.name, "description": description, "active": True})
            report.changes.append(f"Updated product {product.id}: {', '.join(stale)}.")
    entry: ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct = {
        "product": product.id,
        "prices": [_ensure_price(client, price, report) for price in product.prices.values()],
        "adjustable_quantity": {"enabled": False},
    }
    if product.seats:
        entry["adjustable_quantity"] = {"enabled": True, "minimum": product.seats.min, "maximum": product.seats.max}
    return entry


def _ensure_price(client: StripeClient, price: Price, report: SetupReport) -> str:
    """The id of the price with this lookup key and the catalog's terms.

    Stripe prices are immutable: a changed amount makes a new price, moves
    the lookup key to it (`transfer_lookup_key`) and archives the old one.
    Existing subscribers keep the old price until they change plan.
    """
    found = client.v1.prices.list({"lookup_keys": [price.lookup_key], "limit": 1}).data
    current = found[0] if found else None
    label = f"{price.lookup_key} ({price.display_amount}/{price.interval})"
    if current is not None and _same_terms(current, price):
        if not current.active:
            client.v1.prices.update(current.id, {"active": True})
            report.changes.append(f"Reactivated price {label}.")
        price_id = current.id
    else:
        price_id = _create_price(client, price)
        if current is None:
            report.changes.append(f"Created price {label}.")
        else:
            client.v1.prices.update(current.id, {"active": False})
            report.changes.append(
                f"Replaced price {label}: the lookup key moved from {current.id} "
                f"({_describe_price(current)}, now archived) to {price_id}."
            )
    return price_id


def _create_price(client: StripeClient, price: Price) -> str:
    return client.v1.prices.create(
        {
            "product": price.product_id,
            "currency": price.currency,
            "unit_amount": price.amount,
            "recurring": {"interval": "month" if price.interval == "month" else "year"},
            "lookup_key": price.lookup_key,
            # Take the key from an older price with other terms (archived just after).
            "transfer_lookup_key": True,
        }
    ).id


def _ensure_coupon(client: StripeClient, coupon: Coupon, report: SetupReport) -> None:
    """Coupons can't change once made (only their name): a different one in
    Stripe is reported, for the merchant to give the catalog's a new id."""
    existing = _retrieve_or_none(client.v1.coupons.retrieve, coupon.id)
    if existing is None:
        params: CouponCreateParams = {
            "id": coupon.id,
            "name": coupon.name,
            "percent_off": coupon.percent_off,
            "duration": "forever"
            if coupon.duration == "forever"
            else "once"
            if coupon.duration == "once"
            else "repeating",
        }
        if coupon.duration_in_months:
            params["duration_in_months"] = coupon.duration_in_months
        client.v1.coupons.create(params)
        report.changes.append(f"Created coupon {coupon.id} ({coupon.name}).")
    else:
        terms = {
            "percent_off": coupon.percent_off,
            "duration": coupon.duration,
            "duration_in_months": coupon.duration_in_months,
        }
        differ = [
            f"{name} is {getattr(existing, name, None)!r} in Stripe, {value!r} in the catalog"
            for name, value in terms.items()
            if getattr(existing, name, None) != value
        ]
        if differ:
            report.warnings.append(
                f"Coupon {coupon.id}: {'; '.join(differ)}. Stripe can't change a coupon's terms: "
                "give the catalog's coupon a new id and run setup again."
            )
        if not existing.valid:
            report.warnings.append(
                f"Coupon {coupon.id} is no longer valid in Stripe (expired or used up): give it a new id."
            )
        if existing.name != coupon.name:
            client.v1.coupons.update(coupon.id, {"name": coupon.name})
            report.changes.append(f"Renamed coupon {coupon.id} to {coupon.name!r}.")
    for code in coupon.promotion_codes:
        _ensure_promotion_code(client, code, coupon.id, report)


def _ensure_promotion_code(client: StripeClient, code: str, coupon_id: str, report: SetupReport) -> None:
    found = client.v1.promotion_codes.list({"code": code, "limit": 1}).data
    if not found:
        client.v1.promotion_codes.create({"code": code, "promotion": {"type": "coupon", "coupon": coupon_id}})
        report.changes.append(f"Created promotion code {code} for coupon {coupon_id}.")
        return
    promo = found[0]
    coupon = promo.promotion.coupon
    if (coupon if isinstance(coupon, str) else coupon.id if coupon else None) != coupon_id:
        report.warnings.append(
            f"Promotion code {code} belongs to another coupon in Stripe: codes can't move; pick another code."
        )
    elif not promo.active:
        client.v1.promotion_codes.update(promo.id, {"active": True})
        report.changes.append(f"Reactivated promotion code {code}.")


def _ensure_configuration(
    client: StripeClient,
    managed: stripe.billing_portal.Configuration | None,
    catalog: Catalog,
    products: list[ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct],
    return_url: str | None,
    report: SetupReport,
) -> str:
    features = _portal_features_params(catalog, products)
    wanted: dict[str, object] = {"business_profile": {"headline": PORTAL_HEADLINE}, "features": features}
    if return_url:
        # Where the portal's own "back" link goes when a session sets no return_url.
        wanted["default_return_url"] = return_url
    if managed is None:
        created = client.v1.billing_portal.configurations.create(
            cast("ConfigurationCreateParams", {**wanted, "metadata": {"managed_by": CONFIG_MARKER}})
        )
        report.changes.append(f"Created portal configuration {created.id}.")
        return created.id
    if not _matches(wanted, managed.to_dict()):
        # The update params have their own TypedDicts, alike but for optionality;
        # the stand-in's validation checks this dict against them in the tests.
        params = cast("ConfigurationUpdateParams", _unset_empty(wanted))
        client.v1.billing_portal.configurations.update(managed.id, params)
        report.changes.append(f"Updated portal configuration {managed.id} to match the catalog.")
    return managed.id


def _unset_empty(wanted: dict[str, object]) -> dict[str, object]:
    """An empty list is not sent at all in Stripe's form encoding, so an update that empties
    `schedule_at_period_end.conditions` (downgrades now "immediately") sends "" to unset it."""
    features = cast("dict[str, Any]", wanted["features"])
    schedule = features["subscription_update"]["schedule_at_period_end"]
    if schedule["conditions"]:
        return wanted
    update = {**features["subscription_update"], "schedule_at_period_end": {"conditions": ""}}
    return {**wanted, "features": {**features, "subscription_update": update}}


def _portal_features_params(
    catalog: Catalog, products: list[ConfigurationCreateParamsFeaturesSubscriptionUpdateProduct]
) -> ConfigurationCreateParamsFeatures:
    portal = catalog.portal
    return {
        "invoice_history": {"enabled": True},
        # Stripe refuses subscription updates while this is disabled.
        "payment_method_update": {"enabled": True},
        "customer_update": {"enabled": True, "allowed_updates": ["email", "name", "address"]},
        "subscription_cancel": {
            "enabled": True,
            "mode": "immediately" if portal.cancel_mode == "immediately" else "at_period_end",
            "cancellation_reason": {"enabled": True, "options": list(CANCELLATION_REASONS)},
        },
        "subscription_pause": {"enabled": portal.allow_pause},
        # subscription_update_confirm may only move to prices listed here.
        "subscription_update": {
            "enabled": True,
            "default_allowed_updates": ["price", "quantity", "promotion_code"],
            "proration_behavior": "create_prorations",
            "products": products,
            "schedule_at_period_end": {
                "conditions": [{"type": kind} for kind in SCHEDULE_CONDITIONS]
                if portal.downgrades == "at_period_end"
                else []
            },
        },
    }


def _retrieve_or_none(retrieve: Callable[[str], T], object_id: str) -> T | None:
    try:
        return retrieve(object_id)
    except stripe.InvalidRequestError as e:
        if e.code == "resource_missing":
            return None
        raise
