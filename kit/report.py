"""The demo's "Why customers cancel" page (offline mode): the report `flask stripe
report` prints, for the cancellations made through the stand-in's portal during a demo.
Both render the same `ops.report.compute`."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from billing import cancellations
from billing.models import utcnow
from ops import report

bp = Blueprint("kit_report", __name__)


@bp.get("/demo/report")
def cancellation_report() -> ResponseReturnValue:
    """Why customers cancel, for a range of days (default: the last 30). Offline mode only:
    it shows every customer's answers, which here are demo customers' on the stand-in."""
    if not current_app.extensions["kit"].offline:
        abort(404)
    today = utcnow().date()
    since, until = request.args.get("since") or None, request.args.get("until") or None
    error = None
    try:
        first, last = report.date_range(since, until, today, ("From", "To"))
    except ValueError as e:
        error = str(e)
        first, last = report.date_range(None, None, today, ("From", "To"))
    entries = cancellations.history(*report.bounds(first, last))
    return render_template("kit/report.html", report=report.compute(entries, first, last), error=error)
