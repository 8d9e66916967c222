"""Stage analyses: measures on tiny frames with known answers, and first findings on the demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from terrlib.inputs import coverage
from terrlib.inputs.plan import Plan
from terrlib.periods import latest_complete_quarter, parse_quarter, trailing_bounds
from terrlib.stages import icp, performance, workload


def test_call_hours_by_hand():
    plan = Plan()
    # Enterprise: 24 calls x (90 min + 0.2 x 2 x 60 min travel at 70 km/h for 70 km) / 60
    assert coverage.call_hours(plan, np.array([5000]), np.array([70.0]))[0] == pytest.approx(
        24 * (90 + 0.2 * 2 * 60) / 60
    )
    # SMB next door: the 10-minute floor applies
    assert coverage.call_hours(plan, np.array([10]), np.array([0.0]))[0] == pytest.approx(
        4 * (30 + 0.2 * 2 * 10) / 60
    )


def test_win_rates_with_wilson_interval():
    opps = pd.DataFrame({"stage": ["won"] * 30 + ["lost"] * 70, "g": ["a"] * 100})
    table = icp.win_rates(opps, "g")
    assert table.loc[0, "win_rate"] == pytest.approx(0.3)
    assert table.loc[0, "ci_low"] == pytest.approx(0.2189, abs=1e-3)
    assert table.loc[0, "ci_high"] == pytest.approx(0.3958, abs=1e-3)


def test_quarters():
    assert str(parse_quarter("2026q3")) == "2026Q3"
    assert str(latest_complete_quarter(pd.Timestamp("2026-09-28"))) == "2026Q3"
    assert str(latest_complete_quarter(pd.Timestamp("2026-09-01"))) == "2026Q2"
    start, end = trailing_bounds("2026Q1", 4)
    assert (start, end) == (pd.Timestamp("2025-04-01"), pd.Timestamp("2026-03-31"))
    with pytest.raises(ValueError, match="2026Q3"):
        parse_quarter("Q3 2026")


def test_icp_finds_the_high_converting_industry(small_data, small_truth):
    result = icp.win_rate_profile(small_data, "2026Q3")
    assert result.table.iloc[0]["industry"] == small_truth["high_converting_industry"]
    assert "Manufacturing wins" in result.headline


def test_scorecard_handles_new_rep(small_data, small_truth):
    card = performance.rep_scorecard(small_data, "2026Q3").table.set_index("rep_id")
    reps = small_data.reps.set_index("rep_id")
    new = reps.loc[small_truth["new_reps"], "hire_date"].idxmax()
    assert 1 <= card.loc[new, "quarters_held"] < 4
    assert card["attainment"].notna().all()
    assert "reached quota" in performance.rep_scorecard(small_data, "2026Q3").headline


def test_results_render_html(small_data):
    html = workload.sizing(small_data)._repr_html_()
    assert "<table" in html and "reps" in html
