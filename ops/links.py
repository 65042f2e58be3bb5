"""`flask --app app links make`: a signed link to one step of a customer's billing, to
paste into an email of your own (the site's own emails make theirs the same way:
billing.notices). The link, its checks and its page: billing.links, billing.link_pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from billing import links
from billing.accounts import find_user
from billing.buttons import BY_LINK_FLOW, ready
from billing.catalog import Catalog
from billing.choosing import Chosen
from billing.eligibility import NotEligible

links_cli = AppGroup("links", help="Signed links to one step of a customer's billing, for email.")


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return int(links.parse_duration(value).total_seconds())
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


@links_cli.command("make")
@click.option("--email", required=True, help="The customer's account email.")
@click.option("--flow", required=True, type=click.Choice(sorted(BY_LINK_FLOW)), help="The step the link opens.")
@click.option("--price", help="The plan's lookup key (subscription_update_confirm only), e.g. pro_yearly.")
@click.option(
    "--expires", default="7d", show_default=True, callback=_duration, help="How long it works: 7d, 12h or 30m."
)
@with_appcontext
def make_command(email: str, flow: str, price: str | None, expires: int) -> None:
    """Print a link that opens FLOW for this customer, once, until it expires. Refused
    if the customer cannot do that now (the same rule as the account page's button)."""
    button = BY_LINK_FLOW[flow]
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No account has the email {email!r}.")
    catalog: Catalog = current_app.extensions["catalog"]
    keys = ", ".join(p.lookup_key for p in catalog.prices)
    # A button that takes its plan from the pricing page takes it from the link instead.
    if button.asks.choose is not None and price is None:
        raise click.UsageError(f"--flow {flow} needs --price, one of: {keys}.")
    if button.asks.choose is None and price is not None:
        raise click.UsageError(f"--price is for subscription_update_confirm only, not {flow}.")
    plan = catalog.price(price) if price else None
    if price and plan is None:
        raise click.UsageError(f"--price {price!r} is not in the catalog: one of {keys}.")
    try:
        ready(user, button, Chosen(price=plan))
    except NotEligible as e:
        raise click.ClickException(f"{user.email} cannot do this now: {e}") from e
    token = links.make(user, button.key, price, expires=timedelta(seconds=expires))
    until = datetime.fromtimestamp(links.now() + expires, UTC)
    click.echo(links.url(token))
    click.echo(f"Opens {flow} for {user.email}, once, until {until:%Y-%m-%d %H:%M} UTC.", err=True)
