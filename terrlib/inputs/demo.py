"""A realistic demo company with planted truths, generated from a seed.

``generate`` writes ``accounts.csv``, ``reps.csv``, ``opportunities.csv``, ``activities.csv``,
``plan.yaml`` and ``truth.json`` into a folder. The calendar is fixed by ``end_quarter``, never by
today's date, so a seed always gives the same company.

Planted truths (recorded in ``truth.json`` with the values actually realised):

* one industry (Manufacturing) converts about twice as well as the rest;
* deal size and sales-cycle length grow with account size (known elasticities);
* a few reps truly beat, and a few trail, what their territory allows; quotas are flat within a
  region, so raw attainment misleads: one weak rep sits in the richest territory of a region and
  one strong rep in the poorest;
* current territories are unbalanced: some need far more hours than their rep has (the accounts
  the rep cannot reach become white space), some far fewer;
* rep time goes disproportionately to non-priority industries (and a few reps neglect the
  priority segments almost entirely);
* product pairs are often bought together;
* engagement falls in the two quarters before an account churns;
* white space (potential minus spend) concentrates in the overloaded territories.

Examples
--------
>>> import tempfile
>>> truth = generate(tempfile.mkdtemp(), n_accounts=300, n_reps=8, seed=3)
>>> truth["high_converting_industry"]
'Manufacturing'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from terrlib.geo import STATE_REGION, distance_matrix_km, haversine_km, zip_table
from terrlib.inputs.coverage import call_hours
from terrlib.inputs.plan import Balance, Plan, Strategy, dump_plan
from terrlib.periods import parse_quarter

INDUSTRIES = {
    # name: (share of accounts, wallet multiplier, revenue per employee in $k)
    "Manufacturing": (0.17, 1.0, 320),
    "Healthcare": (0.14, 1.2, 180),
    "Financial Services": (0.11, 1.3, 420),
    "Retail": (0.15, 0.7, 210),
    "Software": (0.12, 1.4, 260),
    "Professional Services": (0.14, 0.8, 190),
    "Logistics": (0.09, 0.9, 240),
    "Education": (0.08, 0.6, 120),
}
HIGH_CONVERTING = "Manufacturing"
PRIORITY_INDUSTRIES = {"Healthcare": 1.0, "Software": 0.8}
PRIORITY_SEGMENTS = {"Enterprise": 1.0, "Mid-Market": 0.5}
#: Industries reps over-serve, against the strategy (multiplier on activity rates).
EFFORT_BIAS = {"Retail": 1.9, "Professional Services": 1.6, "Healthcare": 0.55, "Software": 0.6}

PRODUCTS = {
    # name: (share of first opportunities, price multiplier)
    "Core Platform": (0.34, 1.0),
    "Analytics": (0.16, 0.6),
    "Integrations": (0.12, 0.45),
    "Security": (0.14, 0.7),
    "Support Plus": (0.10, 0.3),
    "Training": (0.14, 0.2),
}
PRODUCT_PAIRS = [("Analytics", "Integrations"), ("Security", "Support Plus")]

METROS = [
    # (lat, lon, relative size) of large US metros: accounts cluster around them
    (40.75, -73.98, 20),
    (34.05, -118.25, 13),
    (41.85, -87.68, 9.5),
    (32.78, -96.80, 7.6),
    (29.76, -95.37, 7.1),
    (38.90, -77.04, 6.3),
    (25.77, -80.19, 6.1),
    (39.95, -75.16, 6.2),
    (33.75, -84.39, 6.1),
    (42.36, -71.06, 4.9),
    (33.45, -112.07, 4.9),
    (37.77, -122.42, 4.7),
    (47.61, -122.33, 4.0),
    (42.33, -83.05, 4.3),
    (44.98, -93.27, 3.7),
    (32.72, -117.16, 3.3),
    (27.95, -82.46, 3.2),
    (39.74, -104.99, 3.0),
    (38.63, -90.20, 2.8),
    (35.23, -80.84, 2.7),
    (45.52, -122.68, 2.5),
    (30.27, -97.74, 2.3),
    (36.16, -86.78, 2.0),
    (40.76, -111.89, 1.3),
    (39.10, -94.58, 2.2),
    (39.96, -83.00, 2.1),
    (39.77, -86.16, 2.1),
    (40.44, -79.99, 2.3),
    (35.78, -78.64, 1.4),
    (36.17, -115.14, 2.3),
    (29.42, -98.49, 2.6),
    (38.58, -121.49, 2.4),
    (41.50, -81.69, 2.0),
    (43.04, -87.91, 1.6),
    (35.15, -90.05, 1.3),
    (30.33, -81.66, 1.6),
]

FIRST = (
    "Alex Jordan Taylor Morgan Casey Riley Jamie Avery Quinn Drew Sam Robin Cameron Dana "
    "Elliot Frankie Harper Jesse Kendall Logan Micah Noel Parker Reese Rowan Sage Skyler "
    "Tatum Blair Emerson"
).split()
LAST = (
    "Garcia Smith Johnson Lee Brown Martinez Davis Wilson Anderson Thomas Moore Jackson White "
    "Harris Clark Lewis Walker Hall Young King Wright Lopez Hill Scott Green Adams Baker "
    "Nelson Carter Mitchell Perez Roberts Turner Phillips Campbell Parker Evans Edwards "
    "Collins Stewart"
).split()
NAME_A = (
    "Summit Harbor Pioneer Granite Cedar Beacon Northstar Bluewater Ironwood Keystone "
    "Meridian Prairie Redwood Silverline Evergreen Lakeshore Copper Atlas Horizon Liberty "
    "Crescent Falcon Orchard Sterling Union"
).split()
NAME_B = (
    "Analytics Logistics Health Systems Foods Partners Labs Industries Capital Retail "
    "Medical Software Supply Works Group Dynamics Learning Advisors Freight Clinics"
).split()
NAME_C = ("Inc", "LLC", "Co", "Corp", "Ltd", "Group")


def _choice_names(rng: np.random.Generator, n: int) -> list[str]:
    a = rng.choice(NAME_A, n)
    b = rng.choice(NAME_B, n)
    c = rng.choice(NAME_C, n)
    return [f"{x} {y} {z}" for x, y, z in zip(a, b, c, strict=True)]


def _sample_locations(rng: np.random.Generator, n: int) -> pd.DataFrame:
    zips = zip_table()
    zips = zips[(zips["zip_type"] == "STANDARD") & zips["state"].isin(STATE_REGION)]
    metros = np.array(METROS)
    d = distance_matrix_km(zips["latitude"], zips["longitude"], metros[:, 0], metros[:, 1])
    weight = 0.08 + (metros[:, 2][None, :] * np.exp(-d / 35.0)).sum(axis=1)
    pick = rng.choice(len(zips), size=n, p=weight / weight.sum())
    chosen = zips.iloc[pick]
    return pd.DataFrame(
        {
            "postal_code": chosen.index.to_numpy(),
            "latitude": chosen["latitude"].to_numpy() + rng.normal(0, 0.008, n),
            "longitude": chosen["longitude"].to_numpy() + rng.normal(0, 0.008, n),
            "state": chosen["state"].to_numpy(),
            "city": chosen["city"].to_numpy(),
        }
    )


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iters: int = 25) -> np.ndarray:
    """Plain Lloyd iterations on (lat, lon scaled) points, k-means++ start; returns labels.
    The k-means++ distances are kept as a running minimum (the same values as comparing
    every point with every centre chosen so far, at a ``k``-th of the work)."""
    centers = [points[rng.integers(len(points))]]
    d2 = ((points - centers[0]) ** 2).sum(-1)
    for _ in range(1, k):
        centers.append(points[rng.choice(len(points), p=d2 / d2.sum())])
        d2 = np.minimum(d2, ((points - centers[-1]) ** 2).sum(-1))
    c = np.array(centers)
    for _ in range(iters):
        labels = ((points[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            if (labels == j).any():
                c[j] = points[labels == j].mean(0)
    return ((points[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)


def _assign_territories(
    acc: pd.DataFrame,
    homes: pd.DataFrame,
    shares: np.ndarray,
    plan: Plan,
    band: float = 0.03,
    arcs: int = 12,
) -> np.ndarray:
    """Assign accounts to the territories of their region so that each territory's share of
    its region's hours (call time plus travel from the rep's home) is within ``band`` of
    ``shares`` (relative, any scale), as compactly as possible.

    An LP (HiGHS) of hours-weighted distance over each account's ``arcs`` nearest homes, with
    the region's total hours H as a variable (load_k within (1 +- band) share_k H) and a steep
    penalty on any violation; split accounts go to their larger part."""
    assign = np.empty(len(acc), dtype=int)
    employees = acc["employees"].to_numpy()
    road = plan.balance.circuity  # hours by road distance, as the stages count them
    for region in homes["region"].unique():
        ia = np.flatnonzero(acc["region"].to_numpy() == region)
        ik = np.flatnonzero(homes["region"].to_numpy() == region)
        n, m = len(ia), len(ik)
        d = distance_matrix_km(
            acc["latitude"].to_numpy()[ia],
            acc["longitude"].to_numpy()[ia],
            homes["home_latitude"].to_numpy()[ik],
            homes["home_longitude"].to_numpy()[ik],
        )
        q = min(arcs, m)
        near = np.argsort(d, axis=1)[:, :q]
        rows = np.repeat(np.arange(n), q)
        ks = near.ravel()
        dist = d[rows, ks]
        h = call_hours(plan, employees[ia][rows], dist * road)
        nv = n * q
        share = shares[ik] / shares[ik].sum()
        # variables: x (nv), H, over (m), under (m)
        x_cols = np.arange(nv)
        a_eq = sparse.vstack(
            [
                sparse.csr_matrix((np.ones(nv), (rows, x_cols)), shape=(n, nv + 1 + 2 * m)),
                sparse.csr_matrix(
                    (np.r_[h, -1.0], (np.zeros(nv + 1, int), np.r_[x_cols, nv])),
                    shape=(1, nv + 1 + 2 * m),
                ),
            ]
        )
        load = sparse.csr_matrix((h, (ks, x_cols)), shape=(m, nv))
        eye = sparse.identity(m)
        zero = sparse.csr_matrix((m, m))
        a_ub = sparse.vstack(
            [
                sparse.hstack([load, -(1 + band) * share[:, None], -eye, zero]),
                sparse.hstack([-load, (1 - band) * share[:, None], zero, -eye]),
            ]
        ).tocsr()
        penalty = 1e3 * float(dist.max() + 1)
        cost = np.r_[h * dist, 0.0, np.full(2 * m, penalty)]
        res = linprog(
            cost,
            A_ub=a_ub,
            b_ub=np.zeros(2 * m),
            A_eq=a_eq,
            b_eq=np.r_[np.ones(n), 0],
            bounds=(0, None),
            method="highs",
        )
        if res.status != 0:
            raise RuntimeError(f"demo territory layout failed in {region}: {res.message}")
        xs = res.x[:nv].reshape(n, q)
        assign[ia] = ik[near[np.arange(n), xs.argmax(1)]]
    return assign


def _staff(region_demand: pd.Series, n_reps: int) -> pd.Series:
    """Reps per region in proportion to hours needed (largest remainder, at least two each)."""
    alloc = np.maximum(2, np.floor(region_demand / region_demand.sum() * n_reps)).astype(int)
    while alloc.sum() < n_reps:
        alloc[(region_demand / alloc).idxmax()] += 1
    while alloc.sum() > n_reps:
        alloc[(region_demand / alloc).where(alloc > 2).idxmin()] -= 1
    return alloc


def _staff_with_travel(
    calls: pd.Series, travel: pd.Series, staffed: pd.Series, n_reps: int
) -> pd.Series:
    """Reps per region that equalise hours per rep when travel scales as
    ``travel * sqrt(staffed / reps)`` (bisection on the common load per rep)."""

    def reps_for(load: float) -> pd.Series:
        lo, hi = np.full(len(calls), 0.5), np.full(len(calls), float(n_reps))
        for _ in range(60):
            mid = (lo + hi) / 2
            excess = calls + travel * np.sqrt(staffed / mid) - load * mid
            lo, hi = np.where(excess > 0, mid, lo), np.where(excess > 0, hi, mid)
        return pd.Series((lo + hi) / 2, index=calls.index)

    lo, hi = 1e-3, float((calls + travel).sum())
    for _ in range(80):
        mid = (lo + hi) / 2
        if reps_for(mid).sum() > n_reps:
            lo = mid
        else:
            hi = mid
    want = reps_for(hi)
    alloc = np.maximum(2, np.floor(want)).astype(int)
    while alloc.sum() < n_reps:
        alloc[(want - alloc).idxmax()] += 1
    while alloc.sum() > n_reps:
        alloc[(want - alloc).where(alloc > 2).idxmin()] -= 1
    return alloc


def _place_homes(acc: pd.DataFrame, alloc: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Rep homes at the account nearest the middle of each k-means cluster of a region."""
    homes = []
    for region, n in alloc.items():
        sub = acc[acc["region"] == region]
        pts = np.c_[sub["latitude"], sub["longitude"] * np.cos(np.radians(sub["latitude"].mean()))]
        labels = _kmeans(pts, int(n), rng)
        for j in range(int(n)):
            members = sub[labels == j] if (labels == j).any() else sub
            centre = members[["latitude", "longitude"]].median().to_numpy()
            nearest = (
                ((members[["latitude", "longitude"]].to_numpy() - centre) ** 2).sum(1).argmin()
            )
            row = members.iloc[nearest]
            homes.append((region, row["latitude"], row["longitude"]))
    homes = pd.DataFrame(homes, columns=["region", "home_latitude", "home_longitude"])
    return homes.sort_values(["region", "home_longitude"]).reset_index(drop=True)


