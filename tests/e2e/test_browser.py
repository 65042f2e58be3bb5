"""A customer's journey in a real browser (Debian's chromium), against the site
served on loopback in offline mode, with its Content-Security-Policy enforced;
then every page checked with axe-core. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from kit.personas import PERSONAS
from tests.e2e.conftest import AXE

PERSONA_NAMES = [persona.name for persona in PERSONAS]


def test_a_customer_journey_through_every_kind_of_step(page: Page, site, shoot):
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    # A campaign link, then sign-up from the Pro card: the promotion code and the plan follow.
    page.goto(site + "/pricing?promo=WELCOME20")
    expect(page.locator("body")).to_contain_text("WELCOME20")
    page.click("a:has-text('Get started') >> nth=1")
    page.fill("#email", "journey@example.com")
    page.fill("#password", "password123")
    page.fill("#confirm", "password123")
    page.click("button:has-text('Create account')")
    expect(page.locator("body")).to_contain_text("Welcome! Your account is ready.")

    # Subscribe: Checkout, pay with the test card, back on the account page.
    page.click("button:has-text('Subscribe to Pro')")
    expect(page).to_have_url(re.compile(r"/_standin/c/pay/cs_test_"))
    page.click("button:has-text('Pay')")
    expect(page).to_have_url(site + "/account")
    expect(page.locator("body")).to_contain_text("Thank you! Your subscription is active.")
    expect(page.locator(".facts").first).to_contain_text("Pro")
    shoot("1-subscribed")

    # Switch plan with the promotion code (subscription_update_confirm, ends with redirect).
    page.goto(site + "/pricing")
    page.click("button:has-text('Switch to Business')")
    expect(page.locator("body")).to_contain_text("subscription_update_confirm")
    expect(page.locator("body")).to_contain_text("20% off for 3 months")
    shoot("2-confirm-switch")
    page.click("button:has-text('Confirm')")
    expect(page).to_have_url(site + "/account")
    expect(page.locator(".facts").first).to_contain_text("Business")
    expect(page.locator("main")).to_contain_text("20% off for 3 months")

    # A new card (payment_method_update, redirect).
    page.click("button:has-text('Update payment method')")
    page.check("input[value='5555555555554444']")
    page.click("button:has-text('Save card')")
    expect(page).to_have_url(site + "/account")
    expect(page.locator("main")).to_contain_text("Mastercard ending in 4444")

    # Billing details (customer_update, ends on the portal's home page).
    page.click("button:has-text('Update billing details')")
    page.fill("input[name=name]", "Journey Tester")
    page.click("button:has-text('Save')")
    expect(page).to_have_url(re.compile(r"/_standin/p/"))
    shoot("3-portal-home")
    page.click("text=Back to site")
    expect(page).to_have_url(site + "/account")
    expect(page.locator("main")).to_contain_text("Journey Tester")

    # Cancel, declining the retention offer (subscription_cancel, hosted confirmation).
    page.click("button:has-text('Cancel at period end')")
    expect(page.locator("body")).to_contain_text("30% off")
    page.click("button:has-text('No thanks')")
    expect(page.locator("body")).to_contain_text("Your cancellation is confirmed. We are sorry to see you go.")
    shoot("4-cancel-confirmed")
    page.click("a:has-text('Back to site')")
    expect(page).to_have_url(site + "/account")
    expect(page.locator("main")).to_contain_text("Cancels on")
    shoot("5-cancel-scheduled")

    assert csp_errors == []


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:80]})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_pages_have_no_serious_accessibility_violations(browser, site_with_personas):
    site = site_with_personas
    # axe is injected as a script, which the site's CSP rightly forbids: bypass it here only.
    found = {}
    signed_out = browser.new_context(bypass_csp=True).new_page()
    for path in ["/signin", "/signup"]:
        signed_out.goto(site + path)
        found[path] = serious_violations(signed_out)
    page = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900}).new_page()
    page.goto(site + "/signin")
    page.fill("#email", "demo@example.com")
    page.fill("#password", "demo-password")
    page.click("button:has-text('Sign in')")
    page.goto(site + "/")
    page.click("button:has-text('Subscribe to Starter')")
    page.click("button:has-text('Pay')")
    # The stand-in's cancel step asks why; the answer then shows on the demo's report page.
    page.goto(site + "/account")
    cancel_saying_why(page, site)
    for path in [
        "/",
        "/pricing?interval=year",
        "/account",
        "/no-such-page",
        "/demo/report",
        "/tutorial",
        "/tutorial/cancel",
    ]:
        page.goto(site + path)
        found[path] = serious_violations(page)
    # Each demo persona's account page (past due, paused, canceled...), reached through the menu.
    for name in PERSONA_NAMES:
        page.click("summary:has-text('Demo personas')")
        found["menu"] = serious_violations(page)
        page.click(f"button.persona:has-text('{name}')")
        expect(page).to_have_url(re.compile(r"/(account|pricing)"))
        found[f"/account as {name}"] = serious_violations(page)
    assert {path: v for path, v in found.items() if v} == {}


def cancel_saying_why(page, site):
    """From the account page: cancel at period end with a reason and a comment, which the
    stand-in's cancel step asks for; the answer then shows on the demo's report page."""
    page.click("button:has-text('Cancel at period end')")
    page.select_option("select[name=feedback]", "too_expensive")
    page.fill("textarea[name=comment]", "Over budget this quarter.")
    page.click("button:has-text('No thanks')")
    page.click("a:has-text('Back to site')")
    expect(page.locator("main")).to_contain_text("Cancels on")
    page.goto(site + "/demo/report")
    expect(page.locator("main")).to_contain_text("Over budget this quarter.")
