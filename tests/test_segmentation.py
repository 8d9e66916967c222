"""Stage 2: measures on tiny frames with known answers, and the demo's planted truths."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from terrlib.inputs.plan import Plan
from terrlib.results import InsufficientData
from terrlib.stages import measures, segmentation


def replace_step(strategy, step):
    """The plan's strategy with another quota step."""
    return strategy.model_copy(update={"quota_step": step})


@pytest.fixture(scope="module")
def stage2(small_data):
    potential = measures.account_potential(small_data, "2026Q3")
    scores = segmentation.account_scores(small_data, "2026Q3", potential.table)
    return {
        "potential": potential,
        "scores": scores,
        "territories": segmentation.territory_economics(small_data, "2026Q3", scores),
        "affinity": segmentation.product_affinity(small_data),
    }


def test_density_segment_by_hand():
    acc = pd.DataFrame(
        {"latitude": [40.0, 40.05, 40.1, 41.0], "longitude": [-75.0, -75.0, -75.0, -75.0]}
    )
    plan = Plan.model_validate({"segments": {"metro_radius_km": 12, "metro_min_accounts": 2}})
    # 0.05 degrees of latitude is 5.6 km; 0.1 is 11.1 km; 1 degree is 111 km
    assert measures.density_segment(acc, plan).tolist() == ["metro", "metro", "metro", "rural"]
    plan3 = Plan.model_validate({"segments": {"metro_radius_km": 6, "metro_min_accounts": 3}})
    assert measures.density_segment(acc, plan3).tolist() == ["rural", "metro", "rural", "rural"]


def test_affinity_by_hand(small_data):
    opps = pd.DataFrame(
        {
            "opportunity_id": [f"O{i}" for i in range(7)],
            "account_id": ["a", "a", "b", "b", "c", "d", "d"],
            "product": ["X", "Y", "X", "Y", "X", "Z", "Y"],
            "stage": ["won"] * 7,
            "amount": [100.0] * 7,
        }
    )
    data = replace(small_data, opportunities=opps)
    table = segmentation.product_affinity(data).table.set_index(["product", "also_buys"])
    # 4 accounts; X owned by a, b, c; Y by a, b, d; both by a, b
    row = table.loc[("X", "Y")]
    assert row["support"] == pytest.approx(2 / 4)
    assert row["confidence"] == pytest.approx(2 / 3)
    assert row["lift"] == pytest.approx((2 / 3) / (3 / 4))
    leads = segmentation.cross_sell_leads(
        data, segmentation.product_affinity(data), min_lift=0.5, min_accounts=1
    ).table
    assert set(zip(leads["account_id"], leads["offer"], strict=True)) >= {("c", "Y"), ("d", "X")}


def test_potential_is_honest_on_time(small_data):
    check = segmentation.potential_check(small_data, "2026Q3").table.iloc[0]
    assert check["buyers"] >= 30
    assert 0.65 <= check["coverage"] <= 0.92  # an 80th-percentile model
    assert check["spearman"] > 0.4


def test_potential_grows_with_size_and_is_non_negative(stage2):
    table = stage2["potential"].table
    assert (table["potential"] > 0).all() and (table["white_space"] >= 0).all()
    assert stage2["potential"].model.params["log_employees"] > 0.3


def test_potential_refuses_too_little_data(small_data):
    tiny = replace(small_data, opportunities=small_data.opportunities.head(20))
    with pytest.raises(InsufficientData, match="at least 10 accounts, created before"):
        measures.account_potential(tiny, "2026Q3")


def test_potential_from_size_alone_when_few_accounts_bought(small_data):
    """Between 10 and 29 buyers: too few to tell industries apart, enough for size."""
    won = small_data.opportunities[small_data.opportunities["stage"] == "won"]
    recent = won[won["close_date"] > "2025-10-01"]
    keep = recent.drop_duplicates("account_id").head(20)["opportunity_id"]
    opps = small_data.opportunities
    thin = replace(
        small_data, opportunities=opps[(opps["stage"] != "won") | opps["opportunity_id"].isin(keep)]
    )
    potential = measures.account_potential(thin, "2026Q3")
    assert list(potential.model.params.index) == ["Intercept", "log_employees"]
    assert "too few to tell industries apart" in potential.headline
    assert (potential.table["potential"] > 0).all()


