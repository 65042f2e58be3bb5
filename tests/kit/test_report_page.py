"""The demo's "Why customers cancel" page: offline mode only, linked from the persona
menu, the same figures as `flask stripe report` for cancellations made on the stand-in."""

from __future__ import annotations

import pytest

from tests.helpers import demo_app, follow, local_path


def cancel_with(client, auth, email, feedback, comment=""):
    auth.signup(email)
    auth.subscribe("pro_monthly")
    session = local_path(auth.post("/account/cancel").headers["Location"])
    follow(client, client.post(session, data={"choice": "decline", "feedback": feedback, "comment": comment}))
    auth.signout()


def test_the_report_page_shows_the_cancellations_made_on_the_stand_in(app, client, auth, standin):
    empty = client.get("/demo/report")
    assert empty.status_code == 200
    assert "No cancellations and no retention offers accepted in this range." in empty.get_data(as_text=True)

    cancel_with(client, auth, "ada@example.com", "too_expensive", "Over budget <this quarter>.")
    cancel_with(client, auth, "grace@example.com", "too_expensive")
    cancel_with(client, auth, "alan@example.com", "")
    standin.deliver_webhooks()

    page = client.get("/demo/report").get_data(as_text=True)
    assert "<dt>Cancellations</dt><dd>3</dd>" in page
    assert "<dt>At period end</dt><dd>3</dd>" in page and "<dt>Immediately</dt><dd>0</dd>" in page
    assert "<tr><td>Too expensive</td><td>2</td></tr>" in page
    assert '<tr><td class="muted">None given</td><td>1</td></tr>' in page
    assert "<blockquote>Over budget &lt;this quarter&gt;.</blockquote>" in page  # escaped, never markup
    assert "<dt>Retention offers accepted</dt><dd>0" in page

    # The command prints the same figures.
    printed = app.test_cli_runner().invoke(args=["stripe", "report"]).output
    assert "Cancellations: 3 (3 at period end, 0 immediately)" in printed
    assert "    Too expensive                      2" in printed


def test_a_range_with_nothing_in_it_and_a_bad_date(app, client, auth, standin):
    cancel_with(client, auth, "ada@example.com", "unused")
    standin.deliver_webhooks()
    past = client.get("/demo/report?since=2020-01-01&until=2020-01-31").get_data(as_text=True)
    assert "2020-01-01 to 2020-01-31" in past and "No cancellations" in past
    bad = client.get("/demo/report?since=2026-13-01")
    assert bad.status_code == 200
    page = bad.get_data(as_text=True)
    assert "From &#39;2026-13-01&#39; is not a date: use YYYY-MM-DD" in page
    assert "Showing the last 30 days instead." in page and "<dt>Cancellations</dt><dd>1</dd>" in page


def test_the_persona_menu_links_to_it(client):
    assert 'href="/demo/report"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("personas", ["on", "off"])
def test_absent_when_not_offline(tmp_path, personas):
    app = demo_app(tmp_path, DEMO_PERSONAS=personas)  # a test key: not offline mode
    client = app.test_client()
    assert client.get("/demo/report").status_code == 404
    assert "/demo/report" not in client.get("/").get_data(as_text=True)
