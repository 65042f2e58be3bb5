"""Signed deep links for email: a link on this site that opens one button's step
(see `ByLink` in billing.buttons) for one billing account, once, until it expires.

The token in the link is the credential, as in a password-reset link: whoever holds
the email may open that one step for that one account, and nothing else (it does
not sign anyone in). So it is signed with the app's SECRET_KEY (itsdangerous, under
a salt of its own: no other signed value of this app passes for a link, nor a link
for one), names the billing account by id and email, the button and its data, expires, and
carries a random id recorded when used (LinkUse), so a forwarded or leaked email is
worth one step at most. The pages that open it are in `billing.link_pages`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from billing import current
from billing.models import BillingAccount, LinkUse, db

# Where links live on the site: /links/<token>.
LINKS_PATH = "/links"
# Signed for links only: a session cookie or a CSRF token is no link, and a link is neither.
SALT = "billing.links.email-deep-link"
DEFAULT_EXPIRY = timedelta(days=7)
# No link lives longer, whatever --expires says: an old email should not still open a step.
LONGEST_EXPIRY = timedelta(days=30)
_DURATION = re.compile(r"(\d{1,4})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class LinkRefused(Exception):
    """A link that may not be used (now); the page says why, with this HTTP status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def tampered() -> LinkRefused:
    return LinkRefused(404, "This link is not valid", "It may have been cut short or changed. Sign in to continue.")


def expired() -> LinkRefused:
    return LinkRefused(410, "This link has expired", "Sign in to do the same from your account page.")


def used_up() -> LinkRefused:
    return LinkRefused(410, "This link was used already", "Each link works once. Sign in to see your account.")


@dataclass(frozen=True)
class Claims:
    """What a link's token says: whose account, which button (with its plan, if it has
    one), its random id, and when it stops working (Unix time)."""

    account_id: int
    # The account's email as email_tag makes it: bound to the link, not shown by it.
    email_tag: str
    button: str
    jti: str
    expires_at: int
    price: str | None = None


def parse_duration(text: str) -> timedelta:
    """ "7d", "12h" or "30m" as a timedelta; ValueError with a message otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write a number and d, h or m, such as 7d, 12h or 30m.")
    duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < duration <= LONGEST_EXPIRY:
        raise ValueError(f"{text!r}: a link must expire within {LONGEST_EXPIRY.days} days, and not at once.")
    return duration


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=SALT)


def now() -> int:
    return int(time.time())


def make(account: BillingAccount, button: str, price: str | None = None, expires: timedelta = DEFAULT_EXPIRY) -> str:
    """A token for `account` to open `button` (with the plan `price`, a lookup key) once."""
    payload: dict[str, Any] = {
        "u": account.id,
        "e": email_tag(account.email),
        "b": button,
        "j": secrets.token_urlsafe(16),
        "x": now() + int(expires.total_seconds()),
    }
    if price is not None:
        payload["p"] = price
    return str(_serializer().dumps(payload))


def email_tag(email: str) -> str:
    """The email, keyed with SECRET_KEY: a link stops working when its account's email
    changes, and its token (signed, not encrypted: anyone can decode it) shows no address."""
    key = str(current_app.secret_key or "").encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def url(token: str) -> str:
    """The link itself: on APP_BASE_URL, never on the Host a request named."""
    return current.settings().url(f"{LINKS_PATH}/{token}")


def read(token: str) -> Claims:
    """The claims of a genuine, unexpired token; LinkRefused (tampered, expired) otherwise.
    Whether it was used, and whether its account may still do what it says, is for the caller."""
    try:
        # The signed timestamp bounds every link, even one whose own expiry were wrong.
        payload = _serializer().loads(token, max_age=int(LONGEST_EXPIRY.total_seconds()))
        claims = Claims(
            account_id=int(payload["u"]),
            email_tag=str(payload["e"]),
            button=str(payload["b"]),
            jti=str(payload["j"]),
            expires_at=int(payload["x"]),
            price=str(payload["p"]) if "p" in payload else None,
        )
    except SignatureExpired as e:  # older than LONGEST_EXPIRY
        raise expired() from e
    except BadSignature as e:
        raise tampered() from e
    except (KeyError, TypeError, ValueError) as e:  # signed by us, but not a link's payload
        raise tampered() from e
    if claims.expires_at <= now():
        raise expired()
    return claims


def used(claims: Claims) -> bool:
    return db.session.scalar(select(LinkUse.jti).where(LinkUse.jti == claims.jti)) is not None


def claim(claims: Claims) -> bool:
    """Record the link as used, committed; False if it was already (by anyone, even at
    this same moment on another server: the primary key lets one insert through)."""
    try:
        db.session.add(LinkUse(jti=claims.jti, account_id=claims.account_id, button=claims.button))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def release(claims: Claims) -> None:
    """Stripe could not open the step: the link works again, for a retry."""
    db.session.execute(delete(LinkUse).where(LinkUse.jti == claims.jti))
    db.session.commit()


def mask_email(email: str) -> str:
    """ "ada@example.com" -> "a…@example.com": enough for its owner to recognise, not to
    tell a stranger who the account is."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"
