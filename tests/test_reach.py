"""Alignment a sales leader would sign (issue 20): reach, regions, territories that cannot be
balanced and their staffing, the trade-off curve, warm re-solves with new locks, alignment
by postal code and compactness. Plans are generated for several seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from terrlib.geo import haversine_km
from terrlib.inputs.plan import Balance
from terrlib.stages import balancing, staffing
from terrlib.territory import groups
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.outcome import compactness
from terrlib.territory.problem import TerritoryProblem, default_reach
from terrlib.territory.unbalanced import unbalanced

SEEDS = (1, 2, 3)


def company(seed: int, n: int = 400, spokes: float = 0.08):
    """Accounts around eight metros in two regions (west and east), one or two reps per
    metro; today each account is with its nearest rep except ``spokes`` of them, which are
    with a rep at the other end of their region (the long-haul accounts a realignment
    inherits)."""
    rng = np.random.default_rng(seed)
    metros = np.array(
        [[47.6, -122.3], [37.8, -122.4], [34.0, -118.2], [33.4, -112.0],
         [40.7, -74.0], [42.4, -71.1], [39.9, -75.2], [33.7, -84.4]]
    )  # fmt: skip
    which = rng.integers(0, len(metros), n)
    xy = metros[which] + rng.normal(0, 0.4, (n, 2))
    homes = np.vstack([metros, metros[[2, 4]] + 0.3])
    region = lambda lon: np.where(np.asarray(lon) < -100, "West", "East")  # noqa: E731
    ter = pd.DataFrame(
        {
            "territory_id": [f"T{k:02d}" for k in range(len(homes))],
            "home_latitude": homes[:, 0],
            "home_longitude": homes[:, 1],
            "capacity": 1.0,
            "region": region(homes[:, 1]),
        }
    )
    d = haversine_km(xy[:, :1], xy[:, 1:], homes[None, :, 0], homes[None, :, 1])
    near = d.argmin(axis=1)
    cur = near.copy()
    spoke = rng.random(n) < spokes
    for i in np.flatnonzero(spoke):
        same = np.flatnonzero(ter["region"].to_numpy() == region(xy[i, 1]))
        cur[i] = same[np.argmax(d[i, same])]
    hours = rng.lognormal(2.5, 0.5, n)
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "latitude": xy[:, 0],
            "longitude": xy[:, 1],
            "calls": hours / 0.75,
            "call_hours": hours,
            "potential": hours * rng.lognormal(0, 0.3, n),
            "territory_id": ter["territory_id"].to_numpy()[cur],
            "region": region(xy[:, 1]),
            "revenue": hours * 1000,
            "postal_code": [f"{which[i]:02d}{int(rng.integers(0, 40)):03d}" for i in range(n)],
        }
    )
    return acc, ter


def request(acc, ter, **kw):
    settings = dict(tolerance=0.25, potential_tolerance=1.0, circuity=1.25, disruption=0.5)
    return TerritoryOptimizer(acc, ter, **(settings | kw))


def km(opt, tids):
    h = opt.territories.set_index("territory_id").reindex(tids)
    a = opt.accounts
    return 1.25 * haversine_km(
        a["latitude"], a["longitude"], h["home_latitude"], h["home_longitude"]
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_no_move_beyond_reach_or_across_a_region(seed):
    """Every moved account ends within reach of its new rep or nearer than before, and in
    its own region; the spokes planted today are brought home."""
    acc, ter = company(seed)
    opt = balancing.solve_or_widen(request(acc, ter))
    reach = opt.problem_.reach
    before = km(opt, acc["territory_id"])
    after = km(opt, opt.assignment_)
    moved = acc["territory_id"].to_numpy() != opt.assignment_.to_numpy()
    assert moved.any()
    assert ((after[moved] <= reach + 1e-6) | (after[moved] <= before[moved] + 1e-6)).all()
    region = ter.set_index("territory_id")["region"]
    assert (region.reindex(opt.assignment_).to_numpy() == acc["region"].to_numpy()).all()
    # the long-haul accounts of today: most end with a rep within reach
    spokes = before > reach
    assert (after[spokes] <= reach).mean() >= 0.5


def test_default_reach_is_where_today_serves_four_in_five():
    acc, ter = company(1)
    p = TerritoryProblem.build(acc, ter, circuity=1.25)
    has = p.current >= 0
    today = np.quantile(p.dist(np.flatnonzero(has), p.current[has]), 0.8)
    second = np.median(p.nth_nearest(np.arange(p.n), 2))
    assert p.reach == pytest.approx(np.ceil(max(today, second) / 10) * 10)
    assert default_reach(p) == p.reach
    # a green field: from the homes alone, finite
    green = TerritoryProblem.build(acc.assign(territory_id=""), ter, circuity=1.25)
    assert np.isfinite(green.reach) and green.reach == pytest.approx(np.ceil(second / 10) * 10)


def test_a_new_account_beyond_reach_goes_to_one_of_its_nearest_homes():
    acc, ter = company(2)
    far = acc.iloc[[0]].assign(
        account_id="FAR", latitude=45.0, longitude=-110.0, territory_id="", region="West"
    )
    acc = pd.concat([acc, far], ignore_index=True)
    opt = request(acc, ter, reach_km=150).solve()
    p = opt.problem_
    i = len(acc) - 1
    own = p.ter_region == p.acc_region[i]
    d = p.dist(np.full(p.m, i), np.arange(p.m))
    nearest_two = np.argsort(np.where(own, d, np.inf))[:2]
    assert opt.assign_idx_[i] in nearest_two


def test_crossing_regions_only_when_the_plan_allows():
    acc, ter = company(3)
    p = TerritoryProblem.build(acc, ter, reach_km=np.inf)
    rows, cols = np.repeat(np.arange(p.n), p.m), np.tile(np.arange(p.m), p.n)
    ok = p.allowed(rows, cols)
    cross = p.acc_region[rows] != p.ter_region[cols]
    assert not ok[cross & (cols != p.current[rows])].any()
    free = TerritoryProblem.build(acc, ter, reach_km=np.inf, cross_regions=True)
    assert free.allowed(rows, cols).all()


def test_plan_reach_setting_keeps_its_old_name():
    assert Balance(max_distance_km=120).reach_km == 120
    assert Balance().reach_km is None and Balance().circuity == 1.25


def sparse(seed: int):
    """A company with a new rep based far from any account (too little within reach)."""
    acc, ter = company(seed, spokes=0.0)
    extra = ter.iloc[[0]].assign(
        territory_id="T99", home_latitude=44.0, home_longitude=-103.0, region="West"
    )  # South Dakota
    return acc, pd.concat([ter, extra], ignore_index=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_unbalanceable_territories_are_named_and_the_rest_balanced(seed):
    acc, ter = sparse(seed)
    opt = request(acc, ter, tolerance=0.15, reach_km=250)
    with pytest.raises(balancing.InfeasibleRequest):
        opt.solve()
    found = unbalanced(opt.problem())
    t = found.table.set_index("territory_id")
    lonely = ter["territory_id"].iloc[-1]
    assert t.loc[lonely, "side"] == "under" and t.loc[lonely, "rule"] == "reach"
    solved = balancing.solve_or_widen(opt)
    assert set(solved.unbalanced_.floors) == set(t.index)
    s = solved.summary_.set_index("territory_id")
    others = s.drop(index=list(t.index))
    assert ((others["workload_vs_target_after"] - 1).abs() <= 0.15 + 1e-6).all()
    # the lonely rep is not padded with far accounts: nothing beyond reach is given to it
    mine = solved.assignment_.to_numpy() == lonely
    assert (km(solved, solved.assignment_)[mine] <= 250 + 1e-6).all()
    assert "cannot be balanced" in balancing.headline(solved)


def test_a_short_territory_the_rules_cannot_balance_keeps_its_accounts():
    """A territory short of target that the rules cannot balance, whose accounts no other
    territory needs, is not stripped further to shorten others' travel: it keeps every
    account it has (and may take more). Over the seeds, at least one has such a territory."""
    kept_any = 0
    for seed in SEEDS:
        acc, ter = sparse(seed)
        solved = balancing.solve_or_widen(request(acc, ter, tolerance=0.15, reach_km=250))
        found = solved.unbalanced_
        s = solved.summary_.set_index("territory_id")
        today = acc["territory_id"].astype(str).to_numpy()
        proposed = solved.assignment_.astype(str).to_numpy()
        held = found.keep if getattr(solved, "kept_accounts_", 0) else ()
        for t in held:
            assert (proposed[today == t] == t).all(), (seed, t)
            # its hours are at least today's (against target it moves with the team's total)
            assert s.loc[t, "hours_after"] >= s.loc[t, "hours_before"] - 1e-6, (seed, t)
        if held:
            kept_any += 1
            assert solved.kept_accounts_ == int(np.isin(today, found.keep).sum())
            rules = " ".join(balancing.rules_result(solved).table.astype(str).to_numpy().ravel())
            assert "kept whole" in rules
        # the plan locks nothing itself: every lock is a kept territory's
        assert not solved.problem_.locked[~np.isin(today, held)].any()
    assert kept_any >= 1


def test_staffing_changes_are_tried_and_reported():
    acc, ter = sparse(1)
    solved = balancing.solve_or_widen(request(acc, ter, tolerance=0.15, reach_km=250))
    sizing = pd.DataFrame({"region": ["West", "East"], "gap": [0.0, 0.0]})
    result = staffing.remedies(solved, sizing, limit=2)
    assert len(result.table) >= 1
    assert result.table["change"].str.contains("rep|merge|relocate").all()
    # reps relocated to fill up are each sent beside a different busy territory
    beside = result.table["change"].str.extract(r"relocate .* beside (\S+)$")[0].dropna()
    assert beside.is_unique
    assert {"balanced", "territories still outside the band"} <= set(result.table)
    # the Decisions: the territories that move, headcount by region, and each territory the
    # rules cannot balance with the change tried for it
    sizing = pd.DataFrame(
        {
            "region": ["West", "East"],
            "reps_needed": [6.2, 3.1],
            "fte_today": [5.0, 4.0],
            "reps_today": [5, 4],
            "gap": [1.2, -0.9],
        }
    )
    lines = staffing.decisions(solved, balancing.territory_table(solved).table, sizing, result)
    topics = {d.topic for d in lines}
    assert {"Hires and reductions", "What to watch"} <= topics
    hires = [d.text for d in lines if d.topic == "Hires and reductions"]
    assert hires[0].startswith("West: hire 1.2 FTE") and hires[1].startswith("East: reduce by")
    watch = [d.text for d in lines if d.topic == "What to watch"]
    assert len(watch) == len(solved.unbalanced_.table)
    realign = [d for d in lines if d.topic == "Territories to realign"]
    moved = solved.moves_["account_id"].nunique()
    assert (len(realign) > 0) == (moved > 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_warm_resolve_keeps_new_locks(seed):
    """Lock accounts the proposal moved: the warm re-solve is infeasible exactly when a cold
    solve of the same request is (no false infeasible from a stale warm start), and the
    plan the panel then shows keeps every lock."""
    acc, ter = company(seed, spokes=0.0)
    opt = balancing.solve_or_widen(request(acc, ter, tolerance=0.2))
    hours = acc.set_index("account_id")["call_hours"]
    moved = hours.reindex(opt.moves_["account_id"]).sort_values().index[:30].tolist()
    assert moved

    def attempt(o):
        try:
            return o.solve(quick=True)
        except balancing.InfeasibleRequest:
            return None

    warm = attempt(opt.changed(locked_accounts=moved))
    cold = attempt(opt.changed(locked_accounts=moved).with_params())  # no warm start
    assert (warm is None) == (cold is None)
    shown = warm or balancing.solve_or_widen(opt.changed(locked_accounts=moved), quick=True)
    today = acc.set_index("account_id")["territory_id"].reindex(moved).to_numpy()
    assert (shown.assignment_.reindex(moved).to_numpy() == today).all()
    assert opt.assignment_.reindex(moved).ne(today).all()  # the first proposal is untouched


def test_resolve_is_a_warm_solved_copy():
    acc, ter = company(1, spokes=0.0)
    opt = request(acc, ter, tolerance=0.5, reach_km=np.inf).solve()
    again = opt.resolve(tolerance=0.6)
    assert again is not opt and again.tolerance == 0.6 and opt.tolerance == 0.5
    assert again.objective_ <= opt.objective_ * (1 + 0.05)  # a wider band is no dearer


@pytest.mark.parametrize("seed", SEEDS)
def test_the_trade_off_curve_is_monotone(seed):
    acc, ter = company(seed)
    opt = balancing.solve_or_widen(request(acc, ter))
    result = balancing.disruption_curve(opt, steps=3, lp_steps=5)
    curve = result.table
    assert list(curve.columns[:5]) == [
        "max_moved_share", "accounts_moved", "workload_tolerance", "travel_vs_today", "gap"
    ]  # fmt: skip
    ok = curve.dropna(subset=["workload_tolerance"])
    assert (
        len(ok) >= 5 and ok["max_moved_share"].iloc[0] == 0 and ok["max_moved_share"].iloc[-1] == 1
    )
    assert (np.diff(ok["workload_tolerance"].to_numpy()) <= 1e-9).all()
    assert (ok["tightest_possible"] <= ok["workload_tolerance"] + 1e-9).all()
    assert (ok["accounts_moved"] <= ok["max_moved_share"] * len(acc) + 1e-6).all()
    # the text places the proposal on the curve, and the chart marks it
    at = result.proposal
    assert at["accounts_moved"] == len(opt.moves_) and at["workload_tolerance"] == opt.tolerance
    said = result.headline.split("The proposal is the point at")[1]
    assert f"({at['accounts_moved']:,.0f} accounts moved, ±{at['workload_tolerance']:.0%}" in said
    same = ok[np.isclose(ok["max_moved_share"], at["max_moved_share"])]
    tighter = same["workload_tolerance"].iloc[0] < at["workload_tolerance"] - 0.005
    assert ("a tighter band" in said) == tighter


@pytest.mark.parametrize("seed", SEEDS)
def test_aligning_by_postal_code_keeps_each_code_together(seed):
    acc, ter = company(seed)
    acc["group"] = np.where(acc["revenue"] > acc["revenue"].quantile(0.95), "", acc["postal_code"])
    opt = request(acc, ter).solve()
    together = acc.assign(t=opt.assignment_.to_numpy())
    grouped = together[together["group"] != ""]
    assert (grouped.groupby("group")["t"].nunique() == 1).all()
    assert "units" in opt.method_ and 0 <= opt.gap_ < 1
    zips = balancing.territory_zip_codes(opt)
    assert zips["postal_code"].is_unique
    assert zips["accounts"].sum() == len(grouped)
    etm = balancing.territory_associations(opt)
    assert list(etm.columns) == ["ObjectId", "Territory2DeveloperName", "AssociationCause"]
    assert len(etm) == len(acc) and (etm["AssociationCause"] == "Territory2Manual").all()


def test_units_add_up_their_members():
    acc, ter = company(1)
    acc["group"] = acc["postal_code"]
    p = TerritoryProblem.build(acc, ter)
    units, unit_of = groups.grouped(p)
    assert units.n == acc["postal_code"].nunique()
    assert units.call_time.sum() == pytest.approx(p.call_time.sum())
    assert units.move_weight.sum() == pytest.approx(p.n)


def test_developer_names_are_salesforce_safe():
    assert balancing.developer_name("T01") == "T01"
    assert balancing.developer_name("01 West/North") == "T_01_West_North"


def test_compactness_of_clean_and_messy_territories():
    acc, ter = company(1, spokes=0.0)
    p = TerritoryProblem.build(acc, ter, reach_km=np.inf)
    clean = compactness(p, p.current)
    assert (clean["nearest_share"] == 1).all()
    spoked = TerritoryProblem.build(*company(1, spokes=0.3), reach_km=np.inf)
    c = compactness(spoked, spoked.current)
    assert (c["nearest_share"] * c["accounts"]).sum() < 0.8 * clean["accounts"].sum()
    assert c["overlap"].mean() > clean["overlap"].mean()
    assert c["farthest_km"].max() > clean["farthest_km"].max()


def test_asymmetric_territory_tolerance():
    acc, ter = company(1)
    p = TerritoryProblem.build(
        acc, ter, tolerance=0.1, territory_tolerance={"T00": (1.0, 0, 0, 0.5)}
    )
    b = p.bands()
    assert b.w_lo[0] == 1.0 and b.w_hi[0] == 0.1 and b.p_hi[0] == 0.5 and b.w_lo[1] == 0.1
    with pytest.raises(ValueError, match="do not exist"):
        TerritoryProblem.build(acc, ter, territory_tolerance={"T99": 0.3})


def test_moving_a_customer_costs_what_it_bought():
    """With ``bookings``, moving an account costs the mean of its revenue weight and its
    bookings weight; without, its revenue weight alone."""
    acc, ter = company(1, n=60)
    acc = acc.assign(revenue=1000.0, bookings=0.0)
    acc.loc[0, "bookings"] = 5000.0
    p = TerritoryProblem.build(acc, ter, disruption=1.0)
    q = TerritoryProblem.build(acc.drop(columns="bookings"), ter, disruption=1.0)
    assert np.allclose(q.penalty, q.penalty[0])
    assert p.penalty[0] / p.penalty[1] == pytest.approx((1 + 60) / 2 / 0.5)
    assert p.penalty.mean() == pytest.approx(q.penalty.mean())


def test_a_realignment_moves_less_of_what_customers_bought():
    """A fifth of the accounts are customers, a few of them large: weighing what they
    bought, the proposal never moves a larger share of the bookings than by size alone, and
    a smaller one on most companies (seven of eight seeds when written; the other moved the
    same accounts)."""
    lower = 0
    for seed in range(1, 7):
        acc, ter = company(seed, n=500)
        rng = np.random.default_rng(seed)
        bought = rng.random(len(acc)) < 0.2
        acc["bookings"] = np.where(bought, rng.lognormal(10, 1.5, len(acc)), 0.0)
        shares = []
        for frame in (acc, acc.drop(columns="bookings")):
            opt = balancing.solve_or_widen(request(frame, ter, tolerance=0.1, disruption=1.0))
            moved = acc["territory_id"].to_numpy() != opt.assignment_.to_numpy()
            assert moved.any()
            shares.append(acc["bookings"][moved].sum() / acc["bookings"].sum())
        assert shares[0] <= shares[1] + 1e-9, seed
        lower += shares[0] < shares[1] - 1e-9
    assert lower >= 4
