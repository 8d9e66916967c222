"""What more than one stage measures, in one place, so that no stage imports another: an
account's workload under the coverage model and each territory's against its rep's capacity
(stages 1, 2, 4 and 5), won bookings and strategic fit (stages 1 and 2), metro or rural (stages
2 and 3), quarters a rep has held their territory (stages 2 and 5), what an account already
owned when a deal was created (stages 3 and 5), and account potential
(stages 1 and 2: stage 1 does not wait for stage 2, so it works potential out itself)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.spatial import cKDTree

from terrlib import fitting
from terrlib.geo import EARTH_RADIUS_KM, haversine_km
from terrlib.inputs.coverage import _hours, coverage_calls, size_bands
from terrlib.inputs.dataset import Dataset
from terrlib.inputs.plan import Plan
from terrlib.periods import trailing_bounds
from terrlib.results import InsufficientData, Result


def account_workload(
    data: Dataset, tiers: pd.DataFrame | None = None, frequency: float = 1.0
) -> pd.DataFrame:
    """Per account: size band, road distance to its rep's home (great circle times the
    plan's ``balance.circuity``, as the optimizer measures it), call and travel hours per
    year.

    Calls follow :func:`coverage_calls`: stage 3's ICP ``tiers`` when given, the plan's
    coverage by size band otherwise, times ``frequency``.
    """
    acc = data.accounts
    homes = data.reps.drop_duplicates("territory_id").set_index("territory_id")
    home = homes.reindex(acc["territory_id"])
    # road distance, as the optimizer measures it: great circle x the plan's circuity
    dist = data.plan.balance.circuity * haversine_km(
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
        download="territory_workload.csv",
    )


def bookings(data: Dataset, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Won opportunities closed between ``start`` and ``end`` (inclusive)."""
    opps = data.opportunities
    return opps[(opps["stage"] == "won") & opps["close_date"].between(start, end)]


def strategic_fit(accounts: pd.DataFrame, plan: Plan) -> pd.Series:
    """Strategic fit per account: the mean of the plan's priority weight of its industry and of
    its size band (each 0 when not named).

    Examples
    --------
    >>> from terrlib.inputs.plan import Plan, Strategy
    >>> plan = Plan(strategy=Strategy(priority_industries={"Retail": 1.0},
    ...                               priority_segments={"Enterprise": 0.5}))
    >>> acc = pd.DataFrame({"industry": ["Retail", "Retail", "Mining"],
    ...                     "employees": [5000, 10, 5000]})
    >>> strategic_fit(acc, plan).tolist()
    [0.75, 0.5, 0.25]
    """
    strategy = plan.strategy
    ind = accounts["industry"].map(strategy.priority_industries).fillna(0.0).astype(float)
    seg = size_bands(plan, accounts["employees"]).map(strategy.priority_segments)
    return ((ind + seg.fillna(0.0).astype(float)) / 2).rename("strategic_fit")


MIN_BUYERS = 30


MIN_BUYERS_BY_SIZE = 10  # fewer buyers than MIN_BUYERS: potential from size alone


def density_segment(accounts: pd.DataFrame, plan: Plan) -> pd.Series:
    """``metro`` where at least ``segments.metro_min_accounts`` accounts (itself included) lie
    within ``segments.metro_radius_km``, else ``rural``.

    Examples
    --------
    >>> acc = pd.DataFrame({"latitude": [40.0, 40.01, 40.02, 45.0],
    ...                     "longitude": [-75.0, -75.0, -75.01, -100.0]})
    >>> plan = Plan.model_validate({"segments": {"metro_min_accounts": 3}})
    >>> density_segment(acc, plan).tolist()
    ['metro', 'metro', 'metro', 'rural']
    """
    lat = np.radians(accounts["latitude"].to_numpy(float))
    lon = np.radians(accounts["longitude"].to_numpy(float))
    xyz = np.c_[np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
    chord = 2 * np.sin(plan.segments.metro_radius_km / (2 * EARTH_RADIUS_KM))
    counts = cKDTree(xyz).query_ball_point(xyz, chord, return_length=True)
    dense = counts >= plan.segments.metro_min_accounts
    return pd.Series(np.where(dense, "metro", "rural"), index=accounts.index, name="geography")


def fit_potential(data: Dataset, quarter: str | pd.Period, q: float):
    """Fit the potential model on the four quarters ending with ``quarter``."""
    start, end = trailing_bounds(quarter, 4, data.fiscal_start)
    acc = data.accounts
    won = bookings(data, start, end)
    spend = won.groupby("account_id")["amount"].sum().reindex(acc["account_id"]).fillna(0.0)
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"].to_numpy(),
            "territory_id": acc["territory_id"].to_numpy(),
            "industry": acc["industry"].to_numpy(),
            "size_band": size_bands(data.plan, acc["employees"]).to_numpy(),
            "log_employees": np.log(acc["employees"].clip(lower=1)).to_numpy(),
            "spend_4q": spend.to_numpy(),
        }
    )
    mature = (acc["created_date"] <= start).to_numpy()
    fit_rows = frame[mature & (frame["spend_4q"] > 0)].assign(
        log_spend=lambda f: np.log(f["spend_4q"])
    )
    formula = "log_spend ~ log_employees + C(industry)"
    if len(fit_rows) < MIN_BUYERS:  # too few buyers for an industry each: size alone
        formula = "log_spend ~ log_employees"
    if len(fit_rows) < MIN_BUYERS_BY_SIZE or fit_rows["log_employees"].nunique() < 2:
        raise InsufficientData(
            f"at least {MIN_BUYERS_BY_SIZE} accounts, created before {start.date()}, that "
            f"bought in the four quarters to {quarter} ({MIN_BUYERS} to tell industries apart)",
            f"{len(fit_rows):,}",
            "More history would fit it.",
        )
    model = smf.quantreg(formula, fit_rows).fit(q=q, max_iter=5000)
    return model, frame, len(fit_rows)


