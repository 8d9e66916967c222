"""Large plans region by region (terrlib.territory.regions): every rule holds, the bound is
valid, and
solve() hands over only the plans it should."""

from __future__ import annotations

import numpy as np
import pytest
from instances import generated_plan

from terrlib.territory import estimator as optimize
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.regions import _nearest_bound, solve_by_regions, split_regions
from tests.test_optimize import brute_force, tiny

CALL_HOURS = {"tolerance": 0.05, "disruption": 0.2, "visits_per_call": 0.0}


def test_tiny_plans_by_regions_keep_the_bound_under_the_optimum():
    rng = np.random.default_rng(3)
    homes = {"A": (40.2, -74.8), "B": (40.8, -74.2), "C": (40.5, -74.5)}
    solved = 0
    for _ in range(6):
        acc, ter = tiny(rng, homes, n=9)
        opt = TerritoryOptimizer(acc, ter, tolerance=0.3, disruption=0.3)
        best = brute_force(opt)
        if not np.isfinite(best):
            continue
        solve_by_regions(opt, size=1)
        assert opt.evaluate(opt.assign_idx_)["breach"] <= 1e-9
        assert opt.lower_bound_ <= best + 1e-6 <= opt.objective_ + 2e-6
        assert 0 <= opt.gap_ <= 1
        solved += 1
    assert solved >= 3


def test_regions_keep_every_rule_and_stay_under_the_lp_bound():
    """Locks and account limits hold, every band holds, and the Lagrangian bound is at
    most the LP relaxation over every arc (no Lagrangian bound of these rows can beat it)."""
    acc, ter = generated_plan(3000, 24, seed=4)
    acc["locked"] = np.arange(len(acc)) % 37 == 0
    ter["max_accounts"] = 200.0
    opt = solve_by_regions(TerritoryOptimizer(acc, ter, **CALL_HOURS), size=6)
    assert opt.regions_ >= 2
    assert opt.evaluate(opt.assign_idx_)["breach"] <= 1e-9
    locked = acc["locked"].to_numpy()
    assert (opt.assignment_.to_numpy()[locked] == acc["territory_id"].to_numpy()[locked]).all()
    assert np.bincount(opt.assign_idx_, minlength=24).max() <= 200
    full = TerritoryOptimizer(acc, ter, **CALL_HOURS)
    full._prepare()
    keys = np.arange(full.n_ * full.m_)
    mine = keys % full.m_ == np.repeat(full.current_, full.m_)
    lp = full._relaxation(0.05, keys[~full.locked_[keys // full.m_] | mine])[3]
    assert opt.lower_bound_ <= lp * (1 + 1e-7)
    assert 0 < _nearest_bound(opt) <= lp
    assert opt.objective_ >= lp
    assert 0 <= opt.gap_ < 0.5


def test_split_holds_each_region_near_its_targets():
    acc, ter = generated_plan(4000, 32, seed=5)
    opt = TerritoryOptimizer(acc, ter, **CALL_HOURS)
    opt._prepare()
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
        share = opt.share_[r.territories].sum()
        target_h, target_p = share * opt.call_time_.sum(), share * opt.potential_.sum()
        hours = opt.call_time_[r.accounts].sum() / target_h
        pot = opt.potential_[r.accounts].sum() / target_p
        # beyond the split tolerance only by rounding: at most 8 split accounts (one per
        # row of the split's LP) at each of the two levels
        assert abs(hours - 1) <= 0.04 + 2 * 8 * opt.call_time_.max() / target_h
        assert abs(pot - 1) <= 0.04 + 2 * 8 * opt.potential_.max() / target_p


def test_solve_goes_by_regions_only_where_it_can(monkeypatch):
    monkeypatch.setattr(optimize, "_REGIONS", 0)  # every plan is large
    acc, ter = generated_plan(1500, 12, seed=6)
    opt = TerritoryOptimizer(acc, ter, **CALL_HOURS).solve(exact=False)
    assert opt.method_.startswith(f"{opt.regions_} regions")
    assert opt.evaluate(opt.assign_idx_)["breach"] <= 1e-9
    loose = TerritoryOptimizer(acc, ter, balance_potential=False, **CALL_HOURS)
    loose.solve(exact=False)
    assert "regions" in loose.method_ and loose.evaluate(loose.assign_idx_)["breach"] <= 1e-9
    travel = TerritoryOptimizer(acc, ter, tolerance=0.1).solve(exact=False)
    capped = TerritoryOptimizer(acc, ter, max_moved_share=0.5, **CALL_HOURS).solve(exact=False)
    for other in (travel, capped):
        assert "regions" not in other.method_
    with pytest.raises(ValueError, match="without travel"):
        solve_by_regions(TerritoryOptimizer(acc, ter, tolerance=0.1))
