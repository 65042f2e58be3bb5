"""The merchant's plan catalog: loaded from `catalog.toml`, checked, read-only.

The pricing page renders from this with zero Stripe calls. Prices are named by
Stripe lookup keys; `billing.price_id()` turns a key into Stripe's price id only
when a button is pressed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).parent / "catalog.toml"
INTERVALS = ("month", "year")
# Stripe's customer-portal configuration lists at most 10 products.
MAX_PRODUCTS = 10

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
class Product:
    id: str
    name: str
    tagline: str
    features: tuple[str, ...]
    highlighted: bool
    prices: dict[str, Price]  # by interval


@dataclass(frozen=True)
class Catalog:
    currency: str
    products: tuple[Product, ...]

    def price(self, lookup_key: str) -> Price | None:
        """The catalog price with this lookup key, or None if it is not ours."""
        for product in self.products:
            for price in product.prices.values():
                if price.lookup_key == lookup_key:
                    return price
        return None

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


def parse_catalog(data: dict[str, Any]) -> Catalog:
    """Build a Catalog from the parsed TOML, refusing anything ambiguous."""
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
        products.append(
            Product(
                id=product_id,
                name=_require(raw, "name", str, where),
                tagline=str(raw.get("tagline", "")),
                features=tuple(str(f) for f in raw.get("features", [])),
                highlighted=bool(raw.get("highlighted", False)),
                prices=prices,
            )
        )
    if len({p.id for p in products}) != len(products):
        raise CatalogError("catalog: product ids must be unique.")
    return Catalog(currency=currency, products=tuple(products))


def load_catalog(path: Path = DEFAULT_PATH) -> Catalog:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CatalogError(f"cannot read {path}: {e}") from e
    return parse_catalog(data)
