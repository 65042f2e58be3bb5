"""The Keep button's "Show the API call" panel (offline mode): the release of the schedule
that holds a downgrade for the period's end, the same call the button then makes."""

from __future__ import annotations

import html
import re

from tests.helpers import follow, local_path


def test_the_keep_panel_shows_the_release_the_button_makes(client, auth, standin):
    auth.signup()
    auth.subscribe("pro_monthly")
    response = auth.post("/account/switch-plan", lookup_key="starter_monthly")
    follow(client, client.post(local_path(response.headers["Location"])))
    schedule = auth.user().subscription.schedule_id
    assert schedule and schedule.startswith("sub_sched_")

    page = html.unescape(client.get("/account").get_data(as_text=True))
    panel = page[page.index('action="/account/keep-plan"') :]
    python, curl = re.findall(r"<pre><code>(.*?)</code></pre>", panel, re.S)[:2]
    assert f'client.v1.subscription_schedules.release("{schedule}", {{}})' in python
    assert f"/v1/subscription_schedules/{schedule}/release" in curl and "-X POST" in curl
    assert "sk_test" not in page

    standin.clear_requests()
    auth.post("/account/keep-plan")
    assert [(r.method, r.path) for r in standin.requests if r.path.startswith("/v1/")] == [
        ("POST", f"/v1/subscription_schedules/{schedule}/release")
    ]
