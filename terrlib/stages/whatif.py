"""What-if for the territory optimizer: change the number of reps, and an ipywidgets panel
that re-solves and redraws in place (tolerance, disruption cap, number of reps, coverage
frequency, locked accounts).

Examples
--------
>>> import pandas as pd
>>> from terrlib.territory.estimator import TerritoryOptimizer
>>> acc = pd.DataFrame({"account_id": list("abcd"), "latitude": [40.0, 40.1, 41.0, 41.1],
...                     "longitude": [-75.0] * 4, "call_hours": [10.0, 10.0, 10.0, 30.0],
...                     "potential": [1.0] * 4, "territory_id": ["T1", "T1", "T2", "T2"]})
>>> homes = pd.DataFrame({"territory_id": ["T1", "T2"], "home_latitude": [40.0, 41.0],
...                       "home_longitude": [-75.0, -75.0], "capacity": [1.0, 1.0]})
>>> bigger = with_reps(TerritoryOptimizer(acc, homes), 3)
>>> bigger.territories["territory_id"].tolist()
['T1', 'T2', 'NEW1']
>>> with_reps(TerritoryOptimizer(acc, homes), 1).accounts["territory_id"].tolist()
['', '', 'T2', 'T2']
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from terrlib.results import Result
from terrlib.stages import balancing
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.problem import InfeasibleRequest


def with_reps(opt: TerritoryOptimizer, count: int) -> TerritoryOptimizer:
    """The same request with ``count`` territories. Fewer: the territories with the least
    call time close and their accounts are reassigned without a disruption charge. More: each
    new rep is based at the heaviest account of the territory with the most call time per
    unit of capacity, with the median capacity, in that territory's region and district."""
    acc = opt.accounts.copy()
    ter = opt.territories.copy()
    load = acc.groupby("territory_id")["call_hours"].sum().reindex(ter["territory_id"]).fillna(0)
    per = load.to_numpy() / ter["capacity"].to_numpy(float)
    if count < len(ter):
        keep = ter["territory_id"].to_numpy()[np.sort(np.argsort(-per, kind="stable")[:count])]
        ter = ter[ter["territory_id"].isin(keep)]
        acc["territory_id"] = acc["territory_id"].where(acc["territory_id"].isin(keep), "")
    added = 0
    while len(ter) < count:
        added += 1
        busiest = ter["territory_id"].to_numpy()[int(np.argmax(per))]
        mine = acc[acc["territory_id"] == busiest]
        heavy = mine.loc[mine["call_hours"].idxmax()] if len(mine) else acc.iloc[0]
        new = {
            "territory_id": f"NEW{added}",
            "home_latitude": heavy["latitude"],
            "home_longitude": heavy["longitude"],
            "capacity": float(ter["capacity"].median()),
        }
        if "rep_name" in ter:
            new["rep_name"] = f"New rep {added}"
        for col in ("region", "district"):  # the new rep joins the busiest one's team
            if col in ter:
                new[col] = ter.loc[ter["territory_id"] == busiest, col].iloc[0]
        ter = pd.concat([ter, pd.DataFrame([new])], ignore_index=True)
        per = np.r_[per, 0.0]
        per[int(np.argmax(per))] /= 2
    return opt.with_params(accounts=acc, territories=ter)


