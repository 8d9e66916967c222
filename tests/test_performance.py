"""Stage 5: scorecard measures on tiny frames, and the adjusted ratings recover the demo's
planted strong, weak and misleading reps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from truth import rating_recovery

from terrlib.stages import measures, performance


@pytest.fixture(scope="module")
def stage5(small_data):
    scores = measures.account_potential(small_data, "2026Q3").table
    panel = performance.rep_quarter_panel(small_data, "2026Q3", scores)
    return {
        "scores": scores,
        "panel": panel,
        "card": performance.rep_scorecard(small_data, "2026Q3"),
        "effects": performance.rep_effects(small_data, "2026Q3", panel),
    }


@pytest.fixture(scope="module")
def rated_companies(seeded_companies) -> list[dict]:
    """The five seeded companies rated as of 2026Q3, with their planted truth: planted-truth
    tests assert rates over these, not one seed's numbers."""
    out = []
    for company in seeded_companies:
        data, truth = company["data"], company["truth"]
        panel = performance.rep_quarter_panel(data, "2026Q3")
        effects = performance.rep_effects(data, "2026Q3", panel)
        out.append(
            {
                "truth": truth,
                "effects": effects.table.set_index("rep_id"),
                "recovery": rating_recovery(effects.table, truth),
            }
        )
    return out


def tiny(small_data) -> object:
    """Two reps, a handful of deals in 2026Q3 with known answers."""
    reps = small_data.reps.head(2).copy()
    reps["quarterly_quota"] = [100.0, 200.0]
    reps["capacity_hours"] = [1000.0, 1000.0]
    reps["annual_cost"] = [100.0, 100.0]
    reps["hire_date"] = pd.Timestamp("2020-01-01")
    r1, r2 = reps["rep_id"]
    acc = small_data.accounts["account_id"].iloc[0]
    day = pd.Timestamp
    opps = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2", "o3", "o4", "o5"],
            "account_id": [acc] * 5,
            "rep_id": [r1, r1, r1, r2, r2],
            "product": ["X"] * 5,
            "created_date": [
                day("2026-07-01"),
                day("2026-07-01"),
                day("2026-08-01"),
                day("2026-07-01"),
                day("2026-09-01"),
            ],
            "close_date": [day("2026-07-11"), day("2026-07-21"), pd.NaT, day("2026-09-30"), pd.NaT],
            "stage": ["won", "lost", "open", "won", "open"],
            "amount": [150.0, 50.0, 300.0, 100.0, 400.0],
        }
    )
    acts = small_data.activities.head(3).assign(
        rep_id=[r1, r1, r2],
        activity_date=day("2026-08-01"),
        activity_type=["call", "visit", "call"],
    )
    return replace(small_data, reps=reps, opportunities=opps, activities=acts), r1, r2


def test_scorecard_by_hand(small_data):
    data, r1, r2 = tiny(small_data)
    card = performance.rep_scorecard(data, "2026Q3").table.set_index("rep_id")
    assert card.loc[r1, "bookings"] == 150 and card.loc[r1, "attainment"] == pytest.approx(1.5)
    assert card.loc[r2, "attainment"] == pytest.approx(0.5)
    assert card.loc[r1, "win_rate_4q"] == pytest.approx(0.5)
    assert card.loc[r2, "win_rate_4q"] == pytest.approx(1.0)
    assert card.loc[r1, "pipeline_coverage"] == pytest.approx(300 / 100)
    assert card.loc[r1, "pipeline_created"] == pytest.approx(500)
    assert card.loc[r1, "cycle_days_4q"] == 10
    assert card.loc[r1, "revenue_per_hour"] == pytest.approx(150 / 1000)
    assert card.loc[r1, "roi_4q"] == pytest.approx(1.5)
    assert card.loc[r1, "call_share"] == pytest.approx(0.5)
    assert card.loc[r1, "activities"] == 2


