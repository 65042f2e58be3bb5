"""The merchant's own tools, run as `flask --app app stripe <command>`: `setup`
makes the Stripe account match the catalog, `doctor` checks it against the
site, `resync` repairs the local mirror. They use the site's Stripe client."""

from ops.commands import stripe_cli

__all__ = ["stripe_cli"]
