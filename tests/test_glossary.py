"""One glossary (issue 22): every measure the report uses defined once, on a page of its own,
and defined as the code computes it."""

from __future__ import annotations

import html
from dataclasses import replace

import pandas as pd

from terrlib.report.glossary import GLOSSARY, glossary_html
from terrlib.stages import measures, performance, segmentation


def test_every_term_is_on_the_page_once():
    page = glossary_html("<Demo>", "2026Q3")
    for term in GLOSSARY:
        assert page.count(f"<dt>{html.escape(term)}</dt>") == 1, term
    assert "&lt;Demo&gt;" in page and "<Demo>" not in page
    assert 'href="index.html"' in page


def test_the_measures_the_issue_names_are_defined():
    names = " ".join(GLOSSARY).lower()
    for measure in (
        "utilization",
        "workload",
        "capacity",
        "fte",
        "potential",
        "penetration",
        "attainment",
        "quota",
        "win rate",
        "sales cycle",
        "roi",
        "bookings",
        "icp score",
        "rating",
        "multiplier",
        "certified gap",
        "reach",
        "compactness",
        "overlap",
    ):
        assert measure in names, measure


def test_a_territory_has_one_return_on_cost(small_data):
    """The glossary's ROI: the last four quarters' bookings over the rep's cost for the
    quarters of those four they held the territory; stage 2 (a territory) and stage 5 (its
    rep) give the same figure, also for a rep hired half a year ago."""
    reps = small_data.reps.copy()
    newest = reps.index[0]
    reps.loc[newest, "hire_date"] = pd.Timestamp("2026-04-15")  # two quarters held in 2026Q3
    data = replace(small_data, reps=reps)
    scores = segmentation.account_scores(
        data, "2026Q3", measures.account_potential(data, "2026Q3").table
    )
    stage2 = segmentation.territory_economics(data, "2026Q3", scores).table
    stage5 = performance.rep_scorecard(data, "2026Q3").table
    both = stage2.merge(stage5, on="territory_id", suffixes=("_2", "_5"))
    same_bookings = both["bookings_4q_2"].round(2) == both["bookings_4q_5"].round(2)
    assert same_bookings.sum() >= len(both) - 2  # the demo's reps win their own accounts' deals
    agree = both[same_bookings]
    assert reps.loc[newest, "territory_id"] in set(agree["territory_id"])
    pd.testing.assert_series_equal(
        agree["roi"], agree["roi_4q"], check_names=False, check_index=False
    )
    assert "held the territory" in GLOSSARY["Return on cost (ROI)"]


def test_definitions_are_in_business_words():
    """Function names are for analysts: on hover (each names a real function), not in the
    text a sales leader reads."""
    import importlib

    from terrlib.report.glossary import SOURCES

    for term, text in GLOSSARY.items():
        assert "terrlib" not in text and "_" not in text, term
    assert set(SOURCES) <= set(GLOSSARY)
    for where in SOURCES.values():
        first = where.split(",")[0].split(" (")[0]
        module, name = first.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), where
    page = glossary_html("Demo", "2026Q3")
    assert 'title="Computed by terrlib.stages.measures.account_workload"' in page
