"""The tutorial in a real browser: from /tutorial to a chapter, and from an account page's
API-call panel to the chapter that explains its button, where the button's code is the
source's, word for word; readable on a phone."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from kit import excerpts
from tests.e2e.test_screenshots import as_persona


def test_a_panel_links_to_the_chapter_that_shows_its_code(page: Page, site_with_personas, shoot):
    site = site_with_personas
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(site + "/")
    page.click("header >> text=Tutorial")
    expect(page).to_have_url(site + "/tutorial")
    expect(page.locator("main h1")).to_contain_text("Tutorial")
    page.click("main >> text=The smallest deep link")
    expect(page).to_have_url(site + "/tutorial/smallest-deep-link")
    expect(page.locator("pre").first).to_contain_text('"type": "subscription_cancel"')
    expect(page.locator("article img")).to_have_js_property("naturalWidth", 1280)

    as_persona(page, site, "Mona")
    cancel = page.locator(".action").filter(has=page.locator("button:has-text('Cancel at period end')"))
    cancel.locator('summary:has-text("Show the deep link\'s API call")').click()
    cancel.locator("a:has-text('chapter 4')").click()
    expect(page).to_have_url(site + "/tutorial/cancel")
    builder = excerpts.survey().regions["billing/flows.py"]["cancel"]
    code = [block.inner_text() for block in page.locator("article pre").all()]
    assert builder.strip() in [block.strip() for block in code]
    shoot("chapter-desktop")

    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    expect(page.locator("article pre").first).to_be_visible()
    shoot("chapter-phone")
    assert csp_errors == []


def test_an_unknown_chapter_is_a_page_not_found(page: Page, site):
    answer = page.goto(site + "/tutorial/no-such-chapter")
    assert answer is not None and answer.status == 404
    expect(page.locator("main")).to_contain_text(re.compile("no such chapter"))