def test_bookings_change_adds_up():
    frame = pd.DataFrame(
        {"decided": [20, 25, 30], "won": [5, 10, 9], "bookings": [50.0, 130.0, 81.0]}
    )
    parts = performance.bookings_change(frame).dropna()
    assert np.allclose(parts["change"], parts[["volume", "win_rate", "deal_size"]].sum(axis=1))
    assert parts.loc[1, "volume"] == pytest.approx(np.log(25 / 20))
    assert parts.loc[1, "win_rate"] == pytest.approx(np.log((10 / 25) / (5 / 20)))


def test_ratings_recover_planted_skill_over_seeds(rated_companies):
    rec = pd.DataFrame([c["recovery"] for c in rated_companies])
    # Planted skill: four strong and four weak reps at +-0.75 to 0.95 on the win log-odds, the
    # rest +-0.12, which eleven quarters cannot rank. Measured over seeds 1-8 (benchmarks/
    # recovery.py --sizes 900x20): Spearman 0.78-0.93 (mean 0.86), 94% of reps' skill inside
    # their interval, no flag on the wrong side.
    assert rec["spearman"].mean() >= 0.7
    assert (rec["spearman"] >= 0.6).sum() >= 4
    pooled = (rec["coverage"] * rec["rated"]).sum() / rec["rated"].sum()
    assert pooled >= 0.85  # 95% intervals: at most 90 of 95 reps' skill inside is a miss
    assert rec["false_tops"].sum() + rec["false_helps"].sum() <= 1
    assert rec["strong_above_weak"].sum() >= 4
    assert (rec["tops"] > 0).sum() >= 4 and (rec["helps"] > 0).sum() >= 4  # flags do happen


def test_misleading_attainment_flagged_over_seeds(rated_companies):
    flattered_ok, hidden = 0, []
    for company in rated_companies:
        eff, truth = company["effects"], company["truth"]
        flattered = eff.loc[truth["misleading_weak_rep_rich_territory"]]
        # the weak rep in a rich territory: at quota, yet rated below the team
        flattered_ok += bool(
            flattered["raw_attainment_says"] == "flattered by the territory"
            and flattered["adjusted_rank"] > flattered["raw_rank"] + 5
        )
        # the strong rep in a poor territory (which may bring too few deals for a rating):
        # rated above the team; when below quota, ranked higher than raw attainment ranks them
        strong = eff.loc[truth["misleading_strong_rep_poor_territory"]]
        if pd.notna(strong["multiplier"]):
            below_quota = strong["attainment_4q"] < 1
            hidden.append(
                strong["multiplier"] > 1
                and (not below_quota or strong["adjusted_rank"] < strong["raw_rank"])
            )
    assert flattered_ok >= 4
    assert len(hidden) >= 3 and sum(hidden) >= 0.8 * len(hidden)


def test_intervals_and_probabilities_are_coherent(stage5):
    eff = stage5["effects"].table.dropna(subset=["effect"])
    assert (eff["multiplier_low"] <= eff["multiplier"]).all()
    assert (eff["multiplier"] <= eff["multiplier_high"]).all()
    assert eff["p_top_quartile"].between(0, 1).all()
    # expected count of top-quartile reps equals the size of the top quartile
    assert eff["p_top_quartile"].sum() == pytest.approx(round(len(eff) / 4), abs=0.05)
    top = eff[eff["rating"] == "top performer"]
    helps = eff[eff["rating"] == "needs help"]
    assert (top["multiplier_low"] >= 1).all() and (helps["multiplier_high"] <= 1).all()
    assert (eff.loc[eff["rating"].str.contains("performer|help"), "false_sign"] <= 0.025).all()
    assert set(eff["rating"]) <= {"top performer", "needs help", "within the range of the team"}


def test_new_rep_with_one_quarter(small_data, small_truth):
    data = small_data.as_of("2026Q2")
    hires = data.reps.set_index("rep_id")["hire_date"]
    newest = hires.idxmax()
    assert hires[newest] >= pd.Timestamp("2026-04-01")  # hired in 2026Q2
    scores = measures.account_potential(data, "2026Q2").table
    panel = performance.rep_quarter_panel(data, "2026Q2", scores)
    eff = performance.rep_effects(data, "2026Q2", panel).table.set_index("rep_id")
    assert eff.loc[newest, "rating"].startswith("too little history")
    assert pd.isna(eff.loc[newest, "multiplier"])
    card = performance.rep_scorecard(data, "2026Q2").table.set_index("rep_id")
    assert card.loc[newest, "quarters_held"] == 1


