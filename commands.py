"""Command-line tasks, run as `flask --app app <command>`:

  init-db              create the database tables
  stripe setup         make the Stripe account match catalog.toml (idempotent)
  stripe doctor        check the account against the site, each problem with its fix
  stripe resync        repair the local mirror of subscriptions from Stripe
  demo seed / reset    demo customers in varied states (test mode and offline only)
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

import doctor
import personas
import sync
from billing import Billing, BillingError
from catalog import Catalog
from config import Settings
from models import User, db, upgrade_schema

ENV_FILE = Path(__file__).parent / ".env"


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database tables (safe to run again; same as `flask db upgrade`)."""
    upgrade_schema()
    click.echo("Database ready.")


stripe_cli = AppGroup("stripe", help="Prepare and check the Stripe account this site uses.")


def _app_parts() -> tuple[Settings, Catalog, Billing]:
    ext = current_app.extensions
    return ext["settings"], ext["catalog"], ext["billing"]


@stripe_cli.command("setup")
@click.option("--write-env", is_flag=True, help="Write the settings into .env instead of only printing them.")
def setup_command(write_env: bool) -> None:
    """Create or update the catalog's products, prices, coupons and promotion
    codes, and a portal configuration offering every flow the site opens.
    A second run changes nothing and says so."""
    settings, catalog, billing = _app_parts()
    try:
        report = billing.ensure_catalog(catalog, return_url=settings.url("/account"))
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    mode = "offline stand-in" if settings.offline else "live mode" if settings.live_mode else "test mode"
    click.echo(f"Stripe account ({mode}):")
    for change in report.changes:
        click.echo(f"  changed: {change}")
    if not report.changes:
        click.echo("  Everything already matches catalog.toml: nothing changed.")
    for warning in report.warnings:
        click.secho(f"  attention: {warning}", fg="yellow")
    if settings.stripe_portal_configuration not in (None, report.configuration):
        click.secho(
            f"  attention: STRIPE_PORTAL_CONFIGURATION is {settings.stripe_portal_configuration}, "
            f"not the configuration setup manages ({report.configuration}).",
            fg="yellow",
        )
    values = {"STRIPE_PORTAL_CONFIGURATION": report.configuration}
    if write_env:
        update_env_file(ENV_FILE, values)
        click.echo(f"Wrote {', '.join(values)} to {ENV_FILE}.")
    else:
        click.echo("Put this in .env (or rerun with --write-env):")
        for name, value in values.items():
            click.echo(f"{name}={value}")


def update_env_file(path: Path, values: dict[str, str]) -> None:
    """Set NAME=value lines in a .env file, keeping every other line as it was."""
    lines = path.read_text().splitlines() if path.exists() else []
    for name, value in values.items():
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        index = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
        if index is None:
            lines.append(f"{name}={value}")
        else:
            lines[index] = f"{name}={value}"
    path.write_text("\n".join(lines) + "\n")


@stripe_cli.command("doctor")
def doctor_command() -> None:
    """Check the Stripe account against the site; exit 1 if anything is wrong."""
    settings, catalog, billing = _app_parts()
    findings = doctor.examine(settings, catalog, billing.account_facts(catalog))
    for finding in findings:
        if finding.ok:
            click.echo(f"  ok       {finding.what}")
        else:
            click.secho(f"  PROBLEM  {finding.what}", fg="red")
            click.echo(f"           fix: {finding.fix}")
    problems = sum(not finding.ok for finding in findings)
    if problems:
        click.echo(f"{problems} problem{'s' if problems > 1 else ''} found.")
        raise SystemExit(1)
    click.echo("Everything the site needs is in place.")


@stripe_cli.command("resync")
@click.option("--customer", metavar="CUSTOMER_ID", help="Only the user with this Stripe customer (cus_...).")
def resync_command(customer: str | None) -> None:
    """Repair the local mirror from Stripe: each user's subscription, billing
    details and card (after missed webhooks, or a restored database backup)."""
    _, _, billing = _app_parts()
    query = select(User).where(User.stripe_customer_id.is_not(None)).order_by(User.id)
    if customer is not None:
        query = query.where(User.stripe_customer_id == customer)
    users = db.session.scalars(query).all()
    if customer is not None and not users:
        raise click.ClickException(f"No user of this site has the Stripe customer {customer}.")
    failures = 0
    for user in users:
        try:
            changed = sync.refresh(billing, user)
            db.session.commit()
        except BillingError as e:
            db.session.rollback()
            failures += 1
            click.secho(f"  failed   {user.email} ({user.stripe_customer_id}): {e}", fg="red")
            continue
        click.echo(f"  {'updated' if changed else 'ok     '}  {user.email} ({user.stripe_customer_id})")
    click.echo(f"Resynced {len(users) - failures} of {len(users)} customers from Stripe.")
    if failures:
        raise SystemExit(1)


demo_cli = AppGroup("demo", help="Demo customers in varied states (test mode and offline only).")


@demo_cli.command("seed")
def seed_command() -> None:
    """Create the demo personas that are missing (safe to run again)."""
    settings, catalog, billing = _app_parts()
    _refuse_live(settings)
    try:
        for persona, made in personas.seed(billing, catalog):
            click.echo(f"  {'created' if made else 'exists '}  {persona.email:34} {persona.summary}")
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    click.echo("Sign in as any of them with the persona menu in the site's header.")


@demo_cli.command("reset")
def reset_command() -> None:
    """Remove the demo personas: their users, Stripe customers and test clocks."""
    settings, _, billing = _app_parts()
    _refuse_live(settings)
    try:
        removed = personas.reset(billing)
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Removed {removed} demo persona{'s' if removed != 1 else ''} and their Stripe customers.")


def _refuse_live(settings: Settings) -> None:
    if settings.live_mode:
        raise click.ClickException("Demo personas are for test mode and offline only, never a live-mode account.")
