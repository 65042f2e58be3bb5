"""`flask stripe doctor` says where the customers' emails go, and tries MAIL_URL's server
(connect, secure, log in) as a send would, without sending anything."""

from __future__ import annotations

import pytest

from billing.email import SENDER
from tests.core.test_smtp import ENCODED, FROM, PASSWORD, SMTPServer, loopback_port
from tests.ops.test_stripe_account import make_app


def doctor_email_line(app) -> str:
    output = app.test_cli_runner().invoke(args=["stripe", "doctor"]).output
    assert PASSWORD not in output and ENCODED not in output
    findings = [line.strip() for line in output.splitlines() if line.strip().startswith(("ok ", "PROBLEM "))]
    [line] = [line for line in findings if "mail" in line.lower()]
    return line


@pytest.mark.parametrize("accept_login", [True, False])
def test_doctor_logs_in_to_the_smtp_server_and_sends_nothing(tmp_path, standin, accept_login):
    server = SMTPServer(accept_login=accept_login)
    server.controller.start()
    try:
        line = doctor_email_line(make_app(tmp_path, standin, MAIL_URL=server.url(), MAIL_FROM=FROM))
    finally:
        server.controller.stop()
    where = f"the SMTP server 127.0.0.1:{server.port} (plain text, on this machine)"
    if accept_login:
        assert line == f"ok       Emails go through {where}, which accepted the login, from {FROM}."
    else:
        assert line == (
            f"PROBLEM  Emails would go through {where}, but connecting and logging in failed "
            "(SMTPAuthenticationError 535)."
        )
    # (smtplib tries each login method the server offers before it gives up.)
    assert set(server.logins) == {("mailer", PASSWORD)} and server.arrived == []


def test_doctor_reports_a_server_that_is_down(tmp_path, standin):
    app = make_app(tmp_path, standin, MAIL_URL=f"smtps://127.0.0.1:{loopback_port()}", MAIL_FROM=FROM)
    assert doctor_email_line(app).endswith("connecting and logging in failed (ConnectionRefusedError).")


def test_doctor_without_mail_url_says_emails_are_only_logged(app):
    assert doctor_email_line(app).startswith("ok       MAIL_URL is not set: emails are only logged")


def test_doctor_names_a_plugged_in_sender_such_as_the_outbox(tmp_path, standin):
    app = make_app(tmp_path, standin, MAIL_URL="smtp://127.0.0.1:1", MAIL_FROM=FROM)
    app.extensions[SENDER] = print
    assert "the sender plugged in at start (offline: the demo's Outbox" in doctor_email_line(app)
