"""Workload: hours each account needs under the coverage model, against rep capacity.

Hours per account per year = calls per year x (minutes per call + share of calls made in
person x round-trip travel) / 60, where travel is the distance from the rep's home at the plan's
speed, with a floor for nearby accounts.

Examples
--------
>>> import numpy as np
>>> from terrlib.plan import Plan
>>> hours = call_hours(Plan(), np.array([5000, 50]), np.array([0.0, 70.0]))
>>> [round(float(h), 1) for h in hours]
[37.6, 3.6]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.geo import haversine_km
from terrlib.io import Dataset
from terrlib.plan import Plan
from terrlib.results import Result


def _band_index(plan: Plan, employees: np.ndarray) -> tuple[list, np.ndarray]:
    """The plan's size bands from smallest up, and each account's position among them."""
    bands = sorted(plan.segments.size_bands, key=lambda b: b.min_employees)
    which = np.searchsorted([b.min_employees for b in bands], employees, side="right") - 1
    return bands, np.clip(which, 0, len(bands) - 1)


def call_pattern(plan: Plan, employees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calls per year and minutes per call for accounts of the given sizes."""
    cov = plan.coverage
    bands, which = _band_index(plan, employees)
    calls = np.array([cov.by_size_band[b.name].calls_per_year for b in bands])[which]
    minutes = np.array([cov.by_size_band[b.name].minutes_per_call for b in bands])[which]
    return calls, minutes


def coverage_calls(
    plan: Plan, accounts: pd.DataFrame, tiers: pd.DataFrame | None = None, frequency: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Calls a year and minutes per call for each of ``accounts`` (``account_id``,
    ``employees``): the plan's pattern for its size band, times the plan's
    ``tier_multipliers`` for stage 3's ICP tier when ``tiers`` (``account_id``, ``tier``) is
    given (accounts without a tier keep the band's calls), times ``frequency`` (a what-if on
    the whole coverage model)."""
    calls, minutes = call_pattern(plan, accounts["employees"].to_numpy())
    if tiers is not None and "tier" in tiers:
        tier = tiers.set_index("account_id")["tier"].reindex(accounts["account_id"])
        calls = calls * tier.map(plan.coverage.tier_multipliers).fillna(1.0).to_numpy(float)
    return calls * frequency, minutes


def _hours(plan: Plan, calls, minutes, distance_km) -> np.ndarray:
    """Hours a year of ``calls`` of ``minutes`` each, a share of them in person at
    ``distance_km`` from the rep's home."""
    cov = plan.coverage
    one_way = np.maximum(
        np.asarray(distance_km, float) / cov.travel_speed_kmh * 60, cov.min_travel_minutes
    )
    return calls * (minutes + cov.visit_share * 2 * one_way) / 60


def call_hours(plan: Plan, employees: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
    """Hours per year (call time plus travel) for accounts of the given sizes at the given
    distance from the rep's home."""
    calls, minutes = call_pattern(plan, employees)
    return _hours(plan, calls, minutes, distance_km)


def size_bands(plan: Plan, employees: pd.Series) -> pd.Series:
    """Size band name per account."""
    bands, which = _band_index(plan, employees.to_numpy())
    return pd.Series(np.array([b.name for b in bands])[which], index=employees.index)


def account_workload(
    data: Dataset, tiers: pd.DataFrame | None = None, frequency: float = 1.0
) -> pd.DataFrame:
    """Per account: size band, distance to its rep's home, call and travel hours per year.

    Calls follow :func:`coverage_calls`: stage 3's ICP ``tiers`` when given, the plan's
    coverage by size band otherwise, times ``frequency``.
    """
    acc = data.accounts
    homes = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    home = homes.reindex(acc["territory_id"])
    dist = haversine_km(
        acc["latitude"],
        acc["longitude"],
        home["home_latitude"].to_numpy(),
        home["home_longitude"].to_numpy(),
    )
    calls, minutes = coverage_calls(data.plan, acc, tiers, frequency)
    total = _hours(data.plan, calls, minutes, dist)
    base = calls * minutes / 60
    return pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "territory_id": acc["territory_id"],
            "size_band": size_bands(data.plan, acc["employees"]),
            "distance_km": dist,
            "call_hours": base,
            "travel_hours": total - base,
            "hours": total,
        }
    )


