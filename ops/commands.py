"""The merchant's commands, run as `flask --app app stripe <command>`:

setup    make the Stripe account match billing/catalog.toml (idempotent)
doctor   check the account (and the mail server) against the site, each problem with its fix
resync   repair the local mirror of subscriptions from Stripe
report   why customers cancel, over a range of days (from the site's database only)
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from billing import cancellations, mirror, portal_facts, queue, smtp
from billing.budget import background_budget
from billing.catalog import Catalog
from billing.email import SENDER, failure
from billing.models import BillingAccount, db, forget_customer_from_elsewhere, utcnow
from billing.settings import Settings
from billing.snapshots import PortalSnapshot
from billing.stripe_api import BillingError, StripeAPI
from ops import doctor, report, resync
from ops.facts import account_facts
from ops.setup import ensure_catalog

ENV_FILE = Path(__file__).parent.parent / ".env"


stripe_cli = AppGroup("stripe", help="Prepare and check the Stripe account this site uses.")


def _app_parts() -> tuple[Settings, Catalog, StripeAPI]:
    ext = current_app.extensions
    return ext["settings"], ext["catalog"], ext["stripe"]


@stripe_cli.command("setup")
@click.option("--write-env", is_flag=True, help="Write the settings into .env instead of only printing them.")
def setup_command(write_env: bool) -> None:
    """Create or update the catalog's products, prices, coupons and promotion
    codes, and a portal configuration offering every flow the site opens.
    A second run changes nothing and says so."""
    settings, catalog, api = _app_parts()
    try:
        report = ensure_catalog(api, catalog, return_url=settings.url("/account"))
    except BillingError as e:
        raise click.ClickException(str(e)) from e
    mirror.save_known_prices(api, [p.lookup_key for p in catalog.prices])
    portal_facts.save_known(api)  # every instance's pages read these from now on
    mode = api.served_by or ("live mode" if settings.live_mode else "test mode")
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
    settings, catalog, api = _app_parts()
    findings = doctor.examine(settings, catalog, account_facts(api, catalog, _stored_portal()), _email_facts(settings))
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


def _email_facts(settings: Settings) -> doctor.EmailFacts:
    """Where emails go, and whether MAIL_URL's server lets the site in (tried as a send would)."""
    if SENDER in current_app.extensions:
        return doctor.EmailFacts(plugged_in=True)
    if settings.mail is None:
        return doctor.EmailFacts()
    try:
        smtp.check()
    except Exception as e:  # whatever smtplib or the network raises: the finding names its type
        return doctor.EmailFacts(smtp_error=failure(e))
    return doctor.EmailFacts()


def _stored_portal() -> PortalSnapshot | str:
    """The portal configuration the pages read, or why it can't be read."""
    try:
        return portal_facts.stored() or "none is stored"
    except SQLAlchemyError as e:
        return f"the site's database could not be read ({type(e).__name__}): run `flask --app app init-db` first"


@stripe_cli.command("resync")
@click.option("--customer", metavar="CUSTOMER_ID", help="Only the billing account with this Stripe customer (cus_...).")
def resync_command(customer: str | None) -> None:
    """Repair the local mirror from Stripe: each account's subscription, billing
    details and card (after missed webhooks, or a restored database backup). Lists
    Stripe a page of 100 at a time, within the background share of its rate limit."""
    _, _, api = _app_parts()
    spending = background_budget.set(current_app.extensions[queue.EXTENSION].budget)
    try:
        if customer is not None:
            _resync_one(api, customer)
            return
        total = db.session.scalar(
            select(func.count()).select_from(BillingAccount).where(BillingAccount.stripe_customer_id.is_not(None))
        )
        with click.progressbar(length=2 * (total or 0), label="Reading Stripe", show_pos=True, show_eta=True) as bar:
            try:
                done = resync.resync_all(api, progress=bar.update)
            except BillingError as e:
                raise click.ClickException(f"Stripe could not be read: {e} Nothing was written; run it again.") from e
    finally:
        background_budget.reset(spending)
    click.echo(
        f"Resynced {done.customers} customers from Stripe in {done.calls} calls ({done.seconds:.1f} s): "
        f"{done.updated} updated, {done.customers - done.updated - len(done.missing)} already right."
    )
    if done.forgotten:
        click.echo(f"Forgot {done.forgotten} customers made under another key or mode.")
    for missing in done.missing:
        click.secho(f"  not at Stripe  {missing}: its customer is gone (deleted?); left as it was", fg="yellow")


def _resync_one(api: StripeAPI, customer: str) -> None:
    account = db.session.scalar(select(BillingAccount).where(BillingAccount.stripe_customer_id == customer))
    if account is None:
        raise click.ClickException(f"No billing account of this site has the Stripe customer {customer}.")
    if forget_customer_from_elsewhere(account, api.origin):
        db.session.commit()
        click.echo(f"  forgot   {account.email}: its customer was made under another key or mode")
        return
    try:
        changed = mirror.refresh(api, account)
        db.session.commit()
    except BillingError as e:
        db.session.rollback()
        raise click.ClickException(f"{account.email} ({customer}): {e}") from e
    click.echo(f"  {'updated' if changed else 'ok     '}  {account.email} ({customer})")


@stripe_cli.command("report")
@click.option("--since", metavar="YYYY-MM-DD", help="The first day (UTC). Default: 29 days before --until.")
@click.option("--until", metavar="YYYY-MM-DD", help="The last day, included (UTC). Default: today.")
def report_command(since: str | None, until: str | None) -> None:
    """Why customers cancel: the feedback they chose and their comments, cancellations
    at period end versus immediately, and retention offers accepted, for a range of days
    (default: the last 30). Reads the history webhooks keep; asks Stripe nothing."""
    try:
        first, last = report.date_range(since, until, utcnow().date(), ("--since", "--until"))
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    try:
        entries = cancellations.history(*report.bounds(first, last))
    except SQLAlchemyError as e:
        raise click.ClickException(
            f"The site's database could not be read ({type(e).__name__}): run `flask --app app init-db` first."
        ) from e
    for line in report.lines(report.compute(entries, first, last)):
        click.echo(line)