@dataclass
class _Draft:
    """The company as :func:`generate` builds it, step by step (each step draws from ``rng``
    in turn, so the same seed gives the same company)."""

    rng: np.random.Generator
    plan: Plan
    quarters: pd.PeriodIndex
    n: int
    acc: pd.DataFrame | None = None
    employees: np.ndarray | None = None
    wallet: np.ndarray | None = None
    reps: pd.DataFrame | None = None
    part_time: np.ndarray | None = None
    overloaded: list | None = None
    underloaded: list | None = None
    rel_capacity: np.ndarray | None = None
    assign: np.ndarray | None = None
    dist_home: np.ndarray | None = None
    hours: np.ndarray | None = None
    load: np.ndarray | None = None
    capacity: np.ndarray | None = None
    utilization: np.ndarray | None = None
    reach: np.ndarray | None = None
    hire: np.ndarray | None = None
    new_reps: np.ndarray | None = None
    skill: np.ndarray | None = None
    eligible: list | None = None
    strong: list | None = None
    weak: list | None = None
    misleading: tuple | None = None
    bias: np.ndarray | None = None
    neglecters: np.ndarray | None = None
    is_priority: np.ndarray | None = None
    churner: np.ndarray | None = None
    churn_q: np.ndarray | None = None
    after: np.ndarray | None = None
    before: np.ndarray | None = None
    active: np.ndarray | None = None
    opps: pd.DataFrame | None = None
    acts: pd.DataFrame | None = None
    won: pd.DataFrame | None = None

    @property
    def start(self) -> pd.Timestamp:
        return self.quarters[0].start_time.normalize()

    @property
    def end(self) -> pd.Timestamp:
        return self.quarters[-1].end_time.normalize()

    @property
    def nq(self) -> int:
        return len(self.quarters)

    @property
    def k(self) -> int:
        return len(self.reps)

    @property
    def q_start(self) -> np.ndarray:
        return np.array([q.start_time.normalize().to_datetime64() for q in self.quarters])

    @property
    def q_end(self) -> np.ndarray:
        return np.array([q.end_time.normalize().to_datetime64() for q in self.quarters])


