"""Sign-up, sign-in and sign-out (Flask-Login sessions, hashed passwords).

A signed-out visitor who picked a plan on the pricing page arrives here with
`?plan=<lookup key>` (and `&promo=<code>` from a campaign link); the key is
remembered (only if it is in the catalog, so this is no open redirect) and the
visitor lands back on that plan afterwards, the code kept for the buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import flask_login
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import func, select

from billing import campaign
from billing.catalog import Catalog
from billing.forms import SignInForm, SignUpForm
from billing.models import User, db, forget_customer_from_elsewhere
from billing.settings import Settings

bp = Blueprint("auth", __name__)
# Sign-in and sign-up attempts per client address (guessing passwords, mass sign-ups),
# and sign-in attempts per account (one password guessed from many addresses).
# Behind a proxy, set TRUSTED_PROXIES so the address is the client's, not the proxy's.
# Counts live in RATELIMIT_STORAGE_URI: memory (one process) unless set to e.g. redis://.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
ATTEMPTS = "10 per minute;100 per hour"
ATTEMPTS_PER_ACCOUNT = "20 per hour"


def _attempted_account() -> str:
    """The rate-limit key for one account: the email being signed in to."""
    return "account:" + request.form.get("email", "").strip().lower()[:254]


login_manager = LoginManager()
login_manager.login_view = "auth.signin"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"

PENDING_PLAN = "pending_plan"

View = TypeVar("View", bound=Callable[..., Any])


def login_required(view: View) -> View:
    """Flask-Login's decorator, typed (Flask-Login ships no type hints)."""
    return cast(View, flask_login.login_required(view))


def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    settings: Settings = current_app.extensions["settings"]
    if user is not None and forget_customer_from_elsewhere(user, settings.stripe_origin):
        db.session.commit()
    return user


login_manager.user_loader(load_user)


def _remember_plan() -> None:
    """Keep the plan a signed-out visitor picked, if it is one of ours, and their campaign code."""
    if request.args.get(campaign.PROMO):
        campaign.keep(request.args[campaign.PROMO])
    plan = request.args.get("plan", "")
    catalog: Catalog = current_app.extensions["catalog"]
    if catalog.price(plan) is not None:
        session[PENDING_PLAN] = plan


def _after_sign_in() -> ResponseReturnValue:
    """Continue to the plan picked before signing in, else to the account page."""
    plan = session.pop(PENDING_PLAN, None)
    if plan:
        return redirect(url_for("pages.pricing", plan=plan), 303)
    return redirect(url_for("pages.account"), 303)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(ATTEMPTS, methods=["POST"])
def signup() -> ResponseReturnValue:
    """Create an account; the Stripe customer is created later, when first needed."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.account"))
    _remember_plan()
    form = SignUpForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        if find_user(email) is not None:
            cast(list[str], form.email.errors).append("An account with this email exists already: sign in instead.")
        else:
            user = User(email=email)
            user.set_password(form.password.data or "")
            db.session.add(user)
            db.session.commit()
            login_user(user)
            flash("Welcome! Your account is ready.", "success")
            return _after_sign_in()
    status = 400 if form.errors else 200
    return render_template("auth/signup.html", form=form), status


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(ATTEMPTS, methods=["POST"])
@limiter.limit(ATTEMPTS_PER_ACCOUNT, methods=["POST"], key_func=_attempted_account)
def signin() -> ResponseReturnValue:
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.account"))
    _remember_plan()
    form = SignInForm()
    if form.validate_on_submit():
        user = find_user(form.email.data or "")
        if user is None or not user.check_password(form.password.data or ""):
            # One message for both cases, so the form does not reveal who has an account.
            flash("Email or password is incorrect.", "error")
        else:
            login_user(user)
            return _after_sign_in()
    status = 400 if request.method == "POST" else 200
    return render_template("auth/signin.html", form=form), status


@bp.route("/signout", methods=["POST"])
@login_required
def signout() -> ResponseReturnValue:
    """Sign out (POST with CSRF, so another site cannot sign you out)."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("pages.pricing"), 303)