def test_segment_tables_add_up(small_data, stage2):
    for by in (("industry", "size_band"), ("geography",)):
        seg = segmentation.segment_table(small_data, "2026Q3", stage2["scores"], by).table
        assert seg["accounts"].sum() == len(small_data.accounts)
        assert seg["potential"].sum() == pytest.approx(stage2["scores"]["potential"].sum())
        assert (seg["win_rate"].dropna().between(0, 1)).all()


def test_territory_targets(stage2, small_data):
    terr = stage2["territories"].table
    attainable = stage2["territories"].attainable_penetration
    assert attainable == pytest.approx(terr["penetration"].quantile(0.75))
    assert (terr["target_annual"] >= terr["bookings_4q"] - 1e-6).all()
    assert (terr["target_annual"] >= terr["potential"] * attainable - 1e-6).all()
    goal = 1 + small_data.plan.strategy.growth_goal
    assert terr["goal_quarter"].to_numpy() == pytest.approx(terr["bookings_4q"] * goal / 4)


def test_white_space_concentrates_where_planted(seeded_companies):
    """The territories planted with white space rank in the top quarter by uncovered share:
    79% of them over seeds 1-8 (a quarter would by chance)."""
    inside = planted = 0
    for company in seeded_companies:
        data = company["data"]
        potential = measures.account_potential(data, "2026Q3")
        scores = segmentation.account_scores(data, "2026Q3", potential.table)
        table = segmentation.territory_economics(data, "2026Q3", scores).table
        ranked = table.sort_values("uncovered_share", ascending=False)
        top_quarter = set(ranked["territory_id"].head(max(1, len(ranked) // 4)))
        inside += len(set(company["truth"]["white_space_territories"]) & top_quarter)
        planted += len(company["truth"]["white_space_territories"])
    assert inside >= 0.7 * planted


def test_planted_product_pairs_have_top_lift(stage2, small_truth):
    pairs = stage2["affinity"].table
    top = {frozenset(p) for p in pairs.head(4)[["product", "also_buys"]].to_numpy()}
    assert {frozenset(p) for p in small_truth["product_pairs"]} == top


def test_next_quarter_quotas(stage2, small_data):
    econ = stage2["territories"]
    quotas = segmentation.next_quarter_quotas(small_data, "2026Q3", econ)
    t = quotas.table.set_index("territory_id")
    e = econ.table.set_index("territory_id")
    goal = small_data.plan.strategy.growth_goal
    reps = small_data.reps.set_index("territory_id")
    held = measures.quarters_held(reps["hire_date"], pd.Timestamp("2026-09-30"), 4)
    yearly = (e["bookings_4q"] * 4 / held.reindex(e.index).replace(0, np.nan)).sum()
    assert held.min() < 4  # a rep hired within the year: their bookings count per quarter held
    assert quotas.team_number == pytest.approx(yearly * (1 + goal) / 4)
    assert t["quota_next"].sum() == pytest.approx(quotas.team_number)
    assert (t["quota_next"] > 0).all()
    # all weight on potential: quotas in proportion to the realistic targets
    only = segmentation.next_quarter_quotas(small_data, "2026Q3", econ, weight=1.0).table
    only = only.set_index("territory_id")["quota_fair"]
    share = e["target_annual"] / e["target_annual"].sum()
    assert (only / only.sum()).to_numpy() == pytest.approx(share.reindex(only.index).to_numpy())
    # the quota to set: each rep's share of the team's number within the plan's step of today's
    step = small_data.plan.strategy.quota_step
    today = t["quota_today"] / t["quota_today"].sum()
    moved = t["quota_next"] / t["quota_next"].sum() / today - 1
    assert (moved.abs() <= step + 1e-9).all()
    # and the nearest to the fair shares within those limits: every quota short of its limit
    # is its fair share shifted by the same amount, and one at a limit would pass it
    shift = t["quota_next"] - t["quota_fair"]
    start = t["quota_today"] * quotas.team_number / t["quota_today"].sum()
    inside = (shift.abs() > 0) & ((t["quota_next"] / start - 1).abs() < step - 1e-6)
    assert inside.any() and shift[inside].std() == pytest.approx(0, abs=1e-3)
    at_top = (t["quota_next"] / start - 1) > step - 1e-6
    assert (t.loc[at_top, "quota_fair"] + shift[inside].mean() >= t.loc[at_top, "quota_next"]).all()
    free = small_data.plan.model_copy(
        update={"strategy": replace_step(small_data.plan.strategy, None)}
    )
    unlimited = segmentation.next_quarter_quotas(replace(small_data, plan=free), "2026Q3", econ)
    assert unlimited.table["quota_next"].to_numpy() == pytest.approx(
        unlimited.table["quota_fair"].to_numpy()
    )
    line = segmentation.quota_decision(quotas)
    assert (
        line.topic == "Quotas for next quarter" and f"{quotas.team_number / 1e6:,.2f}M" in line.text
    )


def test_proposed_quotas_follow_the_accounts(stage2, small_data):
    scores = stage2["scores"]
    same = pd.Series(
        small_data.accounts["territory_id"].to_numpy(), index=small_data.accounts["account_id"]
    )
    kept = segmentation.proposed_quotas(small_data, "2026Q3", scores, same).table
    # nothing moves: the quotas are stage 2's
    assert kept["quota_next_proposed"].to_numpy() == pytest.approx(
        kept["quota_next_today"].to_numpy()
    )
    assert kept["against_today_territory"].abs().max() == pytest.approx(0, abs=1e-9)
    # every account of the territory with the most potential goes to another
    e = stage2["territories"].table.set_index("territory_id")
    big, other = e["potential"].idxmax(), e["potential"].idxmin()
    moved = same.where(same != big, other)
    result = segmentation.proposed_quotas(small_data, "2026Q3", scores, moved)
    t = result.table.set_index("territory_id")
    # the team's number does not change: quota moves between reps with the accounts
    assert t["quota_next_proposed"].sum() == pytest.approx(t["quota_next_today"].sum())
    assert result.team_number == pytest.approx(t["quota_next_today"].sum())
    assert t.loc[big, "quota_next_proposed"] == pytest.approx(0, abs=1e-6)
    assert t.loc[other, "quota_next_proposed"] > t.loc[other, "quota_next_today"]
    assert result.table["against_today_territory"].abs().is_monotonic_decreasing
    line = segmentation.proposed_quota_decision(result)
    assert line.topic == "Quotas for next quarter" and big in line.text and other in line.text
    assert line.section == "Quotas on the proposed alignment"


def test_pairs_once_and_leads_valued_per_account(stage2, small_data):
    pairs = segmentation.product_pairs_once(stage2["affinity"]).table
    products = stage2["affinity"].lift.shape[0]
    assert len(pairs) == products * (products - 1) // 2
    assert not (pairs["product"] >= pairs["with"]).any()  # each unordered pair once
    assert pairs["lift"].is_monotonic_decreasing
    leads = segmentation.cross_sell_leads(
        small_data, stage2["affinity"], scores=stage2["scores"]
    ).table
    # a lead's value follows the size of the account: the same offer is worth more to a
    # larger account, so one offer's leads are not all the same number
    band = small_data.accounts.set_index("account_id")["employees"]
    assert (leads.groupby("offer").size() >= 20).any()
    for _, grp in leads.groupby("offer"):
        if len(grp) >= 20:
            big = grp["account_id"].map(band) >= grp["account_id"].map(band).median()
            assert grp.loc[big, "expected_value"].mean() > grp.loc[~big, "expected_value"].mean()
            assert grp["expected_value"].nunique() > 1
    ordered = leads[["expected_value", "white_space"]].to_numpy()
    assert all(tuple(a) >= tuple(b) for a, b in zip(ordered[:-1], ordered[1:], strict=True))


def test_quotas_on_a_green_field(small_data):
    """No account has a territory today: stage 2 says quotas come from the proposal, and
    the proposal's quotas split its own number (none NaN)."""
    green = replace(small_data, accounts=small_data.accounts.assign(territory_id=None))
    potential = measures.account_potential(green, "2026Q3")
    scores = segmentation.account_scores(green, "2026Q3", potential.table)
    econ = segmentation.territory_economics(green, "2026Q3", scores)
    today = segmentation.next_quarter_quotas(green, "2026Q3", econ)
    assert "proposed alignment" in segmentation.quota_decision(today).text
    reps = small_data.reps.drop_duplicates("territory_id")["territory_id"].to_numpy()
    ids = small_data.accounts["account_id"]
    proposal = pd.Series(reps[np.arange(len(ids)) % len(reps)], index=ids.to_numpy())
    result = segmentation.proposed_quotas(green, "2026Q3", scores, proposal)
    assert result.green and result.table["quota_next_proposed"].notna().all()
    assert result.table["quota_next_proposed"].sum() == pytest.approx(result.team_number)
    assert result.team_number > 0 and "No account has a territory today" in result.headline
    assert "proposal's territories" in segmentation.proposed_quota_decision(result).text