def generate(
    out_dir: Path | str,
    n_accounts: int = 5000,
    n_reps: int = 44,
    seed: int = 7,
    end_quarter: str = "2026Q3",
    n_quarters: int = 11,
) -> dict:
    """Generate the demo company into ``out_dir`` and return the planted truths.

    Parameters
    ----------
    out_dir : path
        Folder to write (created if needed; existing demo files are overwritten).
    n_accounts, n_reps : int
        Company size; at least 100 accounts and 8 reps (two per region).
    seed : int
        Random seed; the same seed gives byte-identical files.
    end_quarter : str
        Last quarter of history (complete); the calendar does not depend on today's date.
    n_quarters : int
        Quarters of opportunity and activity history (at least 8).

    Returns
    -------
    dict
        The planted truths, also written to ``truth.json``.
    """
    if n_accounts < 100 or n_reps < 8 or n_quarters < 8:
        raise ValueError("the demo needs at least 100 accounts, 8 reps and 8 quarters")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan(
        company="Demo Co (synthetic)",
        strategy=Strategy(
            priority_industries=PRIORITY_INDUSTRIES, priority_segments=PRIORITY_SEGMENTS
        ),
        # a handful of very large accounts each carry up to 40% of a territory's potential
        # target, so potential is balanced on a wider band than workload
        balance=Balance(potential_tolerance=0.5),
    )
    last_q = parse_quarter(end_quarter)
    quarters = pd.period_range(end=last_q, periods=n_quarters, freq=last_q.freq)
    d = _Draft(np.random.default_rng(seed), plan, quarters, n_accounts)
    _accounts(d)
    _rep_homes(d, n_reps)
    _planted_load(d)
    _reach(d)
    _hire_dates(d)
    _skills(d)
    _behaviour(d)
    _opportunities(d)
    _activities(d)
    _quotas_and_costs(d)
    _write(d, out)
    truth = _truths(d, seed)
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def _accounts(d: _Draft) -> None:
    """Accounts at real locations: industry, size, revenue, true wallet, creation date."""
    rng, n_accounts, start, end = d.rng, d.n, d.start, d.end
    acc = _sample_locations(rng, n_accounts)
    acc["region"] = acc["state"].map(STATE_REGION)
    names = list(INDUSTRIES)
    shares = np.array([INDUSTRIES[i][0] for i in names])
    acc["industry"] = rng.choice(names, n_accounts, p=shares / shares.sum())
    employees = np.clip(np.round(np.exp(rng.normal(4.2, 1.5, n_accounts))), 3, 60_000)
    acc["employees"] = employees.astype(int)
    rev_per_emp = acc["industry"].map({k: v[2] for k, v in INDUSTRIES.items()}).to_numpy()
    acc["annual_revenue"] = np.round(
        employees * rev_per_emp * 1000 * np.exp(rng.normal(0, 0.35, n_accounts)), -3
    ).astype(np.int64)
    wallet_mult = acc["industry"].map({k: v[1] for k, v in INDUSTRIES.items()}).to_numpy()
    wallet = 2500.0 * employees**0.7 * wallet_mult * np.exp(rng.normal(0, 0.3, n_accounts))
    acc["account_id"] = [f"A{i:05d}" for i in range(1, n_accounts + 1)]
    acc["account_name"] = _choice_names(rng, n_accounts)
    new_acc = rng.random(n_accounts) < 0.10
    old_days = rng.integers(0, 365 * 9, n_accounts)
    span_days = (end - start).days
    created = np.where(
        new_acc,
        (start + pd.to_timedelta(rng.integers(0, span_days - 60, n_accounts), "D")).to_numpy(),
        (start - pd.to_timedelta(old_days + 1, "D")).to_numpy(),
    )
    acc["created_date"] = pd.to_datetime(created).normalize()
    d.acc, d.employees, d.wallet = acc, employees, wallet


