"""The demo company: deterministic, realistic, and its planted truths are really there."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from terrlib.inputs import dataset as io
from terrlib.inputs import demo
from terrlib.stages import measures


def test_defaults_meet_the_brief():
    defaults = inspect.signature(demo.generate).parameters
    assert defaults["n_accounts"].default >= 5000
    assert defaults["n_reps"].default >= 40
    assert defaults["n_quarters"].default >= 8
    assert defaults["end_quarter"].default == "2026Q3"


def test_same_seed_same_files(small_demo, tmp_path):
    from tests.conftest import SMALL

    demo.generate(tmp_path, **SMALL)
    for name in ("accounts.csv", "reps.csv", "opportunities.csv", "activities.csv", "truth.json"):
        assert (tmp_path / name).read_bytes() == (small_demo / name).read_bytes(), name


def test_shape_and_skew(small_demo, small_truth):
    data = io.load_dataset(small_demo)
    acc = data.accounts
    assert len(small_truth["quarters"]) >= 8
    assert acc["region"].nunique() == 4
    # few large accounts, many small
    assert acc["employees"].median() < 150 and acc["employees"].quantile(0.99) > 1000
    # real ZIP codes
    assert acc["postal_code"].str.fullmatch(r"\d{5}").all()


def test_high_converting_industry(small_data, small_truth):
    opps = small_data.opportunities
    decided = opps[opps["stage"] != "open"]
    ind = decided["account_id"].map(small_data.accounts.set_index("account_id")["industry"])
    high = decided[ind == small_truth["high_converting_industry"]]["stage"].eq("won").mean()
    rest = decided[ind != small_truth["high_converting_industry"]]["stage"].eq("won").mean()
    assert 1.5 < high / rest < 2.6


def test_planted_workload_imbalance(small_data, small_truth):
    table = measures.territory_workload(small_data).table.set_index("territory_id")
    for t in small_truth["overloaded_territories"]:
        assert table.loc[t, "utilization"] > 1.3
    for t in small_truth["underloaded_territories"]:
        assert table.loc[t, "utilization"] < 0.75  # the plan flags below 0.80


def test_effort_out_of_proportion(small_truth):
    assert small_truth["priority_effort_share"] < 0.7 * small_truth["priority_potential_share"]


def test_deal_size_and_cycle_grow_with_size(small_data):
    opps = small_data.opportunities
    won = opps[opps["stage"] == "won"]
    emp = won["account_id"].map(small_data.accounts.set_index("account_id")["employees"])
    days = (won["close_date"] - won["created_date"]).dt.days
    slope_amount = np.polyfit(np.log(emp), np.log(won["amount"]), 1)[0]
    slope_days = np.polyfit(np.log(emp), np.log(days), 1)[0]
    assert slope_amount > 0.4 and slope_days > 0.1


def test_engagement_falls_before_churn(small_data, small_truth):
    acts = small_data.activities
    acts = acts.assign(q=acts["activity_date"].dt.to_period("Q").astype(str))
    churn = pd.Series(small_truth["churn_quarter"])
    quarters = small_truth["quarters"]
    before, earlier = [], []
    for account, q in churn.items():
        i = quarters.index(q)
        if i < 4:
            continue
        mine = acts[acts["account_id"] == account]["q"]
        before.append(mine.isin(quarters[i - 2 : i]).sum() / 2)
        earlier.append(mine.isin(quarters[i - 4 : i - 2]).sum() / 2)
    assert sum(before) < 0.6 * sum(earlier)


def test_product_pairs_bought_together(small_data, small_truth):
    won = small_data.opportunities[small_data.opportunities["stage"] == "won"]
    owns = pd.crosstab(won["account_id"], won["product"]).gt(0)
    for a, b in small_truth["product_pairs"]:
        lift = (owns[a] & owns[b]).mean() / (owns[a].mean() * owns[b].mean())
        assert lift > 1.5, (a, b, lift)


def test_misleading_attainment_planted(small_truth):
    assert small_truth["misleading_weak_rep_rich_territory"] in small_truth["weak_reps"]
    assert small_truth["misleading_strong_rep_poor_territory"] in small_truth["strong_reps"]
