"""Stage 4, the proposal: the territory solver run on a loaded dataset, and what a sales
leader reads of it (headline, balance table, moves, the cost of fewer moves, the workbook).

The solver itself (:mod:`terrlib.territory`) knows nothing of datasets or plans;
:func:`from_dataset` turns the plan's coverage model, stage 2's potential and stage 3's
tiers into its request.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.exports import write_excel
from terrlib.geo import haversine_km
from terrlib.inputs.coverage import coverage_calls
from terrlib.results import Result
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.problem import InfeasibleRequest
from terrlib.territory.scratch import ScratchPlan


def from_dataset(
    data,
    scores: pd.DataFrame | None = None,
    tiers: pd.DataFrame | None = None,
    frequency: float = 1.0,
    **options,
) -> TerritoryOptimizer:
    """Build the optimizer for a :class:`~terrlib.inputs.dataset.Dataset`.

    Calls a year come from the plan's coverage model by size band, times the plan's
    ``tier_multipliers`` for stage 3's ICP tier when ``tiers`` (``account_id``, ``tier``) is
    given, times ``frequency`` (a what-if on the whole coverage model). Potential comes from
    stage 2's ``scores`` (account revenue otherwise); targets are in proportion to each
    rep's capacity; tolerance, locks and the moved cap come from the plan, and any of them
    can be overridden by ``options``.
    """

    plan = data.plan
    acc = data.accounts
    calls, minutes = coverage_calls(plan, acc, tiers, frequency)
    if scores is not None and "potential" in scores:
        potential = scores.set_index("account_id")["potential"].reindex(acc["account_id"])
    else:
        potential = acc.set_index("account_id")["annual_revenue"]
    frame = pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "latitude": acc["latitude"],
            "longitude": acc["longitude"],
            "calls": calls,
            "call_hours": calls * minutes / 60,
            "potential": potential.fillna(0.0).to_numpy(),
            "territory_id": acc["territory_id"],
            "revenue": acc["annual_revenue"].to_numpy(float),
            "locked": acc["account_id"].isin(plan.balance.locked_accounts).to_numpy(),
        }
    )
    reps = data.reps.drop_duplicates("territory_id")
    homes = pd.DataFrame(
        {
            "territory_id": reps["territory_id"],
            "rep_name": reps["rep_name"],
            "home_latitude": reps["home_latitude"],
            "home_longitude": reps["home_longitude"],
            "capacity": reps["capacity_hours"],
        }
    )
    settings = {
        "tolerance": plan.balance.tolerance,
        "potential_tolerance": plan.balance.potential_tolerance,
        "max_moved_share": plan.balance.max_moved_share,
        "max_distance_km": plan.balance.max_distance_km,
        "visits_per_call": plan.coverage.visit_share,
        "travel_speed_kmh": plan.coverage.travel_speed_kmh,
        "min_travel_minutes": plan.coverage.min_travel_minutes,
        "disruption": plan.balance.weights.disruption,
    } | options
    return TerritoryOptimizer(frame, homes, **settings)


def proposal(opt: TerritoryOptimizer) -> pd.DataFrame:
    """One row per account: current and proposed territory and rep, moved, reason."""
    acc = opt.accounts
    reps = (
        opt.territories.set_index("territory_id")["rep_name"]
        if "rep_name" in opt.territories
        else pd.Series(opt.problem_.ids, index=opt.problem_.ids)
    )
    reps.index = reps.index.astype(str)
    current = acc["territory_id"].astype(str)
    proposed = opt.assignment_.to_numpy()
    reason = pd.Series("", index=acc.index)
    if len(opt.moves_):
        why = opt.moves_.set_index("account_id")["reason"]
        reason = acc["account_id"].map(why).fillna("")
    return pd.DataFrame(
        {
            "account_id": acc["account_id"],
            "current_territory": current,
            "current_rep": current.map(reps).to_numpy(),
            "proposed_territory": proposed,
            "proposed_rep": pd.Series(proposed).map(reps).to_numpy(),
            "moved": current.to_numpy() != proposed,
            "reason": reason.to_numpy(),
        }
    )


def travel_change(opt: TerritoryOptimizer, travel: float) -> float:
    """``travel`` against the travel of today's alignment (``+0.1``: 10% more); NaN where
    nothing is aligned today (a green field)."""
    return travel / opt.travel_before_ - 1 if opt.travel_before_ > 0 else np.nan


def solve_or_widen(opt: TerritoryOptimizer, tries: int = 3) -> TerritoryOptimizer:
    """Solve ``opt``; when its tolerance cannot be met under the other rules (the cap on
    moves, locks, the distance limit), solve a copy at the tightest tolerance the diagnosis
    found can be met (a little wider each time it still cannot) and keep in ``widened_`` the
    tolerance asked for and why it could not hold. The plan's request is never met silently
    wider: :func:`headline` says so.

    Raises
    ------
    InfeasibleRequest
        When no tolerance up to ±100% can be met.
    """
    try:
        return opt.solve()
    except InfeasibleRequest as err:
        first, tolerance = err, err.tolerance
    for _ in range(tries):
        if tolerance is None:
            break
        widened = min(1.0, tolerance)
        ptol = opt.potential_tolerance
        trial = opt.with_params(
            tolerance=widened, potential_tolerance=None if ptol is None else max(ptol, widened)
        ).warm_from(opt)
        try:
            trial.solve()
        except InfeasibleRequest:
            tolerance = None if tolerance >= 1.0 else min(1.0, tolerance * 1.25)
            continue
        trial.widened_ = (opt.tolerance, str(first))
        return trial
    raise first


def headline(opt: TerritoryOptimizer) -> str:
    """The proposal in one or two sentences, with its certified gap."""
    s = opt.summary_
    n, m = opt.problem_.n, opt.problem_.m
    w0, w1 = s["workload_vs_target_before"], s["workload_vs_target_after"]
    out0 = int(((w0 - 1).abs() > opt.tolerance + 1e-9).sum())
    widened = getattr(opt, "widened_", None)
    asked = (
        f"The plan's ±{widened[0]:.0%} cannot be met under its other rules (cap on accounts "
        f"moved, locks, distance), so this proposal balances to ±{opt.tolerance:.0%}, the "
        "tightest that can be met. "
        if widened
        else ""
    )
    unaligned = int((opt.problem_.current < 0).sum())
    if unaligned == n:  # a green field: nothing today to compare with
        return asked + (
            f"No account has a territory yet: the proposal assigns all {n:,} accounts to "
            f"{m} territories with every territory's workload and potential within "
            f"±{opt.tolerance:.0%} of its target (worst {(w1 - 1).abs().max():.0%} off); it is "
            f"within {opt.gap_:.1%} of the best possible under these rules (certified lower "
            "bound)."
        )
    change = travel_change(opt, opt.travel_)
    travel = (
        f"Call-weighted travel changes by {change:+.0%}"
        if np.isfinite(change)
        else "Travel today is not known"
    )
    newcomers = (
        f" {unaligned:,} accounts had no territory yet and are assigned for the first time."
        if unaligned
        else ""
    )
    return asked + (
        f"The proposed alignment moves {len(opt.moves_):,} of {n:,} accounts "
        f"({len(opt.moves_) / n:.0%}) and brings every territory's workload and potential "
        f"within ±{opt.tolerance:.0%} of its target (today {out0} of {m} territories are "
        f"outside on workload; the worst is {(w0 - 1).abs().max():.0%} off, after "
        f"{(w1 - 1).abs().max():.0%}). {travel}; the proposal is within "
        f"{opt.gap_:.1%} of the best possible under these rules (certified lower bound)."
        + newcomers
    )


def balance_table(opt: TerritoryOptimizer) -> Result:
    """Before/after spread of workload and potential across territories: coefficient of
    variation, max/min, territories outside the tolerance, travel and accounts moved."""
    s, p_tol = opt.summary_, opt.problem_.p_tol
    rows = []
    for when in ("today", "proposed"):
        key = "before" if when == "today" else "after"
        w, p = s[f"workload_vs_target_{key}"], s[f"potential_vs_target_{key}"]
        rows.append(
            {
                "alignment": when,
                "workload CV": w.std() / w.mean(),
                "workload max/min": w.max() / max(w.min(), 1e-12),
                "workload outside band": int(((w - 1).abs() > opt.tolerance + 1e-9).sum()),
                "potential CV": p.std() / p.mean(),
                "potential max/min": p.max() / max(p.min(), 1e-12),
                "potential outside band": int(((p - 1).abs() > p_tol + 1e-9).sum()),
                "travel (call-hour km)": opt.travel_before_ if when == "today" else opt.travel_,
                "accounts moved": 0 if when == "today" else len(opt.moves_),
            }
        )
    return Result(
        "Balance today and proposed",
        headline(opt),
        pd.DataFrame(rows),
        formats={
            "workload CV": "{:.1%}",
            "workload max/min": "{:.2f}",
            "potential CV": "{:.1%}",
            "potential max/min": "{:.2f}",
            "travel (call-hour km)": "{:,.0f}",
            "accounts moved": "{:,}",
        },
        notes=f"CV: standard deviation / mean of each territory's value against its target. "
        f"Band: ±{opt.tolerance:.0%} of target for workload, ±{min(p_tol, 10):.0%} for "
        "potential. Travel: distance to the rep's home weighted by call hours. Method: "
        f"{opt.method_}; lower bound {opt.lower_bound_:,.0f} against objective "
        f"{opt.objective_:,.0f} (gap {opt.gap_:.2%}).",
    )


def moves_result(
    opt: TerritoryOptimizer, proposal_frame: pd.DataFrame, top: int = 25, far_km: float = 500.0
) -> Result:
    """The moves with their reasons, the largest accounts (by revenue) first; the headline
    counts the moves that leave an account more than ``far_km`` from its new rep's home."""
    acc = opt.accounts.set_index("account_id")
    moves = proposal_frame[proposal_frame["moved"]].copy()
    moves["revenue"] = moves["account_id"].map(acc["revenue"]) if "revenue" in acc else 0.0
    moves = moves.sort_values("revenue", ascending=False)
    km = opt.moves_["km_after"] if len(opt.moves_) else pd.Series(dtype=float)
    far = int((km > far_km).sum())
    far_text = (
        f" {far:,} of them end up more than {far_km:,.0f} km from their new rep's home "
        f"(the farthest {km.max():,.0f} km). To forbid such moves, set "
        "balance.max_distance_km in the plan; if the bands then cannot be met, the optimizer "
        "says the tightest tolerance that can."
        if far
        else ""
    )
    return Result(
        f"Moves (the {min(top, len(moves))} largest of {len(moves):,} by annual revenue)",
        f"{len(moves):,} accounts change rep; "
        f"{int((moves['reason'].str.startswith('relieves')).sum()):,} relieve an overloaded "
        f"territory and {int((moves['reason'].str.startswith('fills')).sum()):,} fill an "
        "underloaded one; the full list is in proposed_alignment.csv and the workbook." + far_text,
        moves.head(top)[
            ["account_id", "current_rep", "proposed_rep", "revenue", "reason"]
        ].reset_index(drop=True),
        formats={"revenue": "{:,.0f}"},
    )


