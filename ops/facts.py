"""What `flask stripe doctor` reads from the Stripe account: the catalog's
prices by lookup key and the portal configuration in use, as plain facts that
the pure rules in `ops.doctor` compare with the site."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import stripe

from billing.catalog import Catalog
from billing.eligibility import PortalFeatures
from billing.snapshots import PortalSnapshot, portal_features_of
from billing.stripe_api import StripeAPI


@dataclass(frozen=True)
class PriceFacts:
    """An active Stripe price, as `doctor` compares it with the catalog."""

    id: str
    product: str
    amount: int | None
    currency: str
    interval: str | None


def _price_facts(price: stripe.Price) -> PriceFacts:
    return PriceFacts(
        id=price.id,
        product=price.product if isinstance(price.product, str) else price.product.id,
        amount=price.unit_amount,
        currency=price.currency,
        interval=price.recurring.interval if price.recurring and price.recurring.interval_count == 1 else None,
    )


@dataclass(frozen=True)
class ConfigurationFacts:
    """The portal configuration sessions use, as `doctor` checks it."""

    id: str
    found_by: str
    active: bool
    invoice_history: bool
    features: PortalFeatures


@dataclass(frozen=True)
class AccountFacts:
    """What the Stripe account has, for `doctor` (which is pure: see doctor.py)."""

    key_error: str | None = None
    # Who answers instead of Stripe itself (StripeAPI.served_by), if anyone.
    served_by: str | None = None
    # Active prices by catalog lookup key (more than one, or none, is a problem).
    prices: dict[str, list[PriceFacts]] = field(default_factory=dict)
    configuration: ConfigurationFacts | None = None
    configuration_error: str | None = None
    # What the site's pages read (billing.portal_facts), or why there is none.
    stored: PortalSnapshot | str = "not read"


def account_facts(api: StripeAPI, catalog: Catalog, stored: PortalSnapshot | str = "not read") -> AccountFacts:
    """What `doctor` checks, read from Stripe: the catalog's prices by lookup
    key and the portal configuration in use; beside them, the copy the pages read
    (`stored`, from the site's database). Never raises for a Stripe error: the
    error is a finding too."""
    if not api.configured:
        return AccountFacts(key_error="STRIPE_SECRET_KEY is not set.", stored=stored)
    return dataclasses.replace(_read_account(api, catalog), served_by=api.served_by, stored=stored)


def _read_account(api: StripeAPI, catalog: Catalog) -> AccountFacts:
    prices: dict[str, list[PriceFacts]] = {price.lookup_key: [] for price in catalog.prices}
    try:
        keys = list(prices)
        for start in range(0, len(keys), 10):  # Stripe takes 10 lookup keys a call
            found = api.client.v1.prices.list({"lookup_keys": keys[start : start + 10], "active": True, "limit": 100})
            for price in found.auto_paging_iter():
                if price.lookup_key in prices:
                    prices[price.lookup_key].append(_price_facts(price))
    except (stripe.AuthenticationError, stripe.PermissionError) as e:
        return AccountFacts(key_error=e.user_message or str(e))
    except stripe.StripeError as e:
        return AccountFacts(key_error=f"Stripe could not be asked: {e.user_message or e}")
    try:
        found_config = api.configuration_in_use()
    except stripe.StripeError as e:
        return AccountFacts(prices=prices, configuration_error=e.user_message or str(e))
    if found_config is None:
        return AccountFacts(prices=prices)
    config, found_by = found_config
    return AccountFacts(
        prices=prices,
        configuration=ConfigurationFacts(
            id=config.id,
            found_by=found_by,
            active=config.active,
            invoice_history=config.features.invoice_history.enabled,
            features=portal_features_of(config),
        ),
    )
