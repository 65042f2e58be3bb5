"""The README and the guides in docs/: every relative link and anchor leads somewhere, the
front README stays short enough to read in ten minutes, and every guide is linked from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
# The front README's budget: what it is, the two commands, "Make it yours", the map, links.
README_BYTES = 12_000

FENCED = re.compile(r"^([ \t]*)(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`]*`")
# [text](target) and ![alt](target); the text may run over several lines.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def prose(text: str) -> str:
    """The text without its code, where a bracket or parenthesis is not a link."""
    return INLINE_CODE.sub("", FENCED.sub("", text))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped,
    spaces as hyphens, and -1, -2 ... for a heading seen before."""
    found: set[str] = set()
    for heading in HEADING.findall(prose(path.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n, candidate = 0, slug
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not ours to check
            continue
        name, _, fragment = target.partition("#")
        linked = (path.parent / name).resolve() if name else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
            continue
        if linked.is_dir():
            linked = linked / "README.md"
        if fragment and (linked.suffix != ".md" or fragment not in anchors(linked)):
            broken.append(f"{target}: no heading #{fragment} in {linked.name}")
    return broken


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    assert broken_links(path) == []


def test_the_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "guide.md").write_text("# A guide\n\n## The events to send\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](guide.md#the-events-to-send) [gone](nope.md) [bad anchor](guide.md#nope)\n"
        "`[in code](nope.md)` [web](https://example.com/x) [here](#a-page)\n\n# A page\n\n"
        "```\n[in a block](nope.md)\n```\n"
    )
    assert broken_links(page) == ["nope.md: no such file", "guide.md#nope: no heading #nope in guide.md"]


def test_the_front_readme_is_short():
    assert len(README.read_bytes()) <= README_BYTES


def test_every_guide_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in LINK.findall(prose(README.read_text()))}
    guides = set((ROOT / "docs").glob("*.md"))
    assert sorted(p.name for p in guides - linked) == []
