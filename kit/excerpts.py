"""The tutorial's code blocks are excerpts of the source, so they cannot drift from it.

A region of a source file is the lines between two marker comments, each alone on its
line: `[tutorial: NAME]` and `[end]`, written as a comment of the file's language
(`#` in Python and TOML, `{# ... #}` in Jinja). A chapter in docs/tutorial/ quotes a
region with an HTML comment on the line before a fenced code block,
`<!-- source: billing/flows.py#cancel -->`, or a whole file without `#NAME`. The guides'
excerpts (docs/*.md, such as docs/buttons.md) and the README's are checked the same way.

    make tutorial    rewrite every quoted block from the source (main())
    main(["--check"])  list what differs or is broken; exit 1 if anything is

The tutorial's test runs the check (tests/kit/test_tutorial_excerpts.py): a changed line
in a region fails it until the chapters are regenerated, and read again.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = Path("docs/tutorial")
GUIDES = Path("docs")
# Where regions may be marked: the project's code, templates and catalog, not its tests.
SOURCE_PATTERNS = ("*.py", "*.html", "*.toml")
SKIPPED_FOLDERS = frozenset({".venv", "tests", "node_modules", "migrations", ".git", "instance"})


def _marker(inside: str) -> re.Pattern[str]:
    """A comment alone on its line, `#` or Jinja's, that holds `[inside]`."""
    return re.compile(r"^\s*(?:#|\{#-?)\s*\[" + inside + r"\]\s*(?:-?#\})?\s*$")


START = _marker(r"tutorial:\s*([a-z0-9][a-z0-9-]*)")
END = _marker("end")
# Indented as the block it comes before (a block in a list item is indented).
QUOTE = re.compile(r"^([ \t]*)<!--\s*source:\s*([\w./-]+?)(?:#([a-z0-9][a-z0-9-]*))?\s*-->\s*$")
FENCE = re.compile(r"^(`{3,})[^`]*$")


class BrokenMarkers(Exception):
    """A source file whose markers do not pair up."""


@dataclass(frozen=True)
class Quote:
    """A fenced block of a chapter that quotes a source region (or a whole file)."""

    chapter: Path
    # 1-based line of the `<!-- source: ... -->` comment.
    line: int
    source: str
    region: str | None
    # The block's content lines: lines[first:last] of the chapter.
    first: int
    last: int
    # The block's content without its indent.
    text: str
    indent: str = ""

    @property
    def name(self) -> str:
        return self.source + (f"#{self.region}" if self.region else "")


def regions(text: str, where: str) -> dict[str, str]:
    """Each region of a source file: its name -> its lines, dedented, ending in a newline."""
    found: dict[str, str] = {}
    name, start = None, 0
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        opened, closed = START.match(line), END.match(line)
        if opened and name is not None:
            raise BrokenMarkers(
                f"{where}:{number}: region {opened[1]} starts inside region {name} (no [end] before it)"
            )
        if opened:
            name, start = opened[1], number
            if name in found:
                raise BrokenMarkers(f"{where}:{number}: a second region named {name}")
        elif closed and name is None:
            raise BrokenMarkers(f"{where}:{number}: [end] with no [tutorial: ...] before it")
        elif closed and name is not None:
            # Blank lines the formatter puts around a marker are not part of the region.
            found[name] = textwrap.dedent("".join(lines[start : number - 1])).strip("\n") + "\n"
            name = None
    if name is not None:
        raise BrokenMarkers(f"{where}:{start}: region {name} has no [end]")
    return found


def whole_file(text: str) -> str:
    """A file quoted whole, without any marker lines it has."""
    return "".join(line for line in text.splitlines(keepends=True) if not (START.match(line) or END.match(line)))


def quotes(chapter: Path, text: str) -> list[Quote]:
    """The quoted blocks of one chapter, in order."""
    found = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        quote = QUOTE.match(line)
        if quote is None:
            continue
        indent = quote[1]
        after = lines[index + 1] if index + 1 < len(lines) else ""
        fence = FENCE.match(after[len(indent) :]) if after.startswith(indent) else None
        close = fence and next((i for i in range(index + 2, len(lines)) if lines[i] == indent + fence[1]), None)
        if fence is None or close is None:
            raise BrokenMarkers(f"{chapter}:{index + 1}: {line.strip()} is not followed by a fenced code block")
        body = "".join(f"{content.removeprefix(indent)}\n" for content in lines[index + 2 : close])
        found.append(Quote(chapter, index + 1, quote[2], quote[3], index + 2, close, body, indent))
    return found


