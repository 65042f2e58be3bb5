"""Who is signed in, as billing sees them: the one seam between the site's sign-in and
its billing (the shape Laravel Cashier and pay-rails give: billing hangs off "a user").

Billing needs three things of a sign-in: the signed-in person's id and email, how to
find the current one, and where to send a visitor to sign in, up or out. `billing.accounts`
(email and password, Flask-Login) provides them, plugged in by one line in app.py; a site
with its own users (its Flask-Login model, an SSO proxy's header) writes its own `SignIn`
and plugs that in instead. The billing records belong to a `BillingAccount`
(billing.models) named by the person's id: see `current.account()`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeVar, cast

from flask import Flask, current_app, flash, redirect

from billing.errors import refuse

SIGN_IN_FIRST = "Please sign in to continue."


class Person(Protocol):
    """The signed-in user, as billing sees them."""

    @property
    def id(self) -> object:
        """Stable and never given to another person (its `str()` names their billing account)."""

    @property
    def email(self) -> str:
        """Where Stripe's customer and the site's emails go."""


class SignIn(Protocol):
    """A site's sign-in. Each URL may be None: the site has no such page (under SSO,
    say, the proxy signs everyone in), and the pages then show no such link. The pricing
    page's cards add `plan=<lookup key>` (and `promo=<code>`) to the sign-up and sign-in
    URLs: a sign-in that honours them brings the visitor back to that plan after."""

    def current(self) -> Person | None:
        """Who sends this request, or None (signed out)."""

    def signin_url(self) -> str | None:
        """Where to sign in."""

    def signup_url(self) -> str | None:
        """Where to make an account."""

    def signout_url(self) -> str | None:
        """Where the page's "Sign out" button posts (a form with the CSRF token)."""


def use(app: Flask, signin: SignIn) -> None:
    """Plug in the site's sign-in (once, in create_app)."""
    app.extensions["signin"] = signin
    # What templates know of the sign-in (they name no sign-in endpoint of their own).
    # The links are globals, so that macros imported without context see them too.
    app.context_processor(lambda: {"signed_in": person()})
    app.jinja_env.globals.update(
        signin_url=lambda: provider().signin_url(),
        signup_url=lambda: provider().signup_url(),
        signout_url=lambda: provider().signout_url(),
    )


def provider() -> SignIn:
    signin: SignIn = current_app.extensions["signin"]
    return signin


def person() -> Person | None:
    return provider().current()


View = TypeVar("View", bound=Callable[..., Any])


def login_required(view: View) -> View:
    """Only for a signed-in visitor: anyone else goes to the sign-in page (401 where
    the site has none)."""

    @wraps(view)
    def signed_in_only(*args: Any, **kwargs: Any) -> Any:
        if person() is not None:
            return view(*args, **kwargs)
        url = provider().signin_url()
        if url is None:
            return refuse(SIGN_IN_FIRST, 401)
        flash(SIGN_IN_FIRST, "info")
        return redirect(url)

    return cast(View, signed_in_only)
