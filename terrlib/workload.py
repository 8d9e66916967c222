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


def call_hours(plan: Plan, employees: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
    """Hours per year (call time plus travel) for accounts of the given sizes at the given
    distance from the rep's home."""
    cov = plan.coverage
    calls, minutes = call_pattern(plan, employees)
    one_way = np.maximum(
        np.asarray(distance_km, float) / cov.travel_speed_kmh * 60, cov.min_travel_minutes
    )
    return calls * (minutes + cov.visit_share * 2 * one_way) / 60


def size_bands(plan: Plan, employees: pd.Series) -> pd.Series:
    """Size band name per account."""
    bands, which = _band_index(plan, employees.to_numpy())
    return pd.Series(np.array([b.name for b in bands])[which], index=employees.index)


def account_workload(data: Dataset) -> pd.DataFrame:
    """Per account: size band, distance to its rep's home, call and travel hours per year."""
    acc = data.accounts
    homes = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    home = homes.reindex(acc["territory_id"])
    dist = haversine_km(
        acc["latitude"],
        acc["longitude"],
        home["home_latitude"].to_numpy(),
        home["home_longitude"].to_numpy(),
    )
    total = call_hours(data.plan, acc["employees"].to_numpy(), dist)
    calls, minutes = call_pattern(data.plan, acc["employees"].to_numpy())
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


def territory_workload(data: Dataset) -> Result:
    """Hours each territory demands against its rep's selling capacity.

    Utilization = demand / capacity; above the plan's ``over_utilization`` a territory is
    understaffed (the rep cannot cover it as the model asks), below ``under_utilization`` it is
    overstaffed.
    """
    work = account_workload(data)
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
        f"The coverage model asks for {per['hours'].sum():,.0f} hours a year against "
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


def sizing(data: Dataset) -> Result:
    """Workload build-up sizing: reps needed per region = hours demanded / hours per rep."""
    terr = territory_workload(data).table
    per_rep = float(terr["capacity"].median())
    reg = terr.groupby("region").agg(
        reps_today=("territory_id", "size"), hours=("hours", "sum"), capacity=("capacity", "sum")
    )
    reg["reps_needed"] = reg["hours"] / per_rep
    reg["gap"] = reg["reps_needed"] - reg["reps_today"]
    reg = reg.reset_index()
    total_gap = reg["gap"].sum()
    worst = reg.loc[reg["gap"].idxmax()]
    headline = (
        f"At {per_rep:,.0f} selling hours per full-time rep the coverage model needs "
        f"{reg['reps_needed'].sum():.1f} reps against {reg['reps_today'].sum()} today "
        f"({total_gap:+.1f}); {worst['region']} is the most short-handed ({worst['gap']:+.1f})."
    )
    return Result(
        "Sales-force sizing by region (workload build-up)",
        headline,
        reg,
        formats={
            "hours": "{:,.0f}",
            "capacity": "{:,.0f}",
            "reps_needed": "{:.1f}",
            "gap": "{:+.1f}",
        },
    )
