"""The portal configuration's features the pages depend on, mirrored in the database.

Whether Cancel ends access now or at the period's end, which plans a switch may pick,
when a downgrade waits for the period's end: the portal configuration decides, and every
instance's pages must say the same. So the facts live in one row
(`models.PortalConfiguration`), not in a process's memory:
  - `flask stripe setup` writes them (it makes the configuration);
  - each start writes what Stripe says, when Stripe answers (`at_start`);
  - a `billing_portal.configuration.*` webhook re-reads and writes them (`refresh`, from
    `mirror.apply_event`): a Dashboard change reaches every instance.
Pages read the row (`features()`: one primary-key read, no Stripe call). With no row and
Stripe unreachable at start the features are unknown: the log and `flask stripe doctor`
say so, and the rules word each button so that it is true whatever the portal does.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from billing.eligibility import PortalFeatures
from billing.models import PortalConfiguration, db
from billing.snapshots import PortalSnapshot
from billing.stripe_api import StripeAPI

log = logging.getLogger(__name__)

# The one row's primary key.
IN_USE = 1
UNKNOWN = (
    "The portal configuration's features are unknown (none could be read from Stripe at start, "
    "and none are stored): the account page words Cancel without saying when access ends. "
    "Run `flask --app app stripe setup`, or restart once Stripe answers; see `flask stripe doctor`."
)


def features() -> PortalFeatures | None:
    """What the portal configuration in use allows, as stored (None: unknown)."""
    portal = stored()
    return portal.features if portal is not None else None


def stored() -> PortalSnapshot | None:
    row = db.session.get(PortalConfiguration, IN_USE)
    if row is None:
        return None
    features = PortalFeatures(
        subscription_update=row.subscription_update,
        subscription_cancel=row.subscription_cancel,
        cancel_mode=row.cancel_mode,
        proration_behavior=row.proration_behavior,
        subscription_pause=row.subscription_pause,
        payment_method_update=row.payment_method_update,
        customer_update=row.customer_update,
        update_products={product: frozenset(prices) for product, prices in row.update_products.items()},
        adjustable_quantity=frozenset(row.adjustable_quantity),
        schedule_conditions=frozenset(row.schedule_conditions),
    )
    return PortalSnapshot(row.configuration_id, row.found_by, features)


def save(portal: PortalSnapshot) -> None:
    """Store the configuration in use and its features (the caller commits)."""
    row = db.session.get(PortalConfiguration, IN_USE) or PortalConfiguration(id=IN_USE)
    f = portal.features
    row.configuration_id, row.found_by = portal.id, portal.found_by
    row.subscription_update, row.subscription_cancel = f.subscription_update, f.subscription_cancel
    row.cancel_mode, row.proration_behavior = f.cancel_mode, f.proration_behavior
    row.subscription_pause = f.subscription_pause
    row.payment_method_update, row.customer_update = f.payment_method_update, f.customer_update
    row.update_products = {product: sorted(prices) for product, prices in f.update_products.items()}
    row.adjustable_quantity = sorted(f.adjustable_quantity)
    row.schedule_conditions = sorted(f.schedule_conditions)
    db.session.add(row)


def refresh(api: StripeAPI) -> None:
    """Read the configuration in use from Stripe into the row (not committed). An event is
    only a hint: what Stripe says now is stored, so a late event brings back nothing old.
    Raises BillingError when Stripe can't be read."""
    portal = api.read_portal()
    if portal is not None:
        save(portal)
    else:  # the account has no configuration left: nothing is known of one
        db.session.execute(delete(PortalConfiguration).where(PortalConfiguration.id == IN_USE))


def save_known(api: StripeAPI) -> None:
    """Store the configuration this process read (at start, or made by setup), newer than
    the row. Skipped when Stripe could not be read, and before `init-db` made the tables."""
    if api.known_portal is None:
        return
    try:
        save(api.known_portal)
        db.session.commit()
    except SQLAlchemyError as e:
        db.session.rollback()
        log.info("Portal configuration not stored (%s)", type(e).__name__)


def at_start(api: StripeAPI) -> None:
    """Store what Stripe said at start; if it could not be read, sessions use the stored
    configuration, and with none stored the log says the features are unknown."""
    if api.known_portal is not None:
        save_known(api)
        return
    if not api.configured:
        return  # billing is off, as the log already says
    try:
        portal = stored()
    except SQLAlchemyError:  # before `init-db` made the tables
        db.session.rollback()
        portal = None
    if portal is None:
        log.warning(UNKNOWN)
        return
    api.remember_portal(portal)
    log.info("Stripe could not be read at start: the pages use portal configuration %s as stored.", portal.id)
