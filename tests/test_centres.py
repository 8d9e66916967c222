"""Free-centre planning (capacitated p-median): known optima, valid bounds, capacity and floor
on every plan, and clear errors."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from instances import PFIZER_DIR, pmedian_instance

from terrlib.optimize import InfeasibleRequest
from terrlib.territory.centres import CentrePlanner


def brute_force(xy, q, p, cap, low=0.0):
    """Best plan by enumeration: every choice of centres, every assignment."""
    n = len(q)
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    best = np.inf
    for centres in itertools.combinations(range(n), p):
        for assign in itertools.product(centres, repeat=n):
            a = np.array(assign)
            if any(a[c] != c for c in centres):  # a centre serves its own point
                continue
            loads = np.array([q[a == c].sum() for c in centres])
            if (loads > cap + 1e-9).any() or (loads < low - 1e-9).any():
                continue
            best = min(best, d[np.arange(n), a].sum())
    return best


@pytest.mark.parametrize("seed", range(4))
def test_tiny_instances_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, p = 7, 2
    xy = rng.uniform(0, 10, (n, 2))
    q = rng.integers(1, 5, n).astype(float)
    cap = float(np.ceil(q.sum() * 0.6))
    low = float(np.floor(q.sum() * 0.3))
    best = brute_force(xy, q, p, cap, low)
    plan = CentrePlanner(xy, q, p, cap, min_load=low, time_limit=5).solve()
    assert plan.feasible(plan.assignment_)
    assert plan.objective_ == pytest.approx(best, rel=1e-9)
    assert plan.bound_ <= best + 1e-7
    assert plan.gap_ >= 0
    assert (plan.loads_ <= cap + 1e-9).all() and (plan.loads_ >= low - 1e-9).all()
    assert (plan.assignment_[plan.centres_] == plan.centres_).all()


def test_or_library_pmedcap01_optimum():
    case = pmedian_instance(PFIZER_DIR / "pmedcap01.txt")
    plan = CentrePlanner(
        case["coords"], case["demand"], case["p"], case["capacity"], metric=case["metric"]
    ).solve()
    assert plan.objective_ == pytest.approx(713.0)
    assert plan.bound_ <= 713.0 + 1e-6
    assert plan.feasible(plan.assignment_)
    assert len(plan.centres_) == 5


def test_sjc1_within_half_a_percent_and_bound_valid():
    case = pmedian_instance(PFIZER_DIR / "SJC1.dat")
    plan = CentrePlanner(
        case["coords"], case["demand"], case["p"], case["capacity"], time_limit=8
    ).solve()
    assert plan.feasible(plan.assignment_)
    assert plan.objective_ <= case["known"] * 1.005
    assert plan.bound_ <= case["known"] + 1e-6
    assert plan.objective_ == pytest.approx(plan.evaluate(plan.assignment_))


def test_great_circle_metric_and_weights():
    # two metro clusters; the heavier-weighted points pull their centre
    lat = np.array([40.70, 40.75, 40.80, 34.00, 34.05, 34.10])
    lon = np.array([-74.00, -74.00, -74.00, -118.20, -118.20, -118.20])
    w = np.array([1.0, 1.0, 5.0, 1.0, 1.0, 1.0])
    plan = CentrePlanner(
        np.column_stack([lat, lon]), np.ones(6), 2, 3, weights=w, metric="haversine"
    ).solve()
    assert sorted(plan.centres_.tolist()) == [2, 4]  # not the middle point 1
    assert plan.gap_ == pytest.approx(0.0, abs=1e-9)
    # 0.10 and 0.05 degrees of latitude to point 2; 0.05 twice to point 4; 111.19 km a degree
    assert plan.objective_ == pytest.approx((0.10 + 0.05 + 0.05 + 0.05) * 111.19, rel=1e-3)


@pytest.mark.parametrize(
    ("demand", "p", "cap", "low", "message"),
    [
        ([5, 5, 5, 5], 2, 9, 0, "at least 3 centres are needed"),
        ([5, 5, 13, 1], 2, 12, 0, "alone exceed the capacity"),
        ([1, 1, 1, 1], 2, 3, 3, "below 2 centres x floor"),
        ([1, 1, 1, 1], 5, 3, 0, "5 centres but 4 candidate sites"),
    ],
)
def test_infeasible_requests_say_why(demand, p, cap, low, message):
    xy = np.arange(8, dtype=float).reshape(4, 2)
    with pytest.raises(InfeasibleRequest, match=message):
        CentrePlanner(xy, np.array(demand, float), p, cap, min_load=low).solve()


def _two_towns(seed: int = 0):
    """A tight town of 8 points and a spread-out town of 12, far apart."""
    rng = np.random.default_rng(seed)
    tight = rng.normal(0, 0.1, (8, 2))
    spread = rng.uniform(100, 130, (12, 2))
    return np.vstack([tight, spread])


def test_swap_moves_a_centre_from_where_it_helps_least_to_where_it_helps_most():
    xy = _two_towns()
    planner = CentrePlanner(xy, np.ones(20), p=6, capacity=20)
    # a poor plan: four centres for the tight town, two for the spread one
    tight, spread = np.arange(8), np.arange(8, 20)
    start = np.empty(20, int)
    start[tight] = np.array([0, 1, 2, 3])[np.arange(8) % 4]
    start[[0, 1, 2, 3]] = [0, 1, 2, 3]
    near_8 = np.linalg.norm(xy[spread] - xy[8], axis=1) <= np.linalg.norm(
        xy[spread] - xy[9], axis=1
    )
    start[spread] = np.where(near_8, 8, 9)
    assert planner.feasible(start)
    moved = planner._swap(start, deadline=np.inf, size=2)
    assert moved is not None and planner.feasible(moved)
    assert len(np.unique(moved)) == 6
    assert planner.evaluate(moved) < planner.evaluate(start) - 1.0
    centres = np.unique(moved)
    assert (centres >= 8).sum() == 3  # one centre went from the tight town to the spread one
    # a second call finds no saving pair
    again = planner._swap(moved, deadline=np.inf, size=2)
    assert again is None or planner.evaluate(again) < planner.evaluate(moved)


def test_threads_change_the_speed_not_the_plan(monkeypatch):
    # each neighbourhood MILP stops at centres._LIMIT seconds, which a busy machine can reach
    # on one thread and not on two; the batches themselves must not depend on the threads
    monkeypatch.setattr("terrlib.territory.centres._LIMIT", 30.0)
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (160, 2))
    q = rng.integers(1, 10, 160).astype(float)
    cap = float(np.ceil(q.sum() / 16 / 0.85))
    plans = []
    for threads in (1, 2):
        planner = CentrePlanner(xy, q, p=16, capacity=cap, threads=threads)
        y, _ = planner._relaxation(np.inf)
        start = planner._first(y, np.inf)
        with ThreadPoolExecutor(threads) as planner._pool:
            plans.append(planner._improve(start, np.inf, size=2, largest=4))
        assert planner.feasible(plans[-1])
        assert planner.evaluate(plans[-1]) <= planner.evaluate(start)
    np.testing.assert_array_equal(plans[0], plans[1])
