"""Stage 4, staffing where balance cannot be reached: for each territory the plan's rules
cannot balance (:func:`terrlib.territory.unbalanced.unbalanced`), the staffing change that
would fix it, and what that change does to balance and travel when the plan is solved again
with it.

The change follows the territory's side and its region's sizing (stage 4's workload
build-up, :func:`terrlib.stages.workload.sizing`):

* a territory with more work (or potential) than its rep can carry within reach: **add a
  rep**, based among the part of its accounts farthest from today's home; in a region
  that sizing says has reps to spare and a rep who cannot be kept busy, **relocate** that
  rep there instead;
* a territory with too little within reach: in a region with reps to spare, **merge** it
  into its nearest neighbour; otherwise **relocate** its base to where its region's busiest
  territory is overloaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.geo import haversine_km
from terrlib.results import Decision, Result
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.problem import InfeasibleRequest
from terrlib.territory.scratch import weighted_medoid
from terrlib.territory.unbalanced import solve_with_floors, unbalanced

#: reps short (sizing's gap) from which a region counts as needing more reps, and spare below
SHORT, SPARE = 0.5, -0.5


def split_base(opt: TerritoryOptimizer, territory: str) -> tuple[float, float, str]:
    """Where a second rep for ``territory`` would be based: the call-weighted medoid of the
    half of its proposed accounts (by call hours) farthest from its rep's home. Returns
    latitude, longitude and the account it sits at."""
    p = opt.problem_
    k = int(np.flatnonzero(p.ids == territory)[0])
    mine = np.flatnonzero(opt.assign_idx_ == k)
    far = mine[np.argsort(-p.dist(mine, np.full(len(mine), k)))]
    hours = p.call_time[far]
    half = far[: max(1, int(np.searchsorted(np.cumsum(hours), hours.sum() / 2)) + 1)]
    at = half[weighted_medoid(p.lat[half], p.lon[half], np.maximum(p.call_time[half], 1e-9))]
    acc = p.accounts.iloc[at]
    return float(acc["latitude"]), float(acc["longitude"]), str(acc["account_id"])


def _region_gap(opt: TerritoryOptimizer, sizing: pd.DataFrame | None, territory: str) -> float:
    """Sizing's gap (full-time reps needed less today's, FTE) in the territory's region; 0
    without sizing."""
    ter = opt.territories.set_index("territory_id")
    if sizing is None or "region" not in ter:
        return 0.0
    region = ter.loc[territory, "region"]
    gap = sizing.set_index("region")["gap"]
    return float(gap.get(region, 0.0))


def _changes(opt: TerritoryOptimizer, sizing: pd.DataFrame | None, limit: int):
    """The change proposed for each of the first ``limit`` unbalanced territories: (what,
    the territories it concerns, the new territories frame, the accounts frame)."""
    table = opt.unbalanced_.table
    ter = opt.territories.reset_index(drop=True)
    idx = {t: k for k, t in enumerate(ter["territory_id"])}
    done: set[str] = set()
    sites: set[str] = set()
    out = []
    for row in table.itertuples():
        if row.territory_id in done or len(out) >= limit:
            continue
        t, gap = row.territory_id, _region_gap(opt, sizing, row.territory_id)
        region = ter.loc[idx[t], "region"] if "region" in ter else None
        same = table[
            (table["side"] != row.side)
            & ~table["territory_id"].isin(done | {t})
            & (
                True
                if region is None
                else table["territory_id"].map(ter.set_index("territory_id")["region"]) == region
            )
        ]
        if row.side == "over" and t in sites:
            continue  # a rep relocated beside it already shares its work
        new_ter, acc = ter.copy(), opt.accounts.copy()
        if row.side == "over":
            lat, lon, at = split_base(opt, t)
            if gap <= SHORT and len(same):  # a rep who cannot be kept busy moves there
                u = same["territory_id"].iloc[0]
                new_ter.loc[idx[u], ["home_latitude", "home_longitude"]] = lat, lon
                what, about = f"relocate {u}'s base to account {at}, beside {t}", [t, u]
                sites.add(t)
            else:
                extra = ter.loc[idx[t]].copy()
                extra["territory_id"] = f"NEW-{t}"
                extra["home_latitude"], extra["home_longitude"] = lat, lon
                if "rep_name" in extra:
                    extra["rep_name"] = f"new rep beside {t}"
                new_ter = pd.concat([new_ter, extra.to_frame().T], ignore_index=True)
                new_ter["capacity"] = new_ter["capacity"].astype(float)
                what, about = f"add a rep based at account {at} to share {t}", [t]
        elif gap <= SPARE:
            near = _nearest_peer(opt, t)
            if "locked" in acc:  # a territory kept whole is merged: its accounts may go
                acc.loc[acc["territory_id"] == t, "locked"] = False
            acc.loc[acc["territory_id"] == t, "territory_id"] = ""
            new_ter = new_ter[new_ter["territory_id"] != t]
            what, about = f"merge {t} into {near} (its accounts go to its neighbours)", [t]
        else:
            # one relocation per busy territory: three reps are not all sent beside one
            busiest = _busiest_peer(opt, t, sites)
            sites.add(busiest)
            lat, lon, at = split_base(opt, busiest)
            new_ter.loc[idx[t], ["home_latitude", "home_longitude"]] = lat, lon
            what, about = f"relocate {t}'s base to account {at}, beside {busiest}", [t]
        done |= set(about)
        out.append((what, about, new_ter.reset_index(drop=True), acc))
    return out


def _peers(opt: TerritoryOptimizer, territory: str) -> pd.DataFrame:
    """The other territories of ``territory``'s region (all others without regions), with
    their workload against target in the proposal and their home's distance."""
    ter = opt.territories.reset_index(drop=True)
    s = opt.summary_.set_index("territory_id")
    k = int(np.flatnonzero(ter["territory_id"] == territory)[0])
    ok = ter["territory_id"] != territory
    if "region" in ter:
        ok &= ter["region"] == ter.loc[k, "region"]
    peers = ter[ok].copy()
    if peers.empty:
        peers = ter[ter["territory_id"] != territory].copy()
    peers["km"] = haversine_km(
        peers["home_latitude"].to_numpy(float),
        peers["home_longitude"].to_numpy(float),
        float(ter.loc[k, "home_latitude"]),
        float(ter.loc[k, "home_longitude"]),
    )
    peers["load"] = s["workload_vs_target_after"].reindex(peers["territory_id"]).to_numpy()
    return peers


