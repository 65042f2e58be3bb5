"""What a forker does first to billing/catalog.toml, done to a copy by `make fork-check`:
every product's id, name, tagline, features and lookup keys become the fork's own, a
per-seat plan is added, and one product loses one of its intervals.

The file is edited line by line, as a person would edit it (its comments and layout stay),
from what tomllib reads in it; then it is read again and checked, so a change in the demo's
catalog that this script no longer understands fails here, not later in a puzzling test.

    python .ci/fork_catalog.py billing/catalog.toml   # rewrites it, prints what changed
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

# The fork's plans, in the demo's order; the last is the per-seat plan it adds.
NEW_PLANS = [
    ("solo", "Solo", "One person, one workspace."),
    ("crew", "Crew", "A team under one bill."),
    ("fleet", "Fleet", "Several teams, one invoice."),
    ("harbor", "Harbor", "Every team in the company."),
    ("summit", "Summit", "The whole organisation, with an account manager."),
]
ADDED = ("enterprise", "Enterprise", "Priced per seat, for the whole company.")
ADDED_SEATS = (5, 500)
ADDED_AMOUNTS = {"month": 4900, "year": 49000}
SUFFIX = {"month": "monthly", "year": "yearly"}


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string is a JSON string


def rewrite(text: str) -> tuple[str, dict[str, object]]:
    data = tomllib.loads(text)
    products = data["products"]
    if len(products) > len(NEW_PLANS) or len(products) >= 10:
        sys.exit(f"fork_catalog: {len(products)} products; this script names at most {len(NEW_PLANS)} and adds one")
    fork_words = {word for plan in [*NEW_PLANS, ADDED] for word in plan[:2]}
    if fork_words & ({p["name"] for p in products} | {p["id"] for p in products}):
        sys.exit("fork_catalog: the demo already uses one of the fork's names")
    # The product that loses an interval: the first with a yearly price beside another.
    dropped = next(((p["id"], "year") for p in products if len(p["prices"]) > 1 and "year" in p["prices"]), None)
    if dropped is None:
        sys.exit("fork_catalog: no product has two intervals, one of which to drop")

    out: list[str] = []
    index = -1  # the [[products]] table being read
    in_products = False
    end_of_products = 0  # where in `out` the last product's last line is
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            in_products = stripped == "[[products]]"
            index += in_products
        if in_products:
            renamed = rename_line(line, products[index], NEW_PLANS[index], dropped)
            if renamed is None:
                continue
            out.append(renamed)
            if stripped and not stripped.startswith("#"):
                end_of_products = len(out)
        else:
            out.append(line)
    out[end_of_products:end_of_products] = added_plan()
    new_text = "".join(out)
    return new_text, check(data, tomllib.loads(new_text), dropped)


def rename_line(line: str, product: dict[str, Any], plan: tuple[str, str, str], dropped: tuple[str, str]) -> str | None:
    new_id, new_name, new_tagline = plan
    key = line.split("=", 1)[0].strip()
    indent = line[: len(line) - len(line.lstrip())]
    comment = re.search(r"\s+#.*$", line.rstrip("\n"))
    tail = (comment.group(0) if comment else "") + "\n"
    if key == "id":
        return f"{indent}id = {toml_string(new_id)}{tail}"
    if key == "name":
        return f"{indent}name = {toml_string(new_name)}{tail}"
    if key == "tagline":
        return f"{indent}tagline = {toml_string(new_tagline)}{tail}"
    if key == "features":
        features = [f"{new_name} feature {n}" for n in range(1, len(product.get("features", [])) + 1)]
        return f"{indent}features = [{', '.join(map(toml_string, features))}]{tail}"
    if key.startswith("prices."):
        interval = key.removeprefix("prices.")
        if (product["id"], interval) == dropped:
            return None
        old_key = product["prices"][interval]["lookup_key"]
        return line.replace(toml_string(old_key), toml_string(f"{new_id}_{SUFFIX[interval]}"))
    return line


def added_plan() -> list[str]:
    new_id, name, tagline = ADDED
    low, high = ADDED_SEATS
    prices = [
        f'prices.{interval} = {{ lookup_key = "{new_id}_{SUFFIX[interval]}", amount = {amount} }}\n'
        for interval, amount in ADDED_AMOUNTS.items()
    ]
    return [
        "\n",
        "# Added by the fork: a per-seat plan.\n",
        "[[products]]\n",
        f"id = {toml_string(new_id)}\n",
        f"name = {toml_string(name)}\n",
        f"tagline = {toml_string(tagline)}\n",
        f'features = ["{name} feature 1", "{name} feature 2"]\n',
        f"seats = {{ min = {low}, max = {high} }}\n",
        *prices,
    ]


def check(old: dict[str, Any], new: dict[str, Any], dropped: tuple[str, str]) -> dict[str, object]:
    """What changed, after making sure it is what this script promises."""

    def keys(products: list[dict[str, Any]]) -> set[str]:
        return {price["lookup_key"] for p in products for price in p["prices"].values()}

    before, after = old["products"], new["products"]
    assert len(after) == len(before) + 1, "one product added"
    assert not {p["id"] for p in before} & {p["id"] for p in after}, "every product id renamed"
    assert not {p["name"] for p in before} & {p["name"] for p in after}, "every name renamed"
    assert not keys(before) & keys(after), "every lookup key renamed"
    assert sum("seats" in p for p in after) == sum("seats" in p for p in before) + 1, "a per-seat plan added"
    assert len(keys(after)) == len(keys(before)) - 1 + len(ADDED_AMOUNTS), "one interval removed"
    assert {k: v for k, v in old.items() if k != "products"} == {k: v for k, v in new.items() if k != "products"}
    return {
        "products": f"{len(before)} -> {len(after)}",
        "prices": f"{len(keys(before))} -> {len(keys(after))}",
        "per-seat plans": f"{sum('seats' in p for p in before)} -> {sum('seats' in p for p in after)}",
        "renamed": f"{len(before)} product ids and names, {len(keys(before)) - 1} lookup keys",
        "removed": f"the {dropped[1]}ly price of {dropped[0]!r}",
        "added": f"{ADDED[0]!r}, per seat ({ADDED_SEATS[0]}-{ADDED_SEATS[1]}), {len(ADDED_AMOUNTS)} prices",
    }


def main() -> None:
    path = Path(sys.argv[1])
    new_text, counts = rewrite(path.read_text())
    path.write_text(new_text)
    for what, count in counts.items():
        print(f"  {what}: {count}")


if __name__ == "__main__":
    main()