def account_potential(data: Dataset, quarter: str, q: float = 0.8) -> Result:
    """Annual potential and white space per account (see the module text for the method).

    ``result.model`` is the fitted QuantReg model.

    Raises
    ------
    InsufficientData
        When fewer than 10 mature accounts bought in the last four quarters (with fewer
        than 30, potential follows size alone, not industry).
    """
    model, frame, n_fit = fit_potential(data, quarter, q)
    frame["potential"] = np.exp(fitting.predict(model, frame))
    frame["white_space"] = (frame["potential"] - frame["spend_4q"]).clip(lower=0)
    frame = frame.drop(columns="log_employees")
    slope = model.params["log_employees"]
    by_industry = any("industry" in term for term in model.params.index)
    similar = (
        "(same industry and size)"
        if by_industry
        else f"of its size (only {n_fit} accounts bought: too few to tell industries apart)"
    )
    headline = (
        f"Potential is the spend of an account at the {q:.0%} percentile of similar accounts "
        f"{similar}, fitted on {n_fit:,} buying accounts: it grows "
        f"{slope:.2f}% for each 1% more employees (pseudo R² {model.prsquared:.2f}). Total "
        f"potential is {frame['potential'].sum() / 1e6:,.1f}M a year against "
        f"{frame['spend_4q'].sum() / 1e6:,.1f}M booked in the last four quarters, leaving "
        f"{frame['white_space'].sum() / 1e6:,.1f}M of white space."
    )
    result = Result(
        "Account potential and white space",
        headline,
        frame,
        formats={"spend_4q": "{:,.0f}", "potential": "{:,.0f}", "white_space": "{:,.0f}"},
    )
    result.model = model
    return result


def quarters_held(hire: pd.Series, q_end: pd.Timestamp, cap: int) -> pd.Series:
    """Quarters (of 91.3 days, started ones counted) from each hire date to ``q_end``, between
    0 and ``cap``.

    Examples
    --------
    >>> hire = pd.Series(pd.to_datetime(["2020-01-01", "2026-08-15", "2026-12-01"]))
    >>> quarters_held(hire, pd.Timestamp("2026-09-30"), 4).tolist()
    [4, 1, 0]
    """
    return np.clip(((q_end - hire).dt.days / 91.3).apply(np.ceil), 0, cap).astype(int)


def prior_ownership(
    opps: pd.DataFrame, won: pd.DataFrame, pairs: set[tuple[str, str]]
) -> pd.DataFrame:
    """Per opportunity: ``prior_win``, 1 when the account had won a deal closed before the
    opportunity was created, and ``prior_partner``, 1 when one of those was a product that
    pairs with this one (``pairs`` from :func:`product_pairs`).

    Examples
    --------
    >>> won = pd.DataFrame({"account_id": ["a"], "product": ["x"],
    ...                     "close_date": [pd.Timestamp("2024-02-01")]})
    >>> opps = pd.DataFrame({"account_id": ["a", "a", "b"], "product": ["y", "y", "y"],
    ...                      "created_date": pd.to_datetime(["2024-01-15", "2024-03-01",
    ...                                                      "2024-03-01"])})
    >>> prior_ownership(opps, won, {("x", "y")}).values.tolist()
    [[0, 0], [1, 1], [0, 0]]
    """
    first = (
        won.groupby([won["account_id"].astype(str), won["product"].astype(str)])["close_date"]
        .min()
        .rename("first_won")
        .rename_axis(["account_id", "owned"])
        .reset_index()
    )
    keys = pd.DataFrame(
        {
            "row": np.arange(len(opps)),
            "account_id": opps["account_id"].astype(str).to_numpy(),
            "product": opps["product"].astype(str).to_numpy(),
            "created_date": opps["created_date"].to_numpy(),
        }
    )
    owned = keys.merge(first, on="account_id")
    owned = owned[owned["first_won"] < owned["created_date"]]
    partner = np.array(
        [(o, p) in pairs for o, p in zip(owned["owned"], owned["product"], strict=True)], bool
    )
    out = np.zeros((len(opps), 2), int)
    out[owned["row"].to_numpy(), 0] = 1
    out[owned.loc[partner, "row"].to_numpy(), 1] = 1
    return pd.DataFrame(out, index=opps.index, columns=["prior_win", "prior_partner"])


#: Reps named as furthest off the strategy (lowest effort index), by stages 1 and 5.
OFF_STRATEGY_NAMED = 3


def furthest_off_strategy(effort: pd.DataFrame, named: int = OFF_STRATEGY_NAMED) -> pd.DataFrame:
    """The reps whose time is furthest from the strategy's priorities: the ``named`` lowest
    effort indices of :func:`terrlib.stages.alignment.effort_vs_strategy`'s table (stage
    1's headline names them, and stage 5 says so beside a rep it would recognise)."""
    return effort.nsmallest(named, "effort_index")
