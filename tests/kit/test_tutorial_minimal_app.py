"""Chapter 1's app (docs/tutorial/minimal_app.py) runs as `make minimal-app` serves it:
on a loopback port, the Stripe stand-in beside it, reached through the Stripe SDK over
HTTP. Its one button creates a portal session on the cancel step and redirects to it."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server

from kit import minimal_demo
from tests.helpers import free_port


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def served():
    """(url, stand-in): the minimal app served on a free port, its customer made."""
    url = f"http://127.0.0.1:{free_port()}"
    wsgi, standin = minimal_demo.site(url)
    server = make_server("127.0.0.1", int(url.rsplit(":", 1)[1]), wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, standin
    finally:
        server.shutdown()
        thread.join(10)


def test_its_button_opens_the_portal_on_the_cancel_step(served):
    url, standin = served
    home = urllib.request.urlopen(url + "/", timeout=10).read().decode()
    assert '<form method="post" action="/cancel"><button>Cancel my subscription</button></form>' in home
    [subscription] = [s for s in standin.state.all("subscription") if s["status"] == "active"]
    standin.clear_requests()

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirects).open(urllib.request.Request(url + "/cancel", method="POST"))
    assert answer.value.code == 303

    [sent] = [r for r in standin.requests if r.path == "/v1/billing_portal/sessions"]
    assert sent.params == {
        "customer": subscription["customer"],
        "return_url": url,
        "flow_data": {
            "type": "subscription_cancel",
            "subscription_cancel": {"subscription": subscription["id"]},
            "after_completion": {"type": "redirect", "redirect": {"return_url": url}},
        },
    }
    [session] = standin.state.all("billing_portal.session")
    assert answer.value.headers["Location"] == session["url"]
    assert session["url"].startswith(url + minimal_demo.STANDIN_PATH + "/")
    step = urllib.request.urlopen(session["url"], timeout=10).read().decode()
    assert "subscription_cancel" in step and subscription["id"] in step


def test_it_is_about_forty_lines():
    code = [line for line in minimal_demo.MINIMAL_APP.read_text().splitlines() if line.strip()]
    assert len(code) <= 50
