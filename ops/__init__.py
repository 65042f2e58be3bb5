"""The merchant's own tools, run as `flask --app app stripe <command>`: `setup`
makes the Stripe account match the catalog, `doctor` checks it against the
site, `resync` repairs the local mirror. They use the site's Stripe client.
`flask links make` prints a signed link to one step of a customer's billing."""

from ops.commands import stripe_cli
from ops.links import links_cli

__all__ = ["links_cli", "stripe_cli"]
