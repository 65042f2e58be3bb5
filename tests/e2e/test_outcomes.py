"""Each outcome, read from the account page afterwards (issue 12, item 1).

For every kind of step: a demo persona in the right state presses the account
page's (or pricing page's) button, completes the step on the stand-in's portal
page, comes back, and the test reads the account page's facts (status, plan,
"Renews on", "Cancels on", ...) and the message shown after the return.

One site serves the whole module. A test that changes a persona another test
also uses starts with "Reset demo", so no test depends on the order they run in.
Run with -s to print what each outcome looked like.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import serve


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One site with the demo personas for the module (reset per test where needed)."""
    yield from serve(tmp_path_factory.mktemp("outcomes"), personas=True)


def sign_in_as(page: Page, site: str, name: str, *, reset: bool = False) -> None:
    """Sign in through the header's persona menu; first "Reset demo" if `reset`."""
    page.goto(site + "/pricing")
    if reset:
        page.click("summary:has-text('Demo personas')")
        page.click("button.persona:has-text('Reset demo')")
        expect(page.locator(".flash")).to_contain_text("The demo is reset")
    page.click("summary:has-text('Demo personas')")
    page.click(f"button.persona:has-text('{name}')")
    expect(page.locator(".flash")).to_contain_text(f"Signed in as {name}")
    page.goto(site + "/account")


def facts(page: Page) -> dict[str, str]:
    """The subscription's facts on the account page, as {"Status": "Active", ...}."""
    block = page.locator(".facts").first
    names = block.locator("dt").all_inner_texts()
    values = block.locator("dd").all_inner_texts()
    return dict(zip(names, values, strict=True))


def flashes(page: Page) -> list[str]:
    return page.locator(".flash").all_inner_texts()


def back_on_account(page: Page, site: str, flow: str, *messages: str) -> dict[str, str]:
    """On the account page after the return: the flash messages are exactly `messages`;
    the facts are returned (and printed, with the messages, for -s runs)."""
    expect(page).to_have_url(site + "/account")
    expect(page.locator(".flash")).to_have_text(list(messages))
    shown = facts(page)
    print(f"\n[{flow}] facts: {' | '.join(f'{k}: {v}' for k, v in shown.items())}\n[{flow}] messages: {flashes(page)}")
    return shown


def invoices(page: Page, site: str) -> list[str]:
    """The invoice rows of the portal's home page ("Manage billing"), then back to /account."""
    page.click("button:has-text('Manage billing')")
    expect(page).to_have_url(re.compile(r"/_standin/p/"))
    expect(page.locator("h2:has-text('Invoices')")).to_be_visible()
    rows = page.locator("table tr").all_inner_texts()
    page.goto(site + "/account")
    return rows


def one_year_from_today() -> str:
    today = datetime.now(UTC).date()
    then = today.replace(year=today.year + 1)  # the persona seed never runs on February 29
    return f"{then:%B} {then.day}, {then.year}"


def test_switch_plan_within_the_interval_keeps_the_period(page: Page, site):
    """subscription_update_confirm, monthly to monthly, to a dearer plan (an upgrade applies
    at once): the portal configuration says create_prorations, so the period is kept and
    nothing is invoiced now."""
    sign_in_as(page, site, "Mona", reset=True)
    before = facts(page)
    assert (before["Plan"], before["Status"]) == ("Pro", "Active")
    invoices_before = invoices(page, site)

    page.goto(site + "/pricing")
    page.click("button:has-text('Switch to Business')")
    expect(page.locator("body")).to_contain_text("subscription_update_confirm")
    page.click("button:has-text('Confirm')")

    after = back_on_account(page, site, "update_confirm, same interval", "You are now on Business, billed monthly.")
    assert after == {
        "Plan": "Business",
        "Billing": "$99 per month × 1 seat",
        "Status": "Active",
        "Renews on": before["Renews on"],
    }
    # Prorations wait for the next invoice: no invoice now.
    assert invoices(page, site) == invoices_before


def test_a_downgrade_waits_for_the_period_end_until_kept(page: Page, site):
    """subscription_update_confirm to a cheaper plan: catalog.toml's downgrades = "at_period_end"
    makes the portal schedule it. The account page says when; "Keep Pro" releases it."""
    sign_in_as(page, site, "Mona", reset=True)
    before = facts(page)
    invoices_before = invoices(page, site)

    page.goto(site + "/pricing")
    page.click("button:has-text('Switch to Starter')")
    expect(page.locator("body")).to_contain_text("Your new plan starts on")
    page.click("button:has-text('Confirm')")

    when = before["Renews on"]
    after = back_on_account(
        page,
        site,
        "update_confirm, downgrade at period end",
        f"Your switch to Starter (monthly) is scheduled for {when}; you keep Pro (monthly) until then.",
    )
    assert after == before  # still Pro until then
    expect(page.locator(".notice").first).to_have_text(
        f"Switching to Starter (monthly) on {when}. You keep Pro until then."
    )
    assert invoices(page, site) == invoices_before  # nothing billed now
    page.goto(site + "/pricing")
    expect(page.locator(".card.scheduled .ribbon")).to_contain_text("Starting")

    page.goto(site + "/account")
    page.click("button:has-text('Keep Pro')")
    back_on_account(
        page, site, "keep", f"You keep Pro (monthly): the switch to Starter (monthly) on {when} is canceled."
    )
    expect(page.locator("body")).not_to_contain_text("Switching to")


