"""The Outbox (offline mode): the site's emails, kept instead of sent, with their links,
and one of them used once and then refused."""

from __future__ import annotations

import re

from app import create_app
from billing.email import SENDER, Message
from tests.core.test_past_due import make_past_due
from tests.helpers import BASE_URL, CSRF, SECRET_KEY, database_url, demo_app, local_path

LINK = re.compile(r'<a href="(http://localhost/links/[^"]+)"')


def test_a_failed_payments_email_is_in_the_outbox_and_its_link_works_once(app, client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    assert "Emails go to the" in client.get("/account").get_data(as_text=True)  # the offline banner links it
    assert "No email yet" in client.get("/demo/outbox").get_data(as_text=True)
    make_past_due(standin)
    page = client.get("/demo/outbox").get_data(as_text=True)
    assert "ada@example.com" in page and "Your Acme Cloud payment failed: please update your card" in page
    [link] = LINK.findall(page)

    standin.clear_requests()
    opened = client.get(local_path(link))
    assert opened.status_code == 200 and not standin.requests
    token = CSRF.search(opened.get_data(as_text=True)).group(1)
    step = client.post(local_path(link), data={"csrf_token": token})
    assert step.status_code == 303 and "/_standin/p/session/" in step.headers["Location"]
    again = client.post(local_path(link), data={"csrf_token": token})
    assert again.status_code == 410 and "This link was used already" in again.get_data(as_text=True)


def test_the_persona_menu_links_the_outbox_and_a_reset_empties_it(app, client, auth, standin):
    auth.signup()
    auth.subscribe("starter_monthly")
    make_past_due(standin)
    assert 'href="/demo/outbox"' in client.get("/").get_data(as_text=True)
    assert len(app.extensions["outbox"].all()) == 1
    reset = app.test_cli_runner().invoke(args=["demo", "reset", "--remove-only"])
    assert reset.exit_code == 0, reset.output
    assert app.extensions["outbox"].all() == []


def test_the_outbox_keeps_its_emails_on_disk_for_every_process_of_the_demo(tmp_path):
    def demo():
        return create_app(
            {
                "TESTING": True,
                "OFFLINE_STATE_FILE": True,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "APP_BASE_URL": BASE_URL,
                "SECRET_KEY": SECRET_KEY,
                "DATABASE_URL": database_url(tmp_path, "demo"),
            }
        )

    first, second = demo(), demo()
    first.extensions[SENDER](Message("ada@example.com", "Hello", "Line\nhttp://localhost/links/x"))
    [sent] = second.extensions["outbox"].all()
    assert sent.subject == "Hello" and sent.lines() == [("Line", False), ("http://localhost/links/x", True)]


def test_no_outbox_with_a_stripe_key(tmp_path):
    app = demo_app(tmp_path)
    assert app.test_client().get("/demo/outbox").status_code == 404
    assert SENDER not in app.extensions  # the core's default: a log line
