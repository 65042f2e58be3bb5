"""The demo and teaching kit, plugged into the site by `kit.init_app(app)` in app.py.

- Offline mode: with no STRIPE_SECRET_KEY, Stripe is the project's stand-in,
  running inside this process (offline.py).
- Demo personas: customers in every state, a header menu that signs in as any
  of them, `flask demo seed` / `reset` (personas.py, commands.py).
- "Show the API call" panels beside each button (panels.py, api_calls.py).
- "Why customers cancel": the cancellation report on a page, offline (report.py).
- The Outbox, offline: the emails the site sends, with their links (outbox.py).
- The tutorial (docs/tutorial/) at /tutorial, linked from each panel (tutorial.py).

It adds to the core's pages only through their slots (see
billing.presenters.slot). Delete kit/ and the two lines of app.py that name
it, and the site works on its own with a Stripe key (README, "Make it yours").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user

from billing.email import SENDER
from billing.settings import ConfigError, Settings, flag
from billing.stripe_api import BillingError
from kit import offline, outbox, panels, personas, report, tutorial
from kit.commands import demo_cli
from kit.outbox import Outbox

log = logging.getLogger(__name__)
bp = Blueprint("kit", __name__, template_folder="templates", static_folder="static", static_url_path="/kit/static")


@dataclass(frozen=True)
class KitSettings:
    # No STRIPE_SECRET_KEY: the stand-in plays Stripe in-process.
    offline: bool
    # "Show the API call" panels: on in offline and test mode, off in live mode unless SHOW_API_CALLS.
    show_api_calls: bool
    # The header's persona menu signs in without a password: never in live mode.
    demo_personas: bool


def load_kit_settings(environment: dict[str, str], settings: Settings) -> KitSettings:
    live = settings.live_mode
    show_api_calls = flag(environment, "SHOW_API_CALLS") if environment.get("SHOW_API_CALLS", "").strip() else not live
    demo_personas = flag(environment, "DEMO_PERSONAS") if environment.get("DEMO_PERSONAS", "").strip() else not live
    if demo_personas and live:
        raise ConfigError("DEMO_PERSONAS must be off in live mode: its menu signs in without a password.")
    return KitSettings(not settings.stripe_secret_key, show_api_calls, demo_personas)


def init_app(app: Flask) -> None:
    kit = app.extensions["kit"] = load_kit_settings(app.extensions["environment"], app.extensions["settings"])
    app.register_blueprint(bp)
    app.register_blueprint(report.bp)
    app.cli.add_command(demo_cli)
    app.add_template_global(panels.api_call)
    app.add_template_global(lambda: personas.menu(app.extensions["catalog"]), "personas")
    slots = app.extensions.setdefault("slots", {})
    slots.setdefault("head", []).append("kit/_head.html")
    if kit.show_api_calls:
        slots.setdefault("button", []).append("kit/_api_panel.html")
    if kit.demo_personas:
        slots.setdefault("header", []).append("kit/_personas.html")
    # Where the panels are, so is the chapter each one links to (off in live mode).
    tutorial.init_app(app, enabled=kit.offline or kit.show_api_calls)
    if kit.offline:
        slots.setdefault("banner", []).append("kit/_banner.html")
        slots.setdefault("signin", []).append("kit/_demo_account.html")
        slots.setdefault("mode", []).append("kit/_mode.html")
        app.jinja_env.globals["demo_reset"] = kit.demo_personas
        app.jinja_env.globals["demo_report"] = True
        app.jinja_env.globals["demo_outbox"] = True
        # The site's emails land in the Outbox instead of a mailer (kept on disk where the
        # stand-in keeps its state, so each process of the demo sees the same ones).
        persist = app.config.get("OFFLINE_STATE_FILE", not app.testing)
        box = app.extensions["outbox"] = Outbox(Path(app.instance_path) / "outbox.json" if persist else None)
        app.extensions[SENDER] = box.add
        # Last: offline mode seeds the demo at start, and the stand-in's webhooks for it
        # arrive at the site's webhook route while it does.
        offline.start(app, seed_personas=kit.demo_personas, persist=app.config.get("OFFLINE_STATE_FILE"))


@bp.post("/demo/reset")
def reset_demo() -> ResponseReturnValue:
    """Put every persona back in its starting state, between two demos (offline mode only;
    with a test key, `flask demo reset` does the same)."""
    kit: KitSettings = current_app.extensions["kit"]
    if not (kit.offline and kit.demo_personas):
        abort(404)
    logout_user()
    api, catalog = current_app.extensions["stripe"], current_app.extensions["catalog"]
    with offline.DELIVERING:
        try:
            removed, made = personas.start_over(api, catalog)
        except BillingError as e:
            flash(f"The demo could not be reset: {e}", "error")
            return redirect(url_for("pages.pricing"), 303)
    outbox.clear_current()  # its links were for the users just removed
    log.info("Demo reset: %d personas removed, %d made again", removed, len(made))
    flash("The demo is reset: every persona is back in its starting state.", "success")
    return redirect(url_for("pages.pricing"), 303)


@bp.post("/demo/persona")
def switch_persona() -> ResponseReturnValue:
    """Sign in as a persona in one click (offline and test mode only; CSRF-checked)."""
    if not current_app.extensions["kit"].demo_personas:
        abort(404)
    p = personas.persona(request.form.get("persona", ""))
    if p is None:
        flash("There is no such demo persona.", "error")
        return redirect(url_for("pages.pricing"), 303)
    user = personas.user_of(p)
    if user is None:
        flash("That persona does not exist yet: run `flask --app app demo seed`.", "error")
        return redirect(url_for("pages.pricing"), 303)
    login_user(user)
    flash(f"Signed in as {p.name}, a demo customer.", "success")
    return redirect(url_for("pages.account"), 303)


@bp.get("/demo/outbox")
def outbox_page() -> ResponseReturnValue:
    """The emails the site sent, newest first, each link clickable (offline mode only)."""
    box: Outbox | None = current_app.extensions.get("outbox")
    if box is None:
        abort(404)
    return render_template("kit/outbox.html", emails=box.all())
