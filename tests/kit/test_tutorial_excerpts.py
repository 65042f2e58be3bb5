"""The tutorial's code blocks are the source's marked regions, word for word: a chapter
that drifts from the code, a quoted region whose markers are gone, or markers that do
not pair up fail here; `make tutorial` rewrites the blocks from the source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kit import excerpts
from tests.helpers import ROOT


def test_every_chapter_quotes_the_source_as_it_is_now():
    found = excerpts.survey(ROOT)
    assert found.problems == [], "\n\n".join(found.problems)
    assert len(found.quotes) >= 10
    # Few markers, each quoted: the core stays readable.
    assert 10 <= sum(len(names) for names in found.regions.values()) <= 16


def test_chapter_one_quotes_the_minimal_app_whole():
    [quote] = [q for q in excerpts.survey(ROOT).quotes if q.chapter.name.startswith("01-")]
    assert quote.source == "docs/tutorial/minimal_app.py" and quote.region is None
    assert '"type": "subscription_cancel"' in quote.text


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project: one source file with a region, one chapter quoting it."""
    (tmp_path / "docs" / "tutorial").mkdir(parents=True)
    (tmp_path / "app.py").write_text(
        "import os\n\n    # [tutorial: greet]\n    def greet():\n        return 'hi'\n    # [end]\n"
    )
    (tmp_path / "page.html").write_text("{# [tutorial: page] #}\n<p>{{ x }}</p>\n{# [end] #}\n")
    chapter = (
        "# One\n\n<!-- source: app.py#greet -->\n```python\n```\n\n<!-- source: page.html#page -->\n```jinja\n```\n"
    )
    (tmp_path / "docs" / "tutorial" / "01-one.md").write_text(chapter)
    changed, problems = excerpts.regenerate(tmp_path)
    assert changed == [Path("docs/tutorial/01-one.md")] and problems == []
    return tmp_path


def chapter(project: Path) -> str:
    return (project / "docs" / "tutorial" / "01-one.md").read_text()


def test_regenerating_fills_each_block_with_its_region_dedented(project):
    assert "```python\ndef greet():\n    return 'hi'\n```" in chapter(project)
    assert "```jinja\n<p>{{ x }}</p>\n```" in chapter(project)
    assert excerpts.regenerate(project) == ([], [])  # a second run changes nothing


def test_a_changed_line_in_a_region_fails_until_regenerated(project):
    source = project / "app.py"
    source.write_text(source.read_text().replace("'hi'", "'hello'"))
    [problem] = excerpts.survey(project).problems
    assert problem.startswith("docs/tutorial/01-one.md:3 quotes app.py#greet, which has changed")
    assert "-    return 'hi'\n+    return 'hello'" in problem
    excerpts.regenerate(project)
    assert excerpts.survey(project).problems == []
    assert "return 'hello'" in chapter(project)


def test_a_changed_line_in_the_chapter_fails_too(project):
    path = project / "docs" / "tutorial" / "01-one.md"
    path.write_text(chapter(project).replace("return 'hi'", "return 'hey'"))
    [problem] = excerpts.survey(project).problems
    assert "app.py#greet, which has changed" in problem


def test_a_quoted_region_whose_markers_are_gone_fails(project):
    source = project / "app.py"
    source.write_text(source.read_text().replace("    # [tutorial: greet]\n", "").replace("    # [end]\n", ""))
    assert excerpts.survey(project).problems == [
        "docs/tutorial/01-one.md:3 quotes app.py#greet, but app.py has no [tutorial: greet] marker"
    ]
    _, problems = excerpts.regenerate(project)
    assert problems  # regenerating can't invent a region


def test_a_quote_of_a_missing_file_or_region_fails(project):
    path = project / "docs" / "tutorial" / "01-one.md"
    path.write_text(
        chapter(project) + "\n<!-- source: gone.py#x -->\n```python\n```\n<!-- source: app.py#nope -->\n```\n```\n"
    )
    assert excerpts.survey(project).problems == [
        "docs/tutorial/01-one.md:14 quotes gone.py#x, but there is no file gone.py",
        "docs/tutorial/01-one.md:17 quotes app.py#nope, but app.py has no [tutorial: nope] marker",
    ]


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# [tutorial: greet]\nx = 1\n", "app.py:1: region greet has no [end]"),
        ("x = 1\n# [end]\n", "app.py:2: [end] with no [tutorial: ...] before it"),
        (
            "# [tutorial: greet]\n# [tutorial: other]\n# [end]\n",
            "app.py:2: region other starts inside region greet (no [end] before it)",
        ),
        ("# [tutorial: greet]\n# [end]\n# [tutorial: greet]\n# [end]\n", "app.py:3: a second region named greet"),
    ],
)
def test_unpaired_or_repeated_markers_fail(project, source, problem):
    (project / "app.py").write_text(source)
    assert problem in excerpts.survey(project).problems


def test_a_region_no_chapter_quotes_fails(project):
    (project / "more.py").write_text("# [tutorial: unused]\nx = 1\n# [end]\n")
    assert excerpts.survey(project).problems == [
        "more.py: region unused is quoted by no chapter (quote it, or remove its markers)"
    ]


def test_a_source_comment_needs_a_fenced_block(project):
    path = project / "docs" / "tutorial" / "01-one.md"
    path.write_text(chapter(project) + "\n<!-- source: app.py#greet -->\nno block here\n")
    assert "is not followed by a fenced code block" in excerpts.survey(project).problems[0]


def test_the_command_line_checks_and_regenerates(project, capsys):
    source = project / "app.py"
    source.write_text(source.read_text().replace("'hi'", "'hello'"))
    assert excerpts.main(["--check", "--root", str(project)]) == 1
    assert "which has changed (run `make tutorial`)" in capsys.readouterr().err
    assert excerpts.main(["--root", str(project)]) == 0
    assert "rewrote the quoted blocks of docs/tutorial/01-one.md" in capsys.readouterr().out
    assert excerpts.main(["--check", "--root", str(project)]) == 0


def test_tests_are_not_searched_for_markers(project):
    shutil.copytree(project / "docs", project / "tests" / "docs")
    (project / "tests" / "t.py").write_text("# [tutorial: fake]\n")
    assert excerpts.survey(project).problems == []


def test_the_readme_quotes_too_even_inside_a_list_item(project):
    readme = project / "README.md"
    readme.write_text("1. The view:\n\n   <!-- source: app.py#greet -->\n   ```python\n   old\n   ```\n")
    [problem] = excerpts.survey(project).problems
    assert problem.startswith("README.md:3 quotes app.py#greet, which has changed")
    excerpts.regenerate(project)
    assert readme.read_text() == (
        "1. The view:\n\n   <!-- source: app.py#greet -->\n   ```python\n   def greet():\n       return 'hi'\n   ```\n"
    )
    assert excerpts.survey(project).problems == []


def test_a_guide_in_docs_quotes_too(project):
    guide = project / "docs" / "buttons.md"
    guide.write_text("# Buttons\n\n<!-- source: app.py#greet -->\n```python\nold\n```\n")
    [problem] = excerpts.survey(project).problems
    assert problem.startswith("docs/buttons.md:3 quotes app.py#greet, which has changed")
    excerpts.regenerate(project)
    assert "    return 'hi'\n```\n" in guide.read_text()
    assert excerpts.survey(project).problems == []
