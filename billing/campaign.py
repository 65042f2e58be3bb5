"""A campaign code from a link (`/pricing?promo=CODE`). Signed out, the pricing page
shows it and its sign-up and sign-in links carry it, so the page stays the same for
everyone with that address (and a cache may keep it). Signing up or in through them,
or opening the link signed in, keeps it in the session for the buttons (billing.buttons)."""

from __future__ import annotations

import re

from flask import session

PROMO = "promo"  # the query parameter, and the session key
FORMAT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def from_link(value: str | None) -> str | None:
    """The code a link carries, if it looks like one (Stripe checks it on the click)."""
    code = (value or "").strip()
    return code if FORMAT.fullmatch(code) else None


def keep(value: str | None) -> None:
    """Keep the link's code for the buttons; an empty or malformed one forgets any kept."""
    code = from_link(value)
    if code:
        session[PROMO] = code
    else:
        session.pop(PROMO, None)
