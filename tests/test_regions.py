"""Large plans region by region (terrlib.territory.regions): every rule holds, the bound is
valid, and solve() hands over only the plans it should."""

from __future__ import annotations

import numpy as np
import pytest
from instances import generated_plan

from terrlib.territory import regions
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.regions import nearest_bound, solve_by_regions, split_regions
from terrlib.territory.relaxation import Workspace, relax
from tests.test_optimize import brute_force, tiny

# the region split is for continent-wide plans: no reach here (the reach is tested elsewhere)
CALL_HOURS = {"tolerance": 0.05, "disruption": 0.2, "visits_per_call": 0.0, "reach_km": np.inf}


def test_tiny_plans_by_regions_keep_the_bound_under_the_optimum():
    rng = np.random.default_rng(3)
    homes = {"A": (40.2, -74.8), "B": (40.8, -74.2), "C": (40.5, -74.5)}
    solved = 0
    for _ in range(6):
        acc, ter = tiny(rng, homes, n=9)
        opt = TerritoryOptimizer(acc, ter, tolerance=0.3, disruption=0.3, reach_km=np.inf)
        best = brute_force(opt)
        if not np.isfinite(best):
            continue
        p = opt.problem()
        plan = solve_by_regions(p, size=1)
        score = p.evaluate(plan.assign)
        assert score["breach"] <= 1e-9
        assert plan.bound <= best + 1e-6 <= score["objective"] + 2e-6
        solved += 1
    assert solved >= 3


def test_regions_keep_every_rule_and_stay_under_the_lp_bound():
    """Locks and account limits hold, every band holds, and the Lagrangian bound is at
    most the LP relaxation over every arc (no Lagrangian bound of these rows can beat it)."""
    acc, ter = generated_plan(3000, 24, seed=4)
    acc["locked"] = np.arange(len(acc)) % 37 == 0
    ter["max_accounts"] = 200.0
    p = TerritoryOptimizer(acc, ter, **CALL_HOURS).problem()
    plan = solve_by_regions(p, size=6)
    score = p.evaluate(plan.assign)
    assert plan.regions >= 2
    assert score["breach"] <= 1e-9
    locked = acc["locked"].to_numpy()
    assert (plan.assign[locked] == p.current[locked]).all()
    assert np.bincount(plan.assign, minlength=24).max() <= 200
    lp = relax(p, Workspace(), 0.05, p.every_arc()).bound
    assert plan.bound <= lp * (1 + 1e-7)
    assert 0 < nearest_bound(p) <= lp
    assert score["objective"] >= lp
    assert (score["objective"] - plan.bound) / score["objective"] < 0.5


def test_split_holds_each_region_near_its_targets():
    acc, ter = generated_plan(4000, 32, seed=5)
    opt = TerritoryOptimizer(acc, ter, **CALL_HOURS).problem()
    tree = split_regions(opt, size=8, tolerance=0.04)
    leaves, stack = [], [tree]
    while stack:
        r = stack.pop()
        stack.extend(r.halves or [])
        if r.halves is None:
            leaves.append(r)
    assert len(leaves) == 4
    assert np.array_equal(np.sort(np.concatenate([r.accounts for r in leaves])), np.arange(4000))
    for r in leaves:
        share = opt.share[r.territories].sum()
        target_h, target_p = share * opt.call_time.sum(), share * opt.potential.sum()
        hours = opt.call_time[r.accounts].sum() / target_h
        pot = opt.potential[r.accounts].sum() / target_p
        # beyond the split tolerance only by rounding: at most 8 split accounts (one per
        # row of the split's LP) at each of the two levels
        assert abs(hours - 1) <= 0.04 + 2 * 8 * opt.call_time.max() / target_h
        assert abs(pot - 1) <= 0.04 + 2 * 8 * opt.potential.max() / target_p


def test_solve_goes_by_regions_only_where_it_can(monkeypatch):
    monkeypatch.setattr(regions, "REGIONS", 0)  # every plan is large
    acc, ter = generated_plan(1500, 12, seed=6)
    opt = TerritoryOptimizer(acc, ter, **CALL_HOURS).solve(exact=False)
    assert opt.method_.startswith(f"{opt.regions_} regions")
    assert opt.evaluate(opt.assign_idx_)["breach"] <= 1e-9
    loose = TerritoryOptimizer(acc, ter, balance_potential=False, **CALL_HOURS)
    loose.solve(exact=False)
    assert "regions" in loose.method_ and loose.evaluate(loose.assign_idx_)["breach"] <= 1e-9
    travel = TerritoryOptimizer(acc, ter, tolerance=0.1, reach_km=np.inf).solve(exact=False)
    capped = TerritoryOptimizer(acc, ter, max_moved_share=0.5, **CALL_HOURS).solve(exact=False)
    for other in (travel, capped):
        assert "regions" not in other.method_
    with pytest.raises(ValueError, match="without travel"):
        solve_by_regions(TerritoryOptimizer(acc, ter, tolerance=0.1, reach_km=np.inf).problem())
