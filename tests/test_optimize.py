"""The territory optimizer: known optima, valid bounds, constraints on every solution, and
clear errors for requests that cannot be met."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from terrlib.datasets import PFIZER_CURRENT, pfizer_case
from terrlib.optimize import InfeasibleRequest, TerritoryOptimizer

CASE = pfizer_case()
CURRENT = PFIZER_CURRENT


def pfizer(**options) -> TerritoryOptimizer:
    acc = CASE["accounts"].copy()
    if "locked" in options:
        acc["locked"] = acc["account_id"].isin(options.pop("locked"))
    settings = {
        "disruption": 0.0,
        "distances": CASE["distances"],
        "travel_weight": "none",
        "balance_potential": False,
    } | options
    return TerritoryOptimizer(acc, CASE["territories"], **settings)


@pytest.mark.parametrize("row", list(CASE["optima"].itertuples()), ids=lambda r: r.band)
def test_pfizer_known_optima(row):
    opt = pfizer(tolerance=row.tolerance).solve()
    assert opt.objective_ == pytest.approx(row.distance, abs=0.01)
    assert opt.lower_bound_ <= row.distance + 1e-6  # the bound never exceeds the optimum
    assert 0 <= opt.gap_ < 1e-6


def test_bound_is_valid_without_the_milp():
    """LP relaxation, rounding and repair alone: a feasible answer, a bound below the optimum."""
    opt = pfizer(tolerance=0.2).solve(exact=False)
    assert opt.lower_bound_ <= 154.60 + 1e-6 <= opt.objective_ + 1e-6
    assert opt.gap_ >= 0


def test_constraints_hold_with_locks_and_cap():
    opt = pfizer(tolerance=0.2, max_moved_share=0.2, locked=[1, 9]).solve()
    work = CASE["accounts"].set_index("account_id")["call_hours"]
    loads = work.groupby(opt.assignment_.reindex(work.index)).sum()
    assert loads.between(0.8 - 1e-9, 1.2 + 1e-9).all()
    assert opt.assignment_[1] == "SR4" and opt.assignment_[9] == "SR3"  # locked where they are
    assert len(opt.moves_) <= 0.2 * 22
    assert set(opt.moves_.columns) >= {"account_id", "from", "to", "reason"}
    assert opt.moves_["reason"].str.contains("travel").all()


def test_exact_on_tiny_instances_by_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(5):
        n, m = 8, 2
        acc = pd.DataFrame(
            {
                "account_id": range(n),
                "latitude": rng.uniform(40, 41, n),
                "longitude": rng.uniform(-75, -74, n),
                "calls": 0.0,
                "call_hours": rng.uniform(1, 3, n),
                "potential": rng.uniform(1, 3, n),
                "territory_id": rng.choice(["A", "B"], n),
            }
        )
        homes = pd.DataFrame(
            {
                "territory_id": ["A", "B"],
                "home_latitude": [40.2, 40.8],
                "home_longitude": [-74.8, -74.2],
                "capacity": [1.0, 1.0],
            }
        )
        opt = TerritoryOptimizer(acc, homes, tolerance=0.25, disruption=0.3)
        best = np.inf
        opt._prepare()
        for combo in itertools.product(range(m), repeat=n):
            a = np.array(combo)
            if opt._violation(*opt._loads(a)) <= 1e-9:
                best = min(best, opt._objective(a))
        if not np.isfinite(best):
            with pytest.raises(InfeasibleRequest):
                opt.solve()
            continue
        opt.solve()
        assert opt.lower_bound_ <= best + 1e-6
        assert opt.objective_ == pytest.approx(best, rel=1e-9)


def test_infeasible_request_names_the_tightest_tolerance():
    with pytest.raises(InfeasibleRequest, match=r"tightest tolerance that can be met is about"):
        pfizer(tolerance=0.0001).solve()


def test_locked_accounts_that_break_a_band_are_named():
    # SR2 carries 1.34 of a 1.00 target today: locking its bricks breaks any tight band
    with pytest.raises(InfeasibleRequest, match="locked accounts in SR2 already need 134%"):
        pfizer(tolerance=0.001, locked=CURRENT["SR2"]).solve()