def territory_workload(data: Dataset, tiers: pd.DataFrame | None = None) -> Result:
    """Hours each territory demands against its rep's selling capacity.

    Utilization = demand / capacity; above the plan's ``over_utilization`` a territory is
    understaffed (the rep cannot cover it as the model asks), below ``under_utilization`` it is
    overstaffed. Calls follow stage 3's ICP ``tiers`` when given (:func:`coverage_calls`).
    """
    work = account_workload(data, tiers)
    reps = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    per = work.groupby("territory_id").agg(
        accounts=("account_id", "size"),
        call_hours=("call_hours", "sum"),
        travel_hours=("travel_hours", "sum"),
        hours=("hours", "sum"),
    )
    per = per.reindex(reps.index, fill_value=0)
    per.insert(0, "region", reps["region"])
    per.insert(1, "rep_name", reps["rep_name"])
    capacity = reps["capacity_hours"] * (1 - data.plan.coverage.admin_share)
    per["capacity"] = capacity
    per["utilization"] = per["hours"] / capacity
    th = data.plan.thresholds
    per["status"] = np.select(
        [per["utilization"] > th.over_utilization, per["utilization"] < th.under_utilization],
        ["understaffed", "overstaffed"],
        "balanced",
    )
    per = per.reset_index()
    under = per[per["status"] == "understaffed"]
    over = per[per["status"] == "overstaffed"]
    headline = (
        ("With calls set by stage 3's ICP tiers, the" if tiers is not None else "The")
        + f" coverage model asks for {per['hours'].sum():,.0f} hours a year against "
        f"{per['capacity'].sum():,.0f} hours of selling capacity "
        f"({per['hours'].sum() / per['capacity'].sum():.0%} overall). "
        f"{len(under)} of {len(per)} territories need more than "
        f"{th.over_utilization:.0%} of their rep's hours"
        + (
            f" (worst {under.nlargest(1, 'utilization')['territory_id'].iloc[0]} at "
            f"{under['utilization'].max():.0%})"
            if len(under)
            else ""
        )
        + f"; {len(over)} need less than {th.under_utilization:.0%}"
        + (
            f" (lowest {over.nsmallest(1, 'utilization')['territory_id'].iloc[0]} at "
            f"{over['utilization'].min():.0%})."
            if len(over)
            else "."
        )
    )
    return Result(
        "Workload against capacity per territory",
        headline,
        per.sort_values("utilization", ascending=False).reset_index(drop=True),
        formats={
            "call_hours": "{:,.0f}",
            "travel_hours": "{:,.0f}",
            "hours": "{:,.0f}",
            "capacity": "{:,.0f}",
            "utilization": "{:.0%}",
        },
        notes="hours: call time plus travel per year under the plan's coverage model; "
        "capacity: the rep's selling hours per year less the plan's admin share.",
    )


def _selling_hours(data: Dataset) -> float:
    """Selling hours a year of a full-time rep: the median rep's capacity less admin."""
    reps = data.reps.drop_duplicates("territory_id")
    return float(reps["capacity_hours"].median()) * (1 - data.plan.coverage.admin_share)


def _reps_needed(
    data: Dataset, tiers: pd.DataFrame | None, frequency: float, selling_hours: float
) -> tuple[pd.DataFrame, float]:
    """Hours and reps needed per region (the accounts' own) and size band, and the selling
    hours of a full-time rep (times ``selling_hours``)."""
    work = account_workload(data, tiers, frequency)
    work["region"] = data.accounts["region"].to_numpy()
    per_rep = _selling_hours(data) * selling_hours
    bands = [b.name for b in sorted(data.plan.segments.size_bands, key=lambda b: -b.min_employees)]
    hours = work.pivot_table(
        index="region", columns="size_band", values="hours", aggfunc="sum", fill_value=0.0
    ).reindex(columns=bands, fill_value=0.0)
    return hours, per_rep


