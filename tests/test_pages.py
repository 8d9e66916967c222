"""The report's pages can be read by everyone: each stage page has a title naming the stage,
company and quarter; every image says what it shows (the figure's description, never
nbconvert's "No description has been provided"); headings go down one level at a time from
a single h1; and a page stays under 1.5 MB."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from terrlib import cli, config
from terrlib.report import page
from terrlib.report.runner import render_html

DEFAULT_ALT = "No description has been provided for this image"
MAX_BYTES = 1_500_000


class Outline(HTMLParser):
    """A page's title, heading levels and images' attributes."""

    def __init__(self, text: str):
        super().__init__()
        self.title, self.headings, self.images, self._in_title = "", [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.headings.append(int(tag[1]))
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag):
        self._in_title &= tag != "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def in_order(levels: list[int]) -> bool:
    """One h1 first, and no heading more than one level below the one before it."""
    if not levels or levels[0] != 1 or levels.count(1) != 1:
        return False
    return all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))


def test_headings_are_put_in_order():
    html = (
        '<h1 id="t">Stage 4</h1><p>x</p><h2 id="s">Sizing</h2><h4>Result title</h4>'
        '<h3 id="u">Under another model</h3><h4>Another result</h4><h2>Next</h2>'
        '<div class="terrlib-skipped"><h4>Thin data</h4></div><h5>deep</h5>'
    )
    fixed = page.ordered_headings(html)
    assert page.heading_levels(fixed) == [1, 2, 3, 3, 4, 2, 3, 4]
    assert in_order(page.heading_levels(fixed)) and not in_order(page.heading_levels(html))
    # only the tags change: ids and text stay
    assert '<h3 id="u">Under another model</h3>' in fixed and "<h3>Result title</h3>" in fixed
    assert page.ordered_headings("<h2 class='a'>A</h2><hr><h3>B</h3>") == (
        "<h1 class='a'>A</h1><hr><h2>B</h2>"
    )


def test_page_title():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_markdown_cell("Intro\n\n# Stage 4 · Workload balancing\n\n## A"),
        ]
    )
    assert page.page_title(nb, "Acme Corp", "2026Q3") == (
        "Stage 4 · Workload balancing — Acme Corp, 2026Q3"
    )
    assert page.page_title(nbformat.v4.new_notebook(), "", "2026Q3") == "Quarterly report — 2026Q3"


@pytest.fixture(scope="module")
def tiny_page(tmp_path_factory) -> Outline:
    """A notebook with a described figure, an undescribed one and a result under an h2, run
    in a real kernel (as the report runs the stages) and rendered as the report does."""
    folder = tmp_path_factory.mktemp("tiny")
    cells = [
        nbformat.v4.new_markdown_cell("# Stage 9 · Test page\n\nWhat it asks."),
        nbformat.v4.new_code_cell(
            "import pandas as pd\nfrom terrlib import plotting\nplotting.set_theme()"
        ),
        nbformat.v4.new_markdown_cell("## Workload"),
        nbformat.v4.new_code_cell(
            "plotting.utilization_bars(pd.DataFrame("
            "{'territory_id': ['T1', 'T2', 'T3'], 'utilization': [1.3, 0.9, 0.7]}));"
        ),
        nbformat.v4.new_code_cell(
            "from terrlib.results import Result\n"
            "Result('Workload per territory', 'Three rows.', pd.DataFrame({'a': [1, 2, 3]}))"
        ),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
            "ax.plot([1, 2])\nax.set(title='Bookings \"net\" <b>', xlabel='quarter');"
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "tiny.ipynb")
    pm.execute_notebook(
        str(folder / "tiny.ipynb"), str(folder / "run.ipynb"), kernel_name="python3",
        progress_bar=False, cwd=str(folder),
    )  # fmt: skip
    render_html(folder / "run.ipynb", folder / "tiny.html", "Acme Corp", "2026Q3")
    return Outline((folder / "tiny.html").read_text(encoding="utf-8"))


def test_a_rendered_page_describes_its_figures(tiny_page):
    assert tiny_page.title == "Stage 9 · Test page — Acme Corp, 2026Q3"
    assert in_order(tiny_page.headings) and tiny_page.headings == [1, 2, 3]
    described, plain = tiny_page.images
    assert described["alt"] == (
        "Bar chart of demand against capacity for 3 territories, highest first: 1 above 115% "
        "(understaffed), 1 below 80% (overstaffed); highest T1 at 130%, lowest T3 at 70%."
    )
    # a figure nobody described still says what it is, from its title and labels
    assert plain["alt"] == 'Chart: Bookings "net" <b> (quarter).'
    for image in tiny_page.images:  # shown at their size: an inch of figure is an inch
        assert 0 < int(image["width"]) <= 1000 and int(image["height"]) > 0


# ------------------------------------------------------------------ the report's pages


@pytest.fixture(scope="module")
def report(small_demo, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pages")
    code = cli.main(
        [
            "report", "--quarter", "2026Q3", "--data", str(small_demo),
            "--out", str(root / "reports"), "--processed", str(root / "processed"),
        ]
    )  # fmt: skip
    assert code == 0
    return root / "reports" / "2026Q3"


@pytest.mark.slow
@pytest.mark.parametrize("stem", config.STAGE_NOTEBOOKS)
def test_stage_page_reads_for_everyone(report, small_data, stem):
    path = report / f"{stem}.html"
    text = path.read_text(encoding="utf-8")
    outline = Outline(text)
    number, name = config.STAGE_TITLES[stem].split(" · ")
    assert outline.title == f"Stage {number} · {name} — {small_data.plan.company}, 2026Q3"
    assert in_order(outline.headings), outline.headings
    assert outline.images, "every stage shows a figure"
    for image in outline.images:
        alt = image.get("alt") or ""
        assert alt != DEFAULT_ALT and len(alt) > 40 and any(c.isdigit() for c in alt), alt
        assert not alt.startswith("Chart:"), alt  # each figure described by its function
        assert 0 < int(image["width"]) <= 1000
    assert path.stat().st_size < MAX_BYTES, f"{stem}: {path.stat().st_size:,} bytes"
