"""Free centres (capacitated p-median) on public instances with known optima.

Run: ``.venv/bin/python benchmarks/optimizer_pmedian.py [--sets pmedcap,sjc,p3038]
[--reference] [--limit SECONDS] [--p3038-limit SECONDS]``. Reads ``../shared/benchmarks``
(pmedcap01-20: OR-Library, Osman & Christofides 1994; SJC1-4b and p3038_*: Lorena & Senne
2004; see ``benchmarks/instances.py``). Prints, per instance, the cost of the plan terrlib's
free-centre engine finds (:func:`terrlib.territory.scratch.from_scratch`, the same code as the
report's "drawn from scratch" view, on the instance as a request: ``instances.pmedian_request``),
the known optimum (best known for p3038), the distance to it and seconds, then the mean per
set. The engine stops on counts, so the same instance gives the same plan on any machine.

``--reference`` adds the reference planner (``centres_reference.CentrePlanner``: LP bound and
fix-and-optimise within ``--limit`` seconds, ``--p3038-limit`` on p3038), which comes closer to
the optima but stops on wall-clock limits and does not scale to the product's plans.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from instances import SHARED_BENCHMARKS, pmedian_instance, pmedian_request

from terrlib.territory.scratch import from_scratch

SETS = {
    "pmedcap": [f"pmedcap/pmedcap{k:02d}.txt" for k in range(1, 21)],
    "sjc": [f"lorena_senne/SJC{k}.dat" for k in ("1", "2", "3a", "3b", "4a", "4b")],
    "p3038": [f"lorena_senne/p3038_{p}.dat" for p in (600, 700, 800, 900, 1000)],
}


def ours(case: dict) -> float:
    """The engine's cost on ``case``: location-allocation from k-means bases, each round's
    assignment polished as the proposal's is, until a round saves nothing."""
    opt, points, start = pmedian_request(case)
    plan = from_scratch(opt, max_rounds=50, min_saving=0.0, points=points, start=start, quick=False)
    return plan.optimizer.travel_


def reference(case: dict, limit: float) -> float:
    """The reference planner's cost on ``case`` within ``limit`` seconds."""
    from centres_reference import CentrePlanner

    plan = CentrePlanner(
        case["coords"],
        case["demand"],
        case["p"],
        case["capacity"],
        metric=case["metric"],
        time_limit=limit,
    ).solve()
    if not plan.feasible(plan.assignment_):
        raise SystemExit(f"{case['name']}: the reference plan breaks the capacity")
    return plan.objective_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="pmedcap,sjc,p3038")
    parser.add_argument("--reference", action="store_true")
    parser.add_argument("--limit", type=float, default=9.0, help="reference seconds")
    parser.add_argument("--p3038-limit", type=float, default=110.0)
    args = parser.parse_args()
    runs = [("terrlib", None)] + ([("reference", 0)] if args.reference else [])
    print(
        f"{'instance':<12}{'n':>6}{'p':>6}{'known':>12}"
        + "".join(f"{name + ' cost':>16}{'vs known':>9}{'seconds':>9}" for name, _ in runs)
    )
    for name in args.sets.split(","):
        over: dict[str, list[float]] = {run: [] for run, _ in runs}
        for rel in SETS[name]:
            case = pmedian_instance(SHARED_BENCHMARKS / rel)
            limit = args.p3038_limit if name == "p3038" else args.limit
            line = f"{case['name']:<12}{len(case['demand']):>6}{case['p']:>6}{case['known']:>12.2f}"
            for run, _ in runs:
                began = time.perf_counter()
                cost = ours(case) if run == "terrlib" else reference(case, limit)
                seconds = time.perf_counter() - began
                over[run].append(cost / case["known"] - 1)
                line += f"{cost:>16.2f}{over[run][-1]:>9.2%}{seconds:>9.1f}"
            print(line, flush=True)
        for run, values in over.items():
            print(
                f"{name} {run}: mean {np.mean(values):.2%} above the known value, "
                f"worst {max(values):.2%}",
                flush=True,
            )
        print()


if __name__ == "__main__":
    main()