def test_switch_to_yearly_starts_a_new_period_today(page: Page, site):
    """subscription_update_confirm, monthly to yearly: the billing cycle restarts today
    and the first year is invoiced at once."""
    sign_in_as(page, site, "Mona", reset=True)
    invoices_before = invoices(page, site)

    page.click("button:has-text('Switch to yearly billing')")
    expect(page.locator("body")).to_contain_text("subscription_update_confirm")
    page.click("button:has-text('Confirm')")

    after = back_on_account(page, site, "update_confirm, interval change", "You are now on Pro, billed yearly.")
    assert after == {"Plan": "Pro", "Billing": "$290 per year", "Status": "Active", "Renews on": one_year_from_today()}
    new_invoices = invoices(page, site)[len(invoices_before) :]
    assert len(new_invoices) == 1
    assert "paid" in new_invoices[0]


def test_plan_picker_in_the_portal(page: Page, site):
    """subscription_update: the portal lists the plans; the customer picks one."""
    sign_in_as(page, site, "Yusuf")
    before = facts(page)
    assert (before["Plan"], before["Billing"]) == ("Starter", "$90 per year")

    page.click("button:has-text('Browse plans in the portal')")
    expect(page.locator("h1")).to_have_text("Change your plan")
    page.locator("label", has_text="Pro").filter(has_text="/ year").locator("input").check()
    page.click("button:has-text('Update plan')")

    after = back_on_account(page, site, "update (plan picker)", "You are now on Pro, billed yearly.")
    assert after == {"Plan": "Pro", "Billing": "$290 per year", "Status": "Active", "Renews on": before["Renews on"]}


def test_change_seats(page: Page, site):
    """subscription_update_confirm with a quantity, from the per-seat plan's seats form."""
    sign_in_as(page, site, "Sasha", reset=True)
    before = facts(page)
    assert before["Billing"] == "$99 per month × 5 seats"
    invoices_before = invoices(page, site)

    page.fill("#quantity", "7")
    page.click("button:has-text('Change seats')")
    expect(page.locator("body")).to_contain_text("Quantity: 7")
    page.click("button:has-text('Confirm')")

    after = back_on_account(page, site, "update_confirm, seats", "You now have 7 seats.")
    assert after == {
        "Plan": "Business",
        "Billing": "$99 per month × 7 seats",
        "Status": "Active",
        "Renews on": before["Renews on"],
    }
    # create_prorations: the two extra seats are billed on the next invoice, not now.
    assert invoices(page, site) == invoices_before


def test_from_seats_to_a_flat_plan_the_switch_says_one(page: Page, site):
    """subscription_update_confirm from 5 seats of Business to Pro, yearly: the switch states
    quantity 1 (an item without one keeps the 5 seats, and would bill Pro five times). It costs
    less than the seats, so catalog.toml's downgrades = "at_period_end" makes the portal keep
    it for the period's end: the account page says when, and Business stays until then."""
    sign_in_as(page, site, "Sasha", reset=True)
    before = facts(page)
    assert before["Billing"] == "$99 per month × 5 seats"

    page.goto(site + "/pricing?interval=year")
    page.click("button:has-text('Switch to Pro')")
    expect(page.locator("body")).to_contain_text("subscription_update_confirm")
    expect(page.locator("body")).to_contain_text("Quantity: 1")
    expect(page.locator(".change strong")).to_have_text("Pro $290.00 / year")
    page.click("button:has-text('Confirm')")

    when = before["Renews on"]
    after = back_on_account(
        page,
        site,
        "update_confirm, seats to a flat plan",
        f"Your switch to Pro (yearly) is scheduled for {when}; you keep Business (monthly, 5 seats) until then.",
    )
    assert after == before
    expect(page.locator(".notice").first).to_have_text(
        f"Switching to Pro (yearly) on {when}. You keep Business until then."
    )


