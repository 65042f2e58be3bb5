"""`flask stripe report`: why customers cancel, over a range of days. The figures come
from a pure function (tested on known entries); the command only prints them."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from billing.cancellations import Entry
from billing.models import Cancellation, db
from ops import report
from tests.helpers import follow, local_path


def entry(day, *, feedback=None, comment=None, at_period_end=True, offer=False, withdrawn=False, reason=None):
    return Entry(
        requested_at=datetime.fromisoformat(day),
        offer_accepted=offer,
        at_period_end=False if offer else at_period_end,
        reason=None if offer else (reason or "cancellation_requested"),
        feedback=feedback,
        comment=comment,
        withdrawn=withdrawn,
    )


KNOWN = [
    entry("2026-10-31 23:59:59", feedback="too_expensive"),  # the day before the range
    entry("2026-11-01 00:00:00", feedback="too_expensive", comment="Over budget\nthis quarter."),
    entry("2026-11-03 10:00:00", feedback="too_expensive", at_period_end=False),
    entry("2026-11-05 10:00:00", feedback="missing_features", comment="No API"),
    entry("2026-11-06 10:00:00"),  # no feedback given
    entry("2026-11-07 10:00:00", at_period_end=False, reason="payment_failed"),
    entry("2026-11-08 10:00:00", offer=True),
    entry("2026-11-09 10:00:00", feedback="unused", withdrawn=True),  # renewed: not counted
    entry("2026-11-10 23:59:59", offer=True),  # the last second of the range
    entry("2026-11-11 00:00:00", feedback="other"),  # the day after
]


def test_the_counts_for_a_range_on_known_entries():
    r = report.compute(KNOWN, date(2026, 11, 1), date(2026, 11, 10))
    assert (r.cancellations, r.at_period_end, r.immediately) == (5, 3, 2)
    assert r.feedback == (("Too expensive", 2), ("Missing features", 1))
    assert r.no_feedback == 2
    assert r.reasons == (("Asked for (the customer, or you through the API)", 4), ("Payment failed", 1))
    assert [(c.requested_at.day, c.feedback, c.text) for c in r.comments] == [
        (1, "Too expensive", "Over budget\nthis quarter."),
        (5, "Missing features", "No API"),
    ]
    assert (r.offers_accepted, r.withdrawn) == (2, 1)


def test_an_empty_range():
    r = report.compute(KNOWN, date(2026, 12, 1), date(2026, 12, 31))
    assert r.empty
    assert report.lines(r) == [
        "Why customers cancel, 2026-12-01 to 2026-12-31 (UTC)",
        "",
        "No cancellations and no retention offers accepted in this range.",
    ]


def test_the_printed_report():
    r = report.compute(KNOWN, date(2026, 11, 1), date(2026, 11, 10))
    assert report.lines(r) == [
        "Why customers cancel, 2026-11-01 to 2026-11-10 (UTC)",
        "",
        "Cancellations: 5 (3 at period end, 2 immediately)",
        "  Feedback (the reason the customer chose in the portal):",
        "    Too expensive                      2",
        "    Missing features                   1",
        "    None given                         2",
        "  Ended by (Stripe's reason):",
        "    Asked for (the customer, or you through the API)   4",
        "    Payment failed                                     1",
        "  Comments (2):",
        '    2026-11-01 (Too expensive): "Over budget this quarter."',
        '    2026-11-05 (Missing features): "No API"',
        "Retention offers accepted: 2 (kept their subscription, with the coupon)",
        "Withdrawn before taking effect: 1 (renewed or replaced; not counted above)",
    ]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, (date(2026, 10, 29), date(2026, 11, 27))),  # the last 30 days, today included
        ("2026-11-01", None, (date(2026, 11, 1), date(2026, 11, 27))),
        (None, "2026-11-10", (date(2026, 10, 12), date(2026, 11, 10))),
        ("2026-11-05", "2026-11-05", (date(2026, 11, 5), date(2026, 11, 5))),
    ],
)
def test_the_range_and_its_defaults(since, until, expected):
    assert report.date_range(since, until, date(2026, 11, 27), ("--since", "--until")) == expected


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", None, "--since 'yesterday' is not a date: use YYYY-MM-DD, such as 2026-11-01."),
        (None, "2026-02-30", "--until '2026-02-30' is not a date: use YYYY-MM-DD, such as 2026-11-01."),
        ("2026-11-10", "2026-11-01", "--since (2026-11-10) is after --until (2026-11-01): nothing is in that range."),
        (None, "9999-12-31", "--until 9999-12-31 is outside the years 1970 to 9998."),
        ("0001-01-01", None, "--since 0001-01-01 is outside the years 1970 to 9998."),
    ],
)
def test_a_bad_range_is_refused_with_a_message(since, until, message):
    with pytest.raises(ValueError) as refused:
        report.date_range(since, until, date(2026, 11, 27), ("--since", "--until"))
    assert str(refused.value) == message


def add_rows(app, *cancellations):
    with app.app_context():
        db.session.add_all(cancellations)
        db.session.commit()


def test_the_command_prints_the_report_for_its_range(app):
    add_rows(
        app,
        Cancellation(
            stripe_customer_id="cus_1",
            stripe_subscription_id="sub_1",
            requested_at=datetime(2026, 11, 2, 9),
            at_period_end=True,
            reason="cancellation_requested",
            feedback="switched_service",
            comment="Moved to a competitor.",
        ),
        Cancellation(
            stripe_customer_id="cus_2",
            stripe_subscription_id="sub_2",
            requested_at=datetime(2026, 11, 3, 9),
            offer_accepted=True,
        ),
        Cancellation(stripe_customer_id="cus_3", stripe_subscription_id="sub_3", requested_at=datetime(2026, 12, 1)),
    )
    result = app.test_cli_runner().invoke(args=["stripe", "report", "--since", "2026-11-01", "--until", "2026-11-30"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Why customers cancel, 2026-11-01 to 2026-11-30 (UTC)",
        "",
        "Cancellations: 1 (1 at period end, 0 immediately)",
        "  Feedback (the reason the customer chose in the portal):",
        "    Switched to another service        1",
        "    None given                         0",
        "  Ended by (Stripe's reason):",
        "    Asked for (the customer, or you through the API)   1",
        "  Comments (1):",
        '    2026-11-02 (Switched to another service): "Moved to a competitor."',
        "Retention offers accepted: 1 (kept their subscription, with the coupon)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "01/11/2026"], "Error: --since '01/11/2026' is not a date: use YYYY-MM-DD, such as 2026-11-01."),
        (["--since", "2026-11-30", "--until", "2026-11-01"], "Error: --since (2026-11-30) is after --until"),
    ],
)
def test_the_command_refuses_a_bad_date_with_a_message(app, args, message):
    result = app.test_cli_runner().invoke(args=["stripe", "report", *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_the_command_says_what_to_do_when_the_database_has_no_tables(tmp_path):
    from tests.helpers import core_app

    app = core_app(tmp_path)
    with app.app_context():
        db.drop_all()
    result = app.test_cli_runner().invoke(args=["stripe", "report"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: The site's database could not be read (")  # SQLite's or PostgreSQL's error
    assert result.output.endswith("): run `flask --app app init-db` first.\n")


def test_a_cancellation_through_the_portal_with_a_reason_appears_in_the_report(app, client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    response = auth.post("/account/cancel")
    session = local_path(response.headers["Location"])
    client.post(session, data={"choice": "decline", "feedback": "too_expensive", "comment": "Too dear for us."})
    standin.deliver_webhooks()  # the site learns of it from Stripe's event
    result = app.test_cli_runner().invoke(args=["stripe", "report"])
    assert result.exit_code == 0, result.output
    assert "Cancellations: 1 (1 at period end, 0 immediately)" in result.output
    assert "    Too expensive                      1" in result.output
    assert '(Too expensive): "Too dear for us."' in result.output

    # A second customer takes the retention offer instead.
    auth.signout()
    auth.signup("grace@example.com")
    auth.subscribe("pro_monthly")
    response = auth.post("/account/cancel")
    follow(client, client.post(local_path(response.headers["Location"]), data={"choice": "accept"}))
    standin.deliver_webhooks()
    result = app.test_cli_runner().invoke(args=["stripe", "report"])
    assert "Retention offers accepted: 1" in result.output and "Cancellations: 1 " in result.output
