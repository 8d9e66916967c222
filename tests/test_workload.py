"""Workload build-up sizing by region and segment, with ICP tiers and scenarios."""

from __future__ import annotations

import pandas as pd
import pytest

from terrlib import optimize
from terrlib.geo import haversine_km
from terrlib.inputs import coverage
from terrlib.stages import measures, workload


def test_sizing_splits_by_segment_and_follows_the_tiers(small_data):
    plain = workload.sizing(small_data).table.set_index("region")
    bands = [f"{b.name} reps" for b in small_data.plan.segments.size_bands]
    assert set(bands) <= set(plain.columns)
    assert plain[bands].sum(axis=1).to_numpy() == pytest.approx(plain["reps_needed"].to_numpy())
    work = measures.account_workload(small_data)
    assert plain["hours"].sum() == pytest.approx(work["hours"].sum())
    reps = small_data.reps.drop_duplicates("territory_id")
    assert plain["reps_today"].sum() == len(reps)
    # the gap is in full-time reps on both sides: a part-time rep counts for less than one
    assert plain["gap"].to_numpy() == pytest.approx(
        (plain["reps_needed"] - plain["fte_today"]).to_numpy()
    )
    assert plain["fte_today"].to_numpy() == pytest.approx(
        (plain["capacity"] / (plain["hours"] / plain["reps_needed"])).to_numpy()
    )
    # every account in tier A: calls (and the travel that goes with them) x the plan's 1.5
    ids = small_data.accounts["account_id"]
    mult = small_data.plan.coverage.tier_multipliers["A"]
    tier_a = workload.sizing(small_data, pd.DataFrame({"account_id": ids, "tier": "A"}))
    assert tier_a.table["hours"].to_numpy() == pytest.approx(mult * plain["hours"].to_numpy())
    # accounts without a tier keep their band's calls
    half = pd.DataFrame({"account_id": ids.iloc[::2], "tier": "D"})
    calls, _ = coverage.coverage_calls(small_data.plan, small_data.accounts, half)
    base, _ = coverage.coverage_calls(small_data.plan, small_data.accounts)
    d = small_data.plan.coverage.tier_multipliers["D"]
    assert calls[::2] == pytest.approx(d * base[::2])
    assert calls[1::2] == pytest.approx(base[1::2])
    assert "ICP tiers" in measures.territory_workload(small_data, half).headline
    assert "ICP tiers" not in measures.territory_workload(small_data).headline
    # the optimizer's workload is the same build-up
    opt = optimize.from_dataset(small_data, tiers=half)
    assert opt.accounts["calls"].to_numpy() == pytest.approx(calls)


def test_scenarios_scale_the_reps_needed(small_data):
    result = workload.sizing_scenarios(small_data)
    t = result.table.set_index("scenario")
    base = t.iloc[0]
    assert base["reps needed"] == pytest.approx(
        workload.sizing(small_data).table["reps_needed"].sum()
    )
    # each row agrees with the build-up run again with its calls or selling hours
    for name, change in workload.SCENARIOS.items():
        again = workload.sizing(small_data, **change).table
        assert t.loc[name, "reps needed"] == pytest.approx(again["reps_needed"].sum())
        assert t.loc[name, "hours"] == pytest.approx(again["hours"].sum())
    assert t.loc["a fifth fewer calls", "reps needed"] == pytest.approx(0.8 * base["reps needed"])
    regions = [c for c in t.columns if c.endswith(" reps")]
    assert t[regions].sum(axis=1).to_numpy() == pytest.approx(t["reps needed"].to_numpy())
    assert t["change"].iloc[0] == 0
    assert f"{t['change'].max():+.1f}" in result.headline
    custom = workload.sizing_scenarios(small_data, scenarios={"today": {}, "x2": {"frequency": 2}})
    assert custom.table["change"].iloc[1] == pytest.approx(base["reps needed"])


def test_sizing_counts_travel_from_the_proposed_reps(small_data):
    acc = small_data.accounts
    today = pd.Series(acc["territory_id"].to_numpy(), index=acc["account_id"])
    plain = workload.sizing(small_data).table
    same = workload.sizing(small_data, alignment=today)
    assert same.table["hours"].to_numpy() == pytest.approx(plain["hours"].to_numpy())
    assert "proposed alignment" in same.headline and "proposed rep" in same.notes
    # every account to the rep whose home is nearest: less travel, so no more reps needed
    reps = small_data.reps.drop_duplicates("territory_id")
    near = haversine_km(
        acc["latitude"].to_numpy()[:, None],
        acc["longitude"].to_numpy()[:, None],
        reps["home_latitude"].to_numpy()[None, :],
        reps["home_longitude"].to_numpy()[None, :],
    ).argmin(axis=1)
    nearest = pd.Series(reps["territory_id"].to_numpy()[near], index=acc["account_id"])
    closer = workload.sizing(small_data, alignment=nearest).table
    assert closer["hours"].sum() < plain["hours"].sum()
    assert closer["reps_needed"].sum() < plain["reps_needed"].sum()
    # the scenarios size the same alignment
    scen = workload.sizing_scenarios(small_data, alignment=nearest).table
    assert scen["reps needed"].iloc[0] == pytest.approx(closer["reps_needed"].sum())


def test_sizing_a_green_field_says_nothing_of_today(small_data):
    from dataclasses import replace

    green = replace(small_data, accounts=small_data.accounts.assign(territory_id=None))
    today = pd.Series(
        small_data.accounts["territory_id"].to_numpy(), index=small_data.accounts["account_id"]
    )
    result = workload.sizing(green, alignment=today)
    assert "On today's alignment" not in result.headline
    assert result.table["hours"].to_numpy() == pytest.approx(
        workload.sizing(small_data).table["hours"].to_numpy()
    )
