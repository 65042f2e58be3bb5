"""The hosted pages speak the session's `locale`: every catalog is complete, and the portal,
Checkout and the hosted invoice pick French, German or Japanese (or the browser's, or English)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import stripe
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from werkzeug.test import Client

from standin import i18n

TRANSLATIONS = Path(i18n.__file__).parent / "translations"


@pytest.mark.parametrize("lang", [lang for lang in i18n.SUPPORTED if lang != "en"])
def test_every_catalog_translates_every_string_and_is_compiled(lang: str) -> None:
    template = read_po((TRANSLATIONS / "messages.pot").open("rb"))
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    catalog = read_po(po.open("rb"))
    wanted = {m.id for m in template if m.id}
    assert wanted <= {m.id for m in catalog if m.id}, "run `make standin-catalogs`"
    untranslated = [
        m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert untranslated == [] and not catalog.fuzzy
    # The committed .mo is what the pages read: it must be this .po compiled.
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert (po.with_suffix(".mo")).read_bytes() == compiled.getvalue(), "run `make standin-catalogs`"


def home_html(client: stripe.StripeClient, web: Client, page_path: Any, customer: str, **extra: Any) -> str:
    params: Any = {"customer": customer, "return_url": "http://site.test/account"}
    session = client.v1.billing_portal.sessions.create({**params, **{k: v for k, v in extra.items() if k == "locale"}})
    headers = {"Accept-Language": extra["accept"]} if "accept" in extra else {}
    return web.get(page_path(session.url), headers=headers).get_data(as_text=True)


def test_the_portal_follows_the_session_locale(
    client: stripe.StripeClient, web: Client, page_path: Any, subscribed: Any
) -> None:
    customer, _sub = subscribed
    html = home_html(client, web, page_path, customer.id, locale="fr")
    assert '<html lang="fr">' in html and "Abonnements" in html and "Moyen de paiement" in html
    assert "10,00\xa0$US" in html  # French money: a decimal comma, the currency after
    japanese = home_html(client, web, page_path, customer.id, locale="ja")
    assert "サブスクリプション" in japanese and '<html lang="ja">' in japanese


def test_auto_or_none_uses_the_browser_and_unsupported_falls_back_to_english(
    client: stripe.StripeClient, web: Client, page_path: Any, subscribed: Any
) -> None:
    customer, _sub = subscribed
    assert "Rechnungen" in home_html(client, web, page_path, customer.id, locale="auto", accept="de-DE,de;q=0.9")
    assert "Rechnungen" in home_html(client, web, page_path, customer.id, accept="de")
    assert "Factures" in home_html(client, web, page_path, customer.id, locale="fr-CA")
    english = home_html(client, web, page_path, customer.id, locale="it", accept="de")
    assert '<html lang="en">' in english and "Invoices" in english


def test_checkout_follows_its_locale(client: stripe.StripeClient, web: Client, page_path: Any, catalog: Any) -> None:
    customer = client.v1.customers.create({"email": "ada@example.com"})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer.id,
            "locale": "de",
            "line_items": [{"price": catalog.pro.id}],
            "success_url": "http://site.test/done",
        }
    )
    html = web.get(page_path(session.url)).get_data(as_text=True)
    assert "Heute fällig" in html and "Abonnieren" in html and "25,00" in html


def test_the_hosted_invoice_follows_the_customers_preferred_locale(
    client: stripe.StripeClient, web: Client, page_path: Any, subscribed: Any
) -> None:
    customer, _sub = subscribed
    client.v1.customers.update(customer.id, {"preferred_locales": ["fr-FR"]})
    invoice = client.v1.invoices.list({"customer": customer.id}).data[0]
    html = web.get(page_path(invoice.hosted_invoice_url)).get_data(as_text=True)
    assert "Facture" in html and "payée" in html
