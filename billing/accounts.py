"""This site's own sign-in: sign-up, sign-in and sign-out with an email and a hashed
password (Flask-Login sessions), plugged into billing by `init_app` (see billing.signin).
A site with its own users replaces this file and its line in app.py.

A signed-out visitor who picked a plan on the pricing page arrives here with
`?plan=<lookup key>` (and `&promo=<code>` from a campaign link); the key is
remembered (only if it is in the catalog, so this is no open redirect) and the
visitor lands back on that plan afterwards, the code kept for the buttons.

The session names the user by a random token, not by their row id (Flask-Login's
"alternative tokens"): signing out, a new password or deleting the user changes or
removes the token, so every cookie that named it finds no one.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import cast

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from billing import campaign
from billing.catalog import Catalog
from billing.forms import SignInForm, SignUpForm
from billing.limits import limiter
from billing.models import Base, db, delete_account, utcnow
from billing.signin import SIGN_IN_FIRST, login_required, use

bp = Blueprint("auth", __name__)
# Sign-in and sign-up attempts per client address (guessing passwords, mass sign-ups),
# and sign-in attempts per account (one password guessed from many addresses).
ATTEMPTS = "10 per minute;100 per hour"
ATTEMPTS_PER_ACCOUNT = "20 per hour"
PENDING_PLAN = "pending_plan"


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, Base):
    __tablename__ = "users"
    # AUTOINCREMENT: a deleted user's id is never given to a new one (it names their billing account).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # What the session cookie names (get_id): replaced to revoke every session of the user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=_new_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def get_id(self) -> str:
        return self.session_token

    def set_password(self, password: str) -> None:
        """A new password signs the user out everywhere (not committed): whoever had the old
        one may have a session too."""
        self.password_hash = generate_password_hash(password)
        self.revoke_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def revoke_sessions(self) -> None:
        """Every cookie naming this user finds no one from now on (not committed)."""
        self.session_token = _new_token()


def delete_user(user: User) -> None:
    """Remove the user, and their billing account (its cancellations stay, anonymous);
    their cookies then find no one (not committed)."""
    delete_account(str(user.id))
    db.session.delete(user)


login_manager = LoginManager()
login_manager.login_view = "auth.signin"
login_manager.login_message = SIGN_IN_FIRST
login_manager.login_message_category = "info"


def load_user(token: str) -> User | None:
    found: User | None = db.session.scalar(select(User).where(User.session_token == token))
    return found


login_manager.user_loader(load_user)


class PasswordSignIn:
    """This file's sign-in, as billing asks for it (billing.signin.SignIn)."""

    def current(self) -> User | None:
        return cast(User, current_user._get_current_object()) if current_user.is_authenticated else None

    def signin_url(self) -> str:
        return url_for("auth.signin")

    def signup_url(self) -> str:
        return url_for("auth.signup")

    def signout_url(self) -> str:
        return url_for("auth.signout")


def init_app(app: Flask) -> None:
    """Plug this sign-in into the site (the one line in app.py)."""
    login_manager.init_app(app)
    app.register_blueprint(bp)
    use(app, PasswordSignIn())


def _attempted_account() -> str:
    """The rate-limit key for one account: the email being signed in to."""
    return "account:" + request.form.get("email", "").strip().lower()[:254]


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
    """Sign out (POST with CSRF, so another site cannot sign you out). The user's
    token changes, so a copy of this session's cookie signs no one in (the user's other
    browsers are signed out too)."""
    user = cast(User, current_user._get_current_object())
    logout_user()
    user.revoke_sessions()
    db.session.commit()
    flash("You are signed out.", "info")
    return redirect(url_for("pages.pricing"), 303)