def panel(data, scores: pd.DataFrame | None = None, tiers: pd.DataFrame | None = None):
    """An ipywidgets panel for analysts: sliders for tolerance, disruption cap, number of
    reps and coverage frequency, a box for locked account ids, and a button that re-solves
    (:meth:`~terrlib.territory.estimator.TerritoryOptimizer.resolve`, warm from the last
    solve; a new request when the frequency or the number of reps changed) and redraws the
    balance table and chart in place. Territories the rules cannot balance are brought as
    close as they allow, as in the proposal (:func:`balancing.solve_or_widen`)."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from terrlib import plotting

    plan = data.plan
    m = data.reps["territory_id"].nunique()
    style = {"description_width": "170px"}
    layout = w.Layout(width="460px")
    tol = w.FloatSlider(
        value=plan.balance.tolerance,
        min=0.02,
        max=0.5,
        step=0.01,
        description="tolerance ±",
        readout_format=".0%",
        style=style,
        layout=layout,
    )
    cap = w.FloatSlider(
        value=plan.balance.max_moved_share,
        min=0.0,
        max=1.0,
        step=0.01,
        description="cap on accounts moved",
        readout_format=".0%",
        style=style,
        layout=layout,
    )
    reps = w.IntSlider(
        value=m,
        min=max(2, m - 10),
        max=m + 10,
        description="number of reps",
        style=style,
        layout=layout,
    )
    freq = w.FloatSlider(
        value=1.0,
        min=0.5,
        max=2.0,
        step=0.05,
        description="coverage frequency ×",
        style=style,
        layout=layout,
    )
    locked = w.Text(
        value=", ".join(plan.balance.locked_accounts),
        description="locked accounts",
        placeholder="A00001, A00002",
        style=style,
        layout=layout,
    )
    button = w.Button(description="Re-solve", button_style="primary")
    out = w.Output()
    state: dict = {}

    def solve(_=None) -> None:
        ids = [a.strip() for a in locked.value.split(",") if a.strip()]
        rules = {
            "tolerance": tol.value,
            "max_moved_share": None if cap.value >= 1 else cap.value,
            "locked_accounts": ids,
            "territory_tolerance": None,
        }
        previous = state.get("opt")
        shape = (freq.value, reps.value)
        if previous is None or state.get("shape") != shape:
            base = balancing.from_dataset(data, scores, tiers=tiers, frequency=freq.value)
            if reps.value != m:
                base = with_reps(base, reps.value)
            if previous is not None:
                base.warm_from(previous)
        else:
            base = previous
        began = time.perf_counter()
        with out:
            out.clear_output(wait=True)
            try:
                opt = base.resolve(**rules)
            except InfeasibleRequest:
                # balance every territory that can be, as the proposal does
                try:
                    opt = balancing.solve_or_widen(base.changed(**rules), quick=True)
                except InfeasibleRequest as err:
                    print(f"Cannot be met: {err}")
                    return
            state["opt"], state["shape"] = opt, shape
            print(
                f"Solved in {time.perf_counter() - began:.1f} s; within {opt.gap_:.1%} of the "
                "best possible travel and disruption cost (a quick solve: the notebook's "
                "proposal above searches longer)."
            )
            display(balancing.balance_table(opt))
            fig, ax = plt.subplots(figsize=(11, 4))
            plotting.balance_before_after(opt.summary_, opt.tolerance, ax=ax)
            plt.show()

    button.on_click(solve)
    controls = w.VBox([tol, cap, reps, freq, locked, button])
    return w.VBox([controls, out])


def scenario_request(opt: TerritoryOptimizer, changes: dict) -> TerritoryOptimizer:
    """The unsolved request of one scenario: ``opt`` with ``changes``, where ``reps`` sets
    the number of territories (:func:`with_reps`), ``locked_accounts`` (account ids)
    replaces the locks and any other key is a parameter of the optimizer."""
    changes = dict(changes)
    reps = changes.pop("reps", None)
    base = with_reps(opt, int(reps)) if reps is not None else opt
    return base.with_changes(**changes)  # cold: a warm start's basis cannot be sent away


def solve_scenario(request: TerritoryOptimizer, quick: bool = True) -> dict:
    """One scenario solved as the proposal is (:func:`balancing.solve_or_widen`, quick by
    default) and its figures: accounts moved, travel against today, how far the workload
    and the potential of the territory furthest from its target are from it, territories
    that cannot be balanced, certified gap, seconds. A function of its arguments alone, so
    that an executor can run it elsewhere."""
    began = time.perf_counter()
    try:
        solved = balancing.solve_or_widen(request, quick=quick)
    except InfeasibleRequest as err:
        return {"note": f"no plan: {err}"}
    s = solved.summary_
    held = getattr(solved, "unbalanced_", None)
    return {
        "reps": len(solved.territories),
        "accounts moved": len(solved.moves_),
        "travel vs today": solved.travel_ / solved.travel_before_ - 1
        if solved.travel_before_
        else np.nan,
        "workload, furthest from target": float(s["workload_vs_target_after"].sub(1).abs().max()),
        "potential, furthest from target": float(s["potential_vs_target_after"].sub(1).abs().max()),
        "cannot be balanced": 0 if held is None else len(held.table),
        "gap": solved.gap_,
        "seconds": time.perf_counter() - began,
        "note": "",
    }


def scenarios(
    opt: TerritoryOptimizer,
    grid: dict[str, dict],
    executor=None,
    quick: bool = True,
) -> Result:
    """A what-if grid: each named scenario of ``grid`` (changes as
    :func:`scenario_request` reads them, e.g. ``{"2 more reps": {"reps": 46},
    "±5%": {"tolerance": 0.05}}``) solved on its own, from scratch, as the proposal is.

    Parameters
    ----------
    opt : TerritoryOptimizer
        The plan's request (solved or not; only its parameters are used).
    grid : dict
        Scenario name -> changes.
    executor : concurrent.futures.Executor, optional
        Where the scenarios are solved, all at once (any ``Executor``: a process pool, or a
        Dask cluster's ``Client(...).get_executor()``); default: one after another in
        process. The figures are the same either way (only ``seconds`` differ).
    quick : bool
        Solve each as the what-if panel does (the first plan that keeps every rule).

    Returns
    -------
    Result
        One row per scenario, in the grid's order.
    """
    requests = {name: scenario_request(opt, changes) for name, changes in grid.items()}
    if executor is None:
        rows = {name: solve_scenario(r, quick) for name, r in requests.items()}
    else:
        futures = {name: executor.submit(solve_scenario, r, quick) for name, r in requests.items()}
        rows = {name: f.result() for name, f in futures.items()}
    table = pd.DataFrame([{"scenario": name} | row for name, row in rows.items()])
    solved = table[table["note"] == ""] if "note" in table else table
    headline = (
        f"{len(solved)} of {len(table)} scenarios have a plan under their rules."
        if len(solved) < len(table)
        else f"Each of the {len(table)} scenarios has a plan under its rules."
    )
    if len(solved) and "travel vs today" in solved:
        best = solved.loc[solved["travel vs today"].idxmin()]
        headline += (
            f" The least travel is {best['scenario']}'s ({best['travel vs today']:+.1%} "
            f"against today, {int(best['accounts moved']):,} accounts moved)."
        )
    return Result(
        "What-if scenarios",
        headline,
        table,
        formats={
            "accounts moved": "{:,.0f}",
            "travel vs today": "{:+.1%}",
            "workload, furthest from target": "±{:.0%}",
            "potential, furthest from target": "±{:.0%}",
            "cannot be balanced": "{:,.0f}",
            "gap": "{:.1%}",
            "seconds": "{:.0f}",
        },
        notes="Each scenario is solved on its own from the plan's request with its changes, "
        "as the proposal is (territories that cannot be balanced held as close as the rules "
        "allow). Travel: call-weighted, against today's alignment; furthest from target: the "
        "territory furthest above or below its target; gap: certified, as for the proposal.",
    )
