"""A demo company whose names are written by an attacker, and checks that no name becomes
markup on a page or a formula in a spreadsheet."""

from __future__ import annotations

import csv
import itertools
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import yaml

#: Names that are markup, spreadsheet formulas, mathtext or quoting if taken as they are.
HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<terrlibxss data-xss="1">Acme</terrlibxss>',
    '=HYPERLINK("http://x","y")',
    "=1+1",
    "+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "-2+3",
    "$x^2$ Holdings",
    '\'quoted & "double"',
    "\tTabbed",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _renamed(values: pd.Series, prefix: str = "") -> dict[str, str]:
    """A hostile name for each distinct value (still distinct, still naming the value)."""
    distinct = list(dict.fromkeys(values.dropna().astype(str)))
    cycle = itertools.cycle(HOSTILE)
    return {v: f"{next(cycle)} {prefix}{v}" for v in distinct}


def make_hostile(folder: Path) -> None:
    """Rewrite a demo company in ``folder`` so that every name a person reads is hostile:
    accounts, reps, industries, products, territories and regions."""
    read = {
        n: pd.read_csv(folder / f"{n}.csv", dtype=str, keep_default_na=False)
        for n in ("accounts", "reps", "opportunities", "activities")
    }
    acc, reps, opps = read["accounts"], read["reps"], read["opportunities"]
    industries = _renamed(acc["industry"])
    territories = _renamed(reps["territory_id"])
    regions = _renamed(pd.concat([acc["region"], reps["region"]]))
    products = _renamed(opps["product"])
    cycle = itertools.cycle(HOSTILE)
    acc["account_name"] = [f"{next(cycle)} {n}" for n in acc["account_name"]]
    reps["rep_name"] = [f"{next(cycle)} {n}" for n in reps["rep_name"]]
    acc["industry"] = acc["industry"].map(industries)
    for frame in (acc, reps):
        frame["territory_id"] = frame["territory_id"].map(territories).fillna("")
        frame["region"] = frame["region"].map(regions)
    opps["product"] = opps["product"].map(products)
    for name, frame in read.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    plan_path = folder / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    strategy = plan.get("strategy", {})
    strategy["priority_industries"] = {
        industries[k]: v for k, v in strategy.get("priority_industries", {}).items()
    }
    plan["company"] = "<script>alert('company')</script> & Co"
    plan_path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def markup_from_data(page: str) -> list[str]:
    """Elements or attributes on ``page`` that came from the hostile names."""
    parser = _Elements()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        if tag == "terrlibxss" or "data-xss" in attrs or "onerror" in attrs:
            found.append(f"<{tag} {attrs}>")
        if tag == "img" and attrs.get("src") == "x":
            found.append(f"<img src=x {attrs}>")
    found += [s[:80] for s in parser.scripts if "alert(" in s]
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def formula_cells_csv(path: Path) -> list[str]:
    """Cells of a CSV that a spreadsheet would take as a formula."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            cell
            for row in csv.reader(handle)
            for cell in row
            if cell.startswith(FORMULA_START) and not _is_number(cell)
        ]


def formula_cells_xlsx(path: Path) -> list[str]:
    """Cells of a workbook stored as formulas or as text a spreadsheet would evaluate."""
    from openpyxl import load_workbook

    found = []
    for sheet in load_workbook(path).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (
                    isinstance(cell.value, str) and cell.value.startswith(FORMULA_START)
                ):
                    found.append(f"{sheet.title}!{cell.coordinate}: {cell.value!r}")
    return found
