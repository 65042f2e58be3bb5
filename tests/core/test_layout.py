"""The four parts import each other one way only: ops/ and kit/ build on the core,
the kit also on the stand-in; the core imports none of them, ops never the kit or
the stand-in, and the stand-in nothing of the site (it is a separate Stripe)."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

from tests.helpers import ROOT

PARTS = ("billing", "ops", "kit", "standin")
# part -> the parts it must never import (directly; so nothing reaches them through it either)
FORBIDDEN = {
    "billing": {"ops", "kit", "standin", "app"},
    "ops": {"kit", "standin", "app"},
    "standin": {"billing", "ops", "kit", "app"},
    "kit": {"app"},
}
# The benchmark measures the whole site as `create_app()` builds it, in process too.
EXCEPTIONS = {"ops/bench/site.py": {"app"}, "ops/storm/site.py": {"app"}}


def imported_modules(path: Path) -> set[str]:
    """The top-level modules this file imports, at run time or for types."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def imported_parts(path: Path) -> set[str]:
    """The top-level packages of the project that this file imports."""
    return imported_modules(path) & {*PARTS, "app"}


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_part_imports_only_what_it_builds_on(part):
    folder = ROOT / part
    if not folder.exists():
        pytest.skip(f"{part}/ was deleted (a fork without it)")
    wrong = {
        f"{path.relative_to(ROOT)} imports {other}"
        for path in folder.rglob("*.py")
        for other in imported_parts(path) & FORBIDDEN[part] - EXCEPTIONS.get(str(path.relative_to(ROOT)), set())
    }
    assert not wrong, sorted(wrong)


def test_only_the_stripe_module_of_the_core_imports_stripe_at_run_time():
    """Builders and snapshots may name the SDK's types (under TYPE_CHECKING); calls go through stripe_api."""
    runtime = set()
    for path in (ROOT / "billing").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level, outside `if TYPE_CHECKING:`
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "stripe" for name in names):
                runtime.add(path.name)
    assert runtime == {"stripe_api.py"}


def test_what_only_the_kit_needs_is_marked_and_nothing_else_imports_it():
    """requirements.txt's "kit only" section goes when kit/ does: no other part may need it."""
    kit_only = (ROOT / "requirements.txt").read_text().partition("# ---- kit only")[2].partition("\n")[2]
    distributions = {line.split("==")[0].lower() for line in kit_only.splitlines() if line and line[0] != "#"}
    modules = {
        module
        for module, names in importlib.metadata.packages_distributions().items()
        if {name.lower() for name in names} & distributions
    }
    assert distributions and len(modules) >= len(distributions), (distributions, modules)

    others = [
        ROOT / "app.py",
        *(path for part in ("billing", "ops", "standin") for path in (ROOT / part).rglob("*.py")),
    ]
    wrong = {
        f"{path.relative_to(ROOT)} imports {module}" for path in others for module in imported_modules(path) & modules
    }
    assert not wrong, sorted(wrong)
    if (ROOT / "kit").exists():  # and the kit does use them
        assert modules & set().union(*(imported_modules(path) for path in (ROOT / "kit").rglob("*.py")))
