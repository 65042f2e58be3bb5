"""The site fits its window: on a phone (375x812) and a laptop (1280x800), every
page, the stand-in's hosted pages too, is no wider than the window with every
<details> (the "Show the API call" panels, the persona menu) open; menus open
inside the window; code scrolls inside its own box; the header's items never
overlap. Screenshots of a few pages go to test-artifacts/."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from kit.personas import PERSONAS

SIZES = {"phone": (375, 812), "tablet": (768, 1024), "laptop": (1280, 800)}

# Run in the page with every <details> open: what does not fit, as sentences.
LAYOUT_PROBLEMS = """() => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  const problems = [];
  const width = window.innerWidth;
  const scrolled = document.scrollingElement.scrollWidth;
  if (scrolled > width) problems.push(`page is ${scrolled}px wide in a ${width}px window`);
  const box = el => el.getBoundingClientRect();
  const name = el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '');

  for (const menu of document.querySelectorAll('.persona-menu')) {
    const r = box(menu);
    if (r.width === 0) problems.push('persona menu did not open');
    if (r.left < 0 || r.right > width) problems.push(`persona menu spans x ${r.left}..${r.right}`);
  }

  for (const pre of document.querySelectorAll('pre')) {
    const style = getComputedStyle(pre);
    if (!['auto', 'scroll'].includes(style.overflowX)) problems.push(`pre has overflow-x ${style.overflowX}`);
    if (style.maxWidth !== '100%') problems.push(`pre has max-width ${style.maxWidth}`);
    const r = box(pre);
    if (r.left < 0 || r.right > width) problems.push(`pre spans x ${r.left}..${r.right}`);
    // Whatever does not fit scrolls inside the pre: no ancestor cuts it.
    for (let up = pre.parentElement; up && up !== document.body; up = up.parentElement) {
      const clip = getComputedStyle(up).overflowX;
      const u = box(up);
      if (['hidden', 'clip'].includes(clip) && (r.left < u.left - 0.5 || r.right > u.right + 0.5)) {
        problems.push(`${name(up)} (overflow ${clip}) cuts a pre`);
      }
    }
  }

  // The header: the brand and each item of its nav, none overlapping another or the window's edge.
  const header = document.querySelector('.site-header');
  if (header) {
    const items = [header.querySelector('.brand'), ...header.querySelectorAll('nav > *')].filter(Boolean);
    const rects = items.map(el => [name(el), el.querySelector('summary') ? box(el.querySelector('summary')) : box(el)]);
    for (const [n, r] of rects) {
      if (r.left < 0 || r.right > width) problems.push(`header item ${n} spans x ${r.left}..${r.right}`);
    }
    for (let i = 0; i < rects.length; i++) {
      for (let j = i + 1; j < rects.length; j++) {
        const [a, ra] = rects[i], [b, rb] = rects[j];
        const apart = ra.right <= rb.left || rb.right <= ra.left || ra.bottom <= rb.top || rb.bottom <= ra.top;
        if (!apart) problems.push(`header items ${a} and ${b} overlap`);
      }
    }
  }
  return problems;
}"""


def layout_problems(page: Page) -> list[str]:
    return page.evaluate(LAYOUT_PROBLEMS)


def persona_email(name: str) -> str:
    return next(p.email for p in PERSONAS if p.name == name)


def sign_in(page: Page, site: str, email: str, password: str) -> None:
    page.goto(site + "/signin")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")
    expect(page).not_to_have_url(re.compile(r"/signin"))


@pytest.mark.parametrize("size", SIZES)
def test_every_page_fits_its_window(page: Page, site_with_personas, shoot, size):
    site = site_with_personas
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    found: dict[str, list[str]] = {}

    def check(what: str) -> None:
        page.wait_for_load_state("load")  # the stylesheets too
        found[what] = layout_problems(page)
        wide = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        print(f"{size:6} {what:28} scrollWidth {wide[0]:5} innerWidth {wide[1]}")

    # Signed out: pricing, sign in, sign up, an error page (GET on a POST-only button: 405).
    page.goto(site + "/")
    check("pricing, signed out")
    for path in ["/signin", "/signup"]:
        page.goto(site + path)
        check(path)
    page.goto(site + "/account/cancel")
    expect(page.locator("h1")).to_contain_text("Method Not Allowed")
    check("405 page")

    # Subscribe through the stand-in's Checkout page, then pricing with the API-call panels.
    sign_in(page, site, "demo@example.com", "demo-password")
    page.goto(site + "/")
    page.click("button:has-text('Subscribe to Starter')")
    expect(page).to_have_url(re.compile(r"/_standin/c/pay/"))
    check("stand-in Checkout")
    page.click("button:has-text('Pay')")
    expect(page).to_have_url(site + "/account")
    check("account, subscribed")
    page.goto(site + "/")
    expect(page.locator(".card details.api-call pre").first).to_be_attached()
    check("pricing, subscribed")
    shoot(f"pricing-{size}")

    # The stand-in's portal: a flow page and its home page.
    page.goto(site + "/account")
    page.click("button:has-text('Update billing details')")
    expect(page).to_have_url(re.compile(r"/_standin/p/"))
    check("stand-in portal flow")
    page.goto(site + "/account")
    page.click("button:has-text('Manage billing')")
    expect(page).to_have_url(re.compile(r"/_standin/p/"))
    check("stand-in portal home")
    shoot(f"portal-home-{size}")
    page.goto(site + "/account")
    page.click("button:has-text('Cancel at period end')")
    expect(page.locator("select[name=feedback]")).to_be_visible()
    check("stand-in cancel step")

    # Personas in several states, reached through the header's menu (left open for the check).
    for name in ["Sasha", "Paul", "Mona", "Cleo", "Priya"]:
        page.goto(site + "/account")
        page.click("summary:has-text('Demo personas')")
        with page.expect_navigation():
            page.click(f"button.persona:has-text('{name}')")
        expect(page.locator("main")).to_contain_text(f"{persona_email(name)}")
        check(f"account as {name}")
        if name == "Sasha":
            shoot(f"account-sasha-{size}")
    page.goto(site + "/")
    check("pricing as Priya")
    page.goto(site + "/demo/report")
    check("cancellation report")
    shoot(f"pricing-menu-open-{size}")
    # The tutorial: its index, and the chapter with the most code.
    for path in ["/tutorial", "/tutorial/switching-plans"]:
        page.goto(site + path)
        check(path)

    misfits = [f"{what}: {'; '.join(dict.fromkeys(problems))}" for what, problems in found.items() if problems]
    assert "\n".join(misfits) == ""


def test_favicon(site):
    """The pages link an icon, and /favicon.ico (asked for by browsers and crawlers) is not a 404."""
    with urllib.request.urlopen(site + "/signin") as response:
        assert b'<link rel="icon" href="/static/favicon.svg"' in response.read()
    for path in ["/favicon.ico", "/static/favicon.svg"]:
        with urllib.request.urlopen(site + path) as response:  # follows the redirect
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("image/svg+xml")