def _rep_homes(d: _Draft, n_reps: int) -> None:
    """Rep homes: regions staffed by the hours their accounts need. Travel per account shrinks
    with the square root of rep density, so a first layout calibrates the travel part; then
    single reps move until regions carry similar hours per rep."""
    rng, acc, employees, plan, n_accounts = d.rng, d.acc, d.employees, d.plan, d.n
    road = plan.balance.circuity
    region_of = acc["region"].to_numpy()
    direct_hours = call_hours(plan, employees, np.zeros(n_accounts))
    demand = pd.Series(call_hours(plan, employees, np.full(n_accounts, 30.0)))
    alloc = _staff(demand.groupby(region_of).sum(), n_reps)
    homes = _place_homes(acc, alloc, rng)
    first = _assign_territories(acc, homes, np.ones(len(homes)), plan, band=0.1)
    total = pd.Series(call_hours(plan, employees, road * _home_km(acc, homes, first)))
    calls_r = pd.Series(direct_hours).groupby(region_of).sum()
    travel_r = total.groupby(region_of).sum() - calls_r
    alloc = _staff_with_travel(calls_r, travel_r, alloc, n_reps)
    for _ in range(4):
        homes = _place_homes(acc, alloc, rng)
        lay = _assign_territories(acc, homes, np.ones(len(homes)), plan, band=0.1)
        hours0 = pd.Series(call_hours(plan, employees, road * _home_km(acc, homes, lay)))
        per_rep = hours0.groupby(region_of).sum() / alloc
        if per_rep.max() / per_rep.min() < 1.1:
            break
        alloc[per_rep.idxmax()] += 1
        alloc[per_rep.where(alloc > 2).idxmin()] -= 1
    reps = homes
    k = len(reps)
    reps["rep_id"] = [f"R{i:03d}" for i in range(1, k + 1)]
    reps["territory_id"] = [f"T{i:02d}" for i in range(1, k + 1)]
    pairs = [f"{a} {b}" for a in FIRST for b in LAST]
    reps["rep_name"] = rng.choice(pairs, k, replace=False)  # unique names
    reps["district"] = _districts(reps)
    d.reps = reps


def _home_km(acc: pd.DataFrame, homes: pd.DataFrame, assign: np.ndarray) -> np.ndarray:
    """Each account's distance to the home of its territory (row ``assign`` of ``homes``)."""
    return haversine_km(
        acc["latitude"].to_numpy(float),
        acc["longitude"].to_numpy(float),
        homes["home_latitude"].to_numpy(float)[assign],
        homes["home_longitude"].to_numpy(float)[assign],
    )


