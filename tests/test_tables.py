"""Tables for people (issue 22): pages show business words for column names, a long table
shows its first and last ten rows with a link to the file that has every row, and every file a
table links is one the report copies beside its pages."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from terrlib.report.downloads import DOWNLOADS
from terrlib.results import SHOWN_ROWS, Result, column_label, format_table

STAGES = Path(__file__).resolve().parents[1] / "terrlib" / "stages"


def test_column_names_in_business_words():
    assert column_label("territory_id") == "Territory"
    assert column_label("win_rate_4q") == "Win rate (last 4 quarters)"
    assert column_label("accounts_with_both") == "Accounts with both"
    assert column_label("utilization") == "Utilization"
    assert column_label("accounts today") == "Accounts today"  # already words
    html = format_table(pd.DataFrame({"territory_id": ["T1"], "bookings_4q_share": [0.25]}))
    assert "territory_id" not in html and "bookings_4q_share" not in html
    assert "Bookings share (last 4 quarters)" in html


def test_two_names_that_meet_in_one_label_are_kept_apart():
    html = format_table(pd.DataFrame({"territory": ["T1"], "territory_id": ["T1"]}))
    assert "territory_id" in html  # "Territory" twice would hide which is which


def test_long_table_shows_first_and_last_rows_and_links_the_file():
    table = pd.DataFrame({"rep_name": [f"Rep {i:02d}" for i in range(44)], "x": np.arange(44)})
    html = Result("Reps", "44 reps.", table, download="rep_scorecard.csv")._repr_html_()
    shown = [f"Rep {i:02d}" for i in range(44) if f">Rep {i:02d}<" in html]
    assert len(shown) == 2 * SHOWN_ROWS
    assert shown[0] == "Rep 00" and shown[-1] == "Rep 43" and "Rep 20" not in shown
    assert 'href="downloads/rep_scorecard.csv"' in html and "of 44 rows" in html
    short = Result("Reps", "Ten.", table.head(10), download="rep_scorecard.csv")._repr_html_()
    assert "Rep 09" in short and "downloads/" not in short
    unlinked = Result("Reps", "44 reps.", table)._repr_html_()
    assert "Rep 20" in unlinked  # nothing to link: every row stays on the page


def test_every_linked_table_file_is_copied_beside_the_report():
    copied = {name for name, _ in DOWNLOADS}
    named = set()
    for path in STAGES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "download":
                assert isinstance(node.value, ast.Constant), path.name
                named.add(node.value.value)
    assert named, "the stages link their long tables"
    assert named <= copied, named - copied


def test_a_hidden_column_the_table_lacks_is_skipped():
    """A plan without districts: the territory table hides a district column it lacks."""
    result = Result("T", "h.", pd.DataFrame({"a": [1]}), hidden=["district"])
    assert "<table" in result._repr_html_()
