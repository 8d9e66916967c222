"""Stage 4, sizing: the hours each territory needs under the coverage model against its rep's
capacity, and how many reps the book of accounts needs (:func:`sizing`,
:func:`sizing_scenarios`). The hours come from :mod:`terrlib.inputs.coverage`; the proposal
itself is :mod:`terrlib.stages.balancing`."""

from __future__ import annotations

import pandas as pd

from terrlib.inputs.dataset import Dataset
from terrlib.results import Result
from terrlib.stages.measures import account_workload


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
    alignment: pd.Series | None = None,
) -> Result:
    """Workload build-up sizing per region and customer segment (size band): reps needed =
    hours the coverage model asks for / selling hours of a full-time rep, against reps today.

    With ``alignment`` (a proposal) travel is counted from the home of the rep it gives each
    account, so the hires are those the proposal needs; the headline says what today's
    alignment would need instead.

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
    alignment : Series, optional
        Territory per account (``account_id`` index), e.g. ``TerritoryOptimizer.assignment_``;
        default today's.

    Returns
    -------
    Result
        Per region: reps today, hours, capacity today, reps needed per size band and in all,
        and the gap (needed less today).
    """
    today_hours, proposed = None, alignment is not None
    if proposed:
        aligned = data.accounts["territory_id"].astype("string").fillna("").ne("")
        if aligned.all():  # what today's alignment needs (none on a green field)
            today_hours = _reps_needed(data, tiers, frequency, selling_hours)[0].to_numpy().sum()
        data = data.realigned(alignment)
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
    reg.insert(reg.columns.get_loc("capacity") + 1, "fte_today", reg["capacity"] / per_rep)
    reg["gap"] = reg["reps_needed"] - reg["fte_today"]
    reg = reg.rename_axis("region").reset_index()
    total_gap = reg["gap"].sum()
    worst = reg.loc[reg["gap"].idxmax()]
    share = hours.sum() / max(hours.to_numpy().sum(), 1e-12)
    basis = ""
    if today_hours is not None:
        basis = (
            f" On today's alignment, with its travel, it would need "
            f"{today_hours / per_rep:.1f} FTE."
        )
    headline = (
        ("With the proposed alignment, a" if proposed else "A")
        + f"t {per_rep:,.0f} selling hours per full-time rep the coverage model needs "
        f"{reg['reps_needed'].sum():.1f} full-time reps (FTE) against {reg['fte_today'].sum():.1f}"
        f" FTE today ({reg['reps_today'].sum()} reps; {total_gap:+.1f} FTE); "
        + (
            f"{worst['region']} is the most short-handed ({worst['gap']:+.1f} FTE). "
            if worst["gap"] >= 0.05
            else "no region is short-handed by 0.1 FTE or more. "
        )
        + f"{share.idxmax()} accounts take "
        f"{share.max():.0%} of the hours." + basis
    )
    home = "its proposed rep's" if proposed else "its rep's"
    formats = {
        "hours": "{:,.0f}",
        "capacity": "{:,.0f}",
        "fte_today": "{:.1f}",
        "reps_needed": "{:.1f}",
    }
    formats |= {f"{band} reps": "{:.1f}" for band in hours.columns}
    return Result(
        "Sales-force sizing by region and segment (workload build-up)",
        headline,
        reg,
        formats=formats | {"gap": "{:+.1f}"},
        notes=f"hours: each account's call time plus travel from {home} home a year under the "
        "plan's coverage model (with stage 3's ICP tiers when they exist), for the accounts in the "
        "region; <segment> reps: that segment's hours over a full-time rep's selling hours "
        "(the median rep's capacity less the admin share); capacity: today's reps' selling "
        "hours; fte_today: that capacity in full-time reps (a part-time rep counts for less "
        "than one); reps_needed: full-time reps (FTE) the hours need; gap: FTE needed less "
        "FTE today (positive: short-handed).",
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
    alignment: pd.Series | None = None,
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
    alignment : Series, optional
        Territory per account whose reps' homes travel is counted from (:func:`sizing`).
    """
    scenarios = SCENARIOS if scenarios is None else scenarios
    if alignment is not None:
        data = data.realigned(alignment)
    today = data.reps.drop_duplicates("territory_id")
    # call and travel hours are both in proportion to the calls, so one build-up serves all
    hours, selling = _reps_needed(data, tiers, 1.0, 1.0)
    region_hours = hours.sum(axis=1)
    # today's selling hours in full-time reps (a part-time rep counts for less than one);
    # a scenario's hours per rep scale today's reps too, so FTE today stays the same
    fte_today = float((today["capacity_hours"] * (1 - data.plan.coverage.admin_share)).sum())
    fte_today /= selling
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
                "gap to today": float(by_region.sum()) - fte_today,
            }
            | {f"{region} reps": v for region, v in by_region.items()}
        )
    table = pd.DataFrame(rows).fillna(0.0)
    table.insert(4, "change", table["reps needed"] - table["reps needed"].iloc[0])
    base = table.iloc[0]
    others = table.iloc[1:]
    text = (
        f"Under {base['scenario']} the accounts need {base['reps needed']:.1f} full-time reps "
        f"(FTE) against {fte_today:.1f} FTE today ({len(today)} reps)."
    )
    if len(others):
        low, high = others.loc[others["change"].idxmin()], others.loc[others["change"].idxmax()]
        text += (
            f" The others range from {low['change']:+.1f} FTE ({low['scenario']}) to "
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
        "reps needed: full-time reps (FTE); change: against the first row; gap to today: FTE "
        f"needed less the {fte_today:.1f} FTE of today's {len(today)} reps.",
    )