def test_quarter_without_closed_deals(small_data):
    opps = small_data.opportunities
    in_q = opps["close_date"].between("2026-07-01", "2026-09-30")
    data = replace(small_data, opportunities=opps[~in_q])
    card = performance.rep_scorecard(data, "2026Q3")
    assert (card.table["bookings"] == 0).all() and (card.table["attainment"] == 0).all()
    panel = performance.rep_quarter_panel(data, "2026Q3")
    change = performance.trends(panel, "2026Q3")
    assert "cannot be split" in change.headline
    effects = performance.rep_effects(data, "2026Q3", panel)
    assert effects.table["multiplier"].notna().any()


def test_too_few_reps_refused(stage5, small_data):
    panel = stage5["panel"]
    few = panel[panel["rep_id"].isin(panel["rep_id"].unique()[:3])]
    with pytest.raises(ValueError, match="at least 5 reps"):
        performance.rep_effects(small_data, "2026Q3", few)


def test_summary_and_territory_return(stage5, small_data):
    change = performance.trends(stage5["panel"], "2026Q3")
    sentences = performance.summary(stage5["card"], stage5["effects"], change)
    assert 3 <= len(sentences) <= 4 and all(any(c.isdigit() for c in s) for s in sentences)
    ret = performance.territory_return(stage5["card"], stage5["effects"], None, stage5["scores"])
    assert ret.table["penetration"].notna().all()


def test_decisions_name_only_credible_reps(stage5):
    eff = stage5["effects"].table
    lines = performance.decisions(stage5["effects"])
    flagged = eff[eff["rating"].isin(["top performer", "needs help"])]
    assert len(lines) == max(1, len(flagged))
    for line in lines:
        assert line.topic == "Reps to recognise or coach"
        assert line.text.startswith(("Recognise", "Coach", "No rep"))
    named = {n for n in eff["rep_name"] if any(n in line.text for line in lines)}
    assert named == set(flagged["rep_name"])
    # what the other pages say of a named rep is said beside it
    order = pd.concat([eff[eff["rating"] == "top performer"], eff[eff["rating"] == "needs help"]])
    for line, r in zip(lines[: len(order)], order.itertuples(), strict=True):
        if r.raw_attainment_says == "flattered by the territory":
            assert "overstates them" in line.text
        elif r.raw_attainment_says == "hidden by the territory":
            assert "understates them" in line.text
    if not flagged.empty:
        first = flagged.iloc[0]
        effort = pd.DataFrame(
            {
                "rep_id": eff["rep_id"],
                "effort_index": np.where(eff["rep_id"] == first["rep_id"], 0.1, 1.0),
            }
        )
        off = performance.decisions(stage5["effects"], effort)
        said = [line.text for line in off if first["rep_name"] in line.text][0]
        assert ("furthest from the strategy" in said) == (first["rating"] == "top performer")


def test_multipliers_never_read_as_one_when_they_are_not():
    assert performance._times(1.0006) == "1.001x" and performance._times(0.9994) == "0.999x"
    assert performance._times(1.004) == "1.004x" and performance._times(1.006) == "1.01x"
    assert performance._times(1.2345) == "1.23x"


def test_rep_trends_are_percentage_changes(stage5):
    """Each rep's change in bookings is shown as a percentage, and it is the product of its
    parts (volume, win rate, deal size), not a log ratio such as "-3.17"."""
    t = performance.trends(stage5["panel"], "2026Q3").table.dropna()
    assert len(t)
    assert np.allclose(t["bookings"] / t["bookings_prev"] - 1, t["change"])
    product = (1 + t["volume"]) * (1 + t["win_rate"]) * (1 + t["deal_size"]) - 1
    assert np.allclose(product, t["change"])