def _nearest_peer(opt: TerritoryOptimizer, territory: str) -> str:
    peers = _peers(opt, territory)
    return str(peers.sort_values("km")["territory_id"].iloc[0])


def _busiest_peer(opt: TerritoryOptimizer, territory: str, taken: set[str] = frozenset()) -> str:
    """The most loaded other territory of ``territory``'s region, passing over those in
    ``taken`` (already the site of another rep's relocation) while others remain."""
    peers = _peers(opt, territory).sort_values("load", ascending=False)
    free = peers[~peers["territory_id"].isin(taken)]
    return str((free if len(free) else peers)["territory_id"].iloc[0])


def remedies(opt: TerritoryOptimizer, sizing: pd.DataFrame | None = None, limit: int = 4):
    """The staffing change for each territory the proposal ``opt`` could not balance (set
    by :func:`terrlib.stages.balancing.solve_or_widen`), and its effect: with the change,
    which territories the rules still cannot balance (the LP of
    :func:`~terrlib.territory.unbalanced.unbalanced`), and the plan solved again (a quick
    solve, warm from ``opt``, those territories held to what they can reach).

    Parameters
    ----------
    opt : TerritoryOptimizer
        The solved proposal.
    sizing : DataFrame, optional
        Stage 4's sizing per region (``region``, ``gap``), which decides between adding a
        rep and relocating or merging one.
    limit : int
        Changes to try, the territories furthest from balance first.

    Returns
    -------
    Result
        One row per change: what, the territories it concerns, whether they then meet the
        plan's band, their workload and potential against target, the territories still
        outside the band and travel against the proposal.
    """
    found = getattr(opt, "unbalanced_", None)
    if found is None or found.table.empty:
        return Result(
            "Staffing",
            "Every territory can be balanced under the plan's rules: no staffing change is "
            "needed for balance.",
            pd.DataFrame(),
        )
    rows = []
    for what, about, ter, acc in _changes(opt, sizing, limit):
        trial = opt.with_params(accounts=acc, territories=ter, territory_tolerance=None)
        after = unbalanced(trial.problem(), explain=False)
        still = set(after.floors)
        row = {
            "change": what,
            "territories": ", ".join(about),
            "balanced": not still & set(about),
            "territories still outside the band": len(still),
        }
        solved = solve_with_floors(trial, after.floors, quick=True) if after.floors else None
        if solved is None and not after.floors:
            try:
                solved = trial.warm_from(opt).solve(quick=True)
            except InfeasibleRequest:
                solved = None
        if solved is None:
            rows.append(row | {"note": "no plan was found with the change"})
            continue
        trial = solved
        s = trial.summary_.set_index("territory_id")
        w, pot = s["workload_vs_target_after"], s["potential_vs_target_after"]
        rows.append(
            row
            | {
                "workload vs target": ", ".join(f"{w[t]:.0%}" for t in about if t in w),
                "potential vs target": ", ".join(f"{pot[t]:.0%}" for t in about if t in pot),
                "travel vs proposal": trial.travel_ / opt.travel_ - 1 if opt.travel_ else np.nan,
                "note": "",
            }
        )
    table = pd.DataFrame(rows)
    fixed = int(table["balanced"].sum())
    outside = len(found.table)
    return Result(
        "Staffing where balance cannot be reached",
        f"{outside} territories cannot be balanced under the plan's rules. The "
        f"{len(table)} changes below are each tried by solving the plan again with it: "
        f"{fixed} of them bring the territories they concern within the plan's band. "
        "Adding a rep follows a region that sizing says is short of reps; relocating or "
        "merging, one with reps to spare.",
        table,
        formats={"travel vs proposal": "{:+.1%}"},
        notes="Each change is tried on its own, from the proposal. Balanced: the territories "
        "it concerns can then be held to the plan's band. Workload and potential against "
        "target are theirs after the change, in the order listed; travel is call-weighted, "
        "against the proposal's.",
    )