def source_files(root: Path) -> list[Path]:
    return sorted(
        path
        for pattern in SOURCE_PATTERNS
        for path in root.rglob(pattern)
        if not SKIPPED_FOLDERS.intersection(path.relative_to(root).parts)
    )


def documents(root: Path) -> list[Path]:
    """What may quote the source: the tutorial's chapters, the guides, and the README."""
    readme = root / "README.md"
    guides = sorted((root / GUIDES).glob("*.md"))
    return sorted((root / CHAPTERS).glob("*.md")) + guides + ([readme] if readme.is_file() else [])


@dataclass
class Survey:
    """What the check found: every region by file, every quote, and what is wrong."""

    regions: dict[str, dict[str, str]]
    quotes: list[Quote]
    problems: list[str]

    def wanted(self, quote: Quote, root: Path) -> str | None:
        """What `quote` should say now (None: what it names does not exist)."""
        if quote.region is None:
            path = root / quote.source
            return whole_file(path.read_text()) if path.is_file() else None
        return self.regions.get(quote.source, {}).get(quote.region)


def survey(root: Path = ROOT) -> Survey:
    found, problems = {}, []
    for path in source_files(root):
        text = path.read_text()
        if "[tutorial:" not in text and "[end]" not in text:
            continue
        relative = path.relative_to(root).as_posix()
        try:
            found[relative] = regions(text, relative)
        except BrokenMarkers as e:
            problems.append(str(e))
    all_quotes = []
    for chapter in documents(root):
        try:
            all_quotes += quotes(chapter.relative_to(root), chapter.read_text())
        except BrokenMarkers as e:
            problems.append(str(e))
    result = Survey({k: v for k, v in found.items() if v}, all_quotes, problems)
    for quote in all_quotes:
        where = f"{quote.chapter}:{quote.line}"
        wanted = result.wanted(quote, root)
        if not (root / quote.source).is_file():
            problems.append(f"{where} quotes {quote.name}, but there is no file {quote.source}")
        elif wanted is None:
            problems.append(f"{where} quotes {quote.name}, but {quote.source} has no [tutorial: {quote.region}] marker")
        elif wanted != quote.text:
            diff = difflib.unified_diff(
                quote.text.splitlines(), wanted.splitlines(), f"{where} (quoted)", f"{quote.name} (now)", lineterm=""
            )
            problems.append(
                f"{where} quotes {quote.name}, which has changed (run `make tutorial`):\n" + "\n".join(diff)
            )
    quoted = {(q.source, q.region) for q in all_quotes}
    for source, names in result.regions.items():
        problems += [
            f"{source}: region {name} is quoted by no chapter (quote it, or remove its markers)"
            for name in names
            if (source, name) not in quoted
        ]
    return result


def indented(text: str, indent: str) -> str:
    return "".join(indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def regenerate(root: Path = ROOT) -> tuple[list[Path], list[str]]:
    """Rewrite every quoted block from the source. Returns the chapters changed and
    the problems a rewrite cannot fix (a missing or unpaired marker)."""
    found = survey(root)
    changed = []
    for chapter in documents(root):
        relative = chapter.relative_to(root)
        lines = chapter.read_text().splitlines(keepends=True)
        # From the last block up, so the earlier blocks' line numbers still hold.
        for quote in reversed([q for q in found.quotes if q.chapter == relative]):
            wanted = found.wanted(quote, root)
            if wanted is not None and wanted != quote.text:
                lines[quote.first : quote.last] = [indented(wanted, quote.indent)]
        text = "".join(lines)
        if text != chapter.read_text():
            chapter.write_text(text)
            changed.append(relative)
    return changed, survey(root).problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make tutorial", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any block differs")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problems = survey(args.root).problems
    else:
        changed, problems = regenerate(args.root)
        for path in changed:
            print(f"rewrote the quoted blocks of {path}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("every quoted block matches its source")
    return 1 if problems else 0
