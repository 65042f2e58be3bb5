"""The docs' and the tutorial's screenshots, taken from the running demo (offline mode,
personas), so they can't go stale: `make screenshots` writes them to docs/screenshots/ and
docs/tutorial/screenshots/; in the test suite they go to test-artifacts/screenshots/ and
only the flows are checked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import cancel_saying_why
from tests.e2e.test_links import open_outbox_with_priyas_email
from tests.helpers import ROOT, free_port

FOLDER = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "test-artifacts" / "screenshots")
TUTORIAL_FOLDER = Path(os.environ.get("TUTORIAL_SCREENSHOTS_DIR") or FOLDER / "tutorial")
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}


def as_persona(page: Page, site: str, name: str) -> None:
    page.goto(site + "/")
    page.click("summary:has-text('Demo personas')")
    page.click(f"button.persona:has-text('{name}')")
    expect(page).to_have_url(site + "/account")


@pytest.mark.parametrize("size", SIZES)
def test_screenshots_of_the_pages_and_each_step(page: Page, site_with_personas, size):
    site = site_with_personas
    page.set_viewport_size(SIZES[size])
    FOLDER.mkdir(parents=True, exist_ok=True)

    def shoot(name: str) -> None:
        page.screenshot(path=str(FOLDER / f"{name}-{size}.png"), full_page=size == "desktop")

    page.goto(site + "/pricing?interval=month")
    expect(page.locator(".card").first).to_be_visible()
    shoot("pricing")

    as_persona(page, site, "Mona")  # monthly Pro, active
    shoot("account")
    page.click("button:has-text('Switch to yearly billing')")
    expect(page.locator("body")).to_contain_text("subscription_update_confirm")
    shoot("step-switch-interval")
    page.go_back()
    page.click("button:has-text('Cancel at period end')")
    expect(page.locator("body")).to_contain_text("subscription_cancel")
    shoot("step-cancel")
    page.go_back()
    page.click("button:has-text('Update payment method')")
    expect(page.locator("body")).to_contain_text("payment_method_update")
    shoot("step-payment-method")

    as_persona(page, site, "Priya")  # past due
    shoot("account-past-due")

    # Her failed-payment email in the Outbox, and the page its link opens.
    open_outbox_with_priyas_email(page, site)
    shoot("outbox")
    page.locator("article.email", has_text="past-due@personas.example").locator("a[href*='/links/']").click()
    expect(page.locator("h1")).to_contain_text("Update the card for the account of")
    shoot("email-link")

    as_persona(page, site, "Mona")  # Pro monthly, switching to Starter at the period's end
    page.goto(site + "/pricing?interval=month")
    page.click("button:has-text('Switch to Starter')")
    expect(page.locator("body")).to_contain_text("Your new plan starts on")
    page.click("button:has-text('Confirm')")
    expect(page.locator(".notice").first).to_contain_text("Switching to Starter (monthly) on")
    shoot("account-downgrade")

    # Mona cancels, saying why; the demo's report page shows it.
    as_persona(page, site, "Mona")
    cancel_saying_why(page, site)
    shoot("report")


@pytest.fixture
def minimal_app(tmp_path):
    """Chapter 1's app as `make minimal-app` serves it, on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "minimal-app.log"
    command = [sys.executable, "-m", "kit.minimal_demo", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_screenshots_of_each_tutorial_chapter(page: Page, site_with_personas, minimal_app):
    site = site_with_personas
    page.set_viewport_size(SIZES["desktop"])
    TUTORIAL_FOLDER.mkdir(parents=True, exist_ok=True)

    def shoot(name: str, element: str | None = None) -> None:
        target = page.locator(element).first if element else page
        target.screenshot(path=str(TUTORIAL_FOLDER / f"{name}.png"))

    page.goto(minimal_app)
    page.click("button:has-text('Cancel my subscription')")
    expect(page.locator("body")).to_contain_text("subscription_cancel")
    shoot("1-minimal-app")

    page.goto(site + "/pricing?interval=month")
    expect(page.locator(".card").first).to_be_visible()
    shoot("2-pricing")

    as_persona(page, site, "Mona")  # monthly Pro, active
    page.goto(site + "/pricing?interval=month")
    page.click("button:has-text('Switch to Business')")
    expect(page.locator("body")).to_contain_text("subscription_update_confirm")
    shoot("3-switch-confirm")

    page.goto(site + "/account")
    shoot("8-account-buttons", "section.panel:has(h2:has-text('Change your subscription'))")
    page.locator(".action").filter(has_text="Cancel at period end").locator("summary").click()
    shoot("7-api-call", ".action:has(button:has-text('Cancel at period end'))")
    page.click("button:has-text('Cancel at period end')")
    expect(page.locator("body")).to_contain_text("30% off")
    shoot("4-cancel-retention")
    page.click("button:has-text('No thanks')")
    expect(page.locator("body")).to_contain_text("Your cancellation is confirmed.")
    shoot("5-hosted-confirmation")
    page.click("a:has-text('Back to site')")
    expect(page.locator("main")).to_contain_text("Cancels on")
    shoot("6-back-on-account")
