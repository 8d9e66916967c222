"""Stage 4, the proposal: the territory solver run on a loaded dataset, and what a sales
leader reads of it (headline, balance table, moves, the cost of fewer moves, the workbook).

The solver itself (:mod:`terrlib.territory`) knows nothing of datasets or plans;
:func:`from_dataset` turns the plan's coverage model, stage 2's potential and stage 3's
tiers into its request.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from terrlib.exports import write_excel
from terrlib.geo import haversine_km
from terrlib.inputs.coverage import coverage_calls
from terrlib.results import Result
from terrlib.territory import tidy
from terrlib.territory.diagnose import tightest
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.outcome import compactness, nearest_share
from terrlib.territory.problem import InfeasibleRequest
from terrlib.territory.relaxation import Workspace
from terrlib.territory.scratch import ScratchPlan
from terrlib.territory.unbalanced import opened as open_bands
from terrlib.territory.unbalanced import solve_balancing


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
    stage 2's ``scores`` (account revenue otherwise), and so do the last four quarters'
    bookings, which make moving a customer cost more; targets are in proportion to each
    rep's capacity; tolerance, locks, the moved cap, reach, circuity and regions come from
    the plan, and any of them can be overridden by ``options``. With the plan's
    ``align_by: postal_code`` the accounts of a postal code are grouped (they go to one
    territory, :mod:`terrlib.territory.groups`) except the named accounts.
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
            "region": acc["region"],
            "revenue": acc["annual_revenue"].to_numpy(float),
            "locked": acc["account_id"].isin(plan.balance.locked_accounts).to_numpy(),
        }
    )
    if scores is not None and "spend_4q" in scores:  # moving a customer costs more
        spend = scores.set_index("account_id")["spend_4q"].reindex(acc["account_id"])
        frame["bookings"] = spend.fillna(0.0).to_numpy(float)
    if "postal_code" in acc:
        frame["postal_code"] = acc["postal_code"].astype("string").fillna("").to_numpy()
    if plan.balance.align_by == "postal_code" and "postal_code" in frame:
        # every account of a postal code goes with it, except the named accounts: locked
        # ones and (when the plan sets it) those with at least named_account_revenue
        floor = plan.balance.named_account_revenue
        named = frame["locked"].to_numpy() | (
            frame["revenue"].to_numpy() >= floor if floor is not None else False
        )
        frame["group"] = np.where(named, "", frame["postal_code"].to_numpy(dtype=object))
    reps = data.reps.drop_duplicates("territory_id")
    homes = pd.DataFrame(
        {
            "territory_id": reps["territory_id"],
            "rep_name": reps["rep_name"],
            "home_latitude": reps["home_latitude"],
            "home_longitude": reps["home_longitude"],
            "capacity": reps["capacity_hours"],
            "region": reps["region"],
        }
    )
    for col in ("district", "manager_id"):  # the level between territory and region
        if col in reps and reps[col].notna().any():
            homes["district"] = reps[col].astype("string").fillna("").to_numpy()
            break
    settings = {
        "tolerance": plan.balance.tolerance,
        "potential_tolerance": plan.balance.potential_tolerance,
        "max_moved_share": plan.balance.max_moved_share,
        "reach_km": plan.balance.reach_km,
        "circuity": plan.balance.circuity,
        "cross_regions": plan.balance.cross_regions,
        "visits_per_call": plan.coverage.visit_share,
        "travel_speed_kmh": plan.coverage.travel_speed_kmh,
        "min_travel_minutes": plan.coverage.min_travel_minutes,
        "disruption": plan.balance.weights.disruption,
        "compactness": plan.balance.weights.compactness,
        "tidy": plan.balance.weights.tidy,
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


def solve_or_widen(
    opt: TerritoryOptimizer, tries: int = 4, quick: bool = False
) -> TerritoryOptimizer:
    """Solve ``opt``, balancing every territory the rules allow.

    When its bands cannot all hold under the other rules (reach, regions, locks, the cap on
    moves), the territories that cannot be balanced are found
    (:func:`terrlib.territory.unbalanced.unbalanced`) and the request is solved again with
    only those held to what they can reach (``territory_tolerance``), a little wider each
    time that still cannot be met; ``unbalanced_`` on the result keeps them, with why. Only
    when that fails too is the whole tolerance widened (to the tightest the diagnosis finds
    can be met), keeping in ``widened_`` the tolerance asked for and why it could not hold.
    The plan's request is never met silently wider: :func:`headline` says so. ``quick``
    solves as the what-if panel does.

    Raises
    ------
    InfeasibleRequest
        When no tolerance up to ±100% can be met.
    """
    try:
        return solve_balancing(opt, quick, explain=True, tries=tries)
    except InfeasibleRequest as err:
        found = err.unbalanced
    opened = open_bands(found.floors)
    # only when that fails too: the whole tolerance widened (those territories kept open),
    # to what the diagnosis names
    base = opt.with_params(territory_tolerance=(opt.territory_tolerance or {}) | opened)
    try:
        return base.warm_from(opt).solve(quick=quick)
    except InfeasibleRequest as err:
        first, tolerance = err, err.tolerance
    for _ in range(tries):
        if tolerance is None:
            break
        widened = min(1.0, tolerance)
        ptol = opt.potential_tolerance
        trial = base.with_params(
            tolerance=widened, potential_tolerance=None if ptol is None else max(ptol, widened)
        ).warm_from(opt)
        try:  # no diagnosis of a width that fails: the next is a quarter wider
            trial.solve(quick=quick, explain=False)
        except InfeasibleRequest:
            tolerance = None if tolerance >= 1.0 else min(1.0, tolerance * 1.25)
            continue
        trial.widened_ = (opt.tolerance, str(first))
        if opened:
            trial.unbalanced_ = found
        return trial
    raise first


def unbalanced_text(opt: TerritoryOptimizer, names: int = 4) -> str:
    """One sentence on the territories the rules cannot balance (empty when there are
    none): how many, the worst ``names`` of them with where they can get to, and why."""
    found = getattr(opt, "unbalanced_", None)
    if found is None or found.table.empty:
        return ""
    t = found.table
    rules = t["rule"].value_counts()
    worst = "; ".join(
        f"{r.territory_id} ({r.measure} at best {r.best:.0%} of target)"
        for r in t.head(names).itertuples()
    )
    why = " and ".join(
        f"{'the ' if rule != 'locks' else ''}{rule} ({count})" for rule, count in rules.items()
    )
    worse = further_than_today(opt)
    kept = (
        "none is left further from target than today, unless the rules hold it there"
        if not worse
        else ", ".join(worse) + " end further from target than today and than the rules "
        "need, because no plan at their limits was found"
    )
    whole = [t for t in found.keep if t not in worse] if getattr(opt, "kept_accounts_", 0) else []
    if whole:
        kept += (
            f"; {', '.join(whole)}, short of target, keep every account they have and take "
            "more where the band allows"
        )
    return (
        f"{len(t)} of {opt.problem_.m} territories cannot be balanced under the plan's rules "
        f"(held back by {why}): {worst}{'; ...' if len(t) > names else ''}. Each is brought "
        f"towards target as far as the rules allow ({kept}); the rest are kept within the "
        "band; the staffing section says what would fix each. "
    )


def further_than_today(opt: TerritoryOptimizer) -> list[str]:
    """The territories the rules cannot balance (``unbalanced_``) that the proposal leaves
    further from target, on the measure they cannot balance, than both today and the best
    the rules allow (half a point of slack)."""
    found = getattr(opt, "unbalanced_", None)
    if found is None or found.table.empty:
        return []
    s = opt.summary_.set_index("territory_id")
    out = []
    for r in found.table.itertuples():
        before = s.loc[r.territory_id, f"{r.measure}_vs_target_before"]
        after = s.loc[r.territory_id, f"{r.measure}_vs_target_after"]
        if before > 0 and abs(after - 1) > max(abs(before - 1), abs(r.best - 1)) + 0.005:
            out.append(str(r.territory_id))
    return out


def headline(opt: TerritoryOptimizer) -> str:
    """The proposal in one or two sentences, with its certified gap."""
    s = opt.summary_
    n, m = opt.problem_.n, opt.problem_.m
    w0, w1 = s["workload_vs_target_before"], s["workload_vs_target_after"]
    out0 = int(((w0 - 1).abs() > opt.tolerance + 1e-9).sum())
    widened = getattr(opt, "widened_", None)
    asked = (
        f"The plan's ±{widened[0]:.0%} cannot be met under its other rules (cap on accounts "
        f"moved, locks, reach), so this proposal balances to ±{opt.tolerance:.0%}, the "
        "tightest that can be met. "
        if widened
        else unbalanced_text(opt)
    )
    bad = set(getattr(opt, "unbalanced_", None) and opt.unbalanced_.floors or ())
    within = s["territory_id"].isin(bad).to_numpy()
    w1 = w1[~within] if within.any() and not within.all() else w1
    unaligned = int((opt.problem_.current < 0).sum())
    p_tol = opt.problem_.p_tol
    bands = (
        f"workload and potential within ±{opt.tolerance:.0%}"
        if abs(p_tol - opt.tolerance) < 1e-9
        else f"workload within ±{opt.tolerance:.0%} and potential within ±{p_tol:.0%}"
    )
    if unaligned == n:  # a green field: nothing today to compare with
        return (
            f"No account has a territory yet: the proposal assigns all {n:,} accounts to "
            f"{m} territories with "
            + ("every other" if bad else "every")
            + f" territory's {bands} of its target (worst workload {(w1 - 1).abs().max():.0%} "
            f"off); it is within {opt.gap_:.1%} of the best "
            "possible under these rules (certified lower bound). " + asked
        ).strip()
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
        f"({len(opt.moves_) / n:.0%}) and brings "
        + ("every other" if bad else "every")
        + f" territory's {bands} of its target "
        f"(today {out0} of {m} territories are outside on workload; the worst is "
        f"{(w0 - 1).abs().max():.0%} off, after "
        f"{(w1 - 1).abs().max():.0%}{' among them' if bad else ''}). {travel}; the proposal "
        "is within "
        f"{opt.gap_:.1%} of the best possible under these rules (certified lower bound)."
        + newcomers
    )


def balance_table(opt: TerritoryOptimizer) -> Result:
    """Before/after spread of workload and potential across territories: coefficient of
    variation, max/min, territories outside the tolerance, travel and accounts moved."""
    s, p_tol = opt.summary_, opt.problem_.p_tol
    found = getattr(opt, "unbalanced_", None)
    held = 0 if found is None else len(found.floors)
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
                "cannot be balanced": np.nan if when == "today" else held,
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
            "cannot be balanced": "{:,.0f}",
        },
        notes=f"CV: standard deviation / mean of each territory's value against its target. "
        "Cannot be balanced: territories no plan under the rules can bring within the band "
        "(see below). "
        f"Band: ±{opt.tolerance:.0%} of target for workload, ±{min(p_tol, 10):.0%} for "
        "potential. Travel: distance to the rep's home weighted by call hours. Certified "
        f"gap {opt.gap_:.1%}: no plan under the same rules can cost (travel, spread and "
        "accounts moved, in the optimizer's units) more than that less than this one; the "
        "method is in the notebook (opt.method_).",
    )


def rules_result(opt: TerritoryOptimizer) -> Result:
    """The rules the proposal keeps, in business words: the bands, reach, regions, the cap
    on moves and locks, and how distance is measured."""
    p = opt.problem_
    kept = getattr(opt, "kept_accounts_", 0)
    derived = opt.reach_km is None
    rows = [
        ("workload band", f"±{opt.tolerance:.0%} of each territory's target"),
        ("potential band", "not balanced" if p.p_tol >= 1e5 else f"±{p.p_tol:.0%} of target"),
        (
            "reach",
            "no limit"
            if not np.isfinite(p.reach)
            else f"{p.reach:,.0f} km by road"
            + (" (where today's reps serve four in five of their accounts)" if derived else "")
            + "; an account farther from today's rep may only go nearer",
        ),
        ("distance", f"road = straight line x {opt.circuity:g}"),
        (
            "regions",
            "accounts may move to another region"
            if opt.cross_regions or p.acc_region is None
            else "no account leaves its region",
        ),
        (
            "cap on moves",
            "none"
            if opt.max_moved_share is None
            else f"at most {opt.max_moved_share:.0%} of {opt.cap_by} change rep",
        ),
        (
            "locked accounts",
            f"{int(p.locked.sum()) - kept:,} stay with today's rep"
            + (
                f" (and the {kept:,} accounts of the territories kept whole, below)" if kept else ""
            ),
        ),
        (
            "aligned by",
            "postal code (all of a code's accounts together, named accounts on their own)"
            if "group" in opt.accounts
            else "account",
        ),
    ]
    return Result(
        "The rules of the proposal",
        f"No account is given to a rep more than {p.reach:,.0f} km away by road unless it is "
        "nearer than today's"
        + ("" if opt.cross_regions or p.acc_region is None else ", and none leaves its region")
        + ".",
        pd.DataFrame(rows, columns=["rule", "setting"]),
        notes="Sales operations set these rules in the plan file's balance section; the "
        "notebook names each setting.",
    )


def unbalanced_result(opt: TerritoryOptimizer) -> Result:
    """The territories the rules cannot balance, in business words: which way, how close
    they can get, the rule that stops them, the work within reach and the accounts no
    other rep may take."""
    found = getattr(opt, "unbalanced_", None)
    if found is None or found.table.empty:
        return Result(
            "Territories that cannot be balanced",
            "Every territory can be balanced under the plan's rules.",
            pd.DataFrame(),
        )
    t = found.table
    s = opt.summary_.set_index("territory_id")
    table = pd.DataFrame(
        {
            "territory": t["territory_id"],
            "problem": np.where(t["side"] == "over", "too much ", "too little ") + t["measure"],
            "best possible vs target": t["best"],
            "proposed vs target": [
                s.loc[k, f"{m}_vs_target_after"]
                for k, m in zip(t["territory_id"], t["measure"], strict=True)
            ],
            "binding rule": t["rule"],
            "hours within reach": t["in_reach_hours"],
            "hours only it can serve": t["only_here_hours"],
            "accounts only it can serve (largest)": t["only_here"],
        }
    )
    return Result(
        "Territories that cannot be balanced",
        unbalanced_text(opt, names=3).strip(),
        table,
        formats={
            "best possible vs target": "{:.0%}",
            "proposed vs target": "{:.0%}",
            "hours within reach": "{:,.0f}",
            "hours only it can serve": "{:,.0f}",
        },
        notes="Best possible: the closest to target any plan under every rule could bring it "
        "(the optimizer's limit; a plan of whole accounts can fall a little short of it). It "
        "is held no further from target than today wherever a plan allows it. Binding "
        "rule: the rule whose lifting alone would let it be balanced. Hours within reach: "
        "the workload of every account "
        "its rep may be given. Only it can serve: accounts no other rep may take (beyond "
        "reach of every other home in the region).",
    )


#: the compactness columns of :func:`territory_table` (before " today" / " proposed"),
#: from the columns of :func:`terrlib.territory.outcome.compactness`
_SHAPE = {
    "farthest km": "farthest_km",
    "with nearest rep": "nearest_share",
    "mixed in": "mixed_in",
    "overlap": "overlap",
}


def territory_table(opt: TerritoryOptimizer) -> Result:
    """Per territory, today and proposed: accounts (and how many come in and go out),
    workload and potential against target, call-weighted travel, the farthest account, and
    compactness (:func:`terrlib.territory.outcome.compactness`: the share of its accounts
    whose nearest rep is its own, the share set among another territory's accounts, and
    the share inside a neighbour's outline). The page shows the balance; the shape columns
    are :func:`shape_table`'s, and the file (``territory_changes.csv``) holds them all."""
    p, s = opt.problem_, opt.summary_
    cur = np.where(p.current >= 0, p.current, opt.assign_idx_)
    near = tidy.neighbours(p)
    before, after = compactness(p, cur, near=near), compactness(p, opt.assign_idx_, near=near)
    moved = (p.current >= 0) & (opt.assign_idx_ != p.current)
    travel = {}
    for label, a in (("today", cur), ("proposed", opt.assign_idx_)):
        v = p.arc_values(np.arange(p.n), a)
        travel[label] = np.bincount(a, weights=v["travel"], minlength=p.m)
    ter = opt.territories.reset_index(drop=True)
    table = pd.DataFrame(
        {
            "territory": p.ids,
            "rep": ter["rep_name"].to_numpy() if "rep_name" in ter else p.ids,
            "accounts today": s["accounts_before"].to_numpy(),
            "in": np.bincount(opt.assign_idx_[moved], minlength=p.m),
            "out": np.bincount(p.current[moved], minlength=p.m),
            "accounts proposed": s["accounts_after"].to_numpy(),
            "workload today": s["workload_vs_target_before"].to_numpy(),
            "workload proposed": s["workload_vs_target_after"].to_numpy(),
            "potential today": s["potential_vs_target_before"].to_numpy(),
            "potential proposed": s["potential_vs_target_after"].to_numpy(),
            "travel change": travel["proposed"] / np.maximum(travel["today"], 1e-12) - 1,
            **{
                f"{c} {when}": plan[k].to_numpy()
                for c, k in _SHAPE.items()
                for when, plan in (("today", before), ("proposed", after))
            },
        }
    )
    shape = [f"{c} {when}" for c in _SHAPE for when in ("today", "proposed")]
    for col in ("district", "region"):
        if col in ter:
            table.insert(2, col, ter[col].to_numpy())
    # the territories that change most first, so a long table's first rows are the changes
    moves = table["in"] + table["out"]
    table = table.iloc[np.argsort(-moves.to_numpy(), kind="stable")].reset_index(drop=True)
    changed = int((moves > 0).sum())
    rise = table.loc[table["travel change"].idxmax()]
    worst = (
        f"; the largest rise is {rise['territory']}'s ({rise['travel change']:+.0%})"
        if rise["travel change"] > 0.005
        else ""
    )
    headline = (
        f"{changed} of {p.m} territories gain or lose accounts ({int(moved.sum()):,} accounts "
        f"change rep). Travel falls in {int((table['travel change'] < -0.005).sum())} "
        f"territories and rises in {int((table['travel change'] > 0.005).sum())}{worst}."
        if (p.current >= 0).any()
        else "No account has a territory today (a plan drawn from scratch), so the today "
        "columns repeat the proposal: read each territory's proposed balance."
    )
    return Result(
        "Each territory, today and proposed",
        headline,
        table,
        formats={
            c: "{:.0%}" for c in table if c.startswith(("workload", "potential", "with", "mixed"))
        }
        | {"travel change": "{:+.0%}"},
        notes="Workload and potential against the territory's target (100% is on target). In "
        "and out: accounts that change rep. Travel change: the territory's call-weighted "
        "distance to its rep's home.",
        hidden=["district", "accounts proposed", *shape],
        download="territory_changes.csv",
    )


def shape_table(opt: TerritoryOptimizer, territories: Result | None = None) -> Result:
    """How compact each territory of ``opt`` is, today and proposed: its farthest account,
    the share of its accounts whose nearest rep is its own, and the share set among another
    territory's accounts, with the plan's totals (shares weighted by accounts) in the
    headline. ``territories`` is :func:`territory_table`'s result for ``opt`` (made here
    when not given)."""
    t = (territory_table(opt) if territories is None else territories).table
    share = {
        (key, when): nearest_share(
            t.rename(columns={f"accounts {when}": "accounts"}), column=f"{col} {when}"
        )
        for col, key in (("with nearest rep", "nearest"), ("mixed in", "mixed"))
        for when in ("today", "proposed")
    }
    mixed = (
        f"Accounts set among another territory's accounts: {share['mixed', 'today']:.0%} "
        f"today, {share['mixed', 'proposed']:.0%} proposed. "
        if t["mixed in today"].notna().any()
        else ""
    )
    cols = ["territory", "rep"] + [f"{c} {w}" for c in _SHAPE for w in ("today", "proposed")]
    return Result(
        "How compact each territory is, today and proposed",
        f"Accounts served by their nearest rep: {share['nearest', 'today']:.0%} today, "
        f"{share['nearest', 'proposed']:.0%} proposed. {mixed}"
        "The farthest account of any territory is "
        f"{t['farthest km today'].max():,.0f} km from its rep today and "
        f"{t['farthest km proposed'].max():,.0f} km proposed.",
        t[cols],
        formats={c: "{:.0%}" for c in cols if c.startswith(("with", "mixed"))}
        | {c: "{:,.0f}" for c in cols if c.startswith("farthest")},
        notes="In the same order as the table above. Farthest: the territory's account "
        f"farthest from its rep's home, by road (straight line x {opt.circuity:g}). With "
        "nearest rep: share of its accounts whose nearest rep home is this one. Mixed in: share "
        "of its accounts set among another territory's (most of their six nearest accounts are "
        "that territory's), which its rep drives past a colleague's accounts to reach (lower is "
        "cleaner). Overlap (in the file, not shown here): share of its accounts inside the "
        "outline of a neighbouring territory, which one far account can stretch.",
        hidden=["overlap today", "overlap proposed"],
        download="territory_changes.csv",
    )


def rollup(opt: TerritoryOptimizer, level: str = "region") -> Result:
    """Balance rolled up to ``level`` ("region" or "district"), today and proposed: its
    territories, accounts, workload against its target (its territories' together) and its
    worst territory's, and call-weighted travel."""
    p, s = opt.problem_, opt.summary_
    ter = opt.territories.reset_index(drop=True)
    if level not in ter:
        return Result(f"By {level}", f"The reps have no {level}.", pd.DataFrame())
    cur = np.where(p.current >= 0, p.current, opt.assign_idx_)
    frame = pd.DataFrame({level: ter[level].astype(str).to_numpy()})
    for label, key, a in (("today", "before", cur), ("proposed", "after", opt.assign_idx_)):
        v = p.arc_values(np.arange(p.n), a)
        frame[f"travel {label}"] = np.bincount(a, weights=v["travel"], minlength=p.m)
        frame[f"hours {label}"] = s[f"hours_{key}"].to_numpy()
        hours = s[f"hours_{key}"].to_numpy()
        frame[f"target {label}"] = hours / s[f"workload_vs_target_{key}"].to_numpy()
        frame[f"worst {label}"] = (s[f"workload_vs_target_{key}"] - 1).abs().to_numpy()
    frame["territories"] = 1
    frame["accounts"] = s["accounts_after"].to_numpy()
    g = frame.groupby(level, sort=True).agg("sum")
    worst = frame.groupby(level)[["worst today", "worst proposed"]].max()
    table = pd.DataFrame(
        {
            "territories": g["territories"],
            "accounts": g["accounts"],
            "workload vs target today": g["hours today"] / g["target today"],
            "workload vs target proposed": g["hours proposed"] / g["target proposed"],
            "worst territory today": worst["worst today"],
            "worst territory proposed": worst["worst proposed"],
            "travel change": g["travel proposed"] / g["travel today"].clip(lower=1e-12) - 1,
        }
    ).reset_index()
    short = table.loc[table["workload vs target proposed"].idxmax()]
    return Result(
        f"Balance by {level}",
        f"{short[level]} carries the most work for its reps: "
        f"{short['workload vs target proposed']:.0%} of its target after the proposal"
        + (
            " (no move crosses a region, so a region's total is set by its accounts and its "
            "reps: only staffing changes it)."
            if level == "region" and not opt.cross_regions
            else "."
        ),
        table,
        formats={c: "{:.0%}" for c in table if "workload" in c or "worst" in c}
        | {"travel change": "{:+.0%}"},
        notes="Workload against target: the hours of the level's territories over their "
        "targets together. Worst territory: the largest deviation of one of its territories "
        "from its own target.",
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
        f"(the farthest {km.max():,.0f} km), each nearer its new rep than its rep today (no "
        f"move takes an account beyond the reach of {opt.problem_.reach:,.0f} km otherwise)."
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


#: the caps on the share of accounts moved the trade-off curve is drawn at (None: no cap)
CURVE_CAPS: tuple[float | None, ...] = (0.0, 0.05, 0.10, 0.15, 0.25, None)


def disruption_curve(
    opt: TerritoryOptimizer, caps=CURVE_CAPS, steps: int = 3, lp_steps: int = 6
) -> Result:
    """The trade-off between disruption and balance: for each cap on the share of accounts
    moved (``None``: no cap), the tightest workload tolerance found that the cap allows
    under the plan's other rules (reach, regions, locks, potential's band, never tighter
    than workload's, and the territories ``opt`` could not balance held where it holds
    them), with the travel and certified gap of that plan.

    Caps are taken in increasing order. Each starts from what the previous one reached (a
    plan under a tighter cap keeps a looser one too, so a looser cap is never worse; from
    the plan's own cap on, the proposal ``opt`` is such a plan too) and
    from the LP's tightest tolerance (:func:`terrlib.territory.diagnose.tightest`, in
    ``lp_steps`` halvings: no plan can do better), and halves the interval ``steps`` times
    (at its geometric middle: the ends can be a factor of 30 apart) with quick solves that
    take the LP's first rounding meeting every rule (``solve(rounding_only=True)``:
    deterministic and fast). A cap of 0 with every account aligned today is today's
    alignment, whose tolerance is read off directly.

    Returns
    -------
    Result
        One row per cap: ``max_moved_share`` (1.0 for no cap), ``accounts_moved``,
        ``workload_tolerance``, ``travel_vs_today``, ``gap``, ``tightest_possible`` (the LP's
        bound on the tolerance) and a ``note``: what ``disruption_curve.csv`` holds.
    """
    order = sorted(dict.fromkeys(caps), key=lambda c: 1.0 if c is None else c)
    floors = opt.territory_tolerance
    base = opt.with_params(territory_tolerance=floors)
    ws = Workspace()
    out: list[dict] = []
    best, hi = None, None  # the plan so far and its tolerance
    for cap in order:
        share = 1.0 if cap is None else float(cap)
        trial = base.with_params(max_moved_share=share)
        problem = trial.problem()
        if share == 0 and (problem.current >= 0).all():
            best, hi, why = _today(trial, problem)
            out.append(_point(share, best, hi, hi, f"today's alignment: nothing may move; {why}"))
            continue
        lo = tightest(problem, ws, 1.0 if hi is None else hi, lp_steps, lp_only=True)
        if lo is None:
            out.append({"max_moved_share": share, "note": "cannot be met under the other rules"})
            continue
        found, top, low, kept = None, hi, lo, "the tighter cap's plan"
        if opt.max_moved_share is not None and opt.max_moved_share <= share + 1e-12:
            if top is None or opt.tolerance < top:  # the proposal itself keeps this cap
                best = opt.with_params(max_moved_share=share).adopt(
                    opt.assign_idx_, opt.method_, opt.lower_bound_
                )
                top, kept = opt.tolerance, "the proposal"
        if top is None:  # no plan yet: search up from the LP's tolerance for a first one
            tol = lo
            for _ in range(steps + 1):
                found = _attempt(trial, tol, opt)
                if found is not None:
                    top = tol
                    break
                low, tol = tol, min(1.0, max(2 * tol, tol + 0.05))
            if found is None:
                out.append({"max_moved_share": share, "note": "no plan was found"})
                continue
        for _ in range(steps):  # halve [low, top] (geometrically) with quick solves
            mid = float(np.sqrt(max(low, 1e-3) * top))
            plan = _attempt(trial, mid, found or best)
            if plan is not None:
                found, top = plan, mid
            else:
                low = mid
        if top > 2 * max(lo, 1e-3):  # roundings alone stayed far from the LP: one full try
            mid = float(np.sqrt(max(lo, 1e-3) * top))
            plan = _attempt(trial, mid, found or best, rounding_only=False)
            if plan is not None:
                found, top = plan, mid
        note = "" if found is not None else f"{kept} (no tighter plan was found)"
        best, hi = found or best, top
        point = _point(share, best, hi, min(lo, hi), note)
        if found is None and not (kept == "the proposal" and share == opt.max_moved_share):
            point["gap"] = np.nan  # its bound is for a tighter cap, not this one
        out.append(point)
    columns = [
        "max_moved_share", "accounts_moved", "workload_tolerance", "travel_vs_today", "gap",
        "tightest_possible", "note",
    ]  # fmt: skip
    table = pd.DataFrame(out).reindex(columns=columns)
    mine = _point(
        1.0 if opt.max_moved_share is None else float(opt.max_moved_share),
        opt, opt.tolerance, np.nan, "the proposal",
    )  # fmt: skip
    result = Result(
        "Disruption against balance",
        _curve_text(table, mine),
        table,
        formats=CURVE_FORMATS,
        notes="Each row is a plan found at the tightest workload tolerance its cap allowed "
        "(potential's band at the plan's or that tolerance, whichever is wider); 100% means "
        "no cap. A row that keeps a tighter cap's plan (or the proposal) shows no gap: its "
        "bound was for the tighter cap. Tightest possible: no plan under that cap can have "
        "a tighter band (from the LP). Travel: call-weighted, against today's alignment. "
        "Gap: how far that plan could at most be from the cheapest one at its tolerance and "
        "cap.",
    )
    result.proposal = mine  # for the chart, which marks it
    return result


def _attempt(
    trial: TerritoryOptimizer, tol: float, warm: TerritoryOptimizer, rounding_only: bool = True
):
    """``trial`` solved quickly (its first rounding, or with ``rounding_only`` False the
    quick solve, MILPs included) at workload tolerance ``tol``, potential at the plan's or
    ``tol``; None when that finds no plan."""
    ptol = trial.potential_tolerance
    attempt = trial.with_params(
        tolerance=tol, potential_tolerance=None if ptol is None else max(ptol, tol)
    ).warm_from(warm)
    try:
        return attempt.solve(quick=True, rounding_only=rounding_only, explain=False)
    except InfeasibleRequest:
        return None


def _today(trial: TerritoryOptimizer, problem) -> tuple[TerritoryOptimizer, float, str]:
    """Today's alignment as a solved plan of ``trial`` (nothing moves), the tightest
    workload tolerance it meets (potential at the plan's band or that tolerance) and which
    territory and measure set it."""
    cur = problem.current
    _, hours, pot, _ = problem.loads(cur)
    h_t, p_t = problem.targets(hours.sum(), pot.sum())
    w, p = np.abs(hours / h_t - 1), np.abs(pot / np.maximum(p_t, 1e-12) - 1)
    hi, lo = hours > h_t, pot > p_t
    f = problem.floor
    fw, fp = np.where(hi, f[:, 1], f[:, 0]), np.where(lo, f[:, 3], f[:, 2])
    need_w = np.where(w > fw, w, 0.0)
    need_p = np.where(p > np.maximum(problem.p_tol, fp), p, 0.0)
    need = np.maximum(need_w, need_p)
    tol = float(max(need.max(), 1e-6)) * (1 + 1e-9)
    k = int(np.argmax(need))
    which = "workload" if need_w[k] >= need_p[k] else "potential"
    why = f"set by {problem.ids[k]}'s {which}, {need[k]:.0%} off its target today"
    ptol = trial.potential_tolerance
    today = trial.with_params(
        tolerance=tol, potential_tolerance=None if ptol is None else max(ptol, tol)
    )
    # nothing else may be chosen when no account may move: its bound is its own cost
    return today.adopt(cur, "today's alignment"), tol, why


def _point(share: float, plan: TerritoryOptimizer, tol: float, bound: float, note: str):
    return {
        "max_moved_share": share,
        "accounts_moved": len(plan.moves_),
        "workload_tolerance": tol,
        "travel_vs_today": travel_change(plan, plan.travel_),
        "gap": plan.gap_,
        "tightest_possible": bound,
        "note": note,
    }


CURVE_FORMATS = {
    "max_moved_share": "{:.0%}",
    "accounts_moved": "{:,.0f}",
    "workload_tolerance": "±{:.1%}",
    "travel_vs_today": "{:+.1%}",
    "gap": "{:.1%}",
    "tightest_possible": "±{:.1%}",
}


def _curve_text(table: pd.DataFrame, proposal: dict | None = None) -> str:
    """What the trade-off curve shows, in a sentence or two, and where ``proposal`` (a
    :func:`_point` of the proposal) sits on it."""
    ok = table.dropna(subset=["workload_tolerance"])
    if ok.empty:
        return "No cap in the list can be met under the plan's other rules."
    first, end = ok.iloc[0], ok.iloc[-1]
    knee = ok[ok["workload_tolerance"] <= end["workload_tolerance"] + 0.01].iloc[0]
    cap = lambda v: "no cap" if v >= 1 else f"a cap of {v:.0%}"  # noqa: E731
    text = (
        f"With {cap(first['max_moved_share'])} on accounts moved, the tightest workload "
        f"band that can be met is ±{first['workload_tolerance']:.0%}; with "
        f"{cap(end['max_moved_share'])} it is ±{end['workload_tolerance']:.0%} "
        f"(travel {end['travel_vs_today']:+.0%} against today)."
    )
    if first["workload_tolerance"] - end["workload_tolerance"] < 0.01:
        text += " Moving more accounts buys no better balance here."
    elif knee.name == end.name:
        text += " Each looser cap still buys a tighter band."
    else:
        text += (
            f" Most of that is reached by {cap(knee['max_moved_share'])} "
            f"({knee['accounts_moved']:,.0f} accounts moved, ±{knee['workload_tolerance']:.0%}):"
            " moving more buys little more balance."
        )
    if proposal is None:
        return text
    at = proposal
    text += (
        f" The proposal is the point at {cap(at['max_moved_share'])} "
        f"({at['accounts_moved']:,.0f} accounts moved, ±{at['workload_tolerance']:.0%}, "
        f"travel {at['travel_vs_today']:+.0%} against today)"
    )
    same = ok[np.isclose(ok["max_moved_share"], at["max_moved_share"])]
    if len(same) and same["workload_tolerance"].iloc[0] < at["workload_tolerance"] - 0.005:
        other = same.iloc[0]
        text += (
            f": at its cap a tighter band of ±{other['workload_tolerance']:.0%} can be met "
            f"(travel {other['travel_vs_today']:+.0%}); the proposal holds the plan's band "
            "and spends the room on shorter travel"
        )
    tighter = ok[(ok["max_moved_share"] < at["max_moved_share"]) & (ok["accounts_moved"] > 0)]
    if len(tighter):
        less = tighter.iloc[-1]
        text += (
            f"; moving fewer, {less['accounts_moved']:,.0f} accounts, leaves the band at "
            f"±{less['workload_tolerance']:.0%} (travel {less['travel_vs_today']:+.0%})"
        )
    return text + "."


def territory_zip_codes(opt: TerritoryOptimizer) -> pd.DataFrame:
    """Postal code to territory, for a CRM's assignment rules: per postal code, the
    territory its accounts go to (aligned by postal code: all but the named accounts; by
    account: the territory most of them go to), how many accounts that rule aligns and how
    many of the code's accounts are aligned elsewhere (named accounts, or split codes when
    aligning by account), which need a manual assignment. Empty without postal codes."""
    acc = opt.accounts
    columns = ["postal_code", "territory_id", "accounts", "accounts_elsewhere"]
    if "postal_code" not in acc:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "postal_code": acc["postal_code"].astype("string").fillna("").to_numpy(),
            "territory_id": opt.assignment_.to_numpy(),
            "ruled": acc["group"].astype("string").fillna("").ne("").to_numpy()
            if "group" in acc
            else np.ones(len(acc), bool),
        }
    )
    frame = frame[frame["postal_code"] != ""]
    ruled = frame[frame["ruled"]]
    counts = ruled.groupby(["postal_code", "territory_id"]).size().rename("accounts")
    top = counts.reset_index().sort_values(["postal_code", "accounts"], ascending=[True, False])
    top = top.drop_duplicates("postal_code").set_index("postal_code")
    total = frame.groupby("postal_code").size()
    top["accounts_elsewhere"] = (total.reindex(top.index) - top["accounts"]).astype(int)
    return top.reset_index()[columns]