def disruption_curve(
    opt: TerritoryOptimizer, caps: list[float | None], quick: bool = False
) -> Result:
    """Re-solve copies of a solved request with each cap on the share of accounts moved
    (``None``: no cap), warm-started from its LP, and report the balance, travel and gap each
    buys; a cap that cannot be met shows as infeasible with the reason. ``quick`` solves
    each point as the what-if panel does (``solve(quick=True)``); its gap is still shown.
    A cap equal to the solved request's own is that solve, not solved again; repeated caps
    are dropped. No cap is solved as a cap of 100%, which keeps the model's shape; each
    re-solve starts from the basis of the previous point."""
    out = []
    last = opt
    for cap in dict.fromkeys(caps):
        row = {"cap on accounts moved": 1.0 if cap is None else cap}
        if cap == opt.max_moved_share and hasattr(opt, "summary_"):
            trial = last = opt
        else:
            trial = opt.with_params(max_moved_share=1.0 if cap is None else cap)
            trial.warm_from(opt).warm_from(last)
            last = trial
            try:
                trial.solve(quick=quick)
            except InfeasibleRequest as err:
                out.append(row | {"feasible": False, "note": str(err)})
                continue
        w = trial.summary_["workload_vs_target_after"]
        out.append(
            row
            | {
                "accounts moved": len(trial.moves_),
                "workload CV": w.std() / w.mean(),
                "worst workload vs target": float((w - 1).abs().max()),
                "travel vs today": travel_change(trial, trial.travel_),
                "gap to bound": trial.gap_,
                "feasible": True,
                "note": "",
            }
        )
    table = pd.DataFrame(out).reindex(
        columns=[
            "cap on accounts moved",
            "accounts moved",
            "workload CV",
            "worst workload vs target",
            "travel vs today",
            "gap to bound",
            "feasible",
            "note",
        ]
    )
    ok = table[table["feasible"]]
    text = (
        "No cap in the list can be met."
        if ok.empty
        else f"Allowing {ok['cap on accounts moved'].iloc[0]:.0%} of accounts to move gives a "
        f"workload CV of {ok['workload CV'].iloc[0]:.1%}; allowing "
        f"{ok['cap on accounts moved'].iloc[-1]:.0%} gives {ok['workload CV'].iloc[-1]:.1%} "
        f"with travel {ok['travel vs today'].iloc[-1]:+.0%} against today."
    )
    return Result(
        "Disruption against balance",
        text,
        table,
        formats={
            "cap on accounts moved": "{:.0%}",
            "accounts moved": "{:,.0f}",
            "workload CV": "{:.1%}",
            "worst workload vs target": "{:.1%}",
            "travel vs today": "{:+.1%}",
            "gap to bound": "{:.1%}",
        },
        notes="Each row is a solve with the same tolerance (a cap equal to the plan's is the "
        "proposal itself); 100% means no cap. Gap to bound: how far that proposal could at "
        "most be from the best one.",
    )


