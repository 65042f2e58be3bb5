"""The account page's language picker names each Stripe locale in its own language."""

from __future__ import annotations

from billing.flows import PORTAL_LOCALES
from billing.presenters import language_name


def test_languages_are_named_in_themselves() -> None:
    assert [language_name(c) for c in ("fr", "de", "ja", "pt-BR")] == [
        "Français",
        "Deutsch",
        "日本語",
        "Português (Brasil)",
    ]
    assert all(language_name(code) != code for code in PORTAL_LOCALES)