def developer_name(territory_id: str) -> str:
    """A territory id as a Salesforce developer name: letters, digits and single
    underscores, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", str(territory_id)).strip("_") or "Territory"
    return name if name[0].isalpha() else f"T_{name}"


def territory_associations(opt: TerritoryOptimizer) -> pd.DataFrame:
    """The proposal as Salesforce Enterprise Territory Management's
    ObjectTerritory2Association rows, one per account: ``ObjectId`` (the account id),
    ``Territory2DeveloperName`` (:func:`developer_name` of the territory; Data Loader needs
    the territory's ``Territory2Id``, looked up from an export of Territory2 by developer
    name) and ``AssociationCause`` (``Territory2Manual``)."""
    return pd.DataFrame(
        {
            "ObjectId": opt.accounts["account_id"].astype(str).to_numpy(),
            "Territory2DeveloperName": [developer_name(t) for t in opt.assignment_],
            "AssociationCause": "Territory2Manual",
        }
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
    if len(plan.rounds) <= 1 and float(np.max(moved_km, initial=0.0)) < 1e-6:
        headline = (
            "The bases could not be moved: from any other bases tried, the plan's rules (the "
            "bands within reach and regions) could not be met. Shown instead: today's homes "
            "with nothing locked, no cap on moves and no charge for them, whose call-weighted "
            f"travel is {-saving:+.0%} against today's (the proposal's {-proposed:+.0%}). The "
            "moved bases were tried by the LP's roundings alone, which keep this view to "
            "seconds; a full solve of each round can take many minutes on a plan this size."
        )
        return Result("Drawn from scratch", headline, table, formats=_SCRATCH_FORMATS)
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
        formats=_SCRATCH_FORMATS,
        notes="Travel: distance from each account to its rep's home (or base) weighted by "
        "its call hours a year. Worst vs target: the largest deviation of a territory's "
        "workload (call and travel hours) or potential from its target; every plan but "
        "today's keeps both within the plan's tolerance except in the territories the rules "
        "cannot balance (held as close as they allow). From scratch, nothing is locked and "
        "moves are not limited or charged. Certified gap: how far the assignment can be, at "
        "most, from the best one with the same homes (or bases); the bases themselves come "
        "from location-allocation, which finds good bases without proving them best.",
    )


_SCRATCH_FORMATS = {
    "travel (call-hour km)": "{:,.0f}",
    "travel vs today": "{:+.0%}",
    "workload, worst vs target": "{:.0%}",
    "potential, worst vs target": "{:.0%}",
    "accounts changing rep": "{:,.0f}",
    "certified gap": "{:.1%}",
}