def write_workbook(path, opt: TerritoryOptimizer, proposal_frame: pd.DataFrame) -> None:
    """An Excel workbook for sales operations: the proposal, the territory summary (before
    and after) and the moves with reasons, plus a sheet saying how good the proposal is."""
    about = pd.DataFrame(
        {
            "item": [
                "objective",
                "lower bound",
                "optimality gap",
                "method",
                "tolerance",
                "cap on accounts moved",
                "accounts moved",
            ],
            "value": [
                opt.objective_,
                opt.lower_bound_,
                opt.gap_,
                opt.method_,
                opt.tolerance,
                opt.max_moved_share,
                len(opt.moves_),
            ],
        }
    )
    sheets = {
        "proposal": proposal_frame,
        "territories": opt.summary_,
        "moves": opt.moves_,
        "about": about,
    }
    write_excel(sheets, path)


def scratch_comparison(opt: TerritoryOptimizer, plan: ScratchPlan) -> Result:
    """Today's alignment, ``opt``'s proposal (both from the reps' homes) and ``plan`` drawn
    from scratch, side by side: travel, balance of workload and potential, accounts that
    change rep and each plan's certified gap."""
    new = plan.optimizer
    known = opt.problem_.current >= 0
    rows = []
    for name, o, which in (
        ("today, from rep homes", opt, "before"),
        ("proposed, from rep homes", opt, "after"),
        ("from scratch, reps at new bases", new, "after"),
    ):
        s = o.summary_
        travel = o.travel_before_ if which == "before" else o.travel_
        moved = (
            0 if which == "before" else int((o.assign_idx_ != opt.problem_.current)[known].sum())
        )
        rows.append(
            {
                "alignment": name,
                "travel (call-hour km)": travel,
                "travel vs today": travel_change(opt, travel),
                "workload, worst vs target": float(
                    (s[f"workload_vs_target_{which}"] - 1).abs().max()
                ),
                "potential, worst vs target": float(
                    (s[f"potential_vs_target_{which}"] - 1).abs().max()
                ),
                "accounts changing rep": moved,
                "certified gap": np.nan if which == "before" else o.gap_,
            }
        )
    table = pd.DataFrame(rows)
    saving = -table["travel vs today"].iloc[2]
    proposed = -table["travel vs today"].iloc[1]
    moved_km = haversine_km(
        opt.territories["home_latitude"].to_numpy(float),
        opt.territories["home_longitude"].to_numpy(float),
        plan.bases["home_latitude"].to_numpy(float),
        plan.bases["home_longitude"].to_numpy(float),
    )
    headline = (
        f"Drawn from scratch, with each of the {opt.problem_.m} reps based where the territory's "
        f"travel is least, the same accounts would need {saving:.0%} less call-weighted "
        f"travel than today; the proposal, from today's homes, saves {proposed:.0%}. "
        f"The difference, {saving - proposed:.0%} of today's travel, is what the home "
        f"locations cost. Half the bases are within {np.median(moved_km):,.0f} km of "
        f"today's homes and {(moved_km > 200).sum()} are more than 200 km away. Read them as "
        "where reps (or new hires) would best be based, not as a plan to move anyone."
    )
    return Result(
        "Drawn from scratch",
        headline,
        table,
        formats={
            "travel (call-hour km)": "{:,.0f}",
            "travel vs today": "{:+.0%}",
            "workload, worst vs target": "{:.0%}",
            "potential, worst vs target": "{:.0%}",
            "accounts changing rep": "{:,.0f}",
            "certified gap": "{:.1%}",
        },
        notes="Travel: distance from each account to its rep's home (or base) weighted by "
        "its call hours a year. Worst vs target: the largest deviation of a territory's "
        "workload (call and travel hours) or potential from its target; every plan but "
        "today's keeps both within the plan's tolerance. From scratch, nothing is locked and "
        "moves are not limited or charged. Certified gap: how far the assignment can be, at "
        "most, from the best one with the same homes (or bases); the bases themselves come "
        "from location-allocation, which finds good bases without proving them best.",
    )
