"""The hosted pages' language: Stripe shows Checkout, the portal and hosted invoices in the
session's `locale` (or, with `auto` or none, the browser's), so the stand-in does too.

Strings are marked with `_()` (templates and Python alike) and translated through Babel's
gettext catalogs in `standin/translations/` (`make standin-catalogs` updates them).
https://docs.stripe.com/api/customer_portal/sessions/create#create_portal_session-locale
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext
from flask_babel import ngettext as flask_ngettext

# The languages the stand-in's catalogs hold; any other locale falls back to English.
SUPPORTED = ("en", "fr", "de", "ja")

lazy = lazy_gettext


def _(string: str, **variables: Any) -> str:
    """`gettext`, typed: the translated `string` with `%(name)s` filled from `variables`."""
    return str(gettext(string, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return str(flask_ngettext(singular, plural, num, **variables))


def use(locale: str | None) -> None:
    """Show this request's page in `locale` (a session's `locale`; None or "auto": the browser's)."""
    g.standin_locale = locale


def _select() -> str:
    chosen: str | None = g.get("standin_locale")
    if chosen and chosen != "auto":
        # "fr-CA" uses the French catalog when there is no Canadian one.
        for candidate in (chosen.replace("-", "_"), chosen.split("-")[0]):
            if candidate in SUPPORTED:
                return candidate
        return "en"
    return str(request.accept_languages.best_match(SUPPORTED) or "en")


def install(app: Flask) -> None:
    Babel(app, locale_selector=_select, default_translation_directories="translations")
    # `<html lang>` on every hosted page says which language it is in.
    app.jinja_env.globals["get_locale"] = get_locale
    from standin import labels  # labels imports `lazy` from here

    labels.install(app)
