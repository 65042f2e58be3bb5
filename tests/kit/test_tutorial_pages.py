"""The tutorial in the site (offline mode): /tutorial and its chapters in the site's own
pages, each API-call panel linking to the chapter of its button, and none of it
when the kit's teaching parts are off."""

from __future__ import annotations

import re

import pytest

from billing.buttons import BUTTONS
from kit import tutorial
from tests.helpers import demo_app

CHAPTERS = tutorial.chapters()


def test_there_are_eight_chapters_and_the_index_lists_each():
    assert [c.number for c in CHAPTERS] == list(range(1, 9))
    index = (tutorial.FOLDER / "README.md").read_text()
    for c in CHAPTERS:
        assert f"]({c.path.name})" in index


def test_the_index_links_every_chapter_in_the_site(client):
    page = client.get("/tutorial")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<title>Tutorial · Acme Cloud</title>" in text and 'href="/static/style.css"' in text
    assert [f"/tutorial/{c.slug}" for c in CHAPTERS] == re.findall(r'<a href="(/tutorial/[a-z-]+)">', text)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.slug)
def test_each_chapter_shows_its_code_and_its_screenshot(client, chapter):
    text = client.get(f"/tutorial/{chapter.slug}").get_data(as_text=True)
    assert f"<h1>{chapter.heading.replace('`', '')}" in re.sub(r"</?code>", "", text)
    # Each quoted region is shown, with its file named above it.
    for source in re.findall(r"<!-- source: ([^#\s]+)", chapter.path.read_text()):
        assert f'<p class="source">From <code>{source}</code></p>' in text
    [image] = re.findall(r'<img src="([^"]+)"', text)
    assert image.startswith("/tutorial/screenshots/")
    shot = client.get(image)
    assert shot.status_code == 200 and shot.mimetype == "image/png"


def test_a_chapter_shows_the_source_as_it_is(client):
    text = client.get("/tutorial/cancel").get_data(as_text=True)
    assert "def cancel(p: Press) -&gt; PortalSessionParams:" in text
    assert '<a href="/tutorial/other-flows" rel="next">' in text
    assert '<a href="/tutorial/switching-plans" rel="prev">' in text


@pytest.mark.parametrize(
    "path", ["/tutorial/no-such-chapter", "/tutorial/01-smallest-deep-link.md", "/tutorial/screenshots/nope.png"]
)
def test_an_unknown_chapter_or_picture_is_a_clear_404(client, path):
    page = client.get(path)
    assert page.status_code == 404
    assert "Not Found" in page.get_data(as_text=True)


def test_an_unknown_chapter_says_where_the_chapters_are(client):
    text = client.get("/tutorial/%3Cscript%3E").get_data(as_text=True)
    assert "The tutorial has no such chapter: its chapters are listed at /tutorial." in text
    assert "<script>" not in text


def test_no_file_outside_the_screenshots_is_served(client):
    assert client.get("/tutorial/screenshots/..%2F01-smallest-deep-link.md").status_code == 404
    assert client.get("/tutorial/screenshots/../minimal_app.py").status_code == 404


def test_raw_html_in_a_chapter_is_shown_as_text(app):
    with app.test_request_context():
        html = tutorial.render_markdown(
            "# T\n\n<script>alert(1)</script>\n\n"
            "Some <b>bold</b> [x](javascript:alert(1)) [y](../../billing/flows.py)\n"
        )
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "javascript:" not in html.replace("[x](javascript:alert(1))", "")
    assert "<span>y</span>" in html  # a link into the repository keeps its words only


def test_every_button_has_a_chapter():
    slugs = {c.slug for c in CHAPTERS}
    assert {b.key for b in BUTTONS} == set(tutorial.CHAPTER_OF)
    assert set(tutorial.CHAPTER_OF.values()) <= slugs


def test_the_panels_name_the_deep_link_and_link_its_chapter(client, auth):
    auth.signup()
    pricing = client.get("/").get_data(as_text=True)
    # Subscribe opens Checkout, not a portal step: its panel is a plain API call.
    assert "<summary>Show the API call</summary>" in pricing
    assert 'href="/tutorial/pricing-page">tutorial, chapter 2: Your pricing page from your catalog</a>' in pricing
    auth.subscribe("pro_monthly")
    account = client.get("/account").get_data(as_text=True)
    start = account.index('action="/account/cancel"')
    panel = account[start : account.index("</details>", start)]
    assert "<summary>Show the deep link's API call</summary>" in panel
    assert '<a href="/tutorial/cancel">tutorial, chapter 4: Cancel, with a retention offer</a>' in panel
    assert account.count("Show the deep link's API call") >= 4


def test_the_header_links_the_tutorial(client):
    assert '<a href="/tutorial">Tutorial</a>' in client.get("/").get_data(as_text=True)


def test_there_is_no_tutorial_when_the_kit_teaches_nothing(tmp_path):
    """With a test key and the panels off (as the core's tests run, or live mode), the
    site has no tutorial, no header link and no panel linking to it."""
    app = demo_app(tmp_path)
    client = app.test_client()
    assert client.get("/tutorial").status_code == 404
    assert client.get("/tutorial/cancel").status_code == 404
    assert "/tutorial" not in client.get("/").get_data(as_text=True)
