"""Command-line tasks: `flask --app app init-db`, `flask --app app stripe setup`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from billing import Billing, BillingError
from models import db


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the database tables (safe to run again)."""
    db.create_all()
    click.echo("Database ready.")


stripe_cli = AppGroup("stripe", help="Prepare the Stripe account this site uses.")


@stripe_cli.command("setup")
def setup_command() -> None:
    """Create the catalog's products and prices and a portal configuration
    that can switch between them (idempotent), and print the setting to use."""
    billing: Billing = current_app.extensions["billing"]
    try:
        configuration = billing.ensure_catalog(current_app.extensions["catalog"])
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    click.echo("Products, prices and the portal configuration are ready. Put this in .env:")
    click.echo(f"STRIPE_PORTAL_CONFIGURATION={configuration}")
