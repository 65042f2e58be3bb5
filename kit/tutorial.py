"""The tutorial (docs/tutorial/) in the site: /tutorial lists the chapters, and
/tutorial/<chapter> shows one, in the site's own pages. Each "Show the API call"
panel links to the chapter that explains its button (CHAPTER_OF).

The chapters are the same Markdown files a reader opens in the repository, so links
between them and their screenshots are rewritten to the site's addresses here. They
are project files, but raw HTML in them is shown as text, never passed through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup, escape

from billing.buttons import BUTTON
from kit import excerpts

FOLDER = excerpts.ROOT / excerpts.CHAPTERS
SCREENSHOTS = FOLDER / "screenshots"
CHAPTER_FILE = re.compile(r"^(\d+)-([a-z0-9-]+)\.md$")

# The chapter that explains each button of billing/buttons.py's BUTTONS (by its key).
CHAPTER_OF = {
    "subscribe": "pricing-page",
    "switch_plan": "switching-plans",
    "change_interval": "switching-plans",
    "change_quantity": "switching-plans",
    "keep_plan": "switching-plans",  # a downgrade waiting for the period's end, kept
    "plan_picker": "other-flows",
    "pause": "other-flows",
    "resume": "other-flows",
    "cancel": "cancel",
    "update_payment_method": "other-flows",
    "update_details": "other-flows",
    "manage_billing": "other-flows",
}

bp = Blueprint("tutorial", __name__)


@dataclass(frozen=True)
class Chapter:
    number: int
    slug: str
    # As its first line says, Markdown included ("3. Switching plans with `...`").
    heading: str
    path: Path

    @property
    def title(self) -> str:
        """The heading as plain words, without its number."""
        return re.sub(r"^\d+\.\s*", "", self.heading).replace("`", "")

    @property
    def url(self) -> str:
        return url_for("tutorial.chapter", chapter=self.slug)


def chapters(folder: Path = FOLDER) -> list[Chapter]:
    """Every chapter file (NN-name.md), in order."""
    found = []
    for path in sorted(folder.glob("*.md")):
        name = CHAPTER_FILE.match(path.name)
        if name:
            first = path.read_text().split("\n", 1)[0]
            found.append(Chapter(int(name[1]), name[2], first.lstrip("# ").strip(), path))
    return found


def chapter_for(button: str) -> Chapter | None:
    """The chapter that explains `button`, when the site serves the tutorial."""
    if not current_app.extensions.get("tutorial"):
        return None
    slug = CHAPTER_OF.get(button)
    return next((c for c in chapters() if c.slug == slug), None)


def is_deep_link(button: str) -> bool:
    """Whether the button opens one step of the portal (flow_data): what its panel says."""
    return button in BUTTON and BUTTON[button].returns.portal_step


# -- Markdown -> HTML ------------------------------------------------------------------


def _html_as_text(self: Any, tokens: list[Token], index: int, options: Any, env: Any) -> str:
    """Raw HTML is shown as the text it is; a chapter's `<!-- source: ... -->` becomes the
    caption of the code block it quotes."""
    content = tokens[index].content
    quote = excerpts.QUOTE.match(content.strip())
    if quote:
        return f'<p class="source">From <code>{escape(quote[2])}</code></p>\n'
    if tokens[index].type == "html_block":
        return f"<p>{escape(content)}</p>\n"
    return str(escape(content))


def _scrollable_code(self: Any, tokens: list[Token], index: int, options: Any, env: Any) -> str:
    """A code block, whose long lines scroll (tutorial.css), reachable from the keyboard to scroll it."""
    html = RendererHTML.fence(self, tokens, index, options, env)
    return html.replace("<pre>", '<pre tabindex="0">', 1)


MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
MARKDOWN.add_render_rule("html_block", _html_as_text)
MARKDOWN.add_render_rule("html_inline", _html_as_text)
MARKDOWN.add_render_rule("fence", _scrollable_code)


def _site_address(link: str, slugs: dict[str, str]) -> str | None:
    """Where a link of the Markdown files goes in the site (None: nowhere, show its text)."""
    if link.startswith(("http://", "https://", "mailto:", "#")):
        return link
    target, _, fragment = link.partition("#")
    anchor = f"#{fragment}" if fragment else ""
    if target in ("", "README.md", "./"):
        return url_for("tutorial.index") + anchor
    if target in slugs:
        return url_for("tutorial.chapter", chapter=slugs[target]) + anchor
    if target.startswith("screenshots/") and "/" not in target.removeprefix("screenshots/"):
        return url_for("tutorial.screenshot", name=target.removeprefix("screenshots/"))
    return None


def render_markdown(text: str) -> Markup:
    """A chapter's Markdown as HTML for the site (raw HTML escaped, links rewritten)."""
    slugs = {c.path.name: c.slug for c in chapters()}
    tokens = MARKDOWN.parse(text)
    for token in tokens:
        opened = "a"  # links do not nest: each link_close closes the link_open before it
        for child in token.children or []:
            if child.type == "link_close":
                child.tag = opened
                continue
            attribute = {"link_open": "href", "image": "src"}.get(child.type)
            if attribute is None:
                continue
            address = _site_address(str(child.attrs.get(attribute, "")), slugs)
            if address is not None:
                child.attrs[attribute] = address
            elif child.type == "link_open":
                child.tag, child.attrs = "span", {}  # a file of the repository: its name only
            opened = child.tag if child.type == "link_open" else opened
    return Markup(MARKDOWN.renderer.render(tokens, MARKDOWN.options, {}))


# -- Pages ------------------------------------------------------------------------------


@bp.get("/tutorial")
def index() -> ResponseReturnValue:
    """The tutorial's introduction and its list of chapters."""
    html = render_markdown((FOLDER / "README.md").read_text())
    return render_template("kit/tutorial.html", html=html, title="Tutorial", previous=None, next=None)


@bp.get("/tutorial/<chapter>")
def chapter(chapter: str) -> ResponseReturnValue:
    """One chapter, with the ones before and after it."""
    everything = chapters()
    found = next((i for i, c in enumerate(everything) if c.slug == chapter), None)
    if found is None:
        abort(404, description="The tutorial has no such chapter: its chapters are listed at /tutorial.")
    this = everything[found]
    return render_template(
        "kit/tutorial.html",
        html=render_markdown(this.path.read_text()),
        title=f"Tutorial: {this.title}",
        previous=everything[found - 1] if found > 0 else None,
        next=everything[found + 1] if found + 1 < len(everything) else None,
    )


@bp.get("/tutorial/screenshots/<name>")
def screenshot(name: str) -> ResponseReturnValue:
    """A chapter's screenshot (made by `make screenshots`)."""
    return send_from_directory(SCREENSHOTS, name)


def init_app(app: Flask, enabled: bool) -> None:
    """Serve the tutorial, link it from the header and from each panel, when `enabled`."""
    app.add_template_global(chapter_for, "tutorial_chapter")
    app.add_template_global(is_deep_link)
    app.extensions["tutorial"] = enabled
    if not enabled:
        return
    app.register_blueprint(bp)
    slots = app.extensions.setdefault("slots", {})
    slots.setdefault("head", []).append("kit/_tutorial_head.html")
    slots.setdefault("header", []).append("kit/_tutorial_link.html")
