"""An email's signed link in a real browser: the past-due persona's failed-payment email in
the Outbox, its link, the payment-method step on the stand-in, and back to the account
page; the same link then refused. The site's CSP is enforced; axe checks the new pages."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.test_browser import serious_violations


def open_outbox_with_priyas_email(page: Page, site: str) -> None:
    """The Outbox, from the persona menu, once the webhook thread has delivered her email."""
    page.click("summary:has-text('Demo personas')")
    page.click("a.outbox")
    expect(page).to_have_url(site + "/demo/outbox")
    for _ in range(30):  # the seed's events arrive a second or so after the start
        if page.locator("article.email", has_text="past-due@personas.example").count():
            return
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError("no email for the past-due persona in the Outbox")


def test_a_past_due_customer_follows_the_emails_link_to_a_new_card_and_back(page: Page, site_with_personas, shoot):
    site = site_with_personas
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(site + "/")
    page.click("summary:has-text('Demo personas')")
    page.click("button.persona:has-text('Priya')")
    expect(page.locator("main")).to_contain_text("Past due")
    open_outbox_with_priyas_email(page, site)
    email = page.locator("article.email", has_text="past-due@personas.example")
    expect(email).to_contain_text("Your Acme Cloud payment failed: please update your card")
    shoot("1-outbox")
    link = email.locator("a[href*='/links/']")
    href = link.get_attribute("href")
    link.click()

    expect(page.locator("h1")).to_have_text("Update the card for the account of p…@personas.example")
    shoot("2-link-page")
    page.click("button:has-text('Update payment method')")
    expect(page).to_have_url(re.compile(r"/_standin/p/session/"))
    expect(page.locator("body")).to_contain_text("payment_method_update")
    page.check("input[value='4242424242424242']")
    page.click("button:has-text('Save card')")
    expect(page).to_have_url(site + "/account")
    expect(page.locator("main")).to_contain_text("Visa ending in 4242")
    shoot("3-back-on-the-account")

    page.goto(href)
    expect(page.locator("h1")).to_have_text("This link was used already")
    assert csp_errors == []


def test_the_outbox_and_a_link_page_have_no_serious_accessibility_violations(browser, site_with_personas):
    site = site_with_personas
    page = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900}).new_page()
    page.goto(site + "/")
    open_outbox_with_priyas_email(page, site)
    found = {"outbox": serious_violations(page)}
    page.locator("article.email a[href*='/links/']").first.click()
    expect(page.locator("h1")).to_contain_text("for the account of")
    found["link page"] = serious_violations(page)
    page.goto(site + "/links/not-a-token")
    found["refused link"] = serious_violations(page)
    assert {what: v for what, v in found.items() if v} == {}