def test_cancel_declining_the_offer_cancels_at_period_end(page: Page, site):
    """subscription_cancel, "No thanks": the merchant's confirmation, then "Cancels on"
    the end of the paid period, still active until then."""
    sign_in_as(page, site, "Mona", reset=True)
    period_end = facts(page)["Renews on"]

    page.click("button:has-text('Cancel at period end')")
    expect(page.locator("body")).to_contain_text("Stay with us: 30% off for 2 months")
    page.click("button:has-text('No thanks')")
    expect(page.locator("body")).to_contain_text("Your cancellation is confirmed. We are sorry to see you go.")
    page.click("a:has-text('Back to site')")

    after = back_on_account(
        page, site, "cancel, offer declined", f"Your subscription will end on {period_end}; you keep access until then."
    )
    assert after == {
        "Plan": "Pro",
        "Billing": "$29 per month",
        "Status": "Active",
        "Cancels on": f"{period_end} (no further charges)",
    }


def test_cancel_accepting_the_offer_keeps_the_subscription(page: Page, site):
    """subscription_cancel, "Accept offer": the coupon is applied, nothing is canceled,
    and neither page speaks of a cancellation."""
    sign_in_as(page, site, "Mona", reset=True)
    before = facts(page)

    page.click("button:has-text('Cancel at period end')")
    page.click("button:has-text('Accept offer')")
    expect(page.locator("h1")).to_have_text("Offer accepted")
    expect(page.locator("main")).not_to_contain_text("cancellation is confirmed")
    page.click("a:has-text('Back to site')")

    after = back_on_account(
        page, site, "cancel, offer accepted", "Stay with us: 30% off for 2 months is applied to your subscription."
    )
    assert after == {
        "Plan": "Pro",
        "Billing": "$29 per month",
        "Status": "Active",
        "Discount": "Stay with us: 30% off for 2 months",
        "Renews on": before["Renews on"],
    }


def test_pause_then_resume(page: Page, site):
    """subscription_pause: Paused, no next charge; then the account page's Resume (a POST,
    no portal step): active again, in the same period."""
    sign_in_as(page, site, "Mona", reset=True)
    before = facts(page)

    page.click("button:has-text('Pause subscription')")
    expect(page.locator("h1")).to_have_text("Pause your subscription")
    page.click("button:has-text('Pause subscription')")

    paused = back_on_account(page, site, "pause", "Your subscription is paused: no charges until you resume it.")
    assert paused == {"Plan": "Pro", "Billing": "$29 per month", "Status": "Paused", "Next charge": "None while paused"}

    page.click("button:has-text('Resume subscription')")
    resumed = back_on_account(page, site, "resume", "Your subscription is active again.")
    assert resumed == before


def test_past_due_new_card_then_paying_the_open_invoice(page: Page, site):
    """payment_method_update for a past-due customer: the new card only becomes the
    default; paying the open invoice ("Manage billing", Pay) makes the subscription active."""
    sign_in_as(page, site, "Priya")
    assert facts(page)["Status"] == "Past due: the last payment failed"
    notice = page.locator(".notice.past-due")
    expect(notice).to_contain_text("$29 is still due")
    # The open invoice's hosted page is one click away (paying there is tested in tests/core).
    expect(notice.locator("a:has-text('Pay $29')")).to_have_attribute("href", re.compile(r"/_standin/i/in_"))

    page.click("button:has-text('Update payment method')")
    page.check("input[value='4242424242424242']")
    page.click("button:has-text('Save card')")
    card = back_on_account(page, site, "payment_method_update", "Your Visa ending in 4242 is now your default card.")
    assert card == {
        "Plan": "Pro",
        "Billing": "$29 per month",
        "Status": "Past due: the last payment failed",
        "Last payment": "Failed",
    }

    page.click("button:has-text('Manage billing')")
    open_invoice = page.locator("tr", has_text="open")
    expect(open_invoice).to_have_count(1)
    open_invoice.locator("button:has-text('Pay $29')").click()
    expect(page.locator("tr", has_text="open")).to_have_count(0)
    page.click("a:has-text('Back to site')")

    paid = back_on_account(
        page, site, "pay open invoice", "Your payment went through: your subscription is active again."
    )
    assert paid["Status"] == "Active"
    assert "Renews on" in paid
    expect(page.locator(".notice.past-due")).to_have_count(0)


def test_update_billing_details(page: Page, site):
    """customer_update: ends on the portal's home page; back on the site, the new details."""
    sign_in_as(page, site, "Cleo")
    before = facts(page)

    page.click("button:has-text('Update billing details')")
    page.fill("input[name=name]", "Cleo Example")
    page.fill("input[name=line1]", "1 Main Street")
    page.fill("input[name=city]", "Springfield")
    page.fill("input[name=postal_code]", "12345")
    page.fill("input[name=country]", "US")
    page.click("button:has-text('Save')")
    expect(page).to_have_url(re.compile(r"/_standin/p/"))
    page.click("a:has-text('Back to site')")

    after = back_on_account(page, site, "customer_update", "Your billing details are updated.")
    assert after == before  # the subscription (canceled) is untouched
    billing = page.locator(".facts").nth(1)
    expect(billing).to_contain_text("Cleo Example · canceled@personas.example")
    expect(billing).to_contain_text("1 Main Street")
