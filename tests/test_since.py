"""Since last quarter (issue 22): the index says what changed against the previous quarter's
report: balance, attainment, ratings, and whether last quarter's proposed moves were made."""

from __future__ import annotations

import pandas as pd

from terrlib.report.since import since_html, since_last_quarter, stage_since


def _write(folder, **frames):
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        pd.DataFrame(frame).to_csv(folder / f"{name}.csv", index=False)


def test_what_changed(tmp_path):
    before, now = tmp_path / "2026Q2", tmp_path / "2026Q3"
    _write(
        before,
        territory_servedness={"territory_id": ["T1", "T2"], "status": ["under-served", "served"]},
        rep_scorecard={"rep_id": ["R1", "R2"], "bookings": [80, 100], "quota": [100, 100]},
        rep_effects={
            "rep_id": ["R1", "R2"],
            "rep_name": ["Ann", "Bo"],
            "rating": ["within the range of the team", "top performer"],
        },
        proposed_alignment={
            "account_id": ["a", "b", "c", "d"],
            "current_territory": ["T1", "T1", "T1", "T2"],
            "proposed_territory": ["T2", "T2", "T2", "T2"],
            "moved": [True, True, True, False],
        },
    )
    _write(
        now,
        territory_servedness={"territory_id": ["T1", "T2"], "status": ["served", "served"]},
        rep_scorecard={"rep_id": ["R1", "R2"], "bookings": [110, 100], "quota": [100, 100]},
        rep_effects={
            "rep_id": ["R1", "R2"],
            "rep_name": ["Ann", "Bo"],
            "rating": ["top performer", "top performer"],
        },
        proposed_alignment={
            "account_id": ["a", "b", "c", "d"],
            "current_territory": ["T2", "T1", "T3", "T2"],
        },
    )
    result = since_last_quarter(now, before, "2026Q3", "2026Q2")
    assert result.moves == {"proposed": 3, "made": 1, "not_made": 1, "elsewhere": 1, "gone": 0}
    made = result.table.set_index("measure").loc["Moves proposed in 2026Q2 made in the CRM"]
    assert made["2026Q3"] == "1 of 3"
    assert "no rep's rating changed" not in result.headline  # Ann's did
    assert "territories under-served 1 → 0" in result.headline
    assert "team attainment 90.0% → 105.0%" in result.headline
    assert "Ann (within the range of the team → top performer)" in result.headline
    assert "Bo" not in result.headline  # unchanged rating
    row = result.table.set_index("measure").loc["Reps rated top performer"]
    assert (row["2026Q2"], row["2026Q3"]) == ("1", "2")
    assert "Since last quarter (2026Q2)" in since_html(result)


def test_a_change_too_small_to_show_is_not_called_one(tmp_path):
    _write(
        tmp_path / "2026Q2", rep_scorecard={"rep_id": ["R1"], "bookings": [1250], "quota": [1000]}
    )
    _write(
        tmp_path / "2026Q3", rep_scorecard={"rep_id": ["R1"], "bookings": [1250.2], "quota": [1000]}
    )
    result = since_last_quarter(tmp_path / "2026Q3", tmp_path / "2026Q2", "2026Q3", "2026Q2")
    assert "attainment" not in result.headline and "no change" in result.headline


def test_no_previous_report_means_no_section(tmp_path):
    _write(tmp_path / "2026Q3", rep_scorecard={"rep_id": ["R1"], "bookings": [1], "quota": [1]})
    assert since_last_quarter(tmp_path / "2026Q3", tmp_path / "2026Q2", "2026Q3", "2026Q2") is None
    assert since_html(None) == ""


def test_a_measure_missing_in_one_quarter_is_shown_as_unknown(tmp_path):
    _write(tmp_path / "2026Q2", rep_scorecard={"rep_id": ["R1"], "bookings": [5], "quota": [10]})
    _write(tmp_path / "2026Q3", territory_servedness={"territory_id": ["T1"], "status": ["served"]})
    result = since_last_quarter(tmp_path / "2026Q3", tmp_path / "2026Q2", "2026Q3", "2026Q2")
    table = result.table.set_index("measure")
    assert table.loc["Team attainment (bookings / quota)", "2026Q3"] == "–"
    assert "no change" in result.headline


def test_each_stage_compares_its_own_measures(tmp_path):
    before, now = tmp_path / "2026Q2", tmp_path / "2026Q3"
    served = {"territory_id": ["T1", "T2", "T3"]}
    accounts = {"account_id": list("abcd"), "customer": [True, False, False, True]}
    _write(
        before,
        territory_servedness=served | {"status": ["balanced", "under-served", "balanced"]},
        icp_scores=accounts | {"tier": ["A", "B", "B", "D"], "score": [10.0, 5.0, 5.0, 1.0]},
        territory_workload=served | {"status": ["understaffed", "balanced", "balanced"]},
    )
    _write(
        now,
        territory_servedness=served | {"status": ["balanced", "balanced", "over-served"]},
        icp_scores=accounts | {"tier": ["A", "A", "B", "D"], "score": [12.0, 6.0, 5.0, 1.0]},
        territory_workload=served | {"status": ["balanced", "balanced", "balanced"]},
        proposed_alignment={"account_id": ["a", "b"], "moved": [True, False]},
    )
    args = (now, before, "2026Q3", "2026Q2")
    first = stage_since("01-strategic-alignment", *args)
    assert first.status_changes["territory_id"].tolist() == ["T2", "T3"]
    assert "T2 (under-served → balanced), T3 (balanced → over-served)" in first.headline
    assert "territories under-served 1 → 0" in first.headline
    icp = stage_since("03-ideal-customer-profile", *args, tiers=("A", "B"))
    assert "prospects in ICP tier A 0 → 1" in icp.headline
    assert "bookings expected over the next four quarters 21 → 24" in icp.headline
    own = stage_since("03-ideal-customer-profile", *args, tiers=("Gold",))
    assert "Prospects in ICP tier Gold (not yet customers)" in own.table["measure"].tolist()
    balancing = stage_since("04-workload-balancing", *args)
    table = balancing.table.set_index("measure")
    overloaded = "Territories overloaded (hours above the plan's limit)"
    assert table.loc[overloaded].tolist() == ["1", "0"]
    assert table.loc["Accounts the proposal moves"].tolist() == ["–", "1"]  # none last quarter
    assert balancing.moves is None  # no proposal was saved last quarter
    assert stage_since("05-performance-review", *args).table.empty  # no scorecards either
    assert (
        stage_since("02-segmentation", tmp_path / "2026Q3", tmp_path / "none", "2026Q3", "2026Q2")
        is None
    )
