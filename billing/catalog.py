"""The merchant's plan catalog: loaded from `catalog.toml` (or the file CATALOG_PATH
names), checked, read-only.

The pricing page renders from this with zero Stripe calls. Prices are named by
Stripe lookup keys; `mirror.price_id` turns a key into Stripe's price id only when a
button is pressed (from the mirror's copy, asking Stripe only for a key it lacks).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).parent / "catalog.toml"
INTERVALS = ("month", "year")
# Stripe's customer-portal configuration lists at most 10 products.
MAX_PRODUCTS = 10

AFTER_COMPLETION_TYPES = ("redirect", "hosted_confirmation", "portal_homepage")
CANCEL_MODES = ("at_period_end", "immediately")
# When a cheaper plan (or a shorter interval) takes effect: at the end of the paid period
# (the portal schedules it) or at once, with a credit for the unused time.
DOWNGRADE_POLICIES = ("at_period_end", "immediately")

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}


class CatalogError(Exception):
    """The catalog file is malformed; the message says where."""


@dataclass(frozen=True)
class Price:
    lookup_key: str
    product_id: str
    interval: str  # "month" or "year"
    amount: int  # in the currency's smallest unit
    currency: str

    @property
    def display_amount(self) -> str:
        return format_amount(self.amount, self.currency)


@dataclass(frozen=True)
class Seats:
    """Per-seat pricing: the quantity a customer may choose."""

    min: int
    max: int


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    tagline: str
    features: tuple[str, ...]
    highlighted: bool
    prices: dict[str, Price]  # by interval
    seats: Seats | None = None


@dataclass(frozen=True)
class Coupon:
    id: str
    name: str
    percent_off: int
    duration: str  # "once", "repeating" or "forever"
    duration_in_months: int | None
    promotion_codes: tuple[str, ...]


@dataclass(frozen=True)
class AfterCompletion:
    """Where a portal step ends: see [portal.after_completion] in catalog.toml."""

    type: str = "redirect"
    message: str | None = None  # for hosted_confirmation


@dataclass(frozen=True)
class PortalSettings:
    cancel_mode: str = "at_period_end"
    allow_pause: bool = True
    retention_coupon: str | None = None
    after_completion: dict[str, AfterCompletion] = field(default_factory=dict)
    downgrades: str = "at_period_end"

    def ending(self, button: str) -> AfterCompletion:
        return self.after_completion.get(button, AfterCompletion())


@dataclass(frozen=True)
class Catalog:
    currency: str
    products: tuple[Product, ...]
    coupons: tuple[Coupon, ...] = ()
    portal: PortalSettings = PortalSettings()

    def price(self, lookup_key: str) -> Price | None:
        """The catalog price with this lookup key, or None if it is not ours."""
        for product in self.products:
            for price in product.prices.values():
                if price.lookup_key == lookup_key:
                    return price
        return None

    def campaign_code(self, code: str) -> Coupon | None:
        """The coupon of one of the catalog's promotion codes (matched regardless of case,
        as Stripe keeps active codes unique regardless of case), or None."""
        return next((c for c in self.coupons if code.upper() in (p.upper() for p in c.promotion_codes)), None)

    def coupon(self, coupon_id: str) -> Coupon | None:
        return next((c for c in self.coupons if c.id == coupon_id), None)

    def product(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    @property
    def prices(self) -> list[Price]:
        return [price for product in self.products for price in product.prices.values()]


def format_amount(amount: int, currency: str) -> str:
    """1200, "usd" -> "$12"; 1250 -> "$12.50"."""
    symbol = _SYMBOLS.get(currency, currency.upper() + " ")
    whole, cents = divmod(amount, 100)
    return f"{symbol}{whole:,}" if cents == 0 else f"{symbol}{whole:,}.{cents:02d}"


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise CatalogError(f"{where}: `{key}` must be a {kind.__name__}.")
    return value


def parse_catalog(data: dict[str, Any], buttons: Collection[str]) -> Catalog:
    """Build a Catalog from the parsed TOML, refusing anything ambiguous.
    `buttons`: the keys [portal.after_completion] may name (billing.buttons declares them)."""
    currency = _require(data, "currency", str, "catalog").lower()
    raw_products = data.get("products")
    if not isinstance(raw_products, list) or not raw_products:
        raise CatalogError("catalog: add at least one [[products]] table.")
    if len(raw_products) > MAX_PRODUCTS:
        raise CatalogError(f"catalog: at most {MAX_PRODUCTS} products (a portal configuration's limit).")

    products: list[Product] = []
    seen_keys: set[str] = set()
    for raw in raw_products:
        product_id = _require(raw, "id", str, "product")
        where = f"product {product_id!r}"
        prices: dict[str, Price] = {}
        for interval, raw_price in _require(raw, "prices", dict, where).items():
            if interval not in INTERVALS:
                raise CatalogError(f"{where}: price interval must be one of {INTERVALS}, not {interval!r}.")
            lookup_key = _require(raw_price, "lookup_key", str, f"{where} {interval}")
            amount = _require(raw_price, "amount", int, f"{where} {interval}")
            if amount <= 0:
                raise CatalogError(f"{where} {interval}: amount must be positive.")
            if lookup_key in seen_keys:
                raise CatalogError(f"{where}: lookup key {lookup_key!r} is used twice.")
            seen_keys.add(lookup_key)
            prices[interval] = Price(lookup_key, product_id, interval, amount, currency)
        if not prices:
            raise CatalogError(f"{where}: give at least one price.")
        seats = None
        if "seats" in raw:
            raw_seats = _require(raw, "seats", dict, where)
            seats = Seats(
                _require(raw_seats, "min", int, f"{where} seats"), _require(raw_seats, "max", int, f"{where} seats")
            )
            if not 1 <= seats.min <= seats.max:
                raise CatalogError(f"{where}: seats need 1 <= min <= max.")
        products.append(
            Product(
                id=product_id,
                name=_require(raw, "name", str, where),
                tagline=str(raw.get("tagline", "")),
                features=tuple(str(f) for f in raw.get("features", [])),
                highlighted=bool(raw.get("highlighted", False)),
                prices=prices,
                seats=seats,
            )
        )
    if len({p.id for p in products}) != len(products):
        raise CatalogError("catalog: product ids must be unique.")
    coupons = tuple(_parse_coupon(raw) for raw in data.get("coupons", []))
    portal = _parse_portal(data.get("portal", {}), {c.id for c in coupons}, buttons)
    return Catalog(currency=currency, products=tuple(products), coupons=coupons, portal=portal)


def _parse_coupon(raw: dict[str, Any]) -> Coupon:
    coupon_id = _require(raw, "id", str, "coupon")
    where = f"coupon {coupon_id!r}"
    percent_off = _require(raw, "percent_off", int, where)
    if not 0 < percent_off <= 100:
        raise CatalogError(f"{where}: percent_off must be between 1 and 100.")
    duration = _require(raw, "duration", str, where)
    if duration not in ("once", "repeating", "forever"):
        raise CatalogError(f"{where}: duration must be once, repeating or forever.")
    months = raw.get("duration_in_months")
    if (duration == "repeating") != isinstance(months, int):
        raise CatalogError(f"{where}: give duration_in_months exactly when duration is repeating.")
    codes = tuple(str(code) for code in raw.get("promotion_codes", []))
    return Coupon(coupon_id, str(raw.get("name", coupon_id)), percent_off, duration, months, codes)


def _parse_portal(raw: dict[str, Any], coupon_ids: set[str], buttons: Collection[str]) -> PortalSettings:
    cancel_mode = str(raw.get("cancel_mode", "at_period_end"))
    if cancel_mode not in CANCEL_MODES:
        raise CatalogError(f"portal: cancel_mode must be one of {CANCEL_MODES}.")
    downgrades = str(raw.get("downgrades", "at_period_end"))
    if downgrades not in DOWNGRADE_POLICIES:
        raise CatalogError(f"portal: downgrades must be one of {DOWNGRADE_POLICIES}.")
    retention = str(raw.get("retention_coupon", "")) or None
    if retention is not None and retention not in coupon_ids:
        raise CatalogError(f"portal: retention_coupon {retention!r} is not one of the [[coupons]].")
    endings: dict[str, AfterCompletion] = {}
    for button, value in raw.get("after_completion", {}).items():
        if button not in buttons:
            raise CatalogError(f"portal.after_completion: unknown button {button!r}; buttons are {tuple(buttons)}.")
        spec = {"type": value} if isinstance(value, str) else value
        if not isinstance(spec, dict) or spec.get("type") not in AFTER_COMPLETION_TYPES:
            raise CatalogError(f"portal.after_completion.{button}: type must be one of {AFTER_COMPLETION_TYPES}.")
        message = spec.get("message")
        if message is not None and spec["type"] != "hosted_confirmation":
            raise CatalogError(f"portal.after_completion.{button}: a message needs type hosted_confirmation.")
        endings[button] = AfterCompletion(spec["type"], message)
    return PortalSettings(cancel_mode, bool(raw.get("allow_pause", True)), retention, endings, downgrades)


def load_catalog(buttons: Collection[str], path: Path = DEFAULT_PATH) -> Catalog:
    """The catalog file; `buttons`: the keys its [portal.after_completion] may name."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CatalogError(f"cannot read {path}: {e}") from e
    return parse_catalog(data, buttons)