def sizing(
    data: Dataset,
    tiers: pd.DataFrame | None = None,
    frequency: float = 1.0,
    selling_hours: float = 1.0,
) -> Result:
    """Workload build-up sizing per region and customer segment (size band): reps needed =
    hours the coverage model asks for / selling hours of a full-time rep, against reps today.

    Parameters
    ----------
    data : Dataset
        Accounts (their own region and size band), reps (territories, capacity) and plan.
    tiers : DataFrame, optional
        Stage 3's ICP tiers, whose multipliers set the calls (:func:`coverage_calls`).
    frequency : float
        Calls a year times this, for every account (a different coverage model).
    selling_hours : float
        A full-time rep's selling hours times this (a different capacity).

    Returns
    -------
    Result
        Per region: reps today, hours, capacity today, reps needed per size band and in all,
        and the gap (needed less today).
    """
    hours, per_rep = _reps_needed(data, tiers, frequency, selling_hours)
    reps = data.reps.drop_duplicates("territory_id")
    capacity = reps["capacity_hours"] * (1 - data.plan.coverage.admin_share)
    today = (
        reps.assign(capacity=capacity)
        .groupby("region")
        .agg(reps_today=("territory_id", "size"), capacity=("capacity", "sum"))
    )
    regions = sorted(set(hours.index) | set(today.index))
    hours = hours.reindex(regions, fill_value=0.0)
    reg = today.reindex(regions, fill_value=0)
    reg.insert(1, "hours", hours.sum(axis=1))
    for band in hours.columns:
        reg[f"{band} reps"] = hours[band] / per_rep
    reg["reps_needed"] = reg["hours"] / per_rep
    reg["gap"] = reg["reps_needed"] - reg["reps_today"]
    reg = reg.rename_axis("region").reset_index()
    total_gap = reg["gap"].sum()
    worst = reg.loc[reg["gap"].idxmax()]
    share = hours.sum() / max(hours.to_numpy().sum(), 1e-12)
    headline = (
        f"At {per_rep:,.0f} selling hours per full-time rep the coverage model needs "
        f"{reg['reps_needed'].sum():.1f} reps against {reg['reps_today'].sum()} today "
        f"({total_gap:+.1f}); {worst['region']} is the most short-handed ({worst['gap']:+.1f}). "
        f"{share.idxmax()} accounts take {share.max():.0%} of the hours."
    )
    formats = {"hours": "{:,.0f}", "capacity": "{:,.0f}", "reps_needed": "{:.1f}"}
    formats |= {f"{band} reps": "{:.1f}" for band in hours.columns}
    return Result(
        "Sales-force sizing by region and segment (workload build-up)",
        headline,
        reg,
        formats=formats | {"gap": "{:+.1f}"},
        notes="hours: call time plus travel from today's rep homes a year under the plan's "
        "coverage model (with stage 3's ICP tiers when they exist), for the accounts in the "
        "region; <segment> reps: that segment's hours over a full-time rep's selling hours "
        "(the median rep's capacity less the admin share); capacity: today's reps' selling "
        "hours; gap: reps needed less reps today (positive: short-handed).",
    )


SCENARIOS: dict[str, dict[str, float]] = {
    "the plan's coverage model": {},
    "a fifth fewer calls": {"frequency": 0.8},
    "a fifth more calls": {"frequency": 1.2},
    "10% more selling hours per rep": {"selling_hours": 1.1},
    "10% fewer selling hours per rep": {"selling_hours": 0.9},
}


def sizing_scenarios(
    data: Dataset,
    tiers: pd.DataFrame | None = None,
    scenarios: dict[str, dict[str, float]] | None = None,
) -> Result:
    """Reps needed, in all and per region, under other coverage models or capacities.

    Parameters
    ----------
    data : Dataset
    tiers : DataFrame, optional
        Stage 3's ICP tiers (:func:`coverage_calls`).
    scenarios : dict, optional
        Name to ``frequency`` and/or ``selling_hours`` factors (:func:`sizing`); default
        :data:`SCENARIOS`. The first is the one the others are compared with.
    """
    scenarios = SCENARIOS if scenarios is None else scenarios
    today = data.reps.drop_duplicates("territory_id")
    # call and travel hours are both in proportion to the calls, so one build-up serves all
    hours, selling = _reps_needed(data, tiers, 1.0, 1.0)
    region_hours = hours.sum(axis=1)
    rows = []
    for name, change in scenarios.items():
        per_rep = selling * change.get("selling_hours", 1.0)
        by_region = region_hours * change.get("frequency", 1.0) / per_rep
        rows.append(
            {
                "scenario": name,
                "hours": float(by_region.sum() * per_rep),
                "selling hours per rep": per_rep,
                "reps needed": float(by_region.sum()),
                "gap to today": float(by_region.sum()) - len(today),
            }
            | {f"{region} reps": v for region, v in by_region.items()}
        )
    table = pd.DataFrame(rows).fillna(0.0)
    table.insert(4, "change", table["reps needed"] - table["reps needed"].iloc[0])
    base = table.iloc[0]
    others = table.iloc[1:]
    text = (
        f"Under {base['scenario']} the accounts need {base['reps needed']:.1f} reps against "
        f"{len(today)} today."
    )
    if len(others):
        low, high = others.loc[others["change"].idxmin()], others.loc[others["change"].idxmax()]
        text += (
            f" The others range from {low['change']:+.1f} reps ({low['scenario']}) to "
            f"{high['change']:+.1f} ({high['scenario']})."
        )
    formats = {"hours": "{:,.0f}", "selling hours per rep": "{:,.0f}"}
    formats |= {c: "{:.1f}" for c in table.columns if c.endswith("reps") or c == "reps needed"}
    return Result(
        "Sizing under other coverage models and capacities",
        text,
        table,
        formats=formats | {"change": "{:+.1f}", "gap to today": "{:+.1f}"},
        notes="Each row re-runs the workload build-up with every account's calls a year, or "
        "a full-time rep's selling hours, scaled as named; travel hours scale with the calls. "
        "change: reps needed against the first row; gap to today: reps needed less the "
        f"{len(today)} reps today.",
    )
