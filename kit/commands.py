"""`flask --app app demo seed` and `demo reset`: the demo personas, in test mode
and offline only (see personas.py)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from billing.settings import Settings
from billing.stripe_api import BillingError, StripeAPI
from kit import offline, outbox, personas

demo_cli = AppGroup("demo", help="Demo customers in varied states (test mode and offline only).")


def _settings_and_stripe() -> tuple[Settings, StripeAPI]:
    settings: Settings = current_app.extensions["settings"]
    if settings.live_mode:
        raise click.ClickException("Demo personas are for test mode and offline only, never a live-mode account.")
    api: StripeAPI = current_app.extensions["stripe"]
    return settings, api


@demo_cli.command("seed")
def seed_command() -> None:
    """Create the demo personas that are missing (safe to run again)."""
    _, api = _settings_and_stripe()
    try:
        for persona, made in personas.seed(api, current_app.extensions["catalog"]):
            click.echo(f"  {'created' if made else 'exists '}  {persona.email:34} {persona.summary}")
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    click.echo("Sign in as any of them with the persona menu in the site's header.")


@demo_cli.command("reset")
@click.option("--remove-only", is_flag=True, help="Only remove them (e.g. to leave a test account clean).")
def reset_command(remove_only: bool) -> None:
    """Put every demo persona back in its starting state: remove their users, Stripe
    customers and test clocks, then make them again. Safe while the site runs."""
    _, api = _settings_and_stripe()
    made: list[personas.Persona] = []
    try:
        # The site's webhook delivery (offline, this process) waits: the seed writes the rows it refreshes.
        with offline.DELIVERING:
            if remove_only:
                removed = personas.reset(api)
            else:
                removed, made = personas.start_over(api, current_app.extensions["catalog"])
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    outbox.clear_current()  # offline, the Outbox's links were for the users just removed
    offline.deliver_now(current_app)  # the new personas' events, before this command ends
    click.echo(f"Removed {removed} demo persona{'s' if removed != 1 else ''} and their Stripe customers.")
    for persona in made:
        click.echo(f"  created  {persona.email:34} {persona.summary}")
    if not remove_only:
        click.echo("Every persona is back in its starting state.")
