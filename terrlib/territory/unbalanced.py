"""Which territories cannot be balanced under the plan's rules, and which rule stops each.

When the bands cannot all hold within reach (and regions, locks and the cap on moves), the
proposal should balance every territory it can and name the rest, not pad a territory with
accounts from the other side of the country (which a finite reach already forbids) nor widen
every territory's band. :func:`unbalanced` solves the LP relaxation over every allowed arc
with slack on each territory's workload and potential rows only (the cap on moves stays
hard) and least total slack: the territories that still need slack are those the rules
cannot balance, by about how much (the tolerance each can be held to, from the LP, so a
little optimistic). Solving it again with one rule lifted at a time (reach, regions, the cap,
the locks) names the rule that binds for each.

Examples
--------
>>> import pandas as pd
>>> acc = pd.DataFrame({"account_id": list("abcde"), "latitude": [40.0, 40.0, 40.0, 40.1, 45.0],
...                     "longitude": [-75.0] * 5, "call_hours": [10.0] * 5,
...                     "potential": [1.0] * 5, "territory_id": ["T1"] * 4 + ["T2"]})
>>> homes = pd.DataFrame({"territory_id": ["T1", "T2"], "home_latitude": [40.0, 45.0],
...                       "home_longitude": [-75.0, -75.0], "capacity": [1.0, 1.0]})
>>> p = TerritoryProblem.build(acc, homes, tolerance=0.1, reach_km=100, visits_per_call=0)
>>> found = unbalanced(p)
>>> found.table[["territory_id", "side", "rule"]].values.tolist()
[['T1', 'over', 'reach'], ['T2', 'under', 'reach']]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from terrlib.territory.problem import InfeasibleRequest, TerritoryProblem
from terrlib.territory.relaxation import Workspace, relax

#: the rules lifted one at a time to see which binds, with the settings that lift each
RULES: dict[str, dict] = {
    "reach": {"reach_km": np.inf},
    "regions": {"cross_regions": True},
    "cap on moves": {"max_moved_share": None},
    "locks": {},  # the accounts' locks are dropped (see _lifted)
}
#: a plan with the short territories kept whole (:func:`held`) whose certified gap is above
#: this is set against the plan held by limits alone, and the better certified one kept (on
#: one of five small demo companies the locks left the plan 13.7% from its bound, 1.4%
#: without them)
KEPT_GAP = 0.05
#: tolerance added to what the LP says a territory can be held to, and the share of it
#: added on top (the integer plan needs a little more room than the LP's fractional one)
MARGIN, RELATIVE = 0.03, 0.1


@dataclass(frozen=True)
class Unbalanced:
    """The territories the rules cannot balance.

    ``table`` has one row per territory: ``territory_id``, ``side`` ("over" or "under"),
    ``measure`` ("workload" or "potential"), ``best`` (the value against target the LP can
    reach), ``needs`` (the tolerance it can be held to), ``rule`` (the rule whose lifting
    alone balances it, or "several rules together"), ``in_reach_hours`` (the workload its
    home can reach), ``only_here_hours`` (the workload of accounts no other home may take),
    ``only_here`` (up to five such accounts, largest first) and ``locked_hours``.
    ``keep`` names those that are only short of target (and over it on nothing today):
    the first plan tried keeps every account they have, so they lose nothing.
    ``floors`` maps each to the tolerances to solve it with, as ``territory_tolerance``
    takes them (workload below and above target, potential below and above; 0 keeps the
    plan's): above target, what the LP can bring it down to, widened by :data:`RELATIVE`
    and :data:`MARGIN`; below target, what it has today (or the best it can reach, if less)
    less as much, so that it keeps the accounts it has without being handed every account
    within reach.
    """

    table: pd.DataFrame
    floors: dict[str, float]
    #: territories short of target on every measure they cannot balance, over it on none
    #: today, and with no account the LP gives to another: the first plan tried keeps every
    #: account they have (:func:`held`)
    keep: tuple[str, ...] = ()


def _slacks(problem: TerritoryProblem) -> tuple[np.ndarray, np.ndarray] | None:
    """Each territory's workload and potential against target in the least-slack LP, and
    whether it needed slack; None when the LP needs none."""
    p, m = problem, problem.m
    ws = Workspace()
    r = relax(p, ws, p.tolerance, hard_cap=True)
    if r.status == "optimal":
        return None
    if r.status != "infeasible":
        raise RuntimeError(f"the LP solver stopped: {r.status}")
    model = r.model
    col = np.asarray(model.highs.getSolution().col_value)
    x = col[model.base :]
    v = p.arc_values(model.rows, model.cols)
    hours = np.bincount(model.cols, weights=x * v["hours"], minlength=m)
    pot = np.bincount(model.cols, weights=x * p.potential[model.rows], minlength=m)
    h_t, p_t = p.targets(hours.sum(), pot.sum())
    lay, side = model.layout, model.base // 2
    slack = col[1 : side + 1] + col[side + 1 : 2 * side + 1]  # per row after H
    rows = np.arange(lay.h + 1, lay.count)
    need = np.zeros(m, bool)
    for start in (lay.up, lay.lo, lay.pot):
        # any slack the relaxation itself counts (it calls more than 1e-7 infeasible)
        need |= slack[(rows >= start) & (rows < start + m)] > 1e-8
    return np.c_[hours / h_t, pot / np.maximum(p_t, 1e-12)], need


def _lifted(problem: TerritoryProblem, rule: str) -> TerritoryProblem:
    """The same problem with ``rule`` lifted."""
    p = problem
    if rule == "locks":
        return dataclasses.replace(p, locked=np.zeros(p.n, bool))
    settings = p.settings | {"reach_km": p.reach} | RULES[rule]
    return TerritoryProblem.build(p.accounts, p.territories, **settings)


def _reachable(problem: TerritoryProblem) -> tuple[np.ndarray, np.ndarray]:
    """Each territory's hours within reach, and each account's number of allowed homes."""
    p, m = problem, problem.m
    within, options = np.zeros(m), np.zeros(p.n, int)
    per = max(1, 2_000_000 // m)
    for start in range(0, p.n, per):
        acc = np.arange(start, min(p.n, start + per))
        rows, cols = np.repeat(acc, m), np.tile(np.arange(m), len(acc))
        ok = p.valid_arcs(rows * m + cols)
        hours = p.arc_values(rows[ok], cols[ok])["hours"]
        within += np.bincount(cols[ok], weights=hours, minlength=m)
        options[acc] = np.bincount(rows[ok] - start, minlength=len(acc))
    return within, options


def unbalanced(problem: TerritoryProblem, explain: bool = True) -> Unbalanced:
    """The territories that cannot be balanced under ``problem``'s rules (see the module
    notes); an empty table when the LP can balance them all. Without ``explain`` the rule
    that binds is not looked for (``rule`` is empty)."""
    p = problem
    found = _slacks(p)
    columns = [
        "territory_id", "side", "measure", "best", "needs", "rule",
        "in_reach_hours", "only_here_hours", "only_here", "locked_hours",
    ]  # fmt: skip
    if found is None or not found[1].any():
        return Unbalanced(pd.DataFrame(columns=columns), {})
    ratio, need = found
    bad = np.flatnonzero(need)
    rule = np.full(p.m, "several rules together" if explain else "", dtype=object)
    open_ = set(bad.tolist()) if explain else set()
    for name in RULES:
        if not open_ or (name == "locks" and not p.locked.any()):
            continue
        if name == "cap on moves" and not np.isfinite(p.cap):
            continue
        if name == "regions" and p.acc_region is None:
            continue
        if name == "reach" and not np.isfinite(p.reach):
            continue
        again = _slacks(_lifted(p, name))
        freed = open_ if again is None else {k for k in open_ if not again[1][k]}
        for k in freed:
            rule[k] = name
        open_ -= freed
    within, options = _reachable(p)
    all_rows = np.arange(p.n)
    own = p.arc_values(all_rows, np.maximum(p.current, 0))["hours"]
    rows, floors, whole = [], {}, []
    b = p.bands()
    today = _today(p, own)
    for k in bad:
        dev = ratio[k] - 1
        lo = np.r_[b.w_lo[k], b.p_lo[k]]
        hi = np.r_[b.w_hi[k], b.p_hi[k]]
        over, under = dev > hi + 1e-9, dev < -lo - 1e-9
        off = over | under
        measure = 0 if off[0] or not off[1] else 1
        # over: held to what it can shed to (and a little more, for a plan of whole
        # accounts); under: held to what it has today (or the best it can reach, if less),
        # a little below, so it is neither handed every account within reach nor stripped
        # of the accounts it has. And a territory with accounts today is never let further
        # from target than today, where the rules let it be as close as that
        f, gives = np.zeros(4), False
        for j in range(2):
            now = today[k, j]
            if over[j]:
                cap = dev[j] * (1 + RELATIVE) + MARGIN
                if now - 1 >= dev[j]:
                    cap = min(cap, now - 1)
                f[2 * j + 1] = min(10.0, cap)
            elif under[j]:
                if 0 < now <= ratio[k][j]:  # what it has today, which the rules allow
                    keep = now
                else:
                    keep = min(now, ratio[k][j]) * (1 - RELATIVE) - MARGIN
                    gives = True  # the LP gives some of its accounts to others
                f[2 * j] = float(np.clip(1.0 - keep, 0.0, 1.0))
        floors[str(p.ids[k])] = tuple(float(v) for v in f)
        # short of target, needing none of its accounts elsewhere, over it on nothing
        short_only = not f[1] and not f[3] and (f[0] or f[2]) and not gives
        if short_only and 0 < today[k, 0] <= 1 + b.w_hi[k] and today[k, 1] <= 1 + b.p_hi[k]:
            whole.append(str(p.ids[k]))
        sole = np.flatnonzero((options == 1) & (p.current == k))
        sole = sole[np.argsort(-own[sole])]
        lk = p.locked & (p.current == k)
        rows.append(
            {
                "territory_id": p.ids[k],
                "side": "over" if dev[measure] > 0 else "under",
                "measure": ("workload", "potential")[measure],
                "best": float(ratio[k][measure]),
                "needs": float(abs(dev[measure])),
                "rule": rule[k],
                "in_reach_hours": float(within[k]),
                "only_here_hours": float(own[sole].sum()),
                "only_here": ", ".join(p.accounts["account_id"].astype(str).to_numpy()[sole[:5]]),
                "locked_hours": float(own[lk].sum()),
            }
        )
    table = pd.DataFrame(rows, columns=columns).sort_values("needs", ascending=False)
    return Unbalanced(table.reset_index(drop=True), floors, tuple(whole))


def _today(p: TerritoryProblem, own: np.ndarray) -> np.ndarray:
    """Each territory's workload and potential against target today (0 for a territory with
    no accounts today, and on a green field)."""
    mine = p.current >= 0
    if not mine.any():
        return np.zeros((p.m, 2))
    hours = np.bincount(p.current[mine], weights=own[mine], minlength=p.m)
    pot = np.bincount(p.current[mine], weights=p.potential[mine], minlength=p.m)
    h_t, p_t = p.targets(hours.sum(), pot.sum())
    return np.c_[hours / np.maximum(h_t, 1e-12), pot / np.maximum(p_t, 1e-12)]


def wider(floors: dict[str, tuple]) -> dict[str, tuple]:
    """The floors a step wider (for a plan that still cannot be met at them): above target
    by :data:`RELATIVE` three times over, below target towards no limit at all."""
    return {
        t: tuple(
            (min(10.0, v * (1 + 3 * RELATIVE) + MARGIN) if j % 2 else min(1.0, v * 1.5 + MARGIN))
            if v
            else v
            for j, v in enumerate(f)
        )
        for t, f in floors.items()
    }


def loosened(floors: dict) -> dict:
    """The same territories with their limits loosened but not lifted: a territory below
    target must keep half the workload or potential its limit kept, one above may go twice
    as far over (tried before :func:`opened`, so a territory is not stripped of nearly
    every account when a plan exists that only widens its limits)."""
    return {
        t: tuple(
            (min(10.0, 2 * v + MARGIN) if j % 2 else min(1.0, v + (1 - v) / 2)) if v else v
            for j, v in enumerate(f)
        )
        for t, f in floors.items()
    }


def opened(floors: dict) -> dict:
    """The same territories without any band (the last resort when the integer plan cannot
    be found at the floors the LP allows)."""
    return dict.fromkeys(floors, (1.0, 10.0, 1.0, 10.0))


def solve_with_floors(
    opt, floors: dict, tries: int = 4, quick: bool = False, rounding_only: bool = False, **solve
):
    """``opt`` (a :class:`~terrlib.territory.estimator.TerritoryOptimizer`) solved with
    ``floors`` as its territories' least tolerances, a step wider (:func:`wider`) each time
    that cannot be met; None when ``tries`` fail. Each width is first tried by the LP's
    roundings alone (fast), and solved in full when they meet it (that plan, or the
    rounding's when the full solve finds none); the first and the last widths are solved in
    full also when they do not (the full solve's MILPs can meet a width no rounding does:
    the first is widened only when it cannot, so a territory is not let further from target
    than today where a plan keeps it there). With ``rounding_only``
    nothing is solved in full: the first width the roundings meet, or None."""
    for attempt in range(tries):
        trial = opt.with_params(territory_tolerance=(opt.territory_tolerance or {}) | floors)
        try:
            rounded = trial.warm_from(opt).solve(rounding_only=True, explain=False)
        except InfeasibleRequest:
            # the full solve's MILPs decide at the first width (the one that keeps every
            # territory no further out than today) and the last
            if not rounding_only and attempt in (0, tries - 1):
                try:
                    return trial.warm_from(opt).solve(quick=quick, **({"explain": False} | solve))
                except InfeasibleRequest:
                    pass
            floors = wider(floors)
            continue
        if rounding_only:
            return rounded
        try:
            full = trial.with_params().warm_from(rounded)
            return full.solve(quick=quick, **({"explain": False} | solve))
        except InfeasibleRequest:
            return rounded
    return None


def held(opt, found: Unbalanced):
    """``opt`` with every account of ``found.keep``'s territories locked (beside the plan's
    own locks), the floors to solve it with (no lower limit on those territories: their
    locked accounts keep them at today's level at least; they may still take accounts up to
    the band), and how many accounts that locks. None when there is nothing to keep.

    A short territory held to today's level by a limit alone gave up accounts for shorter
    travel whenever the integer plan needed its limits widened: on the demo's 2026Q2, seven
    such territories ended 4-40 points further below target than today."""
    if not found.keep:
        return None
    acc = opt.accounts
    keep = acc["territory_id"].astype(str).isin(found.keep).to_numpy()
    mine = acc.get("locked", pd.Series(False, index=acc.index)).fillna(False).to_numpy(bool)
    ids = acc["account_id"].to_numpy()[keep | mine]
    floors = dict(found.floors)
    for t in found.keep:
        f = floors[t]
        floors[t] = (1.0, f[1], 1.0, f[3])
    return opt.with_changes(locked_accounts=list(ids)), floors, int((keep & ~mine).sum())


def solve_balancing(
    opt, quick: bool = False, explain: bool = True, tries: int = 4, rounding_only: bool = False
):
    """Solve ``opt``; when its bands cannot all hold, hold the territories the rules cannot
    balance to what they can reach (:func:`unbalanced`) and balance the rest. Returns the
    solved optimizer with ``unbalanced_`` set (None when every band held).

    Territories only short of target (:attr:`Unbalanced.keep`) are first kept with every
    account they have (:func:`held`); without a plan so, or when that plan's certified gap
    is over :data:`KEPT_GAP` and the plan held by limits alone certifies a smaller one, they
    are held by limits alone.
    When no plan is found at those floors, even a few steps wider, their limits are
    loosened (:func:`loosened`), and only when that fails too are those territories left
    without bands (:func:`opened`).

    With ``rounding_only`` every solve is the LP's rounding alone (fast, and it fails fast:
    no MILP), for the rounds of a view that only compares where reps are based.

    Raises
    ------
    InfeasibleRequest
        The first solve's, when even with those territories left open no plan is found;
        its ``unbalanced`` is what :func:`unbalanced` found.
    """
    try:
        solved = opt.solve(quick=quick, explain=False, rounding_only=rounding_only)
        solved.unbalanced_ = None
        return solved
    except InfeasibleRequest as err:
        first = err
    found = unbalanced(opt.problem(), explain)
    only = {"rounding_only": rounding_only}
    solved, hold = None, held(opt, found)
    if hold is not None:  # first with the short territories keeping every account
        kept, floors, count = hold
        solved = solve_with_floors(kept, floors, tries, quick, **only)
        if solved is not None:
            solved.kept_accounts_ = count
    if solved is not None and solved.gap_ > KEPT_GAP and found.floors:
        # the locks can leave the integer plan far from its bound: held by limits instead
        # when that certifies a better plan
        limited = solve_with_floors(opt, found.floors, tries, quick, **only)
        if limited is not None and limited.gap_ < solved.gap_:
            solved = limited
    if solved is None and found.floors:
        solved = solve_with_floors(opt, found.floors, tries, quick, **only)
    if solved is None and found.floors:  # the integer plan needs more room: no limits on them
        solved = solve_with_floors(opt, loosened(found.floors), 1, quick, **only)
    if solved is None and found.floors:
        solved = solve_with_floors(opt, opened(found.floors), 1, quick, **only)
    if solved is None:
        first.unbalanced = found  # for a caller that goes on (stage 4 widens the rest)
        raise first
    solved.unbalanced_ = found
    return solved
