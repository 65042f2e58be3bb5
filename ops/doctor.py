"""`flask stripe doctor`: is the Stripe account (and the mail server) ready for this site? Pure rules.

`ops.facts.account_facts()` reads what the account has; the functions here
compare that with the settings and the catalog and explain each problem in
plain words, with its fix. The portal fails in confusing ways when its
configuration does not match the site (a price it does not list, a flow it
does not enable), so this says which, before a customer finds out.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from billing.catalog import MAX_PRODUCTS, Catalog
from billing.settings import STRIPE_DEFAULT_API_BASE, WEBHOOK_PATH, Settings
from billing.snapshots import PortalSnapshot
from billing.stripe_api import STRIPE_API_VERSION
from ops.facts import AccountFacts, ConfigurationFacts
from ops.setup import SCHEDULE_CONDITIONS

SETUP = "Run `flask --app app stripe setup`."


@dataclass(frozen=True)
class EmailFacts:
    # A function is plugged in at app.extensions[SENDER] (offline: the demo's Outbox).
    plugged_in: bool = False
    # How connecting and logging in to MAIL_URL's server failed; None: it worked, or wasn't tried.
    smtp_error: str | None = None


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def examine(
    settings: Settings, catalog: Catalog, facts: AccountFacts, email: EmailFacts | None = None
) -> list[Finding]:
    """Every check, in the order a merchant would fix them."""
    findings = [*_key(settings, facts), _api_version()]
    if facts.key_error is None:
        findings += _prices(catalog, facts)
        findings += _configuration(catalog, facts)
    findings += [_webhook_secret(settings), _base_url(settings), _email(settings, email or EmailFacts())]
    return findings


def _key(settings: Settings, facts: AccountFacts) -> list[Finding]:
    if not settings.stripe_secret_key:
        return [
            Finding(
                False,
                "STRIPE_SECRET_KEY is not set: every button says billing is not set up.",
                "Copy .env.example to .env and put your test key (Dashboard > Developers > API keys) there.",
            )
        ]
    if facts.served_by:
        found = Finding(True, f"Stripe is simulated by {facts.served_by}.")
    elif settings.live_mode:
        found = Finding(True, "STRIPE_SECRET_KEY is a live-mode key (allowed by STRIPE_ALLOW_LIVE_MODE): real charges.")
    else:
        kind = "restricted" if settings.stripe_secret_key.startswith("rk_") else "secret"
        found = Finding(True, f"STRIPE_SECRET_KEY is a test-mode {kind} key.")
    if facts.key_error is None:
        return [found]
    return [
        found,
        Finding(
            False,
            f"Stripe refused the key: {facts.key_error}",
            "Copy the secret key from the Dashboard (Developers > API keys) into STRIPE_SECRET_KEY in .env. "
            "A restricted key needs write access to products, prices, coupons, customers, "
            "subscriptions and the customer portal.",
        ),
    ]


def _api_version() -> Finding:
    return Finding(True, f"Every request pins API version {STRIPE_API_VERSION}, whatever the account's default.")


def _prices(catalog: Catalog, facts: AccountFacts) -> list[Finding]:
    findings = []
    for price in catalog.prices:
        active = facts.prices.get(price.lookup_key, [])
        label = f"Price {price.lookup_key}"
        if not active:
            findings.append(Finding(False, f"{label}: no active Stripe price has this lookup key.", SETUP))
        elif len(active) > 1:
            ids = ", ".join(p.id for p in active)
            findings.append(Finding(False, f"{label}: several active prices have this lookup key ({ids}).", SETUP))
        else:
            (found,) = active
            terms = (price.amount, price.currency, price.interval, price.product_id)
            if (found.amount, found.currency, found.interval, found.product) != terms:
                findings.append(
                    Finding(
                        False,
                        f"{label}: Stripe's {found.id} charges {found.amount} {found.currency} per {found.interval} "
                        f"for {found.product}; the catalog says {price.amount} {price.currency} per "
                        f"{price.interval} for {price.product_id}.",
                        SETUP + " It makes a new price and moves the lookup key to it.",
                    )
                )
            else:
                findings.append(Finding(True, f"{label} is {found.id}, as the catalog says."))
    return findings


def _configuration(catalog: Catalog, facts: AccountFacts) -> list[Finding]:
    if facts.configuration_error is not None:
        return [
            Finding(
                False,
                f"The portal configuration could not be read: {facts.configuration_error}",
                "Fix STRIPE_PORTAL_CONFIGURATION (a bpc_... id from this account), or remove it "
                "and run `flask --app app stripe setup`.",
            )
        ]
    config = facts.configuration
    if config is None:
        return [
            Finding(
                False,
                "No customer-portal configuration: Stripe refuses to open the portal without one.",
                SETUP + " It creates one that offers every flow this site opens.",
            )
        ]
    findings = [Finding(True, f"Portal configuration {config.id}, found by {config.found_by}.")]
    if not config.active:
        findings.append(Finding(False, f"Portal configuration {config.id} is archived (inactive).", SETUP))
    findings += _flows(catalog, config)
    findings += _products(catalog, facts, config)
    findings.append(_stored(facts.stored, config))
    return findings


def _stored(stored: PortalSnapshot | str, config: ConfigurationFacts) -> Finding:
    """The pages word their buttons by the copy in the database, not by Stripe: it must be there and current."""
    if isinstance(stored, str):
        return Finding(
            False,
            f"The site has no stored copy of the portal configuration's features ({stored}): the pages "
            "don't know when Cancel ends access, so they don't say, and they show every portal button.",
            SETUP + " It stores them (as does each start of the site while Stripe answers).",
        )
    if (stored.id, stored.features) != (config.id, config.features):
        return Finding(
            False,
            f"The stored copy of the portal configuration ({stored.id}) differs from Stripe's ({config.id}): "
            "the pages would say what the portal no longer does.",
            SETUP + " It stores the current one; webhooks keep it current when the endpoint sends "
            "billing_portal.configuration.created and billing_portal.configuration.updated.",
        )
    return Finding(True, f"The pages read a current copy of portal configuration {stored.id}.")


def _flows(catalog: Catalog, config: ConfigurationFacts) -> list[Finding]:
    f = config.features
    wanted = [
        ("subscription update (switch plan, change interval or seats, plan picker)", f.subscription_update),
        ("subscription cancel", f.subscription_cancel),
        ("payment method update", f.payment_method_update),
        ("customer update (billing details)", f.customer_update),
        ("invoice history", config.invoice_history),
    ]
    if catalog.portal.allow_pause:
        wanted.append(("subscription pause (catalog.toml allows pausing)", f.subscription_pause))
    missing = [name for name, enabled in wanted if not enabled]
    findings = [
        Finding(
            False,
            f"The portal configuration does not enable {name}: its buttons would fail on Stripe's page.",
            SETUP + " (or enable it in Dashboard > Settings > Billing > Customer portal).",
        )
        for name in missing
    ]
    if f.subscription_update and not f.payment_method_update:
        findings.append(
            Finding(
                False,
                "Subscription update is enabled while payment method update is not: Stripe refuses that.",
                "Enable payment method update, or run `flask --app app stripe setup`.",
            )
        )
    if f.subscription_cancel and f.cancel_mode != catalog.portal.cancel_mode:
        findings.append(
            Finding(
                False,
                f"The portal cancels {f.cancel_mode.replace('_', ' ')}, but catalog.toml says "
                f"{catalog.portal.cancel_mode.replace('_', ' ')}: the button label would be wrong.",
                SETUP,
            )
        )
    findings += _downgrades(catalog, f.schedule_conditions)
    if not findings:
        findings.append(Finding(True, "The portal configuration enables every flow the site's buttons open."))
    return findings


def _downgrades(catalog: Catalog, conditions: frozenset[str]) -> list[Finding]:
    """The account page promises what the portal does with a cheaper plan: now, or at period end."""
    wanted = frozenset(SCHEDULE_CONDITIONS) if catalog.portal.downgrades == "at_period_end" else frozenset()
    if conditions == wanted:
        return []
    portal = "at the end of the period" if conditions else "immediately"
    if conditions and conditions != frozenset(SCHEDULE_CONDITIONS):
        portal += f" only for {', '.join(sorted(conditions))}"
    return [
        Finding(
            False,
            f"The portal makes downgrades {portal}, but catalog.toml says downgrades = "
            f"{catalog.portal.downgrades!r}: customers would be told the wrong date.",
            SETUP + " It writes features.subscription_update.schedule_at_period_end.conditions.",
        )
    ]


def _products(catalog: Catalog, facts: AccountFacts, config: ConfigurationFacts) -> list[Finding]:
    """`subscription_update_confirm` may only move to (and from) prices the configuration lists."""
    findings = []
    for price in catalog.prices:
        active = facts.prices.get(price.lookup_key, [])
        listed = config.features.update_products.get(price.product_id, frozenset())
        if len(active) == 1 and active[0].id not in listed:
            findings.append(
                Finding(
                    False,
                    f"Price {price.lookup_key} ({active[0].id}) is missing from the portal configuration's "
                    "subscription-update products: switching to it would fail.",
                    SETUP,
                )
            )
    if (count := len(config.features.update_products)) > MAX_PRODUCTS:
        findings.append(
            Finding(
                False,
                f"The portal configuration lists {count} products; Stripe allows {MAX_PRODUCTS}.",
                "Keep at most 10 products in catalog.toml and run setup.",
            )
        )
    if not findings:
        findings.append(Finding(True, "The portal configuration lists every catalog price."))
    return findings


def _webhook_secret(settings: Settings) -> Finding:
    if settings.stripe_webhook_secret:
        return Finding(True, "STRIPE_WEBHOOK_SECRET is set.")
    if settings.stripe_api_base != STRIPE_DEFAULT_API_BASE:
        # A stand-in on its own port sends events only when started with --webhook-url and
        # --webhook-secret; without them the site still refreshes on each return from a flow.
        return Finding(
            True,
            f"No STRIPE_WEBHOOK_SECRET: fine against the stand-in at {settings.stripe_api_base}, which sends "
            "events only when started with --webhook-url and --webhook-secret (pages refresh on return anyway).",
        )
    return Finding(
        False,
        "STRIPE_WEBHOOK_SECRET is not set: the site cannot check that events come from Stripe.",
        f"Locally: `stripe listen --forward-to {settings.url(WEBHOOK_PATH)}` prints a whsec_... secret. "
        "Deployed: add an endpoint in Dashboard > Developers > Webhooks and copy its signing secret.",
    )


def _base_url(settings: Settings) -> Finding:
    parts = urlsplit(settings.app_base_url)
    if settings.live_mode and parts.scheme != "https":
        return Finding(
            False, f"APP_BASE_URL is {settings.app_base_url}: live mode needs https.", "Serve the site over https."
        )
    return Finding(True, f"APP_BASE_URL is {settings.app_base_url}: Stripe sends customers back there.")


SECURITY = {"tls": "TLS", "starttls": "STARTTLS", "none": "plain text, on this machine"}


def _email(settings: Settings, email: EmailFacts) -> Finding:
    """Where the customers' emails (a failed payment, a trial's end) go."""
    mail = settings.mail
    if email.plugged_in:
        return Finding(True, "Emails go to the sender plugged in at start (offline: the demo's Outbox, /demo/outbox).")
    if mail is None:
        what = "MAIL_URL is not set: emails are only logged, so no customer hears of a failed payment."
        if settings.live_mode:
            return Finding(False, what, "Set MAIL_URL and MAIL_FROM in .env (.env.example shows the forms).")
        return Finding(True, what + " Set MAIL_URL and MAIL_FROM to send them.")
    server = f"the SMTP server {mail.host}:{mail.port} ({SECURITY[mail.security]})"
    if email.smtp_error is not None:
        return Finding(
            False,
            f"Emails would go through {server}, but connecting and logging in failed ({email.smtp_error}).",
            "Check MAIL_URL's host, port, scheme (smtp:// for STARTTLS, smtps:// for TLS) and login.",
        )
    return Finding(True, f"Emails go through {server}, which accepted the login, from {mail.sender}.")