def _districts(reps: pd.DataFrame, most: int = 6) -> list[str]:
    """A district for each rep (a first-line manager's team): each region's reps, west to
    east, in as few districts of at most ``most`` as its number allows, of near equal size."""
    out = pd.Series("", index=reps.index, dtype=object)
    for region, team in reps.groupby("region", sort=False):
        order = team.sort_values("home_longitude").index
        parts = -(-len(order) // most)
        for j, chunk in enumerate(np.array_split(order.to_numpy(), parts)):
            out[chunk] = f"{region} {j + 1}"
    return out.tolist()


def _planted_load(d: _Draft) -> None:
    """Today's territories with a planted imbalance (per region one overloaded and one
    underloaded territory, one part-time rep), and one company-wide full-time capacity set so
    the typical territory is about fully loaded."""
    rng, acc, reps, plan, k = d.rng, d.acc, d.reps, d.plan, d.k
    regions = sorted(acc["region"].unique())
    part_time = np.zeros(k, bool)
    part_time[rng.integers(k)] = True
    per_region_idx = {r: np.flatnonzero(reps["region"].to_numpy() == r) for r in regions}
    order = rng.permutation(regions)
    n_imb = 3 if k >= 20 else 1  # planted over- and under-loaded territories
    overloaded = [int(rng.choice(per_region_idx[r])) for r in order[:n_imb]]
    underloaded = []
    for r in order[1 : 1 + n_imb]:
        choices = [i for i in per_region_idx[r] if i not in overloaded and not part_time[i]]
        underloaded.append(int(rng.choice(choices)))
    util_target = np.clip(rng.normal(1.0, 0.06, k), 0.88, 1.12)
    for i in overloaded:
        util_target[i] = rng.uniform(1.55, 1.75)
    for i in underloaded:
        util_target[i] = rng.uniform(0.50, 0.60)
    rel_capacity = np.where(part_time, 0.5, 1.0)
    assign = _assign_territories(acc, reps, util_target * rel_capacity, plan)
    dist_home = _home_km(acc, reps, assign)
    # hours by road, as stages 1, 4 and 5 and the optimizer count them
    hours = call_hours(plan, d.employees, dist_home * plan.balance.circuity)
    load = np.bincount(assign, weights=hours, minlength=k)
    typical_ones = [i for i in range(k) if i not in overloaded + underloaded]
    typical = np.median(load[typical_ones] / rel_capacity[typical_ones])
    capacity = float(round(typical / 50) * 50) * rel_capacity
    acc["territory_id"] = reps["territory_id"].to_numpy()[assign]
    d.part_time, d.overloaded, d.underloaded = part_time, overloaded, underloaded
    d.rel_capacity, d.assign, d.dist_home, d.hours = rel_capacity, assign, dist_home, hours
    d.load, d.capacity, d.utilization = load, capacity, load / capacity


def _reach(d: _Draft) -> None:
    """An overloaded rep cannot serve the farthest accounts, which become white space."""
    reach = np.ones(d.n)
    for t in range(d.k):
        if d.utilization[t] > 1.0:
            members = np.flatnonzero(d.assign == t)
            noise = d.rng.normal(0, 15, len(members))
            far_first = members[np.argsort(-d.dist_home[members] + noise)]
            cum = np.cumsum(d.hours[far_first])
            unreached = far_first[cum <= d.load[t] * (1 - 1 / d.utilization[t])]
            reach[unreached] = 0.15
    d.reach = reach


def _hire_dates(d: _Draft) -> None:
    """Hire dates: two reps are new (one hired last year, one this year)."""
    rng, k, quarters = d.rng, d.k, d.quarters
    hire = d.start - pd.to_timedelta(rng.integers(200, 365 * 8, k), "D")
    hire = pd.DatetimeIndex(hire).normalize().to_numpy().copy()
    new_reps = rng.choice(
        [i for i in range(k) if i not in d.overloaded + d.underloaded],
        2 if k >= 20 else 1,
        replace=False,
    )
    hire[new_reps[0]] = (
        (quarters[-5].start_time + pd.Timedelta(days=20)).normalize().to_datetime64()
    )
    if len(new_reps) > 1:
        hire[new_reps[1]] = (
            (quarters[-2].start_time + pd.Timedelta(days=10)).normalize().to_datetime64()
        )
    d.reps["hire_date"] = pd.to_datetime(hire)
    d.hire, d.new_reps = hire, new_reps


def _skills(d: _Draft) -> None:
    """Strong and weak reps; one weak rep in a rich territory, one strong in a poor one, made
    stark and observable: the weak rep's accounts are larger (richer potential, flat quota:
    high raw attainment), the strong rep's smaller. Sizes stay inside their size band, so the
    coverage model's hours (and the layout) do not change."""
    rng, k, acc, assign, capacity = d.rng, d.k, d.acc, d.assign, d.capacity
    employees, wallet = d.employees, d.wallet
    terr_potential = np.bincount(assign, weights=wallet, minlength=k)
    skill = rng.normal(0, 0.12, k)
    eligible = [
        i
        for i in range(k)
        if i not in d.new_reps
        and not d.part_time[i]
        and i not in d.overloaded
        and i not in d.underloaded
    ]
    pot_rank = sorted(eligible, key=lambda i: terr_potential[i] / capacity[i])
    misleading_weak = pot_rank[-1]
    misleading_strong = pot_rank[0]
    rest = [i for i in eligible if i not in (misleading_weak, misleading_strong)]
    n_more = min(3, len(rest) // 2)
    picks = rng.choice(rest, 2 * n_more, replace=False)
    strong = [misleading_strong, *picks[:n_more]]
    weak = [misleading_weak, *picks[n_more:]]
    skill[strong] = rng.uniform(0.75, 0.95, len(strong))
    skill[weak] = -rng.uniform(0.75, 0.95, len(weak))
    edges = sorted(b.min_employees for b in d.plan.segments.size_bands)
    band_of = np.searchsorted(edges, employees, side="right") - 1
    low = np.maximum(np.array(edges)[band_of], 3)
    high = np.array([*edges[1:], np.inf])[band_of] - 1
    for t, factor in ((misleading_weak, 2.5), (misleading_strong, 0.5)):
        members = assign == t
        scaled = np.clip(np.round(employees * factor), low, high)
        ratio = np.where(members, scaled / employees, 1.0)
        employees = employees * ratio
        wallet = wallet * ratio**0.7
        acc["annual_revenue"] = np.round(acc["annual_revenue"] * ratio, -3).astype(np.int64)
    acc["employees"] = employees.astype(int)
    d.employees, d.wallet, d.skill, d.eligible = employees, wallet, skill, eligible
    d.strong, d.weak, d.misleading = strong, weak, (misleading_weak, misleading_strong)


def _behaviour(d: _Draft) -> None:
    """Effort bias (reps over-serve some industries; three reps neglect priority segments),
    churn (some accounts stop buying; engagement falls in the two quarters before), and when
    an account can be worked (after its creation, while its rep is hired)."""
    rng, acc, n_accounts, nq = d.rng, d.acc, d.n, d.nq
    bias = acc["industry"].map(EFFORT_BIAS).fillna(1.0).to_numpy()
    neglecters = rng.choice(d.eligible, min(3, len(d.eligible)), replace=False)
    is_priority = acc["industry"].isin(PRIORITY_INDUSTRIES).to_numpy()
    bias = np.where(np.isin(d.assign, neglecters) & is_priority, bias * 0.35, bias)
    churner = rng.random(n_accounts) < 0.14
    churn_q = np.where(churner, rng.integers(4, nq, n_accounts), nq + 10)
    qidx = np.arange(nq)[None, :]
    after = qidx >= churn_q[:, None]
    before = (qidx >= churn_q[:, None] - 2) & ~after
    q_end = d.q_end
    hired = d.hire[d.assign][:, None] <= q_end[None, :]
    exists = acc["created_date"].to_numpy()[:, None] <= q_end[None, :]
    d.bias, d.neglecters, d.is_priority = bias, neglecters, is_priority
    d.churner, d.churn_q, d.after, d.before, d.active = (
        churner,
        churn_q,
        after,
        before,
        hired & exists,
    )


def _outcome(d: _Draft, frame: pd.DataFrame, base_logit: float) -> pd.DataFrame:
    """Won or lost, close date and amount of the opportunities in ``frame``."""
    rng, assign, employees, skill = d.rng, d.assign, d.employees, d.skill
    a = frame["ai"].to_numpy()
    t = assign[a]
    logit = (
        base_logit
        + np.where(d.acc["industry"].to_numpy()[a] == HIGH_CONVERTING, 1.05, 0.0)
        + skill[t]
        + 0.12 * np.log10(employees[a])
    )
    won = rng.random(len(a)) < 1 / (1 + np.exp(-logit))
    mean_days = 20.0 * employees[a] ** 0.22
    cycle = np.round(rng.gamma(2.5, mean_days / 2.5)).astype(int) + 3
    price = frame["product"].map({p: v[1] for p, v in PRODUCTS.items()}).to_numpy()
    amount = 0.35 * d.wallet[a] * price * np.exp(rng.normal(0, 0.45, len(a)) + 0.15 * skill[t])
    frame = frame.copy()
    frame["won"] = won
    frame["close_date"] = frame["created_date"].to_numpy() + cycle.astype("timedelta64[D]")
    frame["amount"] = np.maximum(500, np.round(amount, -2))
    return frame


def _opportunities(d: _Draft) -> None:
    """Opportunities a quarter in proportion to wallet and reach, with cross-sell follow-ons:
    winning one product of a pair often brings its partner."""
    rng, acc, assign, end = d.rng, d.acc, d.assign, d.end
    q_start, q_end = d.q_start, d.q_end
    size_factor = (d.wallet / np.median(d.wallet)) ** 0.5
    lam = 0.2 * size_factor[:, None] * d.reach[:, None] * d.active * np.where(d.after, 0.0, 1.0)
    lam = lam * np.where(d.before, 0.7, 1.0)
    counts = rng.poisson(lam)
    ai, qi = np.nonzero(counts)
    reps_per = counts[ai, qi]
    ai = np.repeat(ai, reps_per)
    qi = np.repeat(qi, reps_per)
    n_opp = len(ai)
    lo = np.maximum(q_start[qi], acc["created_date"].to_numpy()[ai])
    lo = np.maximum(lo, d.hire[assign][ai])
    width = (q_end[qi] - lo).astype("timedelta64[D]").astype(int) + 1
    created_o = lo + (rng.random(n_opp) * np.maximum(width, 1)).astype(int).astype("timedelta64[D]")
    pnames = list(PRODUCTS)
    pshare = np.array([PRODUCTS[p][0] for p in pnames])
    product = rng.choice(pnames, n_opp, p=pshare / pshare.sum())
    opps = pd.DataFrame({"ai": ai, "created_date": created_o, "product": product})
    opps = _outcome(d, opps, -1.35)
    partner = {a: b for a, b in PRODUCT_PAIRS} | {b: a for a, b in PRODUCT_PAIRS}
    seed_rows = opps[opps["won"] & opps["product"].isin(partner)]
    take = seed_rows[rng.random(len(seed_rows)) < 0.55]
    follow = pd.DataFrame(
        {
            "ai": take["ai"].to_numpy(),
            "created_date": take["close_date"].to_numpy()
            + rng.integers(10, 120, len(take)).astype("timedelta64[D]"),
            "product": take["product"].map(partner).to_numpy(),
        }
    )
    follow = _outcome(d, follow, 0.4)
    opps = pd.concat([opps, follow], ignore_index=True)
    opps = opps[opps["created_date"] <= end].copy()
    closed = opps["close_date"] <= end
    opps["stage"] = np.where(~closed, "open", np.where(opps["won"], "won", "lost"))
    opps["close_date"] = opps["close_date"].where(closed)
    opps = opps.sort_values(["created_date", "ai"], kind="stable").reset_index(drop=True)
    opps["opportunity_id"] = [f"O{i:06d}" for i in range(1, len(opps) + 1)]
    opps["account_id"] = acc["account_id"].to_numpy()[opps["ai"]]
    opps["rep_id"] = d.reps["rep_id"].to_numpy()[assign[opps["ai"]]]
    d.opps = opps


def _activities(d: _Draft) -> None:
    """Calls, emails, meetings and visits as the coverage model asks, bent by effort bias,
    diligence, churn and overload; unreached accounts are practically never visited (their few
    deals come in unprompted)."""
    rng, acc, assign, employees, plan = d.rng, d.acc, d.assign, d.employees, d.plan
    cov = plan.coverage.by_size_band
    calls = np.array([cov[plan.size_band_of(e)].calls_per_year for e in employees])
    diligence = np.exp(rng.normal(0, 0.1, d.k))
    touch = np.where(d.reach < 1, 0.03, 1.0)
    rate = (calls / 4)[:, None] * (d.bias * touch * diligence[assign])[:, None] * d.active
    rate = rate * np.where(d.after, 0.05, np.where(d.before, 0.3, 1.0))
    rate = rate * np.minimum(1.0, 1.0 / np.maximum(d.utilization[assign], 1e-9))[:, None] ** 0.5
    counts = rng.poisson(rate)
    ai, qi = np.nonzero(counts)
    reps_per = counts[ai, qi]
    ai = np.repeat(ai, reps_per)
    qi = np.repeat(qi, reps_per)
    n_act = len(ai)
    lo = np.maximum(
        np.maximum(d.q_start[qi], acc["created_date"].to_numpy()[ai]), d.hire[assign][ai]
    )
    width = (d.q_end[qi] - lo).astype("timedelta64[D]").astype(int) + 1
    act_date = lo + (rng.random(n_act) * np.maximum(width, 1)).astype(int).astype("timedelta64[D]")
    big = employees[ai] >= 1000
    types = np.array(["call", "email", "meeting", "visit"])
    p_small = np.array([0.5, 0.28, 0.12, 0.10])
    p_big = np.array([0.35, 0.2, 0.2, 0.25])
    u = rng.random(n_act)
    cum = np.where(big[:, None], np.cumsum(p_big)[None], np.cumsum(p_small)[None])
    act_type = types[(u[:, None] > cum).sum(1)]
    typical = pd.Series({"call": 25, "email": 6, "meeting": 50, "visit": 80})
    duration = np.round(typical[act_type].to_numpy() * np.exp(rng.normal(0, 0.35, n_act)))
    acts = (
        pd.DataFrame(
            {
                "ai": ai,
                "activity_date": act_date,
                "activity_type": act_type,
                "duration_minutes": duration,
            }
        )
        .sort_values(["activity_date", "ai"], kind="stable")
        .reset_index(drop=True)
    )
    acts["activity_id"] = [f"X{i:07d}" for i in range(1, len(acts) + 1)]
    acts["account_id"] = acc["account_id"].to_numpy()[acts["ai"]]
    acts["rep_id"] = d.reps["rep_id"].to_numpy()[assign[acts["ai"]]]
    d.acts = acts


def _quotas_and_costs(d: _Draft) -> None:
    """Quotas from each region's bookings per rep a quarter; capacity; loaded annual cost."""
    rng, reps, k, rel_capacity = d.rng, d.reps, d.k, d.rel_capacity
    won = d.opps[d.opps["stage"] == "won"].copy()
    won["t"] = d.assign[won["ai"]]
    bookings = np.bincount(won["t"], weights=won["amount"], minlength=k)
    tenure_q = np.array([(d.q_end[None, :] >= d.hire[i]).sum() for i in range(k)])
    per_q = bookings / np.maximum(tenure_q, 1) / np.maximum(rel_capacity, 0.1)
    reg = reps["region"].to_numpy()
    region_quota = pd.Series(per_q).groupby(reg).mean() * 0.95
    quota = region_quota.reindex(reg).to_numpy() * rel_capacity * rng.uniform(0.95, 1.05, k)
    reps["quarterly_quota"] = np.round(quota, -3)
    reps["capacity_hours"] = d.capacity
    reps["annual_cost"] = np.round(
        (150_000 + 40_000 * rng.random(k)) * rel_capacity + 10_000 * (d.skill > 0.5), -2
    )
    d.won = won


#: The columns written, per table, in contract order.
_COLUMNS = {
    "accounts": [
        "account_id",
        "account_name",
        "industry",
        "employees",
        "annual_revenue",
        "latitude",
        "longitude",
        "postal_code",
        "region",
        "territory_id",
        "created_date",
    ],
    "reps": [
        "rep_id",
        "rep_name",
        "territory_id",
        "region",
        "district",
        "home_latitude",
        "home_longitude",
        "hire_date",
        "capacity_hours",
        "quarterly_quota",
        "annual_cost",
    ],
    "opportunities": [
        "opportunity_id",
        "account_id",
        "rep_id",
        "product",
        "created_date",
        "close_date",
        "stage",
        "amount",
    ],
    "activities": [
        "activity_id",
        "account_id",
        "rep_id",
        "activity_date",
        "activity_type",
        "duration_minutes",
    ],
}


def _write(d: _Draft, out: Path) -> None:
    """The four tables as CSV (coordinates to five decimals) and the plan."""
    acc_out = d.acc[_COLUMNS["accounts"]].copy()
    acc_out["latitude"] = acc_out["latitude"].round(5)
    acc_out["longitude"] = acc_out["longitude"].round(5)
    reps = d.reps
    reps[["home_latitude", "home_longitude"]] = reps[["home_latitude", "home_longitude"]].round(5)
    frames = {
        "accounts": acc_out,
        "reps": reps[_COLUMNS["reps"]].copy(),
        "opportunities": d.opps[_COLUMNS["opportunities"]],
        "activities": d.acts[_COLUMNS["activities"]],
    }
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    dump_plan(d.plan, out / "plan.yaml", header=PLAN_HEADER)


def _truths(d: _Draft, seed: int) -> dict:
    """What the tests check each stage finds."""
    acc, opps, acts, assign, wallet, k, nq = d.acc, d.opps, d.acts, d.assign, d.wallet, d.k, d.nq
    t_ids = d.reps["territory_id"].to_numpy()
    r_ids = d.reps["rep_id"].to_numpy()
    decided = opps[opps["stage"] != "open"]
    ind = acc["industry"].to_numpy()[decided["ai"]]
    wr_high = decided.loc[ind == HIGH_CONVERTING, "stage"].eq("won").mean()
    wr_rest = decided.loc[ind != HIGH_CONVERTING, "stage"].eq("won").mean()
    effort_min = acts.groupby(acts["ai"])["duration_minutes"].sum().reindex(range(d.n)).fillna(0)
    prio = d.is_priority
    spend = np.bincount(d.won["ai"], weights=d.won["amount"], minlength=d.n)
    white = np.maximum(wallet * (nq / 4) - spend, 0)
    terr_white_share = np.bincount(assign, weights=white, minlength=k) / np.bincount(
        assign, weights=wallet * (nq / 4), minlength=k
    )
    churned = np.flatnonzero(d.churner & (d.churn_q < nq))
    weak_rich, strong_poor = d.misleading
    quarters = d.quarters
    return {
        "seed": seed,
        "end_quarter": str(quarters[-1]),
        "quarters": [str(q) for q in quarters],
        "n_accounts": d.n,
        "n_reps": k,
        "high_converting_industry": HIGH_CONVERTING,
        "planted_win_odds_ratio": float(np.exp(1.05)),
        "realised_win_rate": {"high": round(float(wr_high), 4), "rest": round(float(wr_rest), 4)},
        "deal_size_elasticity_employees": 0.7,
        "cycle_length_elasticity_employees": 0.22,
        "strong_reps": sorted(r_ids[d.strong].tolist()),
        "weak_reps": sorted(r_ids[d.weak].tolist()),
        "rep_skill_logit": {r: round(float(s), 4) for r, s in zip(r_ids, d.skill, strict=True)},
        "misleading_weak_rep_rich_territory": r_ids[weak_rich],
        "misleading_strong_rep_poor_territory": r_ids[strong_poor],
        "new_reps": sorted(r_ids[d.new_reps].tolist()),
        "part_time_reps": r_ids[d.part_time].tolist(),
        "overloaded_territories": sorted(t_ids[d.overloaded].tolist()),
        "underloaded_territories": sorted(t_ids[d.underloaded].tolist()),
        "territory_utilization": {
            t: round(float(u), 3) for t, u in zip(t_ids, d.utilization, strict=True)
        },
        "white_space_territories": sorted(t_ids[d.overloaded].tolist()),
        "territory_white_space_share": {
            t: round(float(s), 3) for t, s in zip(t_ids, terr_white_share, strict=True)
        },
        "priority_industries": sorted(PRIORITY_INDUSTRIES),
        "effort_bias": EFFORT_BIAS,
        "priority_effort_share": round(float(effort_min[prio].sum() / effort_min.sum()), 4),
        "priority_potential_share": round(float(wallet[prio].sum() / wallet.sum()), 4),
        "priority_neglecting_reps": sorted(r_ids[d.neglecters].tolist()),
        "product_pairs": [list(p) for p in PRODUCT_PAIRS],
        "churned_accounts": acc["account_id"].to_numpy()[churned].tolist(),
        "churn_quarter": {acc["account_id"].iloc[i]: str(quarters[d.churn_q[i]]) for i in churned},
        "engagement_before_churn_ratio": 0.3,
        "true_annual_potential_total": round(float(wallet.sum()), -3),
    }


PLAN_HEADER = """\
# Territory plan for the demo company (generated by `terrlib demo`).
# strategy:   priority industries and size bands with weights 0-1 (1 = top priority), the
#             growth goal, and the largest change of a rep's quota in a quarter (quota_step)
# segments:   size bands by employees; metro = at least metro_min_accounts within metro_radius_km
# coverage:   calls per year and minutes per call by size band; share of calls made in person,
#             travel speed and a floor for short trips (one way)
# balance:    tolerance (+-) on workload and potential per territory, objective weights,
#             locked accounts, the largest share of accounts a realignment may move,
#             (reach_km) the farthest a rep's home may be from an account given to it
#             (null: where today's reps serve four in five of their accounts), road
#             against straight-line distance (circuity), whether moves may cross regions,
#             and whether to align by account or by postal code (align_by)
# thresholds: utilization (demand / capacity) that flags under- and over-served territories
# calendar:   first month of the fiscal year (1 = January)
# columns:    map CRM export names to the contract, per table, e.g.
#             columns: {accounts: {Id: account_id, BillingPostalCode: postal_code}}
# files:      a table's file name in this folder, e.g. {opportunities: sales_pipeline.csv}
# values:     CRM values to the contract's, e.g. {opportunities: {stage: {Closed Won: won}}}
# defaults:   values for columns the export lacks, e.g. {reps: {capacity_hours: 1300}}
# date_formats: the format of a date column whose dates read either day or month first
#             (validation refuses such a column without it), e.g.
#             date_formats: {activities: {activity_date: "%d/%m/%Y"}}
# Names the plan uses (priority industries, size bands, ICP tiers, locked accounts) must
# be in the data or the plan: a typo is an error, never silently ignored.
"""
