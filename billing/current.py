"""What every view reads from the running app: its settings, the catalog, the
Stripe client, and who is signed in. Each is made once in `create_app`."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user

from billing.catalog import Catalog
from billing.models import User
from billing.settings import Settings
from billing.stripe_api import StripeAPI


def settings() -> Settings:
    s: Settings = current_app.extensions["settings"]
    return s


def catalog() -> Catalog:
    c: Catalog = current_app.extensions["catalog"]
    return c


def stripe_api() -> StripeAPI:
    api: StripeAPI = current_app.extensions["stripe"]
    return api


def user() -> User:
    """The signed-in user (views behind `login_required` only)."""
    u: User = current_user._get_current_object()
    return u


def user_or_none() -> User | None:
    return user() if current_user.is_authenticated else None