#: Territories to realign named one by one in the Decisions (the rest are counted).
NAMED_TERRITORIES = 8
#: A region whose FTE gap is at least this (either way) gets a hire or reduction line.
FTE_STEP = 0.5


def decisions(
    opt: TerritoryOptimizer,
    territories: pd.DataFrame,
    sizing: pd.DataFrame | None,
    changes: Result | None = None,
    named: int = NAMED_TERRITORIES,
) -> list[Decision]:
    """Stage 4's lines for the report's Decisions: the territories to realign (furthest from
    their workload target today first, with what the proposal does to them), hires and
    reductions by region in full-time reps, and the territories to watch because the plan's
    rules cannot balance them (with the staffing change tried for each).

    Parameters
    ----------
    opt : TerritoryOptimizer
        The solved proposal (:func:`terrlib.stages.balancing.solve_or_widen`).
    territories : DataFrame
        :func:`terrlib.stages.balancing.territory_table`'s table of ``opt`` (``territory``,
        ``rep``, ``in``, ``out``, ``workload today``, ``workload proposed``).
    sizing : DataFrame, optional
        :func:`terrlib.stages.workload.sizing`'s table of the proposal (``region``,
        ``reps_needed``, ``fte_today``, ``reps_today``, ``gap``).
    changes : Result, optional
        :func:`remedies` for the territories that cannot be balanced.
    named : int
        Territories named one by one; the others with moves are counted.
    """
    p, t = opt.problem_, territories
    touched = t[(t["in"] + t["out"]) > 0]
    order = touched.iloc[
        np.argsort(-np.abs(touched["workload today"].to_numpy() - 1), kind="stable")
    ]
    found = getattr(opt, "unbalanced_", None)
    stuck = set(found.table["territory_id"]) if found is not None else set()
    out = []
    for r in order.head(named).to_dict("records"):
        parts = [
            f"gives {r['out']} account{'s' if r['out'] != 1 else ''}" if r["out"] else "",
            f"takes {r['in']}" if r["in"] else "",
        ]
        out.append(
            Decision(
                "Territories to realign",
                f"{r['territory']} ({r['rep']}): workload from {r['workload today']:.0%} to "
                f"{r['workload proposed']:.0%} of its fair share of the team's work; "
                + " and ".join(x for x in parts if x)
                + (
                    " (the plan's rules cannot balance it: see What to watch)."
                    if r["territory"] in stuck
                    else "."
                ),
                "Proposed alignment",
            )
        )
    if len(order) > named:
        out.append(
            Decision(
                "Territories to realign",
                f"{len(order) - named} more territories change by fewer accounts or from "
                f"closer to target; {len(opt.moves_):,} of {p.n:,} accounts move in all "
                "(the table of each territory and proposed_alignment.csv list them).",
                "Proposed alignment",
            )
        )
    if sizing is not None and len(sizing):
        for row in sizing.sort_values("gap", ascending=False).itertuples():
            if abs(row.gap) < FTE_STEP:
                continue
            verb = "hire" if row.gap > 0 else "reduce by"
            out.append(
                Decision(
                    "Hires and reductions",
                    f"{row.region}: {verb} {abs(row.gap):.1f} FTE (on the proposed alignment "
                    "the coverage model needs "
                    f"{row.reps_needed:.1f} full-time reps' selling hours; today "
                    f"{row.fte_today:.1f} FTE in {row.reps_today} reps)"
                    + ("" if row.gap > 0 else ": do not backfill, or move a rep to a short region")
                    + ".",
                    "Sizing by region and segment",
                )
            )
        if not any(d.topic == "Hires and reductions" for d in out):
            out.append(
                Decision(
                    "Hires and reductions",
                    f"No region is short or over by {FTE_STEP} FTE or more: keep headcount.",
                    "Sizing by region and segment",
                )
            )
    if found is not None and not found.table.empty:
        tried = {}
        if changes is not None and len(changes.table):
            for row in changes.table.itertuples():
                note = getattr(row, "note", "")
                if isinstance(note, str) and note:
                    effect = "tried, but no plan was found with it"
                else:
                    effect = "then within the band" if row.balanced else "still outside"
                for t in str(row.territories).split(", "):
                    tried.setdefault(t, (row.change, effect))
        for row in found.table.itertuples():
            fix = tried.get(row.territory_id)
            then = f"; to fix: {fix[0]} ({fix[1]})" if fix else ""
            out.append(
                Decision(
                    "What to watch",
                    f"{row.territory_id} cannot be balanced under the plan's rules (too "
                    f"{'much' if row.side == 'over' else 'little'} {row.measure}, at best "
                    f"{row.best:.0%} of target, held back by the {row.rule}){then}.",
                    "Proposed alignment",
                )
            )
    return out
