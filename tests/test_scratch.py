"""Territories drawn from scratch: reps based where their territory's travel is least."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from terrlib import optimize, plotting
from terrlib.geo import haversine_km
from terrlib.stages.balancing import scratch_comparison
from terrlib.territory.scratch import from_scratch, weighted_medoid


def two_towns(rng) -> optimize.TerritoryOptimizer:
    """Two towns 300 km apart with the same workload, each split between two reps who both
    live in the west one; the first account (west) is locked with the east rep."""
    n = 40
    west = rng.uniform([40.0, -76.0], [40.2, -75.8], (n // 2, 2))
    east = rng.uniform([40.0, -72.5], [40.2, -72.3], (n // 2, 2))
    xy = np.vstack([west, east])
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "latitude": xy[:, 0],
            "longitude": xy[:, 1],
            "calls": 0.0,
            "call_hours": 10.0,
            "potential": 1.0,
            "territory_id": ["E", "W"] * (n // 2),
            "locked": [True] + [False] * (n - 1),
        }
    )
    ter = pd.DataFrame(
        {
            "territory_id": ["W", "E"],
            "rep_name": ["Wendy", "Ed"],
            "home_latitude": [40.1, 40.05],
            "home_longitude": [-75.9, -75.85],
            "capacity": 1.0,
        }
    )
    return optimize.TerritoryOptimizer(acc, ter, tolerance=0.05, max_moved_share=0.1)


def test_a_base_moves_to_the_town_its_rep_serves():
    opt = two_towns(np.random.default_rng(0)).solve()
    plan = from_scratch(opt)
    new = plan.optimizer
    lat = opt.accounts["latitude"].to_numpy()
    lon = opt.accounts["longitude"].to_numpy()
    # one territory per town, each based inside its town
    east = lon > -74
    assert set(new.assign_idx_[east]) != set(new.assign_idx_[~east])
    assert len(set(new.assign_idx_[east])) == 1 and len(set(new.assign_idx_[~east])) == 1
    for t, base in plan.bases.iterrows():
        members = np.flatnonzero(new.assign_idx_ == t)
        at = np.flatnonzero(opt.accounts["account_id"] == base["base_account_id"])[0]
        assert at in members
        assert (base["home_latitude"], base["home_longitude"]) == (lat[at], lon[at])
        # the base is the member with least call-weighted distance to the others
        d = haversine_km(
            lat[members, None], lon[members, None], lat[None, members], lon[None, members]
        )
        assert (d @ new.problem_.weight[members]).min() == pytest.approx(
            (d @ new.problem_.weight[members])[members == at][0]
        )
    # the lock and the cap of today's request do not bind a plan drawn from scratch
    assert opt.assign_idx_[0] == opt.problem_.current[0] and len(opt.moves_) <= 0.1 * opt.problem_.n
    assert (
        new.assign_idx_ != opt.problem_.current
    ).sum() >= 0.4 * opt.problem_.n  # today's are mixed
    assert new.travel_ < 0.1 * plan.rounds["travel"].iloc[0]
    assert plan.rounds["travel"].min() == pytest.approx(new.travel_)
    assert new.evaluate(new.assign_idx_)["breach"] == 0
    assert 0 <= new.gap_ < 1 and new.lower_bound_ <= new.objective_


def test_scratch_on_the_small_company_keeps_every_band(small_data):
    opt = optimize.from_dataset(small_data, max_moved_share=0.3, balance_potential=False).solve()
    plan = from_scratch(opt, max_rounds=3)
    new = plan.optimizer
    assert new.evaluate(new.assign_idx_)["breach"] == 0
    w = new.summary_["workload_vs_target_after"]
    assert ((w - 1).abs() <= opt.tolerance + 1e-9).all()
    assert len(plan.rounds) <= 4
    assert new.travel_ == pytest.approx(plan.rounds["travel"].min())
    # travel recomputed here: call hours x great-circle km to the base
    acc = opt.accounts
    base = plan.bases.iloc[new.assign_idx_]
    travel = acc["call_hours"].to_numpy() * haversine_km(
        acc["latitude"].to_numpy(),
        acc["longitude"].to_numpy(),
        base["home_latitude"].to_numpy(float),
        base["home_longitude"].to_numpy(float),
    )
    assert travel.sum() == pytest.approx(new.travel_, rel=1e-9)

    result = scratch_comparison(opt, plan)
    t = result.table
    assert list(t["alignment"]) == [
        "today, from rep homes",
        "proposed, from rep homes",
        "from scratch, reps at new bases",
    ]
    assert t["travel (call-hour km)"].tolist() == pytest.approx(
        [opt.travel_before_, opt.travel_, new.travel_]
    )
    assert t["workload, worst vs target"].iloc[1:].max() <= opt.tolerance + 1e-9
    assert t["accounts changing rep"].iloc[1] == len(opt.moves_)
    assert np.isnan(t["certified gap"].iloc[0]) and t["certified gap"].iloc[2] == new.gap_
    assert f"{-t['travel vs today'].iloc[2]:.0%} less" in result.headline
    fig = plotting.scratch_maps(opt, plan)
    assert len(fig.axes) == 2


def test_weighted_medoid_by_brute_force():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(30, 45, 700), rng.uniform(-120, -75, 700)
    w = rng.lognormal(size=700)
    cost = [(w * haversine_km(lat[i], lon[i], lat, lon)).sum() for i in range(700)]
    assert weighted_medoid(lat, lon, w) == int(np.argmin(cost))


def test_scratch_needs_coordinates():
    opt = two_towns(np.random.default_rng(1))
    opt.distances = np.ones((40, 2))
    with pytest.raises(ValueError, match="coordinates"):
        from_scratch(opt)
